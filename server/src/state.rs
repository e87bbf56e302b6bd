//! What every handler shares.

use std::sync::Arc;

use protocol::random::RandomSource;
use protocol::region::Region;

use crate::clock::Clock;
use crate::db::Db;
use crate::in_flight::InFlight;
use crate::live_view::LiveView;
use crate::login::FormKey;
use crate::policy::ScopePolicy;
use crate::sign_in_throttle::SignInThrottle;

/// The server's state: [`Shared`], behind one `Arc`. Every extractor of
/// every request clones it, so a clone is one reference count (measured:
/// a clone of the fields' own `Arc`s was sixteen, on counters both worker
/// threads touch). Fields read through: `state.db`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every handler shares ([`AppState`]).
pub struct Shared {
    pub db: Db,
    pub clock: Arc<Clock>,
    pub random: Arc<dyn RandomSource>,
    pub policy: Arc<ScopePolicy>,
    /// The URL clients reach this server at, without a trailing slash.
    pub public_url: Arc<str>,
    /// `us` or `eu`.
    pub region: Region,
    pub admin_token: Option<Arc<str>>,
    pub journal: Arc<crate::journal::Journal>,
    /// Where `POST /api/wizard/gateway_token/` mints (`None`: not
    /// configured, the endpoint answers 404).
    pub wizard_gateway: Option<Arc<WizardGateway>>,
    /// The account requests being answered, by partner and request id:
    /// copies of one request wait for the first to finish and replay it.
    pub in_flight: Arc<InFlight>,
    /// Every password check's failures, per client address and account.
    pub sign_in_throttle: Arc<SignInThrottle>,
    /// The secret of the anonymous sign-in forms' CSRF tokens.
    pub form_key: Arc<FormKey>,
    /// The admin live view's one-time links and viewers.
    pub live_view: Arc<LiveView>,
}

/// The settings of the wizard's gateway tokens (the real server's
/// `WIZARD_GATEWAY_*` settings).
#[derive(Clone)]
pub struct WizardGateway {
    /// The gateway's base URL without `/v1` and without a trailing slash:
    /// minted at `{url}/v1/tokens`, and handed to the client as
    /// `gateway_url`.
    pub url: String,
    /// The `phs_` the server mints with.
    pub mint_key: String,
    /// The OAuth applications whose tokens may mint.
    pub client_ids: Vec<String>,
    /// The wizard programs a token may be pinned to (`wizard:<program>`).
    pub programs: Vec<String>,
    /// The per-token cap, as the fixed-point string the gateway takes.
    pub cap_usd: String,
    pub ttl_seconds: i64,
    /// Mints per user per hour.
    pub mints_per_hour: i64,
    /// The rollout flag: off answers "not rolled out".
    pub rolled_out: bool,
    /// Whether a personal key (`phx_`) of a wizard application may mint as
    /// its access token would. The real endpoint takes access tokens only;
    /// the published wizard 2.77.0 sends its personal key (BEYOND.md), so
    /// this is off unless asked for.
    pub accepts_personal_keys: bool,
    pub client: reqwest::Client,
}

impl WizardGateway {
    /// The settings `just serve` and the e2e harness use, minting at `url`.
    pub fn new(url: &str) -> anyhow::Result<WizardGateway> {
        let url = url.trim_end_matches('/');
        let url = url.strip_suffix("/v1").unwrap_or(url).to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("--wizard-gateway-url must be an http(s) URL, got {url:?}");
        }
        Ok(WizardGateway {
            url,
            mint_key: protocol::gateway::DEV_MINT_KEY.to_owned(),
            client_ids: protocol::oauth::WIZARD_CLIENT_IDS
                .iter()
                .map(|id| id.to_string())
                .collect(),
            programs: DEFAULT_PROGRAMS.iter().map(|id| id.to_string()).collect(),
            cap_usd: "20.000000".to_owned(),
            ttl_seconds: 3600,
            // The real endpoint's allowance: five mints, then 429.
            mints_per_hour: 5,
            rolled_out: true,
            accepts_personal_keys: false,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?,
        })
    }
}

/// The wizard programs known by default: those the published wizard
/// sends.
pub const DEFAULT_PROGRAMS: [&str; 6] = [
    "posthog-integration",
    "integration",
    "ai-observability",
    "metrics",
    "replay-vision",
    "audit",
];

impl std::fmt::Debug for WizardGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WizardGateway")
            .field("url", &self.url)
            .field("mint_key", &protocol::credential::mask(&self.mint_key))
            .field("client_ids", &self.client_ids)
            .field("programs", &self.programs)
            .field("cap_usd", &self.cap_usd)
            .field("ttl_seconds", &self.ttl_seconds)
            .field("mints_per_hour", &self.mints_per_hour)
            .field("rolled_out", &self.rolled_out)
            .finish()
    }
}

pub use protocol::admin::JOURNAL_CAPACITY;
