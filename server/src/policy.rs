//! The scope policy: the one place that decides what happens to requested
//! scopes, chosen by the server's behaviour profile (protocol section 8).
//!
//! Profiles are data (`fixtures/profiles/*.toml`, embedded), not `if legacy`
//! branches: every scope decision in the server goes through a
//! [`ScopePolicy`] method.

use serde::Deserialize;

use crate::error::ApiError;

/// A behaviour profile, as read from its TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopePolicy {
    pub name: String,
    pub description: String,
    /// Refuse requested scopes outside the partner's ceiling.
    pub check_requested_against_ceiling: bool,
    /// What an empty or absent request becomes.
    pub empty_request: EmptyRequest,
    /// Refuse to mint tokens from a code that carries no scopes.
    pub refuse_code_without_scopes: bool,
    /// What a PAT minted at resource creation carries.
    pub personal_api_key_scopes: PersonalKeyScopes,
    /// Whether `POST /api/wizard/gateway_token/` exists in this era (when
    /// the server is also given a gateway to mint at).
    pub wizard_gateway_tokens: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyRequest {
    /// Kept empty: the April 2026 behaviour.
    Empty,
    /// Filled from the partner's ceiling.
    Ceiling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalKeyScopes {
    None,
    Token,
}

/// The embedded profiles, by name.
pub const EMBEDDED: [(&str, &str); 2] = [
    (
        "legacy",
        include_str!("../../fixtures/profiles/legacy.toml"),
    ),
    (
        "current",
        include_str!("../../fixtures/profiles/current.toml"),
    ),
];

impl ScopePolicy {
    /// `legacy`, `current`, or the path of a profile file.
    pub fn load(name_or_path: &str) -> anyhow::Result<ScopePolicy> {
        let (origin, text) = match EMBEDDED.iter().find(|(name, _)| *name == name_or_path) {
            Some((name, text)) => (format!("embedded profile {name}"), (*text).to_owned()),
            None => {
                let text = std::fs::read_to_string(name_or_path).map_err(|error| {
                    anyhow::anyhow!(
                        "--profile {name_or_path:?} is neither `legacy`, `current` nor a readable file: {error}"
                    )
                })?;
                (format!("profile file {name_or_path}"), text)
            }
        };
        toml::from_str(&text).map_err(|error| anyhow::anyhow!("{origin} is invalid: {error}"))
    }

    /// The scopes stored on a new code, from what the partner requested.
    pub fn scopes_for_code(
        &self,
        requested: Option<&[String]>,
        ceiling: &[String],
    ) -> Result<Vec<String>, ApiError> {
        let requested = requested.unwrap_or(&[]);
        if requested.is_empty() {
            return Ok(match self.empty_request {
                EmptyRequest::Empty => Vec::new(),
                EmptyRequest::Ceiling => ceiling.to_vec(),
            });
        }
        if self.check_requested_against_ceiling {
            let outside: Vec<&str> = requested
                .iter()
                .filter(|scope| !ceiling.contains(scope))
                .map(String::as_str)
                .collect();
            if !outside.is_empty() {
                return Err(ApiError::InvalidScope(format!(
                    "Requested scopes are not allowed for this application: {}",
                    outside.join(", ")
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

    /// Whether a code with `scopes` may be exchanged for tokens.
    pub fn check_code_scopes(&self, scopes: &[String]) -> Result<(), ApiError> {
        if self.refuse_code_without_scopes && scopes.is_empty() {
            return Err(ApiError::InvalidScope(
                "The authorization code carries no scopes; request scopes in the account request"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The scopes of a PAT minted for a token that holds `token_scopes`.
    pub fn personal_api_key_scopes(&self, token_scopes: &[String]) -> Vec<String> {
        match self.personal_api_key_scopes {
            PersonalKeyScopes::None => Vec::new(),
            PersonalKeyScopes::Token => token_scopes.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::scope::{WIZARD_APPLICATION_CEILING, WIZARD_SIGNUP_SCOPES};

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|scope| (*scope).to_owned()).collect()
    }

    /// One row: profile, request (None = field absent), expected code scopes
    /// (Err = the error code).
    fn check(profile: &str, requested: Option<&[&str]>, expected: Result<Vec<String>, &str>) {
        let policy = ScopePolicy::load(profile).unwrap();
        let ceiling = strings(&WIZARD_APPLICATION_CEILING);
        let requested = requested.map(strings);
        let got = policy
            .scopes_for_code(requested.as_deref(), &ceiling)
            .map_err(|error| error.code());
        assert_eq!(got, expected, "profile {profile}, request {requested:?}");
    }

    #[test]
    fn scopes_for_code_table() {
        let signup = strings(&WIZARD_SIGNUP_SCOPES);
        let ceiling = strings(&WIZARD_APPLICATION_CEILING);
        check("legacy", None, Ok(vec![]));
        check("legacy", Some(&[]), Ok(vec![]));
        check("legacy", Some(&WIZARD_SIGNUP_SCOPES), Ok(signup.clone()));
        check(
            "legacy",
            Some(&["introspection"]),
            Ok(strings(&["introspection"])),
        );
        check("current", None, Ok(ceiling.clone()));
        check("current", Some(&[]), Ok(ceiling));
        check("current", Some(&WIZARD_SIGNUP_SCOPES), Ok(signup));
        check(
            "current",
            Some(&["user:read", "introspection"]),
            Err("invalid_scope"),
        );
        check(
            "current",
            Some(&["user:read", "user:read"]),
            Ok(strings(&["user:read"])),
        );
    }

    #[test]
    fn only_current_refuses_a_scopeless_code_and_scopes_pats() {
        let legacy = ScopePolicy::load("legacy").unwrap();
        let current = ScopePolicy::load("current").unwrap();
        assert!(legacy.check_code_scopes(&[]).is_ok());
        assert_eq!(
            current.check_code_scopes(&[]).unwrap_err().code(),
            "invalid_scope"
        );
        let token = strings(&["user:read", "llm_gateway:read"]);
        assert!(legacy.personal_api_key_scopes(&token).is_empty());
        assert_eq!(current.personal_api_key_scopes(&token), token);
    }

    #[test]
    fn a_profile_file_with_an_unknown_key_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("odd.toml");
        let legacy = EMBEDDED[0].1;
        std::fs::write(&path, format!("{legacy}\nsurprise = true\n")).unwrap();
        let error = ScopePolicy::load(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("surprise"), "{error}");
        assert!(ScopePolicy::load("nonexistent-profile").is_err());
    }
}
