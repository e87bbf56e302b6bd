//! The server's behaviour profile: one era of the real PostHog server, as
//! data (`fixtures/profiles/*.toml`, the four eras embedded), read by the
//! rules below. Handlers never ask which era they run in; they ask a rule
//! ("what scopes does this code carry", "may this code mint tokens", "what
//! does the personal key carry", "does a PKCE mismatch burn the code",
//! "where does a followed deep link land"), and the rule reads a field.
//!
//! The scope model follows `posthog/scopes.py`: an application's ceiling is
//! an exhaustive list, unless it holds the `@default` sentinel, which stands
//! for every unprivileged scope of the era's catalogue (its public objects,
//! each with `read` and `write`, minus the privileged and the hidden ones)
//! plus whatever else is listed. A few identity scopes are always allowed,
//! whatever the ceiling. An `<object>:write` in the ceiling admits the
//! request of `<object>:read` too.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::db::Application;
use crate::error::ApiError;

/// The sentinel that stands for the era's unprivileged scopes in a ceiling.
pub const DEFAULT_CEILING: &str = "@default";

/// The OpenID Connect scopes, advertised beside the resource scopes.
pub const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// A behaviour profile (an era of the real server), as read from its TOML
/// file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopePolicy {
    pub name: String,
    pub description: String,
    /// When the real server behaved like this, and which published wizards
    /// met it.
    pub period: String,
    pub scopes: ScopeRules,
    pub personal_api_key: PersonalKeyRule,
    pub resources: ResourceRules,
    pub rate_limits: RateLimitRules,
    pub tokens: TokenRules,
    /// Whether `POST /api/wizard/gateway_token/` exists in this era (when
    /// the server is also given a gateway to mint at).
    pub wizard_gateway_tokens: bool,
    /// Whether a public (PKCE) partner's `skip_existing_user_consent`
    /// capability lets it link an existing account without the user's
    /// consent. Today it never does: a client_id proves nothing.
    pub public_partners_may_skip_consent: bool,
    /// How a public (PKCE) partner's account request for an existing email
    /// is answered when it does not skip consent.
    pub existing_user_requires_auth: RequiresAuthRule,
    /// Whether every `/api/agentic/provisioning/…` endpoint, and the agentic
    /// token endpoint, also answer under `/api/provisioning/…`.
    pub provisioning_aliases: bool,
    /// Whether `/api/agentic/provisioning/account-requests` (dashed) is
    /// routed to account requests too, as older servers did.
    pub dashed_account_requests: bool,
    pub deep_links: DeepLinkRules,
    pub messages: Messages,
    pub stripe: StripeRules,
}

/// The `requires_auth` answer to an existing email (protocol section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequiresAuthRule {
    /// `{"type":"redirect","redirect":{"url"}}`: the sign-in link
    /// `/oauth/authorize?…` with the account request's challenge and scopes.
    Redirect,
    /// `{"url"}`: `/api/agentic/authorize?state=…&scope=…`, a pending
    /// consent that keeps the request 600 s; approving it redirects to the
    /// partner's first registered redirect URI with a code for the
    /// request's verifier.
    PendingConsent,
}

/// Where the Stripe-signed orchestrator partners are served, and what their
/// own namespace does differently (`ee/partners/stripe/` of the real
/// server). Under `/api/agentic` they are served in every era, by the rules
/// every partner meets there.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeRules {
    /// [`AGENTIC_NAMESPACE`]: no namespace of their own (the Stripe routes
    /// answer 404); [`STRIPE_NAMESPACE`]: that namespace is served too.
    pub namespace: String,
    /// Lifetime of an access token issued by the namespace's own token
    /// endpoint.
    pub access_seconds: i64,
    /// The namespace's own wording, word for word; required when it is
    /// served.
    pub messages: Option<StripeMessages>,
    /// Whether a Stripe-signed account request under `/api/agentic` must
    /// name its Stripe account (an `orchestrator` of type `stripe` with a
    /// non-empty `stripe.account`), and the text of its `400
    /// invalid_request` if it does not. The real server asked it of the
    /// Stripe Projects caller for as long as it served Stripe there (every
    /// hmac partner is that caller here); today's `/api/agentic`
    /// identifies registered partners and asks nothing of the kind.
    #[serde(default)]
    pub agentic_account_required: Option<String>,
}

impl StripeRules {
    /// The refusal of a signed account request under `/api/agentic` that
    /// names no Stripe account, in eras that require one
    /// (test_account_requests.py::TestAccountRequests::test_missing_stripe_account_returns_400).
    pub fn check_agentic_account(
        &self,
        orchestrator: Option<&protocol::provisioning::Orchestrator>,
    ) -> Result<(), ApiError> {
        let Some(message) = &self.agentic_account_required else {
            return Ok(());
        };
        let named = orchestrator
            .filter(|orchestrator| orchestrator.kind == "stripe")
            .and_then(|orchestrator| orchestrator.stripe.as_ref())
            .and_then(|stripe| stripe.account.as_deref())
            .is_some_and(|account| !account.is_empty());
        match named {
            true => Ok(()),
            false => Err(ApiError::InvalidRequest(message.clone())),
        }
    }
}

/// The Stripe namespace's error texts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeMessages {
    /// Every signature failure (missing, malformed, stale, no match).
    pub signature_failed: String,
    /// An unsigned account request, or an unsigned exchange of a code
    /// without a challenge.
    pub authentication_required: String,
    /// A PKCE code exchanged without its verifier.
    pub verifier_required: String,
    /// Another application's code at the namespace's token endpoint.
    pub code_of_another_app: String,
    /// Another application's refresh token there.
    pub refresh_of_another_app: String,
    pub email_required: String,
    pub stripe_account_required: String,
    pub request_expired: String,
    pub expires_at_invalid: String,
    pub challenge_method: String,
    pub challenge_format: String,
    /// A resource request without a bearer token.
    pub bearer_missing: String,
    /// An unknown or revoked bearer token.
    pub bearer_invalid: String,
    /// An expired bearer token.
    pub bearer_expired: String,
    /// A live bearer token of another application.
    pub bearer_of_another_app: String,
    /// `{service}` is replaced by the unknown service id.
    pub unknown_service: String,
    /// A `label_prefix` that is not a string.
    pub label_prefix_not_a_string: String,
    /// A `label_prefix` longer than [`LABEL_PREFIX_MAX_CHARS`].
    pub label_prefix_too_long: String,
    /// A `label_prefix` with control or format characters.
    pub label_prefix_characters: String,
}

