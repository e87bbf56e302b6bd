//! One run's shared means: the parsed options, the HTTP client, the verbose
//! log, the progress display, the random source and the output. Every flow
//! takes the session instead of a list of them, so a test builds one with
//! buffers for output and a seeded random source, and runs a whole flow in
//! process.

use protocol::random::RandomSource;
use reqwest::RequestBuilder;

use crate::client::{Answer, Http};
use crate::config::Config;
use crate::error::WizardError;
use crate::log::VerboseLog;
use crate::output::Output;
use crate::progress::Progress;

/// Everything a flow uses besides its command's own arguments.
pub struct Session {
    /// The run's options. CI mode and `doctor` fill in the region they
    /// discover, so the steps after it use that region's gateway.
    pub config: Config,
    /// One client with the run's timeout, for every request.
    pub http: Http,
    /// The verbose log; every line is redacted before it is written.
    pub log: VerboseLog,
    /// The steps, shown on [`Session::output`] as the config says.
    pub progress: Progress,
    /// PKCE verifiers, `state` and account-request ids are drawn here:
    /// the operating system's generator in the binary, a seeded one in tests.
    pub random: Box<dyn RandomSource>,
    /// Where everything a person reads goes.
    pub output: Output,
}

impl Session {
    /// Opens the log (writing its banner), builds the HTTP client with the
    /// run's timeout and the progress display the command calls for.
    pub fn new(
        config: Config,
        output: Output,
        random: Box<dyn RandomSource>,
    ) -> Result<Session, WizardError> {
        let log = VerboseLog::open(&config.log_dir, &output);
        let log = match config.debug {
            true => log.echoing_to(output.clone()),
            false => log,
        };
        log.banner(&config.arguments);
        let http = Http::new(config.timeout)?;
        let progress = Progress::new(config.step_display(), output.clone());
        Ok(Session {
            config,
            http,
            log,
            progress,
            random,
            output,
        })
    }

    /// Sends `request`, logging `what` (see [`Http::send`]).
    pub async fn send(
        &self,
        what: &str,
        url: &str,
        request: RequestBuilder,
    ) -> Result<Answer, WizardError> {
        self.http.send(&self.log, what, url, request).await
    }

    /// The shared client, to build a request with.
    pub fn client(&self) -> &reqwest::Client {
        self.http.client()
    }
}
