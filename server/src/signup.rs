//! The rules of an account request (protocol section 4), as plain
//! functions over what was loaded: who the caller is, what the request may
//! ask, which scopes its code carries, and what an existing user's request
//! resolves to (a code for one of their teams, a sign-in link, or a
//! pending consent). The handler (`routes/account_requests.rs`) loads,
//! asks these in order, and writes.

use axum::http::HeaderMap;

use protocol::credential::hash_secret;
use protocol::pkce::CodeChallenge;
use protocol::provisioning::{
    AccountRequest, AccountRequestAnswer, OAuthCode, Redirect, RequiresAuth,
};
use protocol::region::Region;

use crate::db::{Application, AuthMethod, Code, NewAccount, Team};
use crate::error::ApiError;
use crate::fields::{parse_email, parse_expires_at, parse_team_id};
use crate::http::parse_json;
use crate::partner;
use crate::policy::{RequiresAuthRule, ScopePolicy, StripeMessages};

/// A partner that proved who it is.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Signed with `Stripe-Signature`: the email is trusted.
    Signed(Application),
    /// A public client with a PKCE challenge.
    Pkce(Application, CodeChallenge),
    /// Signed in the Stripe namespace: the email is trusted, the scopes are
    /// not held against a ceiling, and a PKCE challenge is optional (its
    /// code is then exchanged with the verifier, unsigned).
    Stripe(Application, Option<CodeChallenge>),
}

impl Caller {
    pub fn application(&self) -> &Application {
        match self {
            Caller::Signed(application)
            | Caller::Pkce(application, _)
            | Caller::Stripe(application, _) => application,
        }
    }

    pub fn challenge(&self) -> Option<&CodeChallenge> {
        match self {
            Caller::Pkce(_, challenge) => Some(challenge),
            Caller::Stripe(_, challenge) => challenge.as_ref(),
            Caller::Signed(_) => None,
        }
    }
}

/// What an account request resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Code(String),
    /// The older eras' sign-in link (`requires_auth.redirect.url`).
    SignIn(String),
    /// Today's consent link (`requires_auth.url`).
    Consent(String),
}

impl Outcome {
    /// The answer to the request `id`.
    pub fn into_answer(self, id: String) -> AccountRequestAnswer {
        match self {
            Outcome::Code(code) => AccountRequestAnswer::Oauth {
                id,
                oauth: OAuthCode { code },
            },
            Outcome::SignIn(url) => AccountRequestAnswer::RequiresAuth {
                id,
                requires_auth: RequiresAuth::Redirect {
                    kind: "redirect".into(),
                    redirect: Redirect { url },
                },
            },
            Outcome::Consent(url) => AccountRequestAnswer::RequiresAuth {
                id,
                requires_auth: RequiresAuth::Consent { url },
            },
        }
    }
}

/// The longest account-request `id` taken; a longer one is refused.
pub const MAX_REQUEST_ID_CHARS: usize = 200;

/// The body's `id` as sent: `Some` when the body is a JSON object whose
/// `id` (the last, if sent twice) is a string. Read without building the
/// document: every account request needs it before its body is parsed.
pub fn sent_id(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<SentId>(bytes).ok()?.0
}

/// A JSON object's `id` when it is a string, every other field skipped.
struct SentId(Option<String>);

