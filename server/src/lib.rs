//! The simulated PostHog provisioning server.
//!
//! `main.rs` parses flags into a [`Config`] and calls [`run`]; tests build an
//! [`AppState`] themselves and drive [`app`] in process.
//!
//! Layers, each knowing nothing of those above it: this file, the router;
//! `routes/`, one file per endpoint; what several routes share (the
//! extractors of `extract` and `access`, the grants of `exchange`, the
//! browser's `session`, `authorization` and `browser`, `partner`,
//! `accounts`); the rules, plain functions over what was loaded (`policy`,
//! `signup`, `exchange`'s rules, `login`, `consent`, `deep_link`,
//! `resource`, `fields`); and below them the state, the database, the
//! errors and the HTTP plumbing. Nothing imports this file: modules name
//! `crate::state`, `crate::config` and the rest directly.

pub mod access;
pub mod accounts;
pub mod auth;
pub mod authorization;
pub mod browser;
pub mod clock;
pub mod config;
pub mod consent;
pub mod db;
pub mod deep_link;
pub mod error;
pub mod exchange;
pub mod extract;
pub mod fields;
pub mod forms;
pub mod http;
pub mod in_flight;
pub mod journal;
pub mod live_view;
pub mod live_view_html;
pub mod login;
pub mod login_html;
pub mod partner;
pub mod password;
pub mod policy;
pub mod posthog_ids;
pub mod rate_limit;
pub mod resource;
pub mod routes;
pub mod seed;
pub mod session;
pub mod sign_in_throttle;
pub mod signup;
pub mod state;
pub mod stripe;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi as _;
use utoipa_axum::{router::OpenApiRouter, routes};

use protocol::paths;
use protocol::random::{OsRandom, RandomSource};

pub use crate::clock::Clock;
pub use crate::config::Config;
pub use crate::db::Db;
use crate::error::{ApiError, Envelope};
pub use crate::policy::ScopePolicy;
use crate::routes::*;
pub use crate::seed::Seed;
pub use crate::state::{AppState, WizardGateway};

/// Opens the database, applies the embedded and given seeds, and builds the
/// state (with the system clock and OS randomness).
pub async fn prepare(config: &Config, public_url: String) -> anyhow::Result<AppState> {
    let policy = ScopePolicy::load(&config.profile)?;
    let mut seeds = vec![Seed::parse(seed::DEFAULT_SEED, "embedded default")?];
    for path in &config.seeds {
        let text = std::fs::read_to_string(path)
            .map_err(|error| anyhow::anyhow!("cannot read --seed {}: {error}", path.display()))?;
        seeds.push(Seed::parse(&text, &path.display().to_string())?);
    }
    let db = Db::connect(&config.database_url).await?;
    let clock = Arc::new(match config.frozen_clock {
        true => Clock::fixed(Clock::system().now()),
        false => Clock::system(),
    });
    let random = Arc::new(OsRandom) as Arc<dyn RandomSource>;
    for seed in &seeds {
        seed.apply_at(&db, &policy, clock.now(), random.as_ref())
            .await?;
    }
    Ok(AppState::new(state::Shared {
        db,
        clock,
        policy: Arc::new(policy),
        public_url: public_url.trim_end_matches('/').into(),
        region: config.region,
        admin_token: config.admin_token.clone().map(Into::into),
        journal: Arc::default(),
        wizard_gateway: config.wizard_gateway.clone().map(Arc::new),
        in_flight: Arc::default(),
        sign_in_throttle: Arc::default(),
        form_key: Arc::new(login::FormKey::draw(random.as_ref())),
        live_view: Arc::default(),
        random,
    }))
}

/// Binds, prints the `listening on` line, and serves (within `config.limits`)
/// until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|error| anyhow::anyhow!("cannot bind {}: {error}", config.bind))?;
    let address = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let state = prepare(&config, public_url).await?;
    tracing::info!(
        profile = %state.policy.name,
        region = %state.region,
        public_url = %state.public_url,
        "provisioning server ready"
    );
    if state.admin_token.is_some() {
        // A one-time link: whoever reads this terminal opens the live view
        // once; the next link comes from POST /_admin/live/link. On stderr,
        // with the logs: stdout holds only the `listening on` line.
        eprintln!("admin live view: {}", admin_live::enter_url(&state));
    }
    protocol::serve::announce_and_serve(listener, app(state), config.limits).await?;
    Ok(())
}

