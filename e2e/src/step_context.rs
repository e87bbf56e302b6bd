//! What every step runs against: the scenario's services, its values and
//! its project, as one read-only context. It sits below the files that run
//! the steps (`http_step.rs`, `browser_step.rs`, `wizard_step.rs`) and the
//! dispatcher above them (`dispatch.rs`); what the steps carry from one to
//! the next (saved values, the browser, the background wizard) is the
//! dispatcher's, not the context's.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use protocol::random::RandomSource;

use crate::chromium::Chromium;
use crate::integrated::IntegratedProject;
use crate::placeholders::Placeholders;
use crate::project::Manifest;
use crate::server_control::ServerControl;

/// What the steps need from the running scenario.
pub struct StepContext<'a> {
    pub client: &'a reqwest::Client,
    pub server_url: &'a str,
    pub gateway_url: &'a str,
    pub admin_token: &'a str,
    pub values: &'a Placeholders,
    pub random: &'a dyn RandomSource,
    /// For wizard steps: `None` when the scenario has no project.
    pub wizard: Option<WizardContext<'a>>,
    /// For `restart_server` steps: `None` where the harness cannot
    /// restart the server (the conformance suite).
    pub server: Option<&'a ServerControl>,
    /// For `chromium` steps: the scenario's browser, started before the
    /// services when a step needs it.
    pub chromium: Option<&'a Chromium>,
    /// Where `chromium` steps save their screenshots (the scenario's
    /// report folder); `None`: no screenshots.
    pub screenshots: Option<&'a Path>,
    /// The one-time link to the server's admin live view it printed at
    /// start, saved as `{saved.admin_link}` before the first step.
    pub admin_link: Option<&'a str>,
}

/// What wizard steps need from the running scenario.
#[derive(Debug, Clone, Copy)]
pub struct WizardContext<'a> {
    pub program: &'a Path,
    /// The wizard's whole environment before the step's own `env`.
    pub env: &'a BTreeMap<String, String>,
    /// Where `wizard-step<N>.{stdout,stderr}` go.
    pub scratch: &'a Path,
    pub project_dir: &'a Path,
    /// The project as set up, before any run.
    pub project_initial: &'a Manifest,
    /// The app's checklist, when it has one.
    pub integrated: Option<&'a IntegratedProject>,
}

impl StepContext<'_> {
    /// The wizard's context, or why a wizard step cannot run here.
    pub fn wizard_context(&self) -> Result<&WizardContext<'_>> {
        self.wizard.as_ref().context(
            "a wizard step needs a project: give the scenario a [wizard] or a [project] table",
        )
    }
}
