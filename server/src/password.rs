//! Passwords of seeded users, for the interactive sign-in (protocol
//! section 6): Argon2id in the PHC string format, salted from the injected
//! randomness. The parameters are lighter than a production default (this
//! guards a simulator on loopback, and tests sign in often) but the format
//! is the real one.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use protocol::random::RandomSource;

fn hasher() -> Argon2<'static> {
    // 4 MiB, one pass, one lane.
    let params = Params::new(4 * 1024, 1, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The stored form of `password`.
pub fn hash(password: &str, random: &dyn RandomSource) -> String {
    let salt = SaltString::encode_b64(&random.bytes(16)).expect("16 bytes make a valid salt");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing with valid parameters succeeds")
        .to_string()
}

/// Whether `password` matches `stored` (constant time inside argon2). A
/// malformed stored value matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::random::SeededRandom;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let random = SeededRandom::new(5);
        let stored = hash("correct horse", &random);
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("wrong horse", &stored));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(
            stored,
            hash("correct horse", &random),
            "each hash has its own salt"
        );
    }
}