impl<'de> serde::Deserialize<'de> for SentId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = SentId;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SentId, A::Error> {
                let mut id = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "id" {
                        id = map
                            .next_value::<serde_json::Value>()?
                            .as_str()
                            .map(str::to_owned);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(SentId(id))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// The id that names a request (and its refusals): the sent one when it is
/// not empty and at most [`MAX_REQUEST_ID_CHARS`] long.
pub fn usable_id(sent: Option<&str>) -> Option<String> {
    sent.filter(|id| !id.is_empty() && id.chars().count() <= MAX_REQUEST_ID_CHARS)
        .map(str::to_owned)
}

/// A string `id` over [`MAX_REQUEST_ID_CHARS`] is refused with `400
/// invalid_request` naming `id`, never replaced: the answer must echo the
/// caller's id, and one we cannot keep would be a different request
/// (issue 14, class 2).
pub fn check_id_length(sent: Option<&str>) -> Result<(), ApiError> {
    if sent.is_some_and(|id| id.chars().count() > MAX_REQUEST_ID_CHARS) {
        return Err(ApiError::InvalidRequest(format!(
            "id must be at most {MAX_REQUEST_ID_CHARS} characters"
        )));
    }
    Ok(())
}

/// An unsigned request's caller: the PKCE partner its `client_id` names
/// (`application`, as found), active, with the challenge the request
/// carries.
pub fn pkce_caller(
    request: &AccountRequest,
    application: Option<Application>,
) -> Result<Caller, ApiError> {
    let Some(client_id) = request.client_id.as_deref() else {
        return Err(ApiError::Unauthorized(
            "Sign the request with Stripe-Signature, or send the client_id of a PKCE partner"
                .into(),
        ));
    };
    let partner = application
        .filter(|application| {
            application.kind == "partner" && application.auth_method == AuthMethod::Pkce
        })
        .ok_or_else(|| ApiError::Unauthorized(format!("Unknown client_id {client_id:?}")))?;
    let partner = partner::active(partner)?;
    let challenge = request.code_challenge.as_deref().ok_or_else(|| {
        ApiError::InvalidRequest("code_challenge is required for a PKCE client".into())
    })?;
    let challenge = CodeChallenge::parse(challenge, request.code_challenge_method.as_deref())
        .map_err(|error| ApiError::InvalidRequest(error.to_string()))?;
    Ok(Caller::Pkce(partner, challenge))
}

/// The Stripe namespace's checks of the body, before the signature: an
/// email, a valid `expires_at` not in the past. The request comes back
/// with its `expires_at` settled.
pub fn stripe_request(
    messages: &StripeMessages,
    headers: &HeaderMap,
    bytes: &[u8],
    now: i64,
) -> Result<AccountRequest, ApiError> {
    let value: serde_json::Value = parse_json(headers, bytes)?;
    let has_email = value
        .get("email")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|email| !email.trim().is_empty());
    if !has_email {
        return Err(ApiError::InvalidRequest(messages.email_required.clone()));
    }
    let mut request: AccountRequest = parse_json(headers, bytes)?;
    if let Some(expires_at) = request.expires_at.take() {
        let expires_at = parse_expires_at(&expires_at)
            .ok_or_else(|| ApiError::InvalidRequest(messages.expires_at_invalid.clone()))?;
        if expires_at <= now {
            return Err(ApiError::Expired(messages.request_expired.clone()));
        }
    }
    Ok(request)
}

/// The Stripe namespace's checks after the signature (`partner` signed):
/// the Stripe account, then the PKCE challenge if any (its method defaults
/// to S256).
pub fn stripe_caller(
    messages: &StripeMessages,
    partner: Application,
    request: &AccountRequest,
) -> Result<Caller, ApiError> {
    let account = request
        .orchestrator
        .as_ref()
        .and_then(|orchestrator| orchestrator.stripe.as_ref())
        .and_then(|stripe| stripe.account.as_deref())
        .filter(|account| !account.is_empty());
    if account.is_none() {
        return Err(ApiError::InvalidRequest(
            messages.stripe_account_required.clone(),
        ));
    }
    let challenge = match request.code_challenge.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(_)
            if request
                .code_challenge_method
                .as_deref()
                .is_some_and(|method| method != protocol::pkce::S256) =>
        {
            return Err(ApiError::InvalidRequest(messages.challenge_method.clone()))
        }
        Some(challenge) => Some(
            CodeChallenge::parse(challenge, Some(protocol::pkce::S256))
                .map_err(|_| ApiError::InvalidRequest(messages.challenge_format.clone()))?,
        ),
    };
    Ok(Caller::Stripe(partner, challenge))
}

/// What an account request asks, checked: the partner may create
/// accounts, the email is one, `expires_at` (if any) is not past at
/// `now`, `configuration.team_id` (if any) is an integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Lower-cased.
    pub email: String,
    pub requested_team: Option<i64>,
}

/// The checks of [`Checked`], in the real order.
pub fn check(
    partner: &Application,
    request: &AccountRequest,
    now: i64,
) -> Result<Checked, ApiError> {
    if !partner.can_create_accounts {
        return Err(ApiError::Forbidden(format!(
            "Partner {:?} may not create accounts",
            partner.client_id
        )));
    }
    let email = parse_email(&request.email)?;
    if let Some(expires_at) = request.expires_at.as_deref() {
        let expires_at = chrono::DateTime::parse_from_rfc3339(expires_at).map_err(|_| {
            ApiError::InvalidRequest("expires_at must be an ISO 8601 date-time".into())
        })?;
        if expires_at.timestamp() <= now {
            return Err(ApiError::Expired(
                "The account request has expired (expires_at is in the past)".into(),
            ));
        }
    }
    let requested_team = parse_team_id(
        request
            .configuration
            .as_ref()
            .and_then(|configuration| configuration.team_id.as_ref()),
    )?;
    Ok(Checked {
        email,
        requested_team,
    })
}

