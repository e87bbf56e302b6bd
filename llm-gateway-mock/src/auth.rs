//! The gateway's credential decision (protocol section 7), as plain
//! functions over plain data: which header wins, which prefixes are worth
//! asking introspection about, and what an introspection answer means here.

use axum::http::HeaderMap;
use protocol::credential::CredentialKind;
use protocol::oauth::{IntrospectionAnswer, TOKEN_TYPE_ACCESS_TOKEN};
use protocol::scope::{Scopes, LLM_GATEWAY_READ};

use protocol::region::Region;

use crate::product::{Access, Product};

/// What the gateway decided about a request's credential. Each refusal maps
/// to one answer (see [`crate::error::GatewayError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Granted,
    /// No `x-api-key` and no `Authorization: Bearer`.
    MissingCredential,
    /// Not `phx_` or `pha_`: refused without asking introspection.
    UnknownPrefix,
    /// Introspection said `active: false`.
    InvalidToken,
    /// A `phe_` this gateway did not mint, or one that has expired.
    InvalidGatewayToken,
    /// The credential belongs to the other region's server.
    WrongRegion {
        credential_region: String,
    },
    /// The grant lacks `llm_gateway:read` (and `*`).
    InsufficientScope,
    /// A `pha_` of an OAuth application the path's product does not admit
    /// (under `/wizard`: one that is not a wizard application), or a `phx_`
    /// on a product that takes OAuth access tokens only.
    ProductAccessDenied {
        client_id: Option<String>,
        product: &'static str,
        /// `true` when a personal API key was refused for an OAuth-only
        /// product.
        needs_oauth: bool,
    },
    /// Introspection could not be asked or gave no usable answer.
    IntrospectionUnavailable {
        cause: String,
    },
}

impl Verdict {
    /// The journal's name for the verdict.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Granted => "granted",
            Verdict::MissingCredential => "missing_credential",
            Verdict::UnknownPrefix => "unknown_prefix",
            Verdict::InvalidToken => "invalid_token",
            Verdict::InvalidGatewayToken => "invalid_gateway_token",
            Verdict::WrongRegion { .. } => "wrong_region",
            Verdict::InsufficientScope => "insufficient_scope",
            Verdict::ProductAccessDenied { .. } => "product_access_denied",
            Verdict::IntrospectionUnavailable { .. } => "introspection_unavailable",
        }
    }

    /// A short reason for the journal; never holds a credential.
    pub fn reason(&self) -> String {
        match self {
            Verdict::Granted => "credential accepted".to_owned(),
            Verdict::MissingCredential => "no x-api-key or Authorization: Bearer header".to_owned(),
            Verdict::UnknownPrefix => "credential prefix is not phx_, pha_ or phe_".to_owned(),
            Verdict::InvalidToken => "introspection answered active:false".to_owned(),
            Verdict::InvalidGatewayToken => "gateway token not minted here, or expired".to_owned(),
            Verdict::WrongRegion { credential_region } => {
                format!("credential belongs to region {credential_region}")
            }
            Verdict::InsufficientScope => format!("scope lacks {LLM_GATEWAY_READ}"),
            Verdict::ProductAccessDenied {
                needs_oauth: true,
                product,
                ..
            } => format!("product {product} takes OAuth access tokens only"),
            Verdict::ProductAccessDenied {
                client_id, product, ..
            } => match client_id {
                Some(client_id) => format!("client_id {client_id} may not use product {product}"),
                None => "access token without client_id".to_owned(),
            },
            Verdict::IntrospectionUnavailable { cause } => {
                protocol::credential::redact_secrets(cause)
            }
        }
    }
}

/// What the gateway's flags say about who may come in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub region: Region,
    pub wizard_client_ids: Vec<String>,
}

/// The credential a request presents: `x-api-key` wins, else
/// `Authorization: Bearer <x>`. Empty values count as absent.
pub fn presented_credential(headers: &HeaderMap) -> Option<String> {
    let api_key = headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty());
    if let Some(api_key) = api_key {
        return Some(api_key.to_owned());
    }
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    match token.is_empty() {
        true => None,
        false => Some(token.to_owned()),
    }
}

/// The first gate, before any network call: is there a credential, and is
/// it of a kind the gateway knows (through introspection, or, for a `phe_`,
/// by itself)?
pub fn screen(credential: Option<&str>) -> Result<CredentialKind, Verdict> {
    let credential = credential.ok_or(Verdict::MissingCredential)?;
    match CredentialKind::of(credential) {
        Some(
            kind @ (CredentialKind::PersonalApiKey
            | CredentialKind::AccessToken
            | CredentialKind::GatewayToken),
        ) => Ok(kind),
        _ => Err(Verdict::UnknownPrefix),
    }
}