/// The longest `label_prefix` the Stripe namespace takes, in characters.
pub const LABEL_PREFIX_MAX_CHARS: usize = 25;

/// The namespace every partner is served under.
pub const AGENTIC_NAMESPACE: &str = "/api/agentic";
/// The Stripe partners' own namespace (routes registered under it answer
/// only in eras whose `stripe.namespace` it is).
pub const STRIPE_NAMESPACE: &str = "/api/partners/stripe";

/// How requested scopes are judged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeRules {
    /// Where a new account's requested scopes are held against the
    /// partner's ceiling. An existing user's are held at the account request
    /// in every era that checks at all.
    pub checked_at: CeilingCheck,
    /// What an empty or absent request becomes.
    pub empty_request: EmptyRequest,
    /// Refuse to mint tokens from a code that carries no scopes.
    pub refuse_code_without_scopes: bool,
    /// Whether `<object>:write` in a ceiling admits a request for
    /// `<object>:read` (the read half a write scope already grants).
    pub write_admits_read: bool,
    /// Accepted whatever the ceiling (OIDC and introspection).
    #[serde(default)]
    pub always_allowed: Vec<String>,
    /// Never part of `@default`; only an explicit ceiling grants them.
    #[serde(default)]
    pub privileged: Vec<String>,
    /// Scope objects never advertised to OAuth clients (PAT-only), so never
    /// part of `@default`.
    #[serde(default)]
    pub hidden_objects: Vec<String>,
    /// The era's public scope objects: `@default` is each with `read` and
    /// `write`, minus the privileged and hidden scopes.
    #[serde(default)]
    pub objects: Vec<String>,
    /// The named ceilings seeds refer to (`ceiling = "wizard"`): what each
    /// kind of application was allowed in this era.
    pub ceilings: BTreeMap<String, Vec<String>>,
    /// What an application without any ceiling may ask for.
    pub empty_ceiling: EmptyCeiling,
    /// What the discovery document's `scopes_supported` lists.
    pub advertised: Advertised,
    /// What `@default` stands for, derived from the lists above once, at
    /// load ([`ScopePolicy::unprivileged`]).
    #[serde(skip)]
    unprivileged: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyCeiling {
    /// Nothing.
    Nothing,
    /// The unprivileged default, as if the ceiling were `@default`.
    Default,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Advertised {
    /// The union of the registered applications' ceilings.
    Ceilings,
    /// The OIDC scopes and every unprivileged scope: what an OAuth client
    /// can obtain self-serve, never a privileged or hidden one.
    Unprivileged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CeilingCheck {
    /// Requested scopes are stored unchecked: the April 2026 behaviour.
    Never,
    /// Refused at the account request, before any account exists.
    AccountRequest,
    /// A new user's scopes are refused at the token exchange (the account
    /// is created); an existing user's at the account request.
    TokenExchange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyRequest {
    /// Kept empty: the April 2026 behaviour.
    Empty,
    /// Filled from the partner's ceiling.
    Ceiling,
}

/// What resource provisioning hands out besides the project key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalKeyRule {
    /// Whether a personal API key is minted; without one the answer has
    /// no `personal_api_key`.
    pub issued: KeyIssued,
    pub scopes: PersonalKeyScopes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyIssued {
    /// For every application that provisions.
    Always,
    /// Only for an application whose gate is on (the real server's
    /// `issues_personal_api_key`, off by default; a seed's
    /// `issues_personal_api_key` capability).
    Gated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalKeyScopes {
    /// `[]`: a key that passes no scope check.
    Empty,
    /// `["*"]`.
    Wildcard,
    /// The application's ceiling, whatever the token holds.
    Ceiling,
    /// The token's scopes narrowed to the application's ceiling.
    TokenWithinCeiling,
}

/// How partners' rate limits are metered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRules {
    pub model: RateLimitModel,
    /// Whether `POST /api/agentic/provisioning/limits` exists (a partner
    /// reads its own tier and budgets); without it the path is 404.
    pub limits_endpoint: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitModel {
    /// At most N per hour, in windows aligned to the hour.
    HourlyWindows,
    /// A token bucket per partner and endpoint: a burst that refills at N an
    /// hour, `RateLimit-*` headers on every metered answer, refreshes kept
    /// out of the exchange bucket.
    TokenBuckets,
}

/// How the resource endpoints answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRules {
    /// A resource outside the token's teams is `403 forbidden` "Resource not
    /// accessible with this token", whether or not it exists (else 403 for
    /// another's team, 404 for one that does not exist).
    pub outside_the_token_is_forbidden: bool,
    /// Whether a rotation revokes the personal keys provisioning minted
    /// before it (the older real server kept them and added the new one).
    pub rotation_revokes_earlier_keys: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRules {
    /// Lifetime of an access token issued to a provisioning partner.
    pub access_seconds: i64,
    /// Whether a wrong PKCE verifier consumes the code (else the code is
    /// verified before it is consumed, and the right verifier still works).
    pub pkce_mismatch_burns_code: bool,
    /// How a PKCE code exchanged without `code_verifier` is refused.
    pub missing_verifier: MissingVerifier,
    /// How an unsigned exchange of a code issued without a PKCE challenge
    /// (an hmac partner's) is refused.
    pub unsigned_code_without_challenge: UnsignedCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingVerifier {
    /// `400 invalid_request` "code_verifier is required": a malformed request.
    BadRequest,
    /// `401 invalid_request` "code_verifier is required for PKCE": the
    /// verifier is the caller's authentication.
    Unauthorized,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsignedCode {
    /// `401 invalid_client`, naming the partner's signature.
    InvalidClient,
    /// `401 invalid_request` "Authentication required".
    AuthenticationRequired,
}

/// How deep links are issued and followed (protocol section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeepLinkRules {
    pub purpose: PurposeRule,
    pub refusals: DeepLinkRefusals,
    /// Where a link followed by a user whose email is not verified (every
    /// partner-created user) lands.
    pub unverified_users: UnverifiedLanding,
    /// Whether a token issued to an hmac partner mints links only in a
    /// request that partner signed.
    pub hmac_partner_signs: bool,
    /// Whether a public partner (a `pkce` one, known by a client_id anyone
    /// can send) may mint links at all, whatever its capabilities.
    pub public_partners: PublicPartners,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicPartners {
    /// Like any partner with the capability.
    Allowed,
    /// `403 forbidden`: a link mints a web session, and the public tiers
    /// get no deep-link budget.
    Blocked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurposeRule {
    /// Required, one of [`DEEP_LINK_PURPOSES`].
    Known,
    /// A free-form label kept for analytics; absent or empty is `dashboard`.
    LabelDefaultDashboard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeepLinkRefusals {
    /// `403 forbidden` and `400 invalid_request` saying which rule failed.
    Generic,
    /// `403 deep_links_not_enabled` and `400 invalid_path`, in the real
    /// server's words.
    Named,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnverifiedLanding {
    /// Signed in like anyone else.
    SignedIn,
    /// Sent to `/verify_email/<user uuid>`, without a session.
    VerifyEmail,
}

/// Where a followed deep link sends the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// Signed in (a session cookie), to the link's path.
    SignedIn,
    /// To the verify-email page, without a session.
    VerifyEmail,
}

/// Error texts that changed between eras, word for word. `{scopes}` is
/// replaced by the offending scopes, comma-separated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    pub scopes_outside_ceiling_at_account_request: String,
    pub scopes_outside_ceiling_at_token: String,
    pub code_without_scopes: String,
    /// The message of a `429 rate_limited` (token-bucket eras).
    pub rate_limited: String,
}

/// The purposes a deep link may name in eras that check it.
pub const DEEP_LINK_PURPOSES: [&str; 1] = ["dashboard"];

/// Today's words for a deep link's path outside the app.
pub const INVALID_PATH_MESSAGE: &str =
    "path must be a relative in-app path beginning with a single '/'";

/// The embedded profiles, by name, oldest era first.
pub const EMBEDDED: [(&str, &str); 4] = [
    (
        "legacy",
        include_str!("../../fixtures/profiles/legacy.toml"),
    ),
    (
        "allowlist",
        include_str!("../../fixtures/profiles/allowlist.toml"),
    ),
    (
        "ceilings",
        include_str!("../../fixtures/profiles/ceilings.toml"),
    ),
    (
        "current",
        include_str!("../../fixtures/profiles/current.toml"),
    ),
];

impl ScopePolicy {
    /// An embedded era by name, or the path of a profile file.
    pub fn load(name_or_path: &str) -> anyhow::Result<ScopePolicy> {
        let (origin, text) = match EMBEDDED.iter().find(|(name, _)| *name == name_or_path) {
            Some((name, text)) => (format!("embedded profile {name}"), (*text).to_owned()),
            None => {
                let names: Vec<&str> = EMBEDDED.iter().map(|(name, _)| *name).collect();
                let text = std::fs::read_to_string(name_or_path).map_err(|error| {
                    anyhow::anyhow!(
                        "--profile {name_or_path:?} is neither an era ({}) nor a readable file: {error}",
                        names.join(", ")
                    )
                })?;
                (format!("profile file {name_or_path}"), text)
            }
        };
        let mut policy: ScopePolicy = toml::from_str(&text)
            .map_err(|error| anyhow::anyhow!("{origin} is invalid: {error}"))?;
        let rules = &policy.scopes;
        policy.scopes.unprivileged = rules
            .objects
            .iter()
            .filter(|object| !rules.hidden_objects.contains(object))
            .flat_map(|object| [format!("{object}:read"), format!("{object}:write")])
            .filter(|scope| !rules.privileged.contains(scope))
            .collect();
        policy
            .validate()
            .map_err(|error| anyhow::anyhow!("{origin} is invalid: {error}"))?;
        Ok(policy)
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.tokens.access_seconds > 0,
            "tokens.access_seconds must be positive"
        );
        anyhow::ensure!(
            self.stripe.access_seconds > 0,
            "stripe.access_seconds must be positive"
        );
        match self.stripe.namespace.as_str() {
            AGENTIC_NAMESPACE => {}
            STRIPE_NAMESPACE => anyhow::ensure!(
                self.stripe.messages.is_some(),
                "stripe.namespace {STRIPE_NAMESPACE} needs [stripe.messages]"
            ),
            other => anyhow::bail!(
                "stripe.namespace {other:?} is neither {AGENTIC_NAMESPACE} nor {STRIPE_NAMESPACE}"
            ),
        }
        for (name, ceiling) in &self.scopes.ceilings {
            for scope in ceiling {
                if scope == DEFAULT_CEILING {
                    anyhow::ensure!(
                        !self.scopes.objects.is_empty(),
                        "ceiling {name} uses {DEFAULT_CEILING} but scopes.objects is empty"
                    );
                    continue;
                }
                protocol::scope::Scope::parse(scope)
                    .map_err(|error| anyhow::anyhow!("ceiling {name}: {error}"))?;
            }
        }
        Ok(())
    }

    /// Whether a public partner with the `skip_existing_user_consent`
    /// capability (`capability`) skips the existing user's consent.
    pub fn skips_consent(&self, capability: bool) -> bool {
        capability && self.public_partners_may_skip_consent
    }

    /// How an existing email's account request from a public partner that
    /// does not skip consent is answered.
    pub fn existing_user_requires_auth(&self) -> RequiresAuthRule {
        self.existing_user_requires_auth
    }

    /// The Stripe namespace's wording, when this era serves it (`None`:
    /// its routes answer 404).
    pub fn stripe_namespace(&self) -> Option<&StripeMessages> {
        match self.stripe.namespace.as_str() {
            STRIPE_NAMESPACE => self.stripe.messages.as_ref(),
            _ => None,
        }
    }

    /// The scopes stored on a code asked for in the Stripe namespace: what
    /// was requested, unchecked (the namespace holds Stripe to no
    /// ceiling), without duplicates; an empty request gets the partner's
    /// ceiling.
    pub fn stripe_scopes_for_code(
        &self,
        requested: Option<&[String]>,
        ceiling: &[String],
    ) -> Vec<String> {
        let requested = requested.unwrap_or(&[]);
        if requested.is_empty() {
            return ceiling.to_vec();
        }
        let mut unique: Vec<String> = Vec::with_capacity(requested.len());
        for scope in requested {
            if !unique.contains(scope) {
                unique.push(scope.clone());
            }
        }
        unique
    }

    /// The named ceiling `name` of this era.
    pub fn named_ceiling(&self, name: &str) -> Option<&[String]> {
        self.scopes.ceilings.get(name).map(Vec::as_slice)
    }

    /// The scopes `@default` stands for in this era, in catalogue order:
    /// each public object's `read` and `write`, minus the privileged ones.
    pub fn unprivileged(&self) -> &[String] {
        &self.scopes.unprivileged
    }

    /// An application's ceiling with `@default` expanded, in order, without
    /// duplicates (an empty one as the era says).
    pub fn ceiling(&self, application: &Application) -> Vec<String> {
        let literal = application.ceiling();
        match (literal.is_empty(), self.scopes.empty_ceiling) {
            (true, EmptyCeiling::Default) => self.unprivileged().to_vec(),
            _ => self.expand(&literal),
        }
    }

    /// The discovery document's `scopes_supported`, given the registered
    /// applications.
    pub fn scopes_supported(&self, applications: &[Application]) -> Vec<String> {
        let mut scopes: Vec<String> = Vec::new();
        let mut push = |scope: String| {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        };
        match self.scopes.advertised {
            Advertised::Ceilings => applications
                .iter()
                .flat_map(|application| self.ceiling(application))
                .for_each(&mut push),
            Advertised::Unprivileged => OIDC_SCOPES
                .iter()
                .map(|scope| (*scope).to_owned())
                .chain(self.unprivileged().iter().cloned())
                .for_each(&mut push),
        }
        scopes
    }

    /// A literal ceiling (as seeds and eras write it) with `@default`
    /// expanded, in order, without duplicates.
    pub fn expand(&self, literal: &[String]) -> Vec<String> {
        let mut ceiling: Vec<String> = Vec::new();
        let mut push = |scope: String| {
            if !ceiling.contains(&scope) {
                ceiling.push(scope);
            }
        };
        for scope in literal {
            match scope.as_str() {
                DEFAULT_CEILING => self.unprivileged().iter().cloned().for_each(&mut push),
                _ => push(scope.clone()),
            }
        }
        ceiling
    }

    /// The requested scopes a ceiling does not admit: `*` never; an
    /// always-allowed scope always; `<object>:read` when the ceiling holds
    /// `<object>:write`, in eras where a write admits its read half.
    pub fn outside(&self, requested: &[String], ceiling: &[String]) -> Vec<String> {
        let mut outside: Vec<String> = requested
            .iter()
            .filter(|scope| !self.scopes.always_allowed.contains(scope))
            .filter(|scope| {
                let write_half = scope
                    .strip_suffix(":read")
                    .filter(|_| self.scopes.write_admits_read)
                    .map(|object| format!("{object}:write"));
                scope.as_str() == "*"
                    || !(ceiling.contains(scope)
                        || write_half.is_some_and(|write| ceiling.contains(&write)))
            })
            .cloned()
            .collect();
        outside.dedup();
        outside
    }

    /// The scopes stored on a new code, from what the partner requested.
    /// `existing_user`: the email already has an account (held at the
    /// account request in every era that checks).
    pub fn scopes_for_code(
        &self,
        requested: Option<&[String]>,
        ceiling: &[String],
        existing_user: bool,
    ) -> Result<Vec<String>, ApiError> {
        let requested = requested.unwrap_or(&[]);
        if requested.is_empty() {
            return Ok(match self.scopes.empty_request {
                EmptyRequest::Empty => Vec::new(),
                EmptyRequest::Ceiling => ceiling.to_vec(),
            });
        }
        let check_now = match self.scopes.checked_at {
            CeilingCheck::Never => false,
            CeilingCheck::AccountRequest => true,
            CeilingCheck::TokenExchange => existing_user,
        };
        if check_now {
            let outside = self.outside(requested, ceiling);
            if !outside.is_empty() {
                return Err(ApiError::InvalidScope(fill(
                    &self.messages.scopes_outside_ceiling_at_account_request,
                    &outside,
                )));
            }
        }
        let mut unique: Vec<String> = Vec::with_capacity(requested.len());
        for scope in requested {
            if !unique.contains(scope) {
                unique.push(scope.clone());
            }
        }
        Ok(unique)
    }

    /// Whether a code with `scopes`, issued to an application with
    /// `ceiling`, may be exchanged for tokens.
    pub fn check_code_scopes(&self, scopes: &[String], ceiling: &[String]) -> Result<(), ApiError> {
        if self.scopes.refuse_code_without_scopes && scopes.is_empty() {
            return Err(ApiError::InvalidScope(
                self.messages.code_without_scopes.clone(),
            ));
        }
        if self.scopes.checked_at == CeilingCheck::TokenExchange {
            let outside = self.outside(scopes, ceiling);
            if !outside.is_empty() {
                return Err(ApiError::InvalidScope(fill(
                    &self.messages.scopes_outside_ceiling_at_token,
                    &outside,
                )));
            }
        }
        Ok(())
    }

    /// The scopes of the personal key minted for a token that holds
    /// `token_scopes`, issued to an application with `ceiling` whose gate
    /// is `gate_on`; `None` when no key is minted.
    pub fn personal_api_key_scopes(
        &self,
        token_scopes: &[String],
        ceiling: &[String],
        gate_on: bool,
    ) -> Option<Vec<String>> {
        if self.personal_api_key.issued == KeyIssued::Gated && !gate_on {
            return None;
        }
        let scopes = match self.personal_api_key.scopes {
            PersonalKeyScopes::Empty => Vec::new(),
            PersonalKeyScopes::Wildcard => vec!["*".to_owned()],
            PersonalKeyScopes::Ceiling => ceiling.to_vec(),
            PersonalKeyScopes::TokenWithinCeiling if token_scopes.iter().any(|s| s == "*") => {
                ceiling.to_vec()
            }
            PersonalKeyScopes::TokenWithinCeiling => token_scopes
                .iter()
                .filter(|scope| scope.contains(':') && ceiling.contains(scope))
                .cloned()
                .collect(),
        };
        // A key the rule would leave empty is not minted, except in the era
        // whose rule is the empty key itself.
        match (self.personal_api_key.scopes, scopes.is_empty()) {
            (PersonalKeyScopes::Empty, _) | (_, false) => Some(scopes),
            (_, true) => None,
        }
    }
}

/// The deep-link and token-endpoint rules.
impl ScopePolicy {
    /// The purpose a deep link is issued for, from what was asked.
    pub fn deep_link_purpose(&self, requested: Option<&str>) -> Result<String, ApiError> {
        match (self.deep_links.purpose, requested) {
            (PurposeRule::LabelDefaultDashboard, None | Some("")) => Ok("dashboard".to_owned()),
            (PurposeRule::LabelDefaultDashboard, Some(label)) => Ok(label.to_owned()),
            (PurposeRule::Known, Some(purpose)) if DEEP_LINK_PURPOSES.contains(&purpose) => {
                Ok(purpose.to_owned())
            }
            (PurposeRule::Known, None) => Err(ApiError::InvalidRequest(format!(
                "purpose is required; known: {}",
                DEEP_LINK_PURPOSES.join(", ")
            ))),
            (PurposeRule::Known, Some(other)) => Err(ApiError::InvalidRequest(format!(
                "Unknown purpose {:?}; known: {}",
                protocol::credential::redact_secrets(other),
                DEEP_LINK_PURPOSES.join(", ")
            ))),
        }
    }

    /// The refusal of a partner without the deep-link capability.
    pub fn deep_links_not_enabled(&self) -> ApiError {
        match self.deep_links.refusals {
            DeepLinkRefusals::Generic => {
                ApiError::Forbidden("This application may not issue deep links".into())
            }
            DeepLinkRefusals::Named => {
                ApiError::DeepLinksNotEnabled("Deep links are not enabled for this partner".into())
            }
        }
    }

    /// The refusal of a path outside the app; `why` names the rule it broke.
    pub fn deep_link_path_refused(&self, why: String) -> ApiError {
        match self.deep_links.refusals {
            DeepLinkRefusals::Generic => ApiError::InvalidRequest(why),
            DeepLinkRefusals::Named => ApiError::InvalidPath(INVALID_PATH_MESSAGE.into()),
        }
    }

    /// Whether a deep-link request with a token of a partner authenticating
    /// with `auth_method` must carry that partner's signature.
    pub fn deep_link_needs_signature(&self, auth_method: &str) -> bool {
        self.deep_links.hmac_partner_signs && auth_method == "hmac"
    }

    /// The refusal of a partner authenticating with `auth_method` that may
    /// not mint links in this era whatever its capabilities (a public one,
    /// today), checked before the capability.
    pub fn deep_links_barred(&self, auth_method: &str) -> Option<ApiError> {
        match (self.deep_links.public_partners, auth_method) {
            (PublicPartners::Blocked, "pkce") => Some(ApiError::Forbidden(
                "Deep links are not available to public clients".into(),
            )),
            _ => None,
        }
    }

    /// Where a followed link of a user sends the person.
    pub fn deep_link_landing(&self, email_verified: bool) -> Landing {
        match (self.deep_links.unverified_users, email_verified) {
            (UnverifiedLanding::VerifyEmail, false) => Landing::VerifyEmail,
            _ => Landing::SignedIn,
        }
    }

    /// The refusal of a PKCE code exchanged without its verifier.
    pub fn missing_code_verifier(&self) -> ApiError {
        match self.tokens.missing_verifier {
            MissingVerifier::BadRequest => {
                ApiError::InvalidRequest("code_verifier is required".into())
            }
            MissingVerifier::Unauthorized => {
                ApiError::AuthenticationRequired("code_verifier is required for PKCE".into())
            }
        }
    }

    /// The refusal of an unsigned exchange of a code without a challenge.
    pub fn unsigned_code_without_challenge(&self) -> ApiError {
        match self.tokens.unsigned_code_without_challenge {
            UnsignedCode::InvalidClient => ApiError::InvalidClient(
                "This code must be exchanged by a request signed by its partner".into(),
            ),
            UnsignedCode::AuthenticationRequired => {
                ApiError::AuthenticationRequired("Authentication required".into())
            }
        }
    }
}

/// A message with `{scopes}` filled in.
fn fill(template: &str, scopes: &[String]) -> String {
    template.replace("{scopes}", &scopes.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::scope::WIZARD_SIGNUP_SCOPES;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|scope| (*scope).to_owned()).collect()
    }

    fn wizard_ceiling(policy: &ScopePolicy) -> Vec<String> {
        policy.expand(policy.named_ceiling("wizard").expect("a wizard ceiling"))
    }

    /// One row: era, request (None = field absent), existing user, expected
    /// code scopes (Err = the error code).
    fn check(
        era: &str,
        requested: Option<&[&str]>,
        existing_user: bool,
        expected: Result<Vec<String>, &str>,
    ) {
        let policy = ScopePolicy::load(era).unwrap();
        let ceiling = wizard_ceiling(&policy);
        let requested = requested.map(strings);
        let got = policy
            .scopes_for_code(requested.as_deref(), &ceiling, existing_user)
            .map_err(|error| error.code());
        assert_eq!(got, expected, "era {era}, request {requested:?}");
    }

    /// If this fails, today's personal key for a token holding `*` carries
    /// no scope at all, which PostHog reads as a legacy key that may do
    /// everything, instead of the application's ceiling.
    #[test]
    fn todays_key_for_a_wildcard_token_is_the_ceiling() {
        let today = ScopePolicy::load("current").unwrap();
        let ceiling = strings(&["user:read", "project:read"]);
        assert_eq!(
            today.personal_api_key_scopes(&strings(&["*"]), &ceiling, true),
            Some(ceiling.clone())
        );
        assert_eq!(
            today.personal_api_key_scopes(&strings(&["user:read", "query:read"]), &ceiling, true),
            Some(strings(&["user:read"]))
        );
        assert_eq!(
            today.personal_api_key_scopes(&strings(&["*"]), &ceiling, false),
            None
        );
    }

    /// If this fails, an application registered without a ceiling may ask
    /// for nothing today (the real `@default` stands in for it), or for
    /// `@default` in an era where an empty ceiling meant nothing.
    #[test]
    fn an_empty_ceiling_is_the_eras_default() {
        let bare = Application::for_test("bare", "");
        let today = ScopePolicy::load("current").unwrap();
        assert!(!today.unprivileged().is_empty());
        assert_eq!(today.ceiling(&bare), today.unprivileged());
        let april = ScopePolicy::load("legacy").unwrap();
        assert_eq!(april.ceiling(&bare), Vec::<String>::new());
        let narrow = Application::for_test("narrow", "user:read");
        assert_eq!(today.ceiling(&narrow), strings(&["user:read"]));
    }

    /// If this fails, the discovery document advertises nothing, a blank,
    /// duplicates, or a privileged or hidden scope.
    #[test]
    fn scopes_supported_lists_what_may_be_asked_for_once_each() {
        let applications = [
            Application::for_test("a", "user:read llm_gateway:read wizard_session:read"),
            Application::for_test("b", "user:read project:read"),
        ];
        for era in ["legacy", "allowlist", "ceilings", "current"] {
            let policy = ScopePolicy::load(era).unwrap();
            let supported = policy.scopes_supported(&applications);
            assert!(
                supported.iter().any(|scope| scope == "user:read"),
                "{era}: {supported:?}"
            );
            assert!(supported.iter().all(|scope| !scope.is_empty()), "{era}");
            match policy.scopes.advertised {
                // The registered ceilings, in order, once each.
                Advertised::Ceilings => assert_eq!(
                    supported,
                    strings(&[
                        "user:read",
                        "llm_gateway:read",
                        "wizard_session:read",
                        "project:read"
                    ]),
                    "{era}"
                ),
                // Today: the catalogue, never a privileged or hidden scope.
                Advertised::Unprivileged => assert!(
                    supported
                        .iter()
                        .all(|scope| !protocol::scope::never_advertised(scope)),
                    "{era}: {supported:?}"
                ),
            }
            let mut unique = supported.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), supported.len(), "{era}: duplicates");
        }
    }

    #[test]
    fn every_embedded_era_loads_and_knows_the_wizard_and_orchestrator_ceilings() {
        for (name, _) in EMBEDDED {
            let policy = ScopePolicy::load(name).unwrap();
            assert_eq!(policy.name, name);
            for ceiling in ["wizard", "orchestrator"] {
                assert!(policy.named_ceiling(ceiling).is_some(), "{name}: {ceiling}");
            }
        }
    }

    #[test]
    fn scopes_for_code_table() {
        let signup = strings(&WIZARD_SIGNUP_SCOPES);
        check("legacy", None, false, Ok(vec![]));
        check("legacy", Some(&[]), false, Ok(vec![]));
        check(
            "legacy",
            Some(&WIZARD_SIGNUP_SCOPES),
            false,
            Ok(signup.clone()),
        );
        check(
            "legacy",
            Some(&["introspection"]),
            false,
            Ok(strings(&["introspection"])),
        );
        check(
            "allowlist",
            Some(&WIZARD_SIGNUP_SCOPES),
            false,
            Ok(signup.clone()),
        );
        check(
            "allowlist",
            Some(&["made_up:read"]),
            false,
            Err("invalid_scope"),
        );
        check(
            "allowlist",
            Some(&["dashboard:read"]),
            false,
            Err("invalid_scope"),
        );
        check(
            "allowlist",
            Some(&["user:read", "introspection"]),
            false,
            Ok(strings(&["user:read", "introspection"])),
        );
        let current = ScopePolicy::load("current").unwrap();
        check("current", None, false, Ok(wizard_ceiling(&current)));
        check("current", Some(&WIZARD_SIGNUP_SCOPES), false, Ok(signup));
        // Always allowed, whatever the ceiling.
        check(
            "current",
            Some(&["user:read", "introspection"]),
            true,
            Ok(strings(&["user:read", "introspection"])),
        );
        // A new account's scopes wait for the exchange; an existing user's
        // are held now.
        check(
            "current",
            Some(&["llm_gateway:write"]),
            false,
            Ok(strings(&["llm_gateway:write"])),
        );
        check(
            "current",
            Some(&["llm_gateway:write"]),
            true,
            Err("invalid_scope"),
        );
        check(
            "current",
            Some(&["user:read", "user:read"]),
            false,
            Ok(strings(&["user:read"])),
        );
    }

    /// If a row fails, a Stripe-signed request under `/api/agentic` naming
    /// no Stripe account is taken in an era that refused it, or the other
    /// way round.
    #[test]
    fn the_stripe_account_is_required_under_agentic_only_before_the_namespace() {
        use protocol::provisioning::{Orchestrator, StripeOrchestrator};
        fn check(
            era: &str,
            orchestrator: Option<(&str, Option<&str>)>,
            expected: Result<(), &str>,
        ) {
            let policy = ScopePolicy::load(era).unwrap();
            let orchestrator = orchestrator.map(|(kind, account)| Orchestrator {
                kind: kind.into(),
                stripe: Some(StripeOrchestrator {
                    account: account.map(str::to_owned),
                }),
            });
            let got = policy
                .stripe
                .check_agentic_account(orchestrator.as_ref())
                .map_err(|error| error.to_string());
            let expected = expected.map_err(str::to_owned);
            assert_eq!(got, expected, "{era}: {orchestrator:?}");
        }
        const REQUIRED: &str = "orchestrator.stripe.account is required";
        for era in ["legacy", "allowlist", "ceilings"] {
            check(era, Some(("stripe", Some("acct_1"))), Ok(()));
            check(era, Some(("stripe", Some(""))), Err(REQUIRED));
            check(era, Some(("stripe", None)), Err(REQUIRED));
            check(era, Some(("other", Some("acct_1"))), Err(REQUIRED));
            check(era, None, Err(REQUIRED));
        }
        check("current", None, Ok(()));
        check("current", Some(("stripe", None)), Ok(()));
    }

    #[test]
    fn default_expands_to_the_unprivileged_catalogue() {
        let current = ScopePolicy::load("current").unwrap();
        let ceiling = wizard_ceiling(&current);
        for scope in [
            "user:read",
            "dashboard:write",
            "llm_gateway:read",
            "health_issue:read",
        ] {
            assert!(ceiling.contains(&scope.to_owned()), "{scope}");
        }
        for scope in ["llm_gateway:write", "wizard_session:read", "*", "@default"] {
            assert!(!ceiling.contains(&scope.to_owned()), "{scope}");
        }
        assert!(
            current.unprivileged().len() > 200,
            "{}",
            current.unprivileged().len()
        );
    }

    #[test]
    fn outside_reads_write_as_read_and_never_admits_the_wildcard() {
        let current = ScopePolicy::load("current").unwrap();
        let ceiling = strings(&["dashboard:write", "user:read"]);
        let outside = |requested: &[&str]| current.outside(&strings(requested), &ceiling);
        assert!(outside(&["dashboard:read", "dashboard:write", "openid"]).is_empty());
        assert_eq!(outside(&["user:write", "*"]), strings(&["user:write", "*"]));
    }

    #[test]
    fn codes_and_personal_keys_by_era() {
        let token = strings(&["user:read", "llm_gateway:read", "introspection"]);
        let ceiling = strings(&["user:read", "project:read", "llm_gateway:read"]);
        let keys = |gate_on: bool| -> Vec<Option<Vec<String>>> {
            ["legacy", "allowlist", "ceilings", "current"]
                .iter()
                .map(|era| {
                    ScopePolicy::load(era)
                        .unwrap()
                        .personal_api_key_scopes(&token, &ceiling, gate_on)
                })
                .collect()
        };
        // Today's key is gated per application: none for the wizard, whose
        // gate is off; the token's scopes within the ceiling where it is on.
        assert_eq!(
            keys(false),
            [
                Some(vec![]),
                Some(strings(&["*"])),
                Some(ceiling.clone()),
                None
            ]
        );
        assert_eq!(
            keys(true)[3],
            Some(strings(&["user:read", "llm_gateway:read"]))
        );
        let legacy = ScopePolicy::load("legacy").unwrap();
        let current = ScopePolicy::load("current").unwrap();
        assert_eq!(
            current.personal_api_key_scopes(&strings(&["openid"]), &ceiling, true),
            None,
            "a key with nothing to carry is not minted"
        );
        assert!(legacy.check_code_scopes(&[], &ceiling).is_ok());
        assert_eq!(
            current.check_code_scopes(&[], &ceiling).unwrap_err().code(),
            "invalid_scope"
        );
        assert!(current
            .check_code_scopes(&strings(&["user:read", "openid"]), &ceiling)
            .is_ok());
        assert_eq!(
            current
                .check_code_scopes(&strings(&["llm_gateway:write"]), &ceiling)
                .unwrap_err()
                .to_string(),
            "Requested scopes exceed the application's allowed scopes"
        );
    }

    /// One row: era, purpose asked, the purpose issued or the error code.
    fn check_purpose(era: &str, asked: Option<&str>, expected: Result<&str, &str>) {
        let policy = ScopePolicy::load(era).unwrap();
        let got = policy
            .deep_link_purpose(asked)
            .map_err(|error| error.code());
        assert_eq!(
            got.as_deref().map_err(|code| *code),
            expected,
            "era {era}, purpose {asked:?}"
        );
    }

    #[test]
    fn deep_link_purpose_table() {
        check_purpose("ceilings", Some("dashboard"), Ok("dashboard"));
        check_purpose("ceilings", None, Err("invalid_request"));
        check_purpose("legacy", Some("billing"), Err("invalid_request"));
        check_purpose("current", None, Ok("dashboard"));
        check_purpose("current", Some(""), Ok("dashboard"));
        check_purpose("current", Some("billing"), Ok("billing"));
    }

    /// Each era's refusals and landings, as (status, code, message).
    #[test]
    fn deep_link_and_token_refusals_by_era() {
        let wire = |error: ApiError| (error.status().as_u16(), error.code(), error.to_string());
        /// The four refusals of an era, as (status, code, message).
        type Refusals<'a> = [(u16, &'a str, &'a str); 4];
        let rows: [(&str, Refusals); 2] = [
            (
                "legacy",
                [
                    (
                        403,
                        "forbidden",
                        "This application may not issue deep links",
                    ),
                    (400, "invalid_request", "why"),
                    (400, "invalid_request", "code_verifier is required"),
                    (
                        401,
                        "invalid_client",
                        "This code must be exchanged by a request signed by its partner",
                    ),
                ],
            ),
            (
                "current",
                [
                    (
                        403,
                        "deep_links_not_enabled",
                        "Deep links are not enabled for this partner",
                    ),
                    (400, "invalid_path", INVALID_PATH_MESSAGE),
                    (401, "invalid_request", "code_verifier is required for PKCE"),
                    (401, "invalid_request", "Authentication required"),
                ],
            ),
        ];
        for (era, expected) in rows {
            let policy = ScopePolicy::load(era).unwrap();
            let got = [
                wire(policy.deep_links_not_enabled()),
                wire(policy.deep_link_path_refused("why".into())),
                wire(policy.missing_code_verifier()),
                wire(policy.unsigned_code_without_challenge()),
            ];
            let expected =
                expected.map(|(status, code, message)| (status, code, message.to_owned()));
            assert_eq!(got, expected, "era {era}");
        }
        for (era, landing, signs, aliases) in [
            ("legacy", Landing::SignedIn, false, false),
            ("allowlist", Landing::SignedIn, false, false),
            ("ceilings", Landing::SignedIn, false, false),
            ("current", Landing::VerifyEmail, true, true),
        ] {
            let policy = ScopePolicy::load(era).unwrap();
            assert_eq!(policy.deep_link_landing(false), landing, "{era}");
            assert_eq!(policy.deep_link_landing(true), Landing::SignedIn, "{era}");
            assert_eq!(policy.deep_link_needs_signature("hmac"), signs, "{era}");
            assert!(!policy.deep_link_needs_signature("pkce"), "{era}");
            assert_eq!(policy.provisioning_aliases, aliases, "{era}");
            assert!(policy.deep_links_barred("hmac").is_none(), "{era}");
            assert_eq!(
                policy.deep_links_barred("pkce").map(|error| error.code()),
                aliases.then_some("forbidden"),
                "{era}: public partners are barred today only"
            );
        }
    }

    #[test]
    fn only_older_eras_let_a_public_partner_skip_an_existing_users_consent() {
        for (era, skips) in [
            ("legacy", true),
            ("allowlist", true),
            ("ceilings", true),
            ("current", false),
        ] {
            let policy = ScopePolicy::load(era).unwrap();
            assert_eq!(policy.skips_consent(true), skips, "{era}");
            assert!(
                !policy.skips_consent(false),
                "{era}: without the capability"
            );
        }
    }

    #[test]
    fn the_stripe_namespace_by_era() {
        // (era, served, token lifetime there)
        let cases = [
            ("legacy", false, 3600),
            ("allowlist", false, 3600),
            ("ceilings", false, 3600),
            ("current", true, 31_536_000),
        ];
        for (era, served, seconds) in cases {
            let policy = ScopePolicy::load(era).unwrap();
            assert_eq!(policy.stripe_namespace().is_some(), served, "{era}");
            assert_eq!(policy.stripe.access_seconds, seconds, "{era}");
        }
        let current = ScopePolicy::load("current").unwrap();
        let messages = current.stripe_namespace().unwrap();
        assert_eq!(messages.signature_failed, "Signature verification failed");
        assert_eq!(
            messages.code_of_another_app,
            "Authorization code was not issued for the Stripe Projects app"
        );
    }

    #[test]
    fn stripe_scopes_are_not_held_against_the_ceiling() {
        let current = ScopePolicy::load("current").unwrap();
        let ceiling = strings(&["query:read", "user:read"]);
        let table: [(Option<&[&str]>, &[&str]); 4] = [
            (None, &["query:read", "user:read"]),
            (Some(&[]), &["query:read", "user:read"]),
            (Some(&["llm_gateway:write"]), &["llm_gateway:write"]),
            (Some(&["project:read", "project:read"]), &["project:read"]),
        ];
        for (requested, expected) in table {
            let requested = requested.map(strings);
            assert_eq!(
                current.stripe_scopes_for_code(requested.as_deref(), &ceiling),
                strings(expected),
                "{requested:?}"
            );
        }
    }

    #[test]
    fn a_stripe_namespace_needs_its_messages_and_a_known_path() {
        let directory = tempfile::tempdir().unwrap();
        let legacy = EMBEDDED[0].1;
        let cases = [
            ("/api/partners/stripe", "needs [stripe.messages]"),
            ("/api/elsewhere", "is neither"),
        ];
        for (namespace, complaint) in cases {
            let path = directory.path().join("odd.toml");
            let text = legacy.replace(
                "namespace = \"/api/agentic\"",
                &format!("namespace = \"{namespace}\""),
            );
            std::fs::write(&path, text).unwrap();
            let error = ScopePolicy::load(path.to_str().unwrap())
                .unwrap_err()
                .to_string();
            assert!(error.contains(complaint), "{namespace}: {error}");
        }
    }

    #[test]
    fn a_profile_file_with_an_unknown_key_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("odd.toml");
        let legacy = EMBEDDED[0].1;
        std::fs::write(&path, format!("surprise = true\n{legacy}")).unwrap();
        let error = ScopePolicy::load(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("surprise"), "{error}");
    }
}
