//! What the server is started with: the flags of `main.rs`, as one value.

use std::net::SocketAddr;

use crate::state::WizardGateway;

/// Everything the server needs to start, from flags.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    /// `us` or `eu`.
    pub region: String,
    /// The URL clients reach the server at; default `http://<bound address>`.
    pub public_url: Option<String>,
    /// `legacy`, `current` or a profile file.
    pub profile: String,
    pub seeds: Vec<std::path::PathBuf>,
    pub admin_token: Option<String>,
    /// Where gateway tokens are minted (`None`: the endpoint answers 404).
    pub wizard_gateway: Option<WizardGateway>,
}