/// The OpenAPI 3.1 document of the server, generated from the same
/// registrations that route requests (so the two cannot drift). Committed as
/// `docs/openapi.json`; a test fails when they differ.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes().split_for_parts().1
}

/// Every documented endpoint, registered once for both routing and the
/// document. Paths are written without a trailing slash; [`app`] answers
/// both forms.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::services))
        .routes(routes!(account_requests::handle))
        .routes(routes!(token::handle))
        .routes(routes!(authorize::show))
        .routes(routes!(authorize_submit::submit))
        .routes(routes!(agentic_authorize::handle))
        .routes(routes!(consent_page::show, consent_page::approve))
        .routes(routes!(account_mismatch_page::handle))
        .routes(routes!(sign_in_page::show, sign_in_page::submit))
        .routes(routes!(oauth_token::handle))
        .routes(routes!(resources::create))
        .routes(routes!(resources::read))
        .routes(routes!(rotate::handle))
        .routes(routes!(remove::handle))
        .routes(routes!(update_service::handle))
        .routes(routes!(deep_links::handle))
        .routes(routes!(limits::handle))
        .routes(routes!(agentic_login::handle))
        .routes(routes!(project_page::handle))
        .routes(routes!(verify_email_page::handle))
        .routes(routes!(introspect::handle))
        .routes(routes!(discovery::metadata))
        .routes(routes!(posthog_api::me))
        .routes(routes!(posthog_api::project))
        .routes(routes!(health_issues::list))
        .routes(routes!(wizard_gateway_token::handle))
        // The admin live view (404 without --admin-token).
        .routes(routes!(admin_live::enter))
        .routes(routes!(admin_live::page))
        .routes(routes!(admin_live::exchanges))
        .routes(routes!(admin_live::detail))
        .routes(routes!(admin_live::gateway_detail))
        .routes(routes!(admin_live::link))
        // The Stripe namespace: the same endpoints, answering only in eras
        // that serve it (`crate::stripe`).
        .routes(routes!(health::stripe_health))
        .routes(routes!(health::stripe_services))
        .routes(routes!(account_requests::stripe))
        .routes(routes!(token::stripe))
        .routes(routes!(resources::stripe_create))
        .routes(routes!(resources::stripe_read))
        .routes(routes!(rotate::stripe))
        .routes(routes!(remove::stripe))
        .routes(routes!(update_service::stripe))
        .routes(routes!(deep_links::stripe))
        .routes(routes!(agentic_login::stripe))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Simulated PostHog provisioning server",
        description = "The agentic provisioning API, its OAuth endpoints and the PostHog API subset the wizard reads (API-Version 0.1d). Every path also answers with a trailing slash. In eras with aliases (today's), every /api/agentic/provisioning/… path also answers as /api/provisioning/…, and /api/agentic/oauth/token as /api/provisioning/oauth/token; the aliases are not listed again.",
        license(name = "MIT")
    ),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("pha_ access token or phx_ personal API key"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// The whole server: the router, behind the path normalization of section 2.
pub fn app(state: AppState) -> App {
    app_with(state, true)
}

/// [`app`] with every request routed by the router, the hot routes too:
/// what tests compare [`app`]'s answers with.
#[doc(hidden)]
pub fn app_without_hot_routes(state: AppState) -> App {
    app_with(state, false)
}

fn app_with(state: AppState, hot_routes: bool) -> App {
    let aliases = state.policy.provisioning_aliases;
    let dashed = state.policy.dashed_account_requests;
    let (mut router, document) = documented_routes().split_for_parts();
    let document = Arc::new(document);
    router = router.route("/", get(home_page::handle));
    // Not documented: the newest real view serves POST only; every other
    // method (GET, OPTIONS, …) is refused with `Allow: POST` alone.
    router = router.route(
        paths::LIMITS,
        axum::routing::MethodRouter::new().fallback(limits::refuse_method),
    );
    router = router.route(
        "/openapi.json",
        get(move || {
            let document = document.clone();
            async move { axum::Json(document.as_ref().clone()) }
        }),
    );
    if state.admin_token.is_some() {
        let admin = Router::new()
            .route(paths::ADMIN_JOURNAL, get(admin::journal))
            .route(paths::ADMIN_STATE, get(admin::state_summary))
            .route(
                paths::ADMIN_CLOCK,
                get(admin::clock).post(admin::advance_clock),
            )
            .route(paths::ADMIN_RESET, post(admin::reset))
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                admin::require_token,
            ));
        router = router.merge(admin);
    }
    let routed = router
        .fallback(not_found)
        // Bodies are read by `http::read_body` with the contract's 64 KiB
        // limit and its 413 envelope; axum's own 2 MB limit is off.
        .layer(DefaultBodyLimit::disable())
        .with_state(state.clone());
    protocol::serve::Fronted(Front {
        state,
        router: routed,
        aliases,
        dashed,
        hot_routes,
    })
}

