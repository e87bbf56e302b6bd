//! PKCE with the S256 method only (RFC 7636).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};

use crate::credential::constant_time_eq;
use crate::random::RandomSource;

/// The only challenge method the server accepts.
pub const S256: &str = "S256";

/// Why a PKCE value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error(
        "code_verifier must be 43 to 128 characters from [A-Za-z0-9-._~] (RFC 7636 section 4.1)"
    )]
    BadVerifier,
    #[error("code_challenge must be 43 to 128 base64url characters")]
    BadChallenge,
    #[error("code_challenge_method must be S256")]
    UnsupportedMethod,
}

/// A verifier that satisfies RFC 7636 section 4.1.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A verifier is a one-time secret: keep it out of debug output too.
        f.write_str("CodeVerifier(***)")
    }
}

impl CodeVerifier {
    /// A fresh verifier: 32 random bytes, base64url, 43 characters.
    pub fn generate(random: &dyn RandomSource) -> CodeVerifier {
        CodeVerifier(URL_SAFE_NO_PAD.encode(random.bytes(32)))
    }

    pub fn parse(text: &str) -> Result<CodeVerifier, PkceError> {
        let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if !(43..=128).contains(&text.len()) || !text.chars().all(unreserved) {
            return Err(PkceError::BadVerifier);
        }
        Ok(CodeVerifier(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `BASE64URL(SHA256(verifier))`.
    pub fn challenge(&self) -> CodeChallenge {
        CodeChallenge(URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes())))
    }
}

/// An S256 challenge as sent in an account request or authorize URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Checks the method (`S256` only; absent means `S256` was not said, so
    /// it is refused like `plain`) and the challenge's alphabet and length.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<CodeChallenge, PkceError> {
        if method != Some(S256) {
            return Err(PkceError::UnsupportedMethod);
        }
        let base64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if !(43..=128).contains(&challenge.len()) || !challenge.chars().all(base64url) {
            return Err(PkceError::BadChallenge);
        }
        Ok(CodeChallenge(challenge.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` answers this challenge, compared in constant time.
    pub fn is_answered_by(&self, verifier: &CodeVerifier) -> bool {
        constant_time_eq(verifier.challenge().as_str(), &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    /// If this fails, a verifier (a one-time secret) shows in debug output.
    #[test]
    fn a_verifier_does_not_debug_print() {
        let verifier = CodeVerifier::generate(&SeededRandom::new(3));
        assert_eq!(format!("{verifier:?}"), "CodeVerifier(***)");
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        let verifier = CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert_eq!(
            verifier.challenge().as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let challenge =
            CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("S256"))
                .unwrap();
        assert!(challenge.is_answered_by(&verifier));
    }

    #[test]
    fn verifier_table() {
        let cases = [
            ("a".repeat(42), false),
            ("a".repeat(43), true),
            ("a".repeat(128), true),
            ("a".repeat(129), false),
            (format!("{}~._-", "a".repeat(40)), true),
            (format!("{}+", "a".repeat(43)), false),
            (format!("{}=", "a".repeat(43)), false),
            (format!("{} ", "a".repeat(43)), false),
            (format!("{}é", "a".repeat(43)), false),
        ];
        for (verifier, ok) in cases {
            assert_eq!(CodeVerifier::parse(&verifier).is_ok(), ok, "{verifier:?}");
        }
    }

    #[test]
    fn challenge_table() {
        let good = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(CodeChallenge::parse(good, Some("S256")).is_ok());
        assert_eq!(
            CodeChallenge::parse(good, Some("plain")),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(
            CodeChallenge::parse(good, None),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(
            CodeChallenge::parse("short", Some("S256")),
            Err(PkceError::BadChallenge)
        );
        assert_eq!(
            CodeChallenge::parse(&format!("{}.", &good[..43]), Some("S256")),
            Err(PkceError::BadChallenge)
        );
    }

    #[test]
    fn a_wrong_verifier_does_not_answer() {
        let random = SeededRandom::new(3);
        let right = CodeVerifier::generate(&random);
        let wrong = CodeVerifier::generate(&random);
        assert!(right.challenge().is_answered_by(&right));
        assert!(!right.challenge().is_answered_by(&wrong));
        assert_eq!(right.as_str().len(), 43);
    }
}