/// The scopes the code carries: the era's rule (held against the
/// partner's `ceiling` where and when the era holds them), or in the
/// Stripe namespace what was asked, unchecked.
pub fn code_scopes(
    policy: &ScopePolicy,
    caller: &Caller,
    requested: Option<&[String]>,
    ceiling: &[String],
    existing_user: bool,
) -> Result<Vec<String>, ApiError> {
    match caller {
        Caller::Stripe(..) => Ok(policy.stripe_scopes_for_code(requested, ceiling)),
        _ => policy.scopes_for_code(requested, ceiling, existing_user),
    }
}

/// The values drawn for a new account, in the order they are drawn.
#[derive(Debug, Clone)]
pub struct Drawn {
    pub user_uuid: String,
    pub organization_id: String,
    /// The new team's `phc_`.
    pub team_api_token: String,
}

/// The account a request for a new email creates: its user (the first
/// word of the name, as the real server keeps it), organization (named in
/// the request, else after the partner and the email) and first team.
pub fn new_account(
    partner: &Application,
    request: &AccountRequest,
    email: &str,
    drawn: Drawn,
    region: Region,
    now: i64,
) -> NewAccount {
    let organization_name = request
        .configuration
        .as_ref()
        .and_then(|configuration| configuration.organization_name.clone())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| format!("{} ({email})", partner.label));
    NewAccount {
        email: email.to_owned(),
        first_name: request
            .name
            .as_deref()
            .and_then(|name| name.split(' ').next())
            .unwrap_or_default()
            .to_owned(),
        user_uuid: drawn.user_uuid,
        organization_id: drawn.organization_id,
        organization_name,
        team_name: crate::accounts::DEFAULT_PROJECT.into(),
        team_api_token: drawn.team_api_token,
        region: region.to_string(),
        now,
    }
}

/// The row that stores `code` (hashed), bound to the caller's challenge;
/// its `user_id` and `team_id` are filled in where it is stored.
pub fn code_row(caller: &Caller, code: &str, scopes: &[String], region: Region, now: i64) -> Code {
    Code {
        code_hash: hash_secret(code),
        client_id: caller.application().client_id.clone(),
        user_id: 0,
        team_id: 0,
        scopes: scopes.join(" "),
        code_challenge: caller
            .challenge()
            .map(|challenge| challenge.as_str().to_owned()),
        redirect_uri: None,
        region: region.to_string(),
        expires_at: now + protocol::oauth::CODE_SECONDS,
        consumed_at: None,
    }
}

/// What a request for an email that already has an account gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForExistingUser<'a> {
    /// A code for one of the user's teams ([`resolve_team`]): the caller
    /// is trusted with the email (signed), or may skip consent in this era.
    Code,
    /// The older eras' sign-in link ([`authorize_url`]) for this public
    /// partner and its challenge.
    SignIn {
        partner: &'a Application,
        challenge: &'a CodeChallenge,
    },
    /// Today's pending consent, for this public partner and its challenge.
    PendingConsent {
        partner: &'a Application,
        challenge: &'a CodeChallenge,
    },
}

/// The era's rule for an existing user: a public partner (known by a
/// `client_id` anyone can send) gets the person's consent first, unless
/// the era lets its capability skip it.
pub fn for_existing_user<'a>(policy: &ScopePolicy, caller: &'a Caller) -> ForExistingUser<'a> {
    match caller {
        Caller::Pkce(partner, challenge)
            if !policy.skips_consent(partner.skip_existing_user_consent) =>
        {
            match policy.existing_user_requires_auth() {
                RequiresAuthRule::Redirect => ForExistingUser::SignIn { partner, challenge },
                RequiresAuthRule::PendingConsent => {
                    ForExistingUser::PendingConsent { partner, challenge }
                }
            }
        }
        _ => ForExistingUser::Code,
    }
}

/// Where an existing user signs in (protocol section 6).
pub fn authorize_url(
    public_url: &str,
    partner: &Application,
    challenge: &CodeChallenge,
    scopes: &[String],
) -> String {
    let query = serde_urlencoded::to_string([
        ("client_id", partner.client_id.as_str()),
        ("response_type", "code"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", protocol::pkce::S256),
        ("scope", &scopes.join(" ")),
    ])
    .unwrap_or_default();
    format!("{public_url}{}?{query}", protocol::paths::OAUTH_AUTHORIZE)
}

/// The team an existing user's code is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamChoice {
    Existing(i64),
    /// A new team in this organization (the user's oldest membership).
    NewIn(String),
}

