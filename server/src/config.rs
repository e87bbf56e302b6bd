//! What the server is started with: the flags of `main.rs`, as one value.

use std::net::SocketAddr;

use protocol::region::Region;

use crate::state::WizardGateway;

/// Everything the server needs to start, from flags.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    /// `us` or `eu`.
    pub region: Region,
    /// The URL clients reach the server at; default `http://<bound address>`.
    pub public_url: Option<String>,
    /// `legacy`, `current` or a profile file.
    pub profile: String,
    pub seeds: Vec<std::path::PathBuf>,
    pub admin_token: Option<String>,
    /// Where gateway tokens are minted (`None`: the endpoint answers 404).
    pub wizard_gateway: Option<WizardGateway>,
    /// How long a client may take to send a request's head, and how many
    /// connections are served at once.
    pub limits: protocol::serve::Limits,
    /// Whether the clock stands still at the start time, moved only by
    /// `POST /_admin/clock`: answers that quote a duration (`Retry-After`,
    /// `expires_in`) then do not depend on when a second boundary falls
    /// between two requests.
    pub frozen_clock: bool,
}