/// The decision over introspection's answer under `/wizard`, the product
/// the wizard uses.
pub fn decide(kind: CredentialKind, answer: &IntrospectionAnswer, policy: &Policy) -> Verdict {
    decide_for(kind, answer, policy, Product::WIZARD)
}

/// The decision over introspection's answer, in the real gateway's order:
/// live, this region, the scope, then the product's access check (which
/// applications' access tokens, and whether personal API keys, may use it).
pub fn decide_for(
    kind: CredentialKind,
    answer: &IntrospectionAnswer,
    policy: &Policy,
    product: Product,
) -> Verdict {
    if !answer.active {
        return Verdict::InvalidToken;
    }
    if let Some(credential_region) = &answer.region {
        if !credential_region.eq_ignore_ascii_case(policy.region.as_str()) {
            return Verdict::WrongRegion {
                credential_region: credential_region.clone(),
            };
        }
    }
    if !Scopes::parse(answer.scope.as_deref().unwrap_or_default()).includes(LLM_GATEWAY_READ) {
        return Verdict::InsufficientScope;
    }
    let is_access_token = kind == CredentialKind::AccessToken
        || answer.token_type.as_deref() == Some(TOKEN_TYPE_ACCESS_TOKEN);
    let client_id = answer.client_id.as_deref();
    let admitted = match (product.access, is_access_token) {
        (Access::Anyone, _) | (Access::WizardApplications, false) => true,
        (Access::WizardApplications, true) => client_id.is_some_and(|client_id| {
            policy
                .wizard_client_ids
                .iter()
                .any(|wizard| wizard == client_id)
        }),
        (Access::PostHogCodeOnly, _) => false,
    };
    match admitted {
        true => Verdict::Granted,
        false => Verdict::ProductAccessDenied {
            client_id: answer.client_id.clone(),
            product: product.name,
            needs_oauth: !is_access_token,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use protocol::oauth::{TOKEN_TYPE_PERSONAL_API_KEY, WIZARD_CLIENT_IDS};

    fn policy() -> Policy {
        Policy {
            region: Region::Us,
            wizard_client_ids: WIZARD_CLIENT_IDS.iter().map(|id| id.to_string()).collect(),
        }
    }

    fn live(
        scope: &str,
        token_type: &str,
        client_id: Option<&str>,
        region: Option<&str>,
    ) -> IntrospectionAnswer {
        IntrospectionAnswer {
            active: true,
            scope: Some(scope.to_owned()),
            client_id: client_id.map(str::to_owned),
            token_type: Some(token_type.to_owned()),
            exp: None,
            iat: None,
            sub: Some("0190aaaa-0000-7000-8000-000000000000".to_owned()),
            scoped_teams: None,
            region: region.map(str::to_owned),
        }
    }

    /// One case: the presented credential, introspection's answer (`None`
    /// when it is unreachable or must not be asked), and the verdict name.
    fn check(credential: Option<&str>, answer: Option<IntrospectionAnswer>, expected: &str) {
        let verdict = match screen(credential) {
            Err(verdict) => verdict,
            Ok(kind) => match &answer {
                Some(answer) => decide(kind, answer, &policy()),
                None => Verdict::IntrospectionUnavailable {
                    cause: "connection refused".to_owned(),
                },
            },
        };
        assert_eq!(
            verdict.name(),
            expected,
            "credential {:?} with {answer:?}: {verdict:?}",
            credential.map(protocol::credential::mask)
        );
        assert!(
            protocol::credential::find_full_secrets(&verdict.reason()).is_empty(),
            "a reason must never hold a credential"
        );
    }

    /// If this fails, an access token of another application is let in
    /// when introspection leaves out `token_type`: the `pha_` prefix alone
    /// must make it an access token.
    #[test]
    fn the_prefix_alone_makes_an_access_token() {
        let mut answer = live(
            "llm_gateway:read",
            TOKEN_TYPE_ACCESS_TOKEN,
            Some("stripe-orchestrator"),
            None,
        );
        answer.token_type = None;
        check(
            Some("pha_test_fake_access"),
            Some(answer),
            "product_access_denied",
        );
    }

    /// If this fails, the journal's reasons (what a reviewer reads beside
    /// each verdict) changed or went empty.
    #[test]
    fn reasons_as_the_journal_shows_them() {
        assert_eq!(Verdict::Granted.reason(), "credential accepted");
        assert_eq!(
            Verdict::InvalidToken.reason(),
            "introspection answered active:false"
        );
        assert_eq!(
            Verdict::UnknownPrefix.reason(),
            "credential prefix is not phx_, pha_ or phe_"
        );
    }

    #[test]
    fn decision_table() {
        let pat = TOKEN_TYPE_PERSONAL_API_KEY;
        let access = TOKEN_TYPE_ACCESS_TOKEN;
        let wizard = Some("posthog-wizard");
        check(None, None, "missing_credential");
        check(Some("sk-ant-fake"), None, "unknown_prefix");
        check(Some("phc_test_fake_project_key"), None, "unknown_prefix");
        check(Some("phr_test_fake_refresh"), None, "unknown_prefix");
        check(Some("phx_test_fake_pat"), None, "introspection_unavailable");
        check(
            Some("phx_test_fake_pat"),
            Some(IntrospectionAnswer::inactive()),
            "invalid_token",
        );
        check(
            Some("phx_test_fake_pat"),
            Some(live("llm_gateway:read", pat, None, Some("us"))),
            "granted",
        );
        check(
            Some("phx_test_fake_pat"),
            Some(live("llm_gateway:read", pat, None, Some("US"))),
            "granted",
        );
        check(
            Some("phx_test_fake_pat"),
            Some(live("*", pat, None, None)),
            "granted",
        );
        check(
            Some("phx_test_fake_pat"),
            Some(live("llm_gateway:read", pat, None, Some("eu"))),
            "wrong_region",
        );
        check(
            Some("phx_test_fake_pat"),
            Some(live("user:read project:read", pat, None, None)),
            "insufficient_scope",
        );
        check(
            Some("phx_test_fake_pat"),
            Some(live("", pat, None, None)),
            "insufficient_scope",
        );
        check(
            Some("phx_test_fake_pat"),
            Some(live("llm_gateway:readx", pat, None, None)),
            "insufficient_scope",
        );
        check(
            Some("pha_test_fake_access"),
            Some(live(
                "user:read llm_gateway:read",
                access,
                wizard,
                Some("us"),
            )),
            "granted",
        );
        check(
            Some("pha_test_fake_access"),
            Some(live(
                "llm_gateway:read",
                access,
                Some("DC5uRLVbGI02YQ82grxgnK6Qn12SXWpCqdPb60oZ"),
                None,
            )),
            "granted",
        );
        check(
            Some("pha_test_fake_access"),
            Some(live(
                "llm_gateway:read",
                access,
                Some("stripe-orchestrator"),
                None,
            )),
            "product_access_denied",
        );
        check(
            Some("pha_test_fake_access"),
            Some(live("llm_gateway:read", access, None, None)),
            "product_access_denied",
        );
        // The scope is checked before the product: a scopeless wizard token
        // is the bug this stack reproduces, and it must read as a 401.
        check(
            Some("pha_test_fake_access"),
            Some(live("", access, Some("stripe-orchestrator"), None)),
            "insufficient_scope",
        );
        check(
            Some("pha_test_fake_access"),
            Some(IntrospectionAnswer::inactive()),
            "invalid_token",
        );
    }

    #[test]
    fn x_api_key_beats_bearer() {
        let cases: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
            (
                Some("phx_test_fake_a"),
                Some("Bearer pha_test_fake_b"),
                Some("phx_test_fake_a"),
            ),
            (
                None,
                Some("Bearer pha_test_fake_b"),
                Some("pha_test_fake_b"),
            ),
            (
                None,
                Some("bearer   pha_test_fake_b "),
                Some("pha_test_fake_b"),
            ),
            (
                Some(""),
                Some("Bearer pha_test_fake_b"),
                Some("pha_test_fake_b"),
            ),
            (None, Some("Basic dXNlcjpwYXNz"), None),
            (None, Some("Bearer "), None),
            (None, None, None),
        ];
        for (api_key, authorization, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(api_key) = api_key {
                headers.insert("x-api-key", HeaderValue::from_str(api_key).unwrap());
            }
            if let Some(authorization) = authorization {
                headers.insert(
                    "authorization",
                    HeaderValue::from_str(authorization).unwrap(),
                );
            }
            assert_eq!(
                presented_credential(&headers).as_deref(),
                *expected,
                "x-api-key {api_key:?}, authorization {authorization:?}"
            );
        }
    }
}
