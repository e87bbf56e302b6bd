//! The wire contract of the simulated stack, and nothing else.
//!
//! Every type that crosses a process boundary (HTTP bodies between the
//! wizard, the provisioning server and the LLM gateway mock, the admin
//! routes, the wizard's JSON output) is declared here, once. The programs
//! never redeclare a request or response struct: they import it from here,
//! so a change to the wire is a change to this crate, and the JSON Schema
//! snapshots in `tests/it/schema.rs` show it in review.
//!
//! Besides the messages, the crate holds the pieces of the contract that are
//! rules rather than shapes: credential formats ([`credential`]), the scope
//! catalogue ([`scope`]), PKCE ([`pkce`]) and the `Stripe-Signature` HMAC
//! scheme ([`signature`]).

pub mod admin;
pub mod credential;
pub mod email;
pub mod error;
pub mod frameworks;
pub mod gateway;
pub mod masking;
pub mod oauth;
pub mod pkce;
pub mod posthog;
pub mod provisioning;
pub mod random;
pub mod region;
pub mod request_id;
pub mod responses;
pub mod schema;
pub mod scope;
#[cfg(feature = "serve")]
pub mod serve;
pub mod signature;
pub mod wizard;

/// The only `API-Version` the provisioning API accepts (protocol section 2).
/// It is the real server's header value, which the published wizard sends,
/// so it does not move when our own contract does.
pub const API_VERSION: &str = "0.1d";

/// The version of this crate's frozen wire contract (every message's schema
/// and the OpenAPI document, including the programs' own outputs), which the
/// protocol guard holds against `fixtures/contracts/baseline/`. A deliberate
/// breaking change bumps it. Its prefix is the [`API_VERSION`] it serves.
///
/// - `0.1d`: the first contract.
/// - `0.1d.2`: eras (a server may mint no personal API key, so
///   `wizard provision --json` may omit `personal_api_key`).
/// - `0.1d.3`: an account-request error may omit `id`, as the real Stripe
///   namespace's refusals before it takes a request up do.
/// - `0.1d.4`: today's `requires_auth` is `{"url"}` (a pending consent at
///   `/api/agentic/authorize`) beside the older `{"type":"redirect",…}`.
pub const CONTRACT_VERSION: &str = "0.1d.4";

/// The header that carries [`API_VERSION`].
pub const API_VERSION_HEADER: &str = "API-Version";

/// The header that follows one request across programs.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Bodies larger than this are refused with `413` (protocol section 2).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Well-known paths, written once so that clients and servers agree.
pub mod paths {
    pub const ACCOUNT_REQUESTS: &str = "/api/agentic/provisioning/account_requests";
    pub const HEALTH: &str = "/api/agentic/provisioning/health";
    pub const SERVICES: &str = "/api/agentic/provisioning/services";
    pub const RESOURCES: &str = "/api/agentic/provisioning/resources";
    pub const DEEP_LINKS: &str = "/api/agentic/provisioning/deep_links";
    pub const LIMITS: &str = "/api/agentic/provisioning/limits";
    pub const AGENTIC_TOKEN: &str = "/api/agentic/oauth/token";
    pub const OAUTH_TOKEN: &str = "/oauth/token";
    pub const OAUTH_AUTHORIZE: &str = "/oauth/authorize";
    /// Today's consent for an existing user (a pending consent's `state`).
    pub const AGENTIC_AUTHORIZE: &str = "/api/agentic/authorize";
    pub const INTROSPECT: &str = "/oauth/introspect";
    pub const AUTHORIZATION_SERVER_METADATA: &str = "/.well-known/oauth-authorization-server";
    pub const USERS_ME: &str = "/api/users/@me/";
    pub const GATEWAY_MESSAGES: &str = "/wizard/v1/messages";
    pub const WIZARD_GATEWAY_TOKEN: &str = "/api/wizard/gateway_token/";
    pub const ADMIN_JOURNAL: &str = "/_admin/journal";
    pub const ADMIN_CLOCK: &str = "/_admin/clock";
    pub const ADMIN_RESET: &str = "/_admin/reset";
    pub const ADMIN_STATE: &str = "/_admin/state";
    pub const ADMIN_FAULTS: &str = "/_admin/faults";
    pub const ADMIN_HELD: &str = "/_admin/held";
    pub const ADMIN_RELEASE: &str = "/_admin/release";
    /// The admin live view's page, the one-time link that opens it, the
    /// exchanges it polls and the route that draws a new link.
    pub const ADMIN_LIVE: &str = "/_admin/live";
    pub const ADMIN_LIVE_ENTER: &str = "/_admin/live/enter";
    pub const ADMIN_LIVE_EXCHANGES: &str = "/_admin/live/exchanges";
    pub const ADMIN_LIVE_LINK: &str = "/_admin/live/link";
    /// The gateway's kept exchanges (`/{request_id}`), once the live view
    /// asked with `GET /_admin/journal?watch=true`.
    pub const ADMIN_EXCHANGES: &str = "/_admin/exchanges";
    /// The server's proxy to them, for the live view's page.
    pub const ADMIN_LIVE_GATEWAY_EXCHANGES: &str = "/_admin/live/gateway/exchanges";

    /// `GET /api/projects/{id}/`.
    pub fn project(id: i64) -> String {
        format!("/api/projects/{id}/")
    }
}
