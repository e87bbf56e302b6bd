//! Wizard steps: runs of the real wizard among the `[[steps]]`, in order,
//! sharing the scenario's one project directory, HOME and log directory.
//!
//! ```toml
//! [[steps]]
//! kind = "wizard"                     # one run, to completion
//! label = "second run"
//! args = ["--ci", "--api-key", "{saved.pat}"]
//! env = { POSTHOG_WIZARD_RETRY_BASE_MS = "10" }
//! stdin = "pasted code\n"             # written to its stdin, then closed
//! expect = { exit_code = 0, output_contains = ["nothing changed"], project = "unchanged" }
//!
//! [[steps]]
//! kind = "wizard"                     # started, not waited for: the browser
//! background = true                   # steps play the person meanwhile
//! args = ["--signup", "--email", "login@example.com", "--callback-port", "{free_port}"]
//!
//! [[steps]]
//! kind = "wizard_output"              # reads the background wizard's stdout
//! pattern = '^(http://\S+/oauth/authorize\?\S+)$'   # as it comes, until a line
//! save = { url = 1 }                  # matches; capture group → {saved.url}
//! timeout_seconds = 10
//!
//! [[steps]]
//! kind = "wizard_input"               # writes to the stdin of a background
//! text = "{saved.code}\n"             # wizard started with `stdin_open = true`
//!
//! [[steps]]
//! kind = "wizard_wait"                # waits for the background wizard to exit
//! expect = { exit_code = 0, project = "integrated" }
//! ```
//!
//! The harness adds `--install-dir`, `--base-url` and `--gateway-url`
//! unless the arguments hold them. `{free_port}` in `args` or `env` is a
//! port the harness found free on 127.0.0.1 just before the run (the same
//! port everywhere in one step), also saved as `{saved.free_port}`.
//! `project` is `untouched` (as set up, before any run), `integrated` (the
//! app's checklist, against the set-up project) or `unchanged` (identical to
//! the project just before this run: a second run that writes nothing).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::http::check_save_name;

/// How long a `wizard_output` step waits by default.
pub const DEFAULT_OUTPUT_TIMEOUT: u64 = 10;

/// One wizard run (`kind = "wizard"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WizardStep {
    #[serde(default)]
    pub label: Option<String>,
    /// Arguments; placeholders `{email}`, `{server}`, `{gateway}`,
    /// `{project}`, `{saved.<name>}` and `{free_port}` are replaced.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables (values take placeholders too).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Written to the wizard's stdin, which is then closed (default: no
    /// stdin at all).
    #[serde(default)]
    pub stdin: Option<String>,
    /// Keep stdin open as a pipe for later `wizard_input` steps (a
    /// background run only; without it stdin is empty).
    #[serde(default)]
    pub stdin_open: bool,
    /// Start it and go on; a later `wizard_wait` collects it.
    #[serde(default)]
    pub background: bool,
    /// Seconds from its start before the wizard is killed and the step fails.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Checked when it exits (for a background run: on `wizard_wait`).
    #[serde(default)]
    pub expect: WizardExpect,
}

/// Waits for a line of the background wizard's stdout (`kind = "wizard_output"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WizardOutputStep {
    #[serde(default)]
    pub label: Option<String>,
    /// A regular expression (Rust `regex` syntax) one whole stdout line
    /// must match; lines already matched by an earlier step are not read
    /// again.
    pub pattern: String,
    /// Saved name → capture group number.
    #[serde(default)]
    pub save: BTreeMap<String, usize>,
    #[serde(default = "default_output_timeout")]
    pub timeout_seconds: u64,
}

/// Types into the background wizard's open stdin (`kind = "wizard_input"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WizardInputStep {
    #[serde(default)]
    pub label: Option<String>,
    /// Written as it is (placeholders replaced); end it with `\n` for a line.
    pub text: String,
}

/// Waits for the background wizard to exit (`kind = "wizard_wait"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WizardWaitStep {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub expect: WizardExpect,
}

/// What one wizard run must show. Only what is written is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WizardExpect {
    pub exit_code: Option<i32>,
    /// Substrings of this run's stdout and stderr together (placeholders
    /// replaced).
    #[serde(default)]
    pub output_contains: Vec<String>,
    #[serde(default)]
    pub output_lacks: Vec<String>,
    pub project: Option<StepProject>,
}

/// The project after one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepProject {
    /// Identical to the project as set up, before any wizard run.
    Untouched,
    /// The app's checklist holds, against the project as set up.
    Integrated,
    /// Identical to the project just before this run started.
    Unchanged,
}

impl WizardStep {
    pub fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            let words = self.args.join(" ");
            match self.background {
                true => format!("wizard {words} (background)"),
                false => format!("wizard {words}"),
            }
        })
    }

    pub fn validate(&self) -> Result<()> {
        if self.background && self.expect != WizardExpect::default() {
            bail!("a background wizard is checked by its `wizard_wait` step: move `expect` there");
        }
        if self.timeout_seconds == 0 {
            bail!("timeout_seconds must be at least 1");
        }
        if self.stdin_open && (!self.background || self.stdin.is_some()) {
            bail!("`stdin_open` is for a background wizard without `stdin`");
        }
        Ok(())
    }
}

