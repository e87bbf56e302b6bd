//! Runs a scenario's `[[steps]]` in order: each kind goes to the file that
//! runs it, and what the steps carry from one to the next (the saved
//! values, the browser, the background wizard, the transcript) lives here.
//!
//! The layers, lowest first: the step data (`steps/`), the context every
//! step runs against ([`crate::step_context`]), one file per step kind
//! ([`crate::http_step`], [`crate::browser_step`], [`crate::wizard_step`],
//! and [`crate::server_control`] for `restart_server`), and this
//! dispatcher above them all. No layer imports the one above it.

use anyhow::{Context, Result};

use crate::browser::Browser;
use crate::browser_step;
use crate::chromium_step::{self, Screenshot};
use crate::http_step;
use crate::placeholders::Saved;
use crate::server_control::GatewayAdmin;
use crate::step_context::StepContext;
use crate::steps::Step;
use crate::wizard_step::{WizardRunRecord, WizardState};

/// What running the steps produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepsOutcome {
    /// Steps whose every check held.
    pub passed: usize,
    pub total: usize,
    /// `step N (label): …`, masked.
    pub mismatches: Vec<String>,
    /// One masked line per request and answer, for `steps.log`.
    pub transcript: Vec<String>,
    /// The wizard runs of `wizard` steps, in order.
    pub wizard_runs: Vec<WizardRunRecord>,
    /// The screenshots of `chromium` steps, in order.
    pub screenshots: Vec<Screenshot>,
}

/// What the steps of one scenario carry from one to the next.
#[derive(Default)]
struct Carried {
    saved: Saved,
    browser: Browser,
    wizards: WizardState,
    transcript: Vec<String>,
    screenshots: Vec<Screenshot>,
}

/// Runs every step in order. A step that fails is reported and the next
/// one still runs, so one run shows every deviation; a step needing a
/// value no earlier step saved fails on its own.
pub async fn run_steps(steps: &[Step], context: &StepContext<'_>) -> StepsOutcome {
    let mut carried = Carried::default();
    if let Some(link) = context.admin_link {
        carried.saved.insert("admin_link", link.to_owned());
    }
    let mut outcome = StepsOutcome {
        total: steps.len(),
        ..StepsOutcome::default()
    };
    for (index, step) in steps.iter().enumerate() {
        let title = format!("step {} ({})", index + 1, step.label());
        let failures = match run_step(step, context, &mut carried, index + 1, &title).await {
            Ok(failures) => failures,
            Err(error) => vec![format!("{error:#}")],
        };
        if failures.is_empty() {
            outcome.passed += 1;
        }
        for failure in failures {
            outcome
                .mismatches
                .push(carried.saved.mask(&format!("{title}: {failure}")));
        }
    }
    if let Some(abandoned) = carried.wizards.abandon().await {
        outcome.mismatches.push(carried.saved.mask(&abandoned));
    }
    outcome.wizard_runs = carried.wizards.runs;
    outcome.screenshots = carried.screenshots;
    outcome.transcript = carried
        .transcript
        .iter()
        .map(|line| carried.saved.mask(line))
        .collect();
    outcome
}

/// One step, by its kind; `Ok` holds the failures of its checks, `Err`
/// a step that could not run at all.
async fn run_step(
    step: &Step,
    context: &StepContext<'_>,
    carried: &mut Carried,
    number: usize,
    title: &str,
) -> Result<Vec<String>> {
    let Carried {
        saved,
        browser,
        wizards,
        transcript,
        screenshots,
    } = carried;
    match step {
        Step::Http(http) => http_step::run(http, context, saved, transcript, title).await,
        Step::GatewayMessage(message) => {
            http_step::gateway_message(message, context, saved, transcript, title).await
        }
        Step::AdvanceClock(advance) => {
            http_step::advance_clock(advance, context, transcript, title).await
        }
        Step::BrowserOpen(open) => {
            browser_step::open(open, context, browser, saved, transcript, title).await
        }
        Step::BrowserSubmit(submit) => {
            browser_step::submit(submit, context, browser, saved, transcript, title).await
        }
        Step::BrowserFollow(follow) => {
            browser_step::follow(follow, context, browser, saved, transcript, title).await
        }
        Step::Wizard(run) => {
            wizards
                .run(run, context, saved, transcript, number, title)
                .await
        }
        Step::WizardOutput(output) => wizards.read_output(output, saved, transcript, title).await,
        Step::WizardInput(input) => {
            wizards
                .type_text(input, context, saved, transcript, title)
                .await
        }
        Step::WizardWait(wait) => wizards.wait(wait, context, saved, transcript, title).await,
        Step::RestartServer(restart) => {
            let server = context
                .server
                .context("this harness run cannot restart the server")?;
            let gateway = GatewayAdmin {
                url: context.gateway_url,
                admin_token: context.admin_token,
            };
            server
                .restart(restart, context.client, &gateway, transcript, title)
                .await
        }
        Step::Chromium(chromium) => {
            chromium_step::run(
                chromium,
                context,
                saved,
                transcript,
                screenshots,
                number,
                title,
            )
            .await
        }
    }
}
