//! A mock of PostHog's LLM gateway (protocol section 7): the credential
//! decision through the provisioning server's introspection, and a
//! deterministic scripted agent behind the Anthropic Messages API.
//!
//! Code map:
//! - `auth.rs`: which credential a request presents and what introspection's
//!   answer means here (plain functions, tested as a table).
//! - `introspection.rs`: the HTTP client for `POST /oauth/introspect`.
//! - `error.rs`: every refusal's status, `WWW-Authenticate` and body.
//! - `agent.rs`: the TOML scripts (`fixtures/agent/`) and turn selection.
//! - `stream.rs`: the server-sent events form of an answer.
//! - `journal.rs`: the admin journal, credentials masked.
//! - `routes/`: one file per endpoint family.
//!
//! Invariants: a full `phx_`/`pha_` never reaches a log line or the journal
//! (only `protocol::credential::mask` output does); introspection answers are
//! never cached; an outage of introspection is a 503, never a 401.

pub mod admission;
pub mod agent;
pub mod auth;
pub mod error;
pub mod faults;
pub mod gateway_tokens;
pub mod introspection;
pub mod journal;
pub mod request_id;
pub mod routes;
pub mod stream;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use protocol::random::{OsRandom, RandomSource};

use crate::agent::Scripts;
use crate::auth::Policy;
use crate::gateway_tokens::GatewayTokens;
use crate::introspection::IntrospectionClient;
use crate::journal::RequestJournal;

pub const DEFAULT_BIND: &str = "127.0.0.1:3308";
pub const DEFAULT_INTROSPECTION_URL: &str = "http://localhost:8010/oauth/introspect";

/// The region a gateway serves; it refuses credentials of the other one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Region {
    #[default]
    Us,
    Eu,
}

impl Region {
    /// Lower case, as introspection's `region` field and the flag spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
        }
    }
}

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
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub policy: Arc<Policy>,
    pub introspection: Arc<IntrospectionClient>,
    pub scripts: Arc<Scripts>,
    pub journal: RequestJournal,
    pub admin_token: Option<Arc<str>>,
    /// Source of generated request ids.
    pub random: Arc<dyn RandomSource>,
    /// Injected faults.
    pub faults: Arc<faults::Faults>,
    /// The gateway tokens (`phe_`) minted here.
    pub gateway_tokens: Arc<GatewayTokens>,
    /// The time, in unix seconds (the system clock; tests fix it).
    pub now: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl AppState {
    /// Builds the state; a bad agent script is an error naming its file.
    pub fn from_config(config: &Config) -> anyhow::Result<AppState> {
        let scripts = match &config.agent_dir {
            Some(dir) => Scripts::from_dir(dir)?,
            None => Scripts::embedded()?,
        };
        let introspection = IntrospectionClient::new(
            config.introspection_url.clone(),
            config.introspection_client_id.clone(),
            config.introspection_client_secret.clone(),
        )
        .context("cannot build the introspection client")?;
        Ok(AppState {
            policy: Arc::new(Policy {
                region: config.region,
                wizard_client_ids: config.wizard_client_ids.clone(),
            }),
            introspection: Arc::new(introspection),
            scripts: Arc::new(scripts),
            journal: RequestJournal::default(),
            admin_token: config.admin_token.as_deref().map(Arc::from),
            random: Arc::new(OsRandom),
            faults: {
                faults::validate(&config.faults)
                    .map_err(|error| anyhow::anyhow!("--fault: {error}"))?;
                Arc::new(faults::Faults::new(config.faults.clone()))
            },
            gateway_tokens: Arc::new(GatewayTokens::new(&config.mint_key)),
            now: Arc::new(gateway_tokens::unix_now),
        })
    }
}

/// The gateway's routes.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route(
            protocol::paths::GATEWAY_MESSAGES,
            post(routes::messages::messages),
        )
        .route(
            &format!("{}/", protocol::paths::GATEWAY_MESSAGES),
            post(routes::messages::messages),
        )
        // The gateway's root serves the same API: a gateway token's
        // `gateway_url` is the gateway itself, not its `/wizard` product path.
        .route("/v1/messages", post(routes::messages::messages))
        .route("/v1/responses", post(routes::responses::responses))
        .route("/wizard/v1/responses", post(routes::responses::responses))
        .route(protocol::gateway::MINT_PATH, post(routes::tokens::mint))
        .route("/readyz", get(routes::health::readyz))
        .route("/_liveness", get(routes::health::liveness));
    if state.admin_token.is_some() {
        router = router
            .route(protocol::paths::ADMIN_JOURNAL, get(routes::admin::journal))
            .route(protocol::paths::ADMIN_RESET, post(routes::admin::reset))
            .route(
                protocol::paths::ADMIN_FAULTS,
                get(routes::admin::faults).post(routes::admin::set_faults),
            )
            .route(protocol::paths::ADMIN_HELD, get(routes::admin::held))
            .route(protocol::paths::ADMIN_RELEASE, post(routes::admin::release));
    }
    router
        .fallback(not_found)
        // The messages handler reads its body itself, after authentication,
        // with its own limit; no extractor applies axum's 2 MB default.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_id::layer,
        ))
        .with_state(state)
}

async fn not_found() -> Response {
    error::detail(StatusCode::NOT_FOUND, "Not found.")
}

/// Binds, prints `listening on http://<addr>` once, and serves until
/// Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let state = AppState::from_config(&config)?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot bind {}", config.bind))?;
    let address = listener.local_addr()?;
    tracing::info!(
        region = config.region.as_str(),
        introspection_url = config.introspection_url,
        frameworks = state.scripts.frameworks().join(","),
        admin = config.admin_token.is_some(),
        "gateway starting"
    );
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}")?;
        stdout.flush()?;
    }
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the server stopped with an error")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
