//! What a person sees while a step runs: a spinner per step on a terminal,
//! a plain line per step otherwise (a pipe, `--ci`, `--debug`, whose log
//! echo would tear a spinner), nothing for `provision`, whose stdout is its
//! JSON. The steps: the account request, the code exchange, the resource,
//! each agent turn, writing the files.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::Output;

/// How steps are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A spinner on the terminal, replaced by a `✓` line when the step is
    /// done. The spinner itself is drawn on the process's stdout, which
    /// `main` chose this mode for because it is a terminal; every line that
    /// stays goes through the [`Output`].
    Spinner,
    /// The step's line, once, when it starts.
    Plain,
    /// Nothing.
    Hidden,
}

/// Shows the run's steps in one [`Mode`] on one [`Output`].
pub struct Progress {
    mode: Mode,
    output: Output,
}

/// One running step. Dropped without [`Step::done`] (the step failed), its
/// spinner is cleared so that the error stands alone.
pub struct Step {
    bar: Option<ProgressBar>,
    output: Output,
}

impl Progress {
    pub fn new(mode: Mode, output: Output) -> Progress {
        Progress { mode, output }
    }

    /// Starts a step; `message` ends with `…`.
    pub fn step(&self, message: impl Into<String>) -> Step {
        let message = message.into();
        let output = self.output.clone();
        match self.mode {
            Mode::Hidden => Step { bar: None, output },
            Mode::Plain => {
                output.line(&message);
                Step { bar: None, output }
            }
            Mode::Spinner => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
                if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                    bar.set_style(style);
                }
                bar.set_message(message);
                bar.enable_steady_tick(Duration::from_millis(100));
                Step {
                    bar: Some(bar),
                    output,
                }
            }
        }
    }
}

impl Step {
    /// Prints a note on stderr without tearing the spinner.
    pub fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.output.warn(text)),
            None => self.output.warn(text),
        }
    }

    /// Ends the step; on a terminal its spinner becomes `✓ <summary>`.
    pub fn done(mut self, summary: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            self.output.line(format!("✓ {summary}"));
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