/// The server as a service ([`app`]). Paths answer with and without the
/// trailing slash (section 2), and in eras with aliases under
/// `/api/provisioning/…`: both are rewritten before routing, so each route
/// is registered once. (A router in front doing the same cost a second
/// routing and a boxed service per request.)
pub type App = protocol::serve::Fronted<Front>;

/// What the server does around its router: the path rewritten, then
/// [`http::request_id`] (the request's id, log span, live view, journal).
#[derive(Clone)]
pub struct Front {
    state: AppState,
    router: Router,
    aliases: bool,
    dashed: bool,
    /// Whether [`hot_route`]s skip the router (always, but in tests).
    hot_routes: bool,
}

impl protocol::serve::Front for Front {
    fn answer(
        &mut self,
        request: axum::http::Request<axum::body::Body>,
    ) -> impl std::future::Future<Output = Response> + Send + 'static {
        let request = normalize_path(request, self.aliases, self.dashed);
        let hot = self.hot_routes.then(|| hot_route(&request)).flatten();
        http::request_id(self.state.clone(), request, &mut self.router, hot)
    }
}

/// The two lookups every wizard run and every gateway message make,
/// `GET /api/users/@me/` and `POST /oauth/introspect`, called without the
/// router: its matching, boxed route services and fallbacks cost a fifth
/// of such a request (`BENCHMARKS.md`, eighth round). Nothing else the
/// router adds applies to them (no route layer; the body limit it turns
/// off is not axum's: `http::read_body` applies the contract's), and they
/// are registered there too, for every other method and for `openapi()`
/// [`hot_routes_answer_as_routed`].
fn hot_route(request: &Request) -> Option<http::HotHandler> {
    let path = request.uri().path();
    match *request.method() {
        Method::GET if path == without_trailing_slashes(paths::USERS_ME) => {
            Some(|request, state| Handler::call(routes::posthog_api::me, request, state))
        }
        Method::POST if path == paths::INTROSPECT => {
            Some(|request, state| Handler::call(routes::introspect::handle, request, state))
        }
        _ => None,
    }
}

/// The `/api/provisioning/…` aliases, most specific first: what the path
/// starts with, and what that part stands for.
pub const PROVISIONING_ALIASES: [(&str, &str); 2] = [
    ("/api/provisioning/oauth/token", "/api/agentic/oauth/token"),
    ("/api/provisioning/", "/api/agentic/provisioning/"),
];

/// The path routing sees: without trailing slashes and, when `aliases`,
/// with an alias replaced by the path it stands for. `None` when it is
/// the path as sent.
pub fn routed_path(path: &str, aliases: bool) -> Option<String> {
    let trimmed = without_trailing_slashes(path);
    let aliased = PROVISIONING_ALIASES
        .iter()
        .filter(|_| aliases)
        .find_map(|(alias, canonical)| {
            let rest = trimmed.strip_prefix(alias)?;
            let whole = alias.ends_with('/') || rest.is_empty();
            whole.then(|| format!("{canonical}{rest}"))
        });
    match aliased {
        Some(canonical) => Some(canonical),
        None if trimmed.len() != path.len() => Some(trimmed.to_owned()),
        None => None,
    }
}

/// `path` without its trailing slashes (`/` stays `/`).
fn without_trailing_slashes(path: &str) -> &str {
    match path.len() > 1 && path.ends_with('/') {
        true => match path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        },
        false => path,
    }
}

/// The dashed spelling of the account-requests path that older servers
/// also routed.
pub const DASHED_ACCOUNT_REQUESTS: &str = "/api/agentic/provisioning/account-requests";

/// [`routed_path`], and in eras that route it, the dashed account-requests
/// path replaced by the real one.
pub fn routed_path_in_era(path: &str, aliases: bool, dashed: bool) -> Option<String> {
    let routed = routed_path(path, aliases);
    let seen = routed.as_deref().unwrap_or(path);
    match dashed && seen == DASHED_ACCOUNT_REQUESTS {
        true => Some(paths::ACCOUNT_REQUESTS.to_owned()),
        false => routed,
    }
}