impl WizardInputStep {
    pub fn label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| "type into the wizard".to_owned())
    }
}

impl WizardOutputStep {
    pub fn label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| format!("wizard prints /{}/", self.pattern))
    }

    pub fn validate(&self) -> Result<()> {
        let regex = regex::Regex::new(&self.pattern)
            .with_context(|| format!("pattern {:?} is not a regular expression", self.pattern))?;
        let groups = regex.captures_len() - 1;
        for (name, group) in &self.save {
            check_save_name(name)?;
            if *group > groups {
                bail!("save {name}: the pattern has {groups} capture group(s), not {group}");
            }
        }
        Ok(())
    }
}

impl WizardWaitStep {
    pub fn label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| "wait for the wizard".to_owned())
    }
}

fn default_timeout() -> u64 {
    60
}

fn default_output_timeout() -> u64 {
    DEFAULT_OUTPUT_TIMEOUT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::{parse_step, Step};

    #[test]
    fn wizard_steps_parse_with_defaults() {
        let Step::Wizard(run) = parse_step(
            "kind = \"wizard\"\nargs = [\"--ci\", \"--api-key\", \"{saved.pat}\"]\nenv = { A = \"b\" }\nstdin = \"code\\n\"\nexpect = { exit_code = 0, output_contains = [\"nothing changed\"], project = \"unchanged\" }\n",
        )
        .unwrap() else {
            panic!()
        };
        assert!(!run.background);
        assert_eq!(run.timeout_seconds, 60);
        assert_eq!(run.stdin.as_deref(), Some("code\n"));
        assert_eq!(run.expect.project, Some(StepProject::Unchanged));
        assert_eq!(run.label(), "wizard --ci --api-key {saved.pat}");
        let Step::WizardOutput(output) = parse_step(
            "kind = \"wizard_output\"\npattern = '^(http://\\S+)$'\nsave = { url = 1 }\n",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(output.save["url"], 1);
        assert_eq!(output.timeout_seconds, DEFAULT_OUTPUT_TIMEOUT);
        let Step::WizardWait(wait) = parse_step(
            "kind = \"wizard_wait\"\nexpect = { exit_code = 3, project = \"untouched\" }\n",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(wait.expect.exit_code, Some(3));
        assert_eq!(wait.label(), "wait for the wizard");
        let Step::Wizard(interactive) =
            parse_step("kind = \"wizard\"\nbackground = true\nstdin_open = true\n").unwrap()
        else {
            panic!()
        };
        assert!(interactive.stdin_open);
        let Step::WizardInput(input) =
            parse_step("kind = \"wizard_input\"\ntext = \"{saved.code}\\n\"\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(input.text, "{saved.code}\n");
        assert_eq!(input.label(), "type into the wizard");
    }

    #[test]
    fn bad_wizard_steps_are_refused_naming_the_problem() {
        for (text, needle) in [
            ("kind = \"wizard\"\nargz = []\n", "argz"),
            ("kind = \"wizard\"\nexpect = { exit = 0 }\n", "exit"),
            (
                "kind = \"wizard\"\nexpect = { project = \"pristine\" }\n",
                "pristine",
            ),
            (
                "kind = \"wizard\"\nbackground = true\nexpect = { exit_code = 0 }\n",
                "wizard_wait",
            ),
            ("kind = \"wizard\"\ntimeout_seconds = 0\n", "at least 1"),
            ("kind = \"wizard_output\"\n", "pattern"),
            (
                "kind = \"wizard_output\"\npattern = \"(\"\n",
                "not a regular expression",
            ),
            (
                "kind = \"wizard_output\"\npattern = \"(a)\"\nsave = { url = 2 }\n",
                "1 capture group",
            ),
            (
                "kind = \"wizard_output\"\npattern = \"a\"\nsave = { \"{x}\" = 0 }\n",
                "plain",
            ),
            (
                "kind = \"wizard_output\"\npattern = \"a\"\nsaev = {}\n",
                "saev",
            ),
            (
                "kind = \"wizard_wait\"\ntimeout_seconds = 3\n",
                "timeout_seconds",
            ),
            ("kind = \"wizard\"\nstdin_open = true\n", "`stdin_open`"),
            (
                "kind = \"wizard\"\nbackground = true\nstdin_open = true\nstdin = \"x\"\n",
                "`stdin_open`",
            ),
            ("kind = \"wizard_input\"\n", "text"),
            (
                "kind = \"wizard_input\"\ntext = \"a\"\ntxt = \"b\"\n",
                "txt",
            ),
        ] {
            let message = format!("{:#}", parse_step(text).expect_err(text));
            assert!(message.contains(needle), "{text}: {message}");
        }
    }
}
