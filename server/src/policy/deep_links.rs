//! The era's deep-link rules (protocol section 4): the purpose a link is
//! issued for, who may mint links and with what refusal, and where a
//! followed link lands.

use crate::db::AuthMethod;
use crate::error::ApiError;

use super::profile::{
    DeepLinkRefusals, PublicPartners, PurposeRule, ScopePolicy, UnverifiedLanding,
};

/// Where a followed deep link sends the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// Signed in (a session cookie), to the link's path.
    SignedIn,
    /// To the verify-email page, without a session.
    VerifyEmail,
}

/// The purposes a deep link may name in eras that check it.
pub const DEEP_LINK_PURPOSES: [&str; 1] = ["dashboard"];

/// Today's words for a deep link's path outside the app.
pub const INVALID_PATH_MESSAGE: &str =
    "path must be a relative in-app path beginning with a single '/'";

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
    pub fn deep_link_needs_signature(&self, auth_method: AuthMethod) -> bool {
        self.deep_links.hmac_partner_signs && auth_method == AuthMethod::Hmac
    }

    /// The refusal of a partner authenticating with `auth_method` that may
    /// not mint links in this era whatever its capabilities (a public one,
    /// today), checked before the capability.
    pub fn deep_links_barred(&self, auth_method: AuthMethod) -> Option<ApiError> {
        match (self.deep_links.public_partners, auth_method) {
            (PublicPartners::Blocked, AuthMethod::Pkce) => Some(ApiError::Forbidden(
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(
                policy.deep_link_needs_signature(AuthMethod::Hmac),
                signs,
                "{era}"
            );
            assert!(!policy.deep_link_needs_signature(AuthMethod::Pkce), "{era}");
            assert_eq!(policy.provisioning_aliases, aliases, "{era}");
            assert!(
                policy.deep_links_barred(AuthMethod::Hmac).is_none(),
                "{era}"
            );
            assert_eq!(
                policy
                    .deep_links_barred(AuthMethod::Pkce)
                    .map(|error| error.code()),
                aliases.then_some("forbidden"),
                "{era}: public partners are barred today only"
            );
        }
    }
}
