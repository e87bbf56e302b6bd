//! What the flags decide, with the defaults a local run needs.

use std::net::SocketAddr;
use std::path::PathBuf;

use protocol::region::Region;

pub const DEFAULT_BIND: &str = "127.0.0.1:3308";
pub const DEFAULT_INTROSPECTION_URL: &str = "http://localhost:8010/oauth/introspect";

/// Everything the flags decide.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub region: Region,
    pub introspection_url: String,
    pub introspection_client_id: String,
    pub introspection_client_secret: String,
    pub wizard_client_ids: Vec<String>,
    /// The `phs_` the provisioning server mints gateway tokens with.
    pub mint_key: String,
    /// Admin routes exist only when this is set.
    pub admin_token: Option<String>,
    /// Load scripts from here instead of the embedded ones.
    pub agent_dir: Option<PathBuf>,
    /// Faults to inject from the start (also settable through
    /// `POST /_admin/faults`).
    pub faults: protocol::admin::FaultSettings,
    /// How long a client may take to send a request's head, and how many
    /// connections are served at once.
    pub limits: protocol::serve::Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: DEFAULT_BIND
                .parse()
                .expect("the default bind address parses"),
            region: Region::Us,
            introspection_url: DEFAULT_INTROSPECTION_URL.to_owned(),
            introspection_client_id: protocol::oauth::DEV_INTROSPECTION_CLIENT_ID.to_owned(),
            introspection_client_secret: protocol::oauth::DEV_INTROSPECTION_CLIENT_SECRET
                .to_owned(),
            wizard_client_ids: protocol::oauth::WIZARD_CLIENT_IDS
                .iter()
                .map(|id| id.to_string())
                .collect(),
            mint_key: protocol::gateway::DEV_MINT_KEY.to_owned(),
            admin_token: None,
            agent_dir: None,
            faults: protocol::admin::FaultSettings::default(),
            limits: protocol::serve::Limits::DEFAULT,
        }
    }
}
