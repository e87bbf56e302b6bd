//! The profile as data: [`ScopePolicy`] and every field of
//! `fixtures/profiles/<era>.toml`, the four eras embedded, loaded and
//! checked once at start. The rules that read the fields are the sibling
//! files (`scopes.rs`, `tokens.rs`, `deep_links.rs`, `stripe.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;

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
    /// The applications' ceilings already expanded ([`ScopePolicy::ceiling`]).
    #[serde(skip)]
    pub(super) expanded: ExpandedCeilings,
}

/// Expanded ceilings by their literal text: each is a function of the era
/// and the text alone, and expanding `@default` (over a hundred scopes,
/// without duplicates) cost a third of a signup's instructions when it was
/// done on every request. At most 256 are kept; more distinct texts start
/// the memo afresh.
#[derive(Debug, Default)]
pub struct ExpandedCeilings(Mutex<HashMap<String, Arc<[String]>>>);

impl ExpandedCeilings {
    const MAX: usize = 256;

    /// The expansion of `literal`, made by `expand` the first time.
    pub(super) fn get_or_insert(
        &self,
        literal: &str,
        expand: impl FnOnce() -> Vec<String>,
    ) -> Arc<[String]> {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(expanded) = kept.get(literal) {
            return Arc::clone(expanded);
        }
        if kept.len() >= Self::MAX {
            kept.clear();
        }
        let expanded: Arc<[String]> = expand().into();
        kept.insert(literal.to_owned(), Arc::clone(&expanded));
        expanded
    }
}

/// A copy of a policy starts with an empty memo.
impl Clone for ExpandedCeilings {
    fn clone(&self) -> Self {
        ExpandedCeilings::default()
    }
}

/// A memo, not part of what the policy says.
impl PartialEq for ExpandedCeilings {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ExpandedCeilings {}

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
    /// Required, one of [`DEEP_LINK_PURPOSES`](crate::policy::DEEP_LINK_PURPOSES).
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

/// The embedded profiles, by name, oldest era first.
pub const EMBEDDED: [(&str, &str); 4] = [
    (
        "legacy",
        include_str!("../../../fixtures/profiles/legacy.toml"),
    ),
    (
        "allowlist",
        include_str!("../../../fixtures/profiles/allowlist.toml"),
    ),
    (
        "ceilings",
        include_str!("../../../fixtures/profiles/ceilings.toml"),
    ),
    (
        "current",
        include_str!("../../../fixtures/profiles/current.toml"),
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

    /// The named ceiling `name` of this era.
    pub fn named_ceiling(&self, name: &str) -> Option<&[String]> {
        self.scopes.ceilings.get(name).map(Vec::as_slice)
    }

    /// The scopes `@default` stands for in this era, in catalogue order:
    /// each public object's `read` and `write`, minus the privileged ones.
    pub fn unprivileged(&self) -> &[String] {
        &self.scopes.unprivileged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// If this fails, a ceiling is expanded on every request again (a
    /// third of a signup's work), or the memo grows without bound.
    #[test]
    fn a_ceiling_text_is_expanded_once_and_the_memo_stays_bounded() {
        let memo = ExpandedCeilings::default();
        let calls = std::cell::Cell::new(0);
        let expand = |scopes: &[&str]| {
            calls.set(calls.get() + 1);
            scopes.iter().map(|scope| (*scope).to_owned()).collect()
        };
        let first = memo.get_or_insert("@default", || expand(&["a:read"]));
        let again = memo.get_or_insert("@default", || expand(&["b:read"]));
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(*again, ["a:read".to_owned()]);
        assert_eq!(calls.get(), 1);
        // Other texts are kept beside it, each expanded once.
        memo.get_or_insert("user:read", || expand(&["user:read"]));
        memo.get_or_insert("@default", || expand(&["c:read"]));
        memo.get_or_insert("user:read", || expand(&["d:read"]));
        assert_eq!(calls.get(), 2);
        for n in 0..ExpandedCeilings::MAX * 2 {
            memo.get_or_insert(&format!("scope{n}:read"), Vec::new);
        }
        let kept = memo.0.lock().unwrap().len();
        assert!(kept <= ExpandedCeilings::MAX, "{kept} kept");
        // A copied policy starts afresh and says the same.
        assert_eq!(memo.clone(), memo);
        assert!(memo.clone().0.lock().unwrap().is_empty());
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
