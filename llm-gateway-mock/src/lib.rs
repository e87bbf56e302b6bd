//! A mock of PostHog's LLM gateway (protocol section 7): the credential
//! decision through the provisioning server's introspection, and a
//! deterministic agent (a recipe per framework) behind the Anthropic
//! Messages API and the OpenAI Responses API.
//!
//! Code map:
//! - `auth.rs`: which credential a request presents and what introspection's
//!   answer means here (plain functions, tested as a table).
//! - `introspection.rs`: the HTTP client for `POST /oauth/introspect`.
//! - `error.rs`: every refusal's status, `WWW-Authenticate` and body.
//! - `agent/`: the harness-neutral agent (a recipe per framework, rendered
//!   for Claude Code or the pi harness) and the scripted plays.
//! - `responses_stream.rs`: the Responses API's events.
//! - `stream.rs`: the server-sent events form of an answer.
//! - `journal.rs`: the admin journal, credentials masked.
//! - `live.rs`: the live view's masked headers and bodies, once asked.
//! - `routes/`: one file per endpoint family.
//!
//! Invariants: a full `phx_`/`pha_` never reaches a log line or the journal
//! (only `protocol::credential::mask` output does); introspection answers are
//! never cached; an outage of introspection is a 503, never a 401.

pub mod admission;
pub mod agent;
pub mod auth;
pub mod call_kind;
pub mod config;
pub mod error;
pub mod faults;
pub mod front;
pub mod gateway_tokens;
pub mod harness;
pub mod introspection;
pub mod journal;
pub mod live;
pub mod product;
pub mod request_id;
pub mod responses_stream;
pub mod routes;
pub mod state;
pub mod stream;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub use crate::config::{Config, DEFAULT_BIND, DEFAULT_INTROSPECTION_URL};
pub use crate::state::AppState;
pub use protocol::region::Region;

/// The gateway: its routes, behind [`front::around`].
pub fn app(state: AppState) -> App {
    let mut router = Router::new()
        .route(
            protocol::paths::GATEWAY_MESSAGES,
            post(routes::messages::messages),
        )
        .route(
            &format!("{}/", protocol::paths::GATEWAY_MESSAGES),
            post(routes::messages::messages),
        )
        // The gateway's root serves the same API as the `llm_gateway`
        // product: a gateway token's `gateway_url` is the gateway itself,
        // not its `/wizard` product path. Any other first segment names a
        // product (refused with a 400 if the real gateway has none).
        .route("/v1/messages", post(routes::messages::messages))
        .route("/{product}/v1/messages", post(routes::messages::messages))
        .route(
            "/v1/messages/count_tokens",
            post(routes::messages::count_tokens),
        )
        .route(
            "/wizard/v1/messages/count_tokens",
            post(routes::messages::count_tokens),
        )
        .route(
            "/{product}/v1/messages/count_tokens",
            post(routes::messages::count_tokens),
        )
        .route(
            "/",
            get(routes::root::banner).head(routes::root::method_not_allowed),
        )
        .route("/v1/responses", post(routes::responses::responses))
        .route(
            "/{product}/v1/responses",
            post(routes::responses::responses),
        )
        .route("/responses", post(routes::responses::responses))
        .route("/wizard/responses", post(routes::responses::responses))
        .route(protocol::gateway::MINT_PATH, post(routes::tokens::mint))
        .route("/readyz", get(routes::health::readyz))
        .route("/_liveness", get(routes::health::liveness));
    if state.admin_token.is_some() {
        router = router
            .route(protocol::paths::ADMIN_JOURNAL, get(routes::admin::journal))
            .route(
                &format!("{}/{{request_id}}", protocol::paths::ADMIN_EXCHANGES),
                get(routes::admin::exchange),
            )
            .route(protocol::paths::ADMIN_RESET, post(routes::admin::reset))
            .route(
                protocol::paths::ADMIN_FAULTS,
                get(routes::admin::faults).post(routes::admin::set_faults),
            )
            .route(protocol::paths::ADMIN_HELD, get(routes::admin::held))
            .route(protocol::paths::ADMIN_RELEASE, post(routes::admin::release));
    }
    let router = router
        .fallback(not_found)
        // The messages handler reads its body itself, after authentication,
        // with its own limit; no extractor applies axum's 2 MB default.
        .layer(DefaultBodyLimit::disable())
        .with_state(state.clone());
    protocol::serve::Fronted(front::Front { state, router })
}

/// The gateway as a service ([`app`]): each request gets its id around
/// routing.
pub type App = protocol::serve::Fronted<front::Front>;

async fn not_found() -> Response {
    error::not_found()
}

/// Binds, prints `listening on http://<addr>` once, and serves (within
/// `config.limits`) until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let state = AppState::from_config(&config)?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot bind {}", config.bind))?;
    tracing::info!(
        region = config.region.as_str(),
        introspection_url = config.introspection_url,
        frameworks = state.scripts.frameworks().join(","),
        admin = config.admin_token.is_some(),
        "gateway starting"
    );
    protocol::serve::announce_and_serve(listener, app(state), config.limits).await?;
    Ok(())
}
