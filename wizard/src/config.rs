//! The parsed options: what to do ([`Command`]) and everything a run
//! needs to know from flags and the environment ([`Config`]). `main.rs`
//! builds it; nothing here touches the network or the disk.

use std::path::PathBuf;
use std::time::Duration;

use protocol::scope::{WIZARD_LOGIN_SCOPES, WIZARD_SIGNUP_SCOPES};

use crate::progress;
use crate::retry;

/// What to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// `--signup --email E`: create an account (or sign in, when the email
    /// already has one), then integrate.
    Signup {
        email: String,
        /// `--name`, for the new account.
        name: Option<String>,
        /// `--project-id`, used after a sign-in; default: the user's
        /// current project.
        project_id: Option<i64>,
    },
    /// `--ci --api-key K`: integrate with an existing personal API key.
    Ci {
        /// As given; a key of another kind is warned about, then tried.
        api_key: String,
        /// Default: the key's current project.
        project_id: Option<i64>,
    },
    /// `provision --email E`: create an account and print its credentials.
    Provision {
        email: String,
        name: Option<String>,
        /// JSON for a script (`--json`, or stdout is not a terminal),
        /// else lines for a person.
        json: bool,
    },
    /// `scopes`: explain the scopes and check them against the server.
    Scopes,
    /// `doctor`: list the project's active health issues, with `--api-key`
    /// or, without one, after an interactive login.
    Doctor {
        /// `None`: sign in through a browser instead.
        api_key: Option<String>,
        /// Default: the key's or the signed-in user's current project.
        project_id: Option<i64>,
    },
}

/// What the account request asks for (`--scopes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRequest {
    /// The signup scopes (`protocol::scope::WIZARD_SIGNUP_SCOPES`).
    Signup,
    /// The login scopes, which add the returning user's.
    Login,
    /// Omit the field, as the first signup client did.
    None,
    /// Exactly these, for trying what a server refuses.
    List(Vec<String>),
}

impl ScopeRequest {
    /// Reads `--scopes`; the error is the usage message.
    pub fn parse(text: &str) -> Result<ScopeRequest, String> {
        Ok(match text {
            "signup" => ScopeRequest::Signup,
            "login" => ScopeRequest::Login,
            "none" => ScopeRequest::None,
            list => {
                let scopes: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|scope| !scope.is_empty())
                    .map(str::to_owned)
                    .collect();
                if scopes.is_empty() {
                    return Err(
                        "--scopes takes signup, login, none or a comma-separated list".into(),
                    );
                }
                ScopeRequest::List(scopes)
            }
        })
    }

    /// The `scopes` field of the account request.
    pub fn field(&self) -> Option<Vec<String>> {
        let owned = |list: &[&str]| list.iter().map(|scope| (*scope).to_owned()).collect();
        match self {
            ScopeRequest::Signup => Some(owned(&WIZARD_SIGNUP_SCOPES)),
            ScopeRequest::Login => Some(owned(&WIZARD_LOGIN_SCOPES)),
            ScopeRequest::None => None,
            ScopeRequest::List(scopes) => Some(scopes.clone()),
        }
    }
}

pub use protocol::region::Region;

/// Everything a run needs, from flags and the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub command: Command,
    /// `--region`; `None` lets CI mode and `doctor` discover it, and means
    /// US wherever a region is needed and none was discovered.
    pub region: Option<Region>,
    /// The project directory, canonical (the edits stay inside it).
    pub install_dir: PathBuf,
    /// `--base-url`: one server for every origin; see [`Config::pinned`].
    pub base_url: Option<String>,
    /// The servers region discovery asks when nothing is pinned.
    pub us_base_url: String,
    pub eu_base_url: String,
    /// `--gateway-url`; default: the region's gateway.
    pub gateway_url: Option<String>,
    /// What the account request asks for.
    pub scopes: ScopeRequest,
    /// `--callback-port`: the login listener's port.
    pub callback_port: Option<u16>,
    /// How long the interactive login waits (30 minutes).
    pub login_timeout: Duration,
    /// `--debug`: echo the verbose log on stderr.
    pub debug: bool,
    /// How steps are shown: spinners on a terminal, plain lines otherwise.
    pub progress: progress::Mode,
    /// `--stream`: ask the gateway for server-sent events.
    pub stream: bool,
    /// Where `posthog-wizard.log` is appended to.
    pub log_dir: PathBuf,
    /// `$HOME`, whose Claude Code settings may take over the gateway's
    /// credentials (checked for a 401's explanation).
    pub home: PathBuf,
    /// The managed Claude Code settings file (tests point it elsewhere).
    pub managed_settings: PathBuf,
    /// Each request's timeout.
    pub timeout: Duration,
    /// Retries of the gateway call.
    pub retry: retry::RetryPolicy,
    /// The command line, for the log banner (credentials masked there).
    pub arguments: String,
}