fn normalize_path<B>(
    mut request: axum::http::Request<B>,
    aliases: bool,
    dashed: bool,
) -> axum::http::Request<B> {
    let Some(path) = routed_path_in_era(request.uri().path(), aliases, dashed) else {
        return request;
    };
    // The journal keeps the alias the caller sent (without the slash).
    let sent = without_trailing_slashes(request.uri().path());
    let aliased = (sent != path).then(|| http::SentPath(sent.to_owned()));
    let rebuilt = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    // From the `String` itself: parsing a `&str` would copy it once more.
    if let Ok(uri) = Uri::try_from(rebuilt) {
        *request.uri_mut() = uri;
        if let Some(sent) = aliased {
            request.extensions_mut().insert(sent);
        }
    }
    request
}

async fn not_found(uri: Uri) -> Response {
    let path = protocol::credential::redact_secrets(uri.path());
    let envelope = if path.starts_with("/api/agentic/")
        || path.starts_with("/oauth/")
        || path.starts_with(policy::STRIPE_NAMESPACE)
    {
        Envelope::Plain
    } else {
        Envelope::PostHog
    };
    ApiError::NotFound(format!("No route for {path}"))
        .into_envelope(envelope)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::{hot_route, routed_path, routed_path_in_era};

    /// If this fails, a lookup the shortcut was made for goes through the
    /// router again, or another request skips it (the paths are as
    /// routing sees them: trailing slashes trimmed).
    #[test]
    fn the_hot_routes_are_the_two_lookups() {
        let hot = |method: &str, path: &str| {
            let request = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .body(axum::body::Body::empty())
                .expect("request builds");
            hot_route(&request).is_some()
        };
        assert!(hot("GET", "/api/users/@me"));
        assert!(hot("GET", "/api/users/@me?x=1"));
        assert!(hot("POST", "/oauth/introspect"));
        for (method, path) in [
            ("HEAD", "/api/users/@me"),
            ("POST", "/api/users/@me"),
            ("GET", "/api/users/@me/"),
            ("GET", "/api/users/me"),
            ("GET", "/oauth/introspect"),
            ("POST", "/oauth/introspect/x"),
            ("POST", "/api/agentic/oauth/token"),
        ] {
            assert!(!hot(method, path), "{method} {path}");
        }
    }

    /// If this fails, an older era's dashed account-requests path reaches
    /// no route, or today's answers under it.
    #[test]
    fn the_dashed_account_requests_path_routes_only_where_the_era_says() {
        let dashed = "/api/agentic/provisioning/account-requests";
        assert_eq!(
            routed_path_in_era(dashed, false, true).as_deref(),
            Some("/api/agentic/provisioning/account_requests")
        );
        assert_eq!(
            routed_path_in_era(&format!("{dashed}/"), false, true).as_deref(),
            Some("/api/agentic/provisioning/account_requests")
        );
        assert_eq!(routed_path_in_era(dashed, true, false), None);
    }

    /// If this fails, a path with a trailing slash or an
    /// `/api/provisioning/…` alias reaches no route, or an alias answers
    /// in an era without them.
    #[test]
    fn routed_path_table() {
        let rows: [(&str, bool, Option<&str>); 10] = [
            ("/api/agentic/provisioning/health", true, None),
            ("/api/users/@me/", false, Some("/api/users/@me")),
            ("/", true, None),
            ("/api/provisioning/health", false, None),
            (
                "/api/provisioning/health",
                true,
                Some("/api/agentic/provisioning/health"),
            ),
            (
                "/api/provisioning/resources/7/remove/",
                true,
                Some("/api/agentic/provisioning/resources/7/remove"),
            ),
            (
                "/api/provisioning/oauth/token",
                true,
                Some("/api/agentic/oauth/token"),
            ),
            (
                "/api/provisioning/oauth/token/",
                true,
                Some("/api/agentic/oauth/token"),
            ),
            (
                "/api/provisioning/oauth/tokens",
                true,
                Some("/api/agentic/provisioning/oauth/tokens"),
            ),
            ("/api/provisioning", true, None),
        ];
        for (path, aliases, expected) in rows {
            assert_eq!(
                routed_path(path, aliases).as_deref(),
                expected,
                "{path} (aliases: {aliases})"
            );
        }
    }
}