/// Team resolution for an existing user (protocol section 4, seed 002).
/// `teams` are the user's live teams, oldest membership first.
pub fn resolve_team(requested: Option<i64>, teams: &[Team]) -> Result<TeamChoice, ApiError> {
    let real: Vec<&Team> = teams.iter().filter(|team| !team.is_demo).collect();
    if let Some(requested) = requested {
        return match real.iter().find(|team| team.id == requested) {
            Some(team) => Ok(TeamChoice::Existing(team.id)),
            None => Err(ApiError::TeamResolutionFailed(format!(
                "Team {requested} is not a project of this user's organizations"
            ))),
        };
    }
    if let [only] = real.as_slice() {
        return Ok(TeamChoice::Existing(only.id));
    }
    match teams.first() {
        Some(oldest) => Ok(TeamChoice::NewIn(oldest.organization_id.clone())),
        None => Err(ApiError::TeamResolutionFailed(
            "The user belongs to no organization".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn team(id: i64, organization: &str, is_demo: bool) -> Team {
        Team::for_test(id, organization, is_demo)
    }

    fn request(value: serde_json::Value) -> AccountRequest {
        serde_json::from_value(value).unwrap()
    }

    fn pkce_partner(skip_existing_user_consent: bool) -> Application {
        Application {
            skip_existing_user_consent,
            ..Application::for_test("wizard", "")
        }
    }

    /// If this fails, a refusal names a request by an empty id, or by one
    /// longer than the 200 characters an id may have.
    #[test]
    fn only_a_usable_id_names_a_request() {
        let usable = |body: &[u8]| usable_id(sent_id(body).as_deref());
        let id_of = |id: serde_json::Value| usable(json!({"id": id}).to_string().as_bytes());
        assert_eq!(id_of(json!("req-1")), Some("req-1".to_owned()));
        assert_eq!(id_of(json!("a".repeat(200))), Some("a".repeat(200)));
        assert_eq!(id_of(json!("a".repeat(201))), None);
        assert_eq!(id_of(json!("")), None);
        assert_eq!(id_of(json!(7)), None);
        assert_eq!(id_of(json!(null)), None);
        assert_eq!(usable(b"not json"), None);
        assert_eq!(usable(br#"{"id": "a"} trailing"#), None);
        assert_eq!(usable(br#"["id", "a"]"#), None);
        assert_eq!(usable(br#""id""#), None);
        // Read as serde_json reads the whole document: an escaped key, the
        // last of two ids, every other field skipped however deep.
        assert_eq!(usable(br#"{"\u0069d": "esc"}"#), Some("esc".to_owned()));
        assert_eq!(
            usable(br#"{"id": "first", "id": "last"}"#),
            Some("last".to_owned())
        );
        assert_eq!(usable(br#"{"id": "first", "id": 7}"#), None);
        assert_eq!(
            usable(br#"{"a": {"b": [1, {"id": "inner"}]}, "id": "outer\n"}"#),
            Some("outer\n".to_owned())
        );
        assert_eq!(usable(br#"{"a": {"id": "inner"}}"#), None);
    }

    /// If this fails, an id over 200 characters is silently replaced by a
    /// generated one, and the answer no longer echoes the caller's id.
    #[test]
    fn an_overlong_id_is_refused_naming_id() {
        let check_body = |body: &[u8]| {
            check_id_length(sent_id(body).as_deref()).map_err(|error| error.to_string())
        };
        let check = |id: serde_json::Value| check_body(json!({"id": id}).to_string().as_bytes());
        assert_eq!(check(json!("a".repeat(200))), Ok(()));
        assert_eq!(check(json!("é".repeat(200))), Ok(()));
        let refusal = check(json!("a".repeat(201))).unwrap_err();
        assert!(refusal.contains("id must be at most 200"), "{refusal}");
        assert_eq!(check(json!(7)), Ok(()));
        assert_eq!(check_body(b"not json"), Ok(()));
    }

    #[test]
    fn team_resolution_table() {
        let one = [team(1, "o1", false)];
        let demo_only = [team(2, "o1", true)];
        let several = [
            team(3, "o1", false),
            team(4, "o2", false),
            team(5, "o2", true),
        ];
        type Case<'a> = (Option<i64>, &'a [Team], Result<TeamChoice, &'a str>);
        let cases: Vec<Case> = vec![
            (None, &one, Ok(TeamChoice::Existing(1))),
            (None, &demo_only, Ok(TeamChoice::NewIn("o1".into()))),
            (None, &several, Ok(TeamChoice::NewIn("o1".into()))),
            (Some(4), &several, Ok(TeamChoice::Existing(4))),
            (Some(5), &several, Err("team_resolution_failed")),
            (Some(99), &one, Err("team_resolution_failed")),
            (None, &[], Err("team_resolution_failed")),
        ];
        for (requested, teams, expected) in cases {
            let got = resolve_team(requested, teams).map_err(|error| error.code());
            assert_eq!(got, expected, "requested {requested:?}");
        }
    }

    /// A partner, a request body, and the email and team it checks to (or
    /// the refusal's code).
    type CheckRow<'a> = (
        &'a Application,
        serde_json::Value,
        Result<(&'a str, Option<i64>), &'a str>,
    );

    /// If a row fails, a partner without the right creates accounts, or a
    /// request with a bad email, a past `expires_at` or a malformed team id
    /// is taken (or a good one refused), or they answer in another order.
    #[test]
    fn check_table() {
        let partner = Application::for_test("p", "");
        let barred = Application {
            can_create_accounts: false,
            ..partner.clone()
        };
        let now = 4_070_908_800;
        let cases: [CheckRow; 7] = [
            (
                &partner,
                json!({"email": " Ada@Example.com "}),
                Ok(("ada@example.com", None)),
            ),
            (
                &partner,
                json!({"email": "a@b.co", "configuration": {"team_id": "42"}}),
                Ok(("a@b.co", Some(42))),
            ),
            (&barred, json!({"email": "nope"}), Err("forbidden")),
            (&partner, json!({"email": "nope"}), Err("invalid_request")),
            (
                &partner,
                json!({"email": "a@b.co", "expires_at": "2099-01-01T00:00:00Z"}),
                Err("expired"),
            ),
            (
                &partner,
                json!({"email": "a@b.co", "expires_at": "soon"}),
                Err("invalid_request"),
            ),
            (
                &partner,
                json!({"email": "a@b.co", "configuration": {"team_id": "x"}}),
                Err("invalid_request"),
            ),
        ];
        for (partner, body, expected) in cases {
            let got = check(partner, &request(body.clone()), now)
                .map(|checked| (checked.email, checked.requested_team))
                .map_err(|error| error.code());
            let expected = expected.map(|(email, team)| (email.to_owned(), team));
            assert_eq!(got, expected, "{body}");
        }
    }

    /// If a row fails, an unsigned request is taken without naming a PKCE
    /// partner and its challenge, or a good one is refused.
    #[test]
    fn pkce_caller_table() {
        let with = |client_id: Option<&str>, challenge: Option<&str>| {
            let mut body = json!({"email": "a@b.co"});
            if let Some(client_id) = client_id {
                body["client_id"] = json!(client_id);
            }
            if let Some(challenge) = challenge {
                body["code_challenge"] = json!(challenge);
                body["code_challenge_method"] = json!("S256");
            }
            request(body)
        };
        let hmac = Application {
            auth_method: AuthMethod::Hmac,
            ..pkce_partner(false)
        };
        let inactive = Application {
            active: false,
            ..pkce_partner(false)
        };
        let cases: [(AccountRequest, Option<Application>, Result<(), &str>); 6] = [
            (
                with(Some("wizard"), Some(CHALLENGE)),
                Some(pkce_partner(false)),
                Ok(()),
            ),
            (
                with(None, Some(CHALLENGE)),
                Some(pkce_partner(false)),
                Err("unauthorized"),
            ),
            (
                with(Some("wizard"), Some(CHALLENGE)),
                None,
                Err("unauthorized"),
            ),
            (
                with(Some("wizard"), Some(CHALLENGE)),
                Some(hmac),
                Err("unauthorized"),
            ),
            (
                with(Some("wizard"), Some(CHALLENGE)),
                Some(inactive),
                Err("unauthorized"),
            ),
            (
                with(Some("wizard"), None),
                Some(pkce_partner(false)),
                Err("invalid_request"),
            ),
        ];
        for (request, application, expected) in cases {
            let got = pkce_caller(&request, application)
                .map(|_| ())
                .map_err(|e| e.code());
            assert_eq!(got, expected, "{request:?}");
        }
    }

    /// If a row fails, the Stripe namespace takes a request without an
    /// email, with a past or malformed `expires_at`, without its Stripe
    /// account or with a challenge it cannot verify.
    #[test]
    fn the_stripe_namespace_checks() {
        let policy = ScopePolicy::load("current").unwrap();
        let messages = policy.stripe_namespace().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        let body = |value: serde_json::Value| value.to_string().into_bytes();
        let now = 4_070_908_800;
        let before = |value| stripe_request(messages, &headers, &body(value), now).map(|_| ());
        assert!(before(json!({"email": "a@b.co", "expires_at": "2099-01-02T00:00:00"})).is_ok());
        assert_eq!(
            before(json!({"email": " "})).unwrap_err().to_string(),
            messages.email_required
        );
        assert_eq!(
            before(json!({"email": "a@b.co", "expires_at": "2099-01-01T00:00:00"}))
                .unwrap_err()
                .code(),
            "expired"
        );
        assert_eq!(
            before(json!({"email": "a@b.co", "expires_at": "soon"}))
                .unwrap_err()
                .to_string(),
            messages.expires_at_invalid
        );
        let after = |value| {
            stripe_caller(
                messages,
                Application::for_test("stripe", ""),
                &request(value),
            )
            .map(|caller| caller.challenge().is_some())
            .map_err(|error| error.to_string())
        };
        let account = json!({"type": "stripe", "stripe": {"account": "acct_1"}});
        assert_eq!(
            after(json!({"email": "a@b.co", "orchestrator": account})),
            Ok(false)
        );
        assert_eq!(
            after(json!({"email": "a@b.co", "orchestrator": account, "code_challenge": CHALLENGE})),
            Ok(true)
        );
        assert_eq!(
            after(json!({"email": "a@b.co"})),
            Err(messages.stripe_account_required.clone())
        );
        assert_eq!(
            after(
                json!({"email": "a@b.co", "orchestrator": account, "code_challenge": CHALLENGE, "code_challenge_method": "plain"})
            ),
            Err(messages.challenge_method.clone())
        );
        assert_eq!(
            after(json!({"email": "a@b.co", "orchestrator": account, "code_challenge": "short"})),
            Err(messages.challenge_format.clone())
        );
    }

    /// If a row fails, a public partner links an existing account without
    /// the person's consent in an era that asks for it, or the era's answer
    /// is the wrong kind of link.
    #[test]
    fn an_existing_user_by_era_and_caller() {
        let challenge = CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap();
        let pkce = Caller::Pkce(pkce_partner(false), challenge.clone());
        let skipping = Caller::Pkce(pkce_partner(true), challenge);
        let signed = Caller::Signed(Application::for_test("stripe", ""));
        let cases = [
            ("legacy", &pkce, "sign in"),
            ("legacy", &skipping, "code"),
            ("legacy", &signed, "code"),
            ("current", &pkce, "consent"),
            ("current", &skipping, "consent"),
            ("current", &signed, "code"),
        ];
        for (era, caller, expected) in cases {
            let policy = ScopePolicy::load(era).unwrap();
            let got = match for_existing_user(&policy, caller) {
                ForExistingUser::Code => "code",
                ForExistingUser::SignIn { .. } => "sign in",
                ForExistingUser::PendingConsent { .. } => "consent",
            };
            assert_eq!(got, expected, "{era}: {caller:?}");
        }
    }

    /// If this fails, a new account keeps the whole name as its first
    /// name, or an organization goes unnamed.
    #[test]
    fn a_new_account_is_named_from_the_request() {
        let partner = Application::for_test("Acme", "");
        let drawn = || Drawn {
            user_uuid: "u".into(),
            organization_id: "o".into(),
            team_api_token: "phc_x".into(),
        };
        let plain = request(json!({"email": "a@b.co", "name": "Ada Lovelace"}));
        let account = new_account(&partner, &plain, "a@b.co", drawn(), Region::Us, 1);
        assert_eq!(account.first_name, "Ada");
        assert_eq!(account.organization_name, "Acme (a@b.co)");
        assert_eq!(account.team_name, "Default project");
        let named =
            request(json!({"email": "a@b.co", "configuration": {"organization_name": "Lab"}}));
        let account = new_account(&partner, &named, "a@b.co", drawn(), Region::Us, 1);
        assert_eq!(account.organization_name, "Lab");
        assert_eq!(account.first_name, "");
    }
}