/// Where the local stack listens by default: a server and a gateway per
/// region.
pub const DEFAULT_US_BASE_URL: &str = "http://localhost:8010";
pub const DEFAULT_EU_BASE_URL: &str = "http://localhost:8011";
pub const DEFAULT_US_GATEWAY_URL: &str = "http://localhost:3308/wizard";
pub const DEFAULT_EU_GATEWAY_URL: &str = "http://localhost:3309/wizard";
/// What the published wizard sends when pinned with `--base-url`.
pub const LOCAL_CLIENT_ID: &str = "DC5uRLVbGI02YQ82grxgnK6Qn12SXWpCqdPb60oZ";
/// The published wizard's applications in each region (the embedded seed
/// registers all three).
pub const US_CLIENT_ID: &str = "c4Rdw8DIxgtQfA80IiSnGKlNX8QN00cFWF00QQhM";
pub const EU_CLIENT_ID: &str = "bx2C5sZRN03TkdjraCcetvQFPGH6N2Y9vRLkcKEy";
/// The interactive login waits this long at most.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl Config {
    /// The region in use: the flag's or the discovered one, else US.
    pub fn region(&self) -> Region {
        self.region.unwrap_or(Region::Us)
    }

    /// The provisioning server and PostHog API in use: `--base-url`, else
    /// the region's.
    pub fn server_url(&self) -> String {
        match &self.base_url {
            Some(base) => base.trim_end_matches('/').to_owned(),
            None => self.region_server_url(self.region()),
        }
    }

    /// The server of one region (ignores `--base-url`).
    pub fn region_server_url(&self, region: Region) -> String {
        let url = match region {
            Region::Us => &self.us_base_url,
            Region::Eu => &self.eu_base_url,
        };
        url.trim_end_matches('/').to_owned()
    }

    /// The gateway base in use (with its product path): `--gateway-url`,
    /// else the region's.
    pub fn gateway_url(&self) -> String {
        match (&self.gateway_url, self.region()) {
            (Some(url), _) => url.clone(),
            (None, Region::Us) => DEFAULT_US_GATEWAY_URL.into(),
            (None, Region::Eu) => DEFAULT_EU_GATEWAY_URL.into(),
        }
    }

    /// Whether `--base-url` pins every origin to one server: then there is
    /// no other region to look in or to suggest.
    pub fn pinned(&self) -> bool {
        self.base_url.is_some()
    }

    /// How this command shows its steps: `provision` none at all, since its
    /// stdout is its JSON (or its credentials) alone.
    pub fn step_display(&self) -> progress::Mode {
        match self.command {
            Command::Provision { .. } => progress::Mode::Hidden,
            _ => self.progress,
        }
    }

    /// The application the wizard signs up and in as: the local one when
    /// pinned, else the region's.
    pub fn client_id(&self) -> &'static str {
        match (&self.base_url, self.region()) {
            (Some(_), _) => LOCAL_CLIENT_ID,
            (None, Region::Us) => US_CLIENT_ID,
            (None, Region::Eu) => EU_CLIENT_ID,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_request_table() {
        assert_eq!(ScopeRequest::parse("none").unwrap().field(), None);
        assert_eq!(
            ScopeRequest::parse("signup")
                .unwrap()
                .field()
                .unwrap()
                .len(),
            8
        );
        assert_eq!(
            ScopeRequest::parse("login").unwrap().field().unwrap().len(),
            12
        );
        assert_eq!(
            ScopeRequest::parse("user:read, introspection")
                .unwrap()
                .field()
                .unwrap(),
            ["user:read", "introspection"]
        );
        assert!(ScopeRequest::parse(",").is_err());
    }
}
