//! The era's refusals at the token endpoint: a PKCE code exchanged
//! without its verifier, and a code without a challenge exchanged
//! unsigned.

use crate::error::ApiError;

use super::profile::{MissingVerifier, ScopePolicy, UnsignedCode};

impl ScopePolicy {
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
