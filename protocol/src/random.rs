//! Injected randomness.
//!
//! Credentials, PKCE verifiers, codes and ids are all drawn from a
//! [`RandomSource`], so production uses the operating system's generator and
//! tests use a seeded one whose output they can predict and replay.

use std::sync::Mutex;

use rand::{rngs::StdRng, RngCore, SeedableRng};

/// A source of random bytes that can be shared between tasks.
pub trait RandomSource: Send + Sync {
    /// Fills `buffer` with random bytes.
    fn fill(&self, buffer: &mut [u8]);

    /// Returns `count` random bytes.
    fn bytes(&self, count: usize) -> Vec<u8> {
        let mut buffer = vec![0; count];
        self.fill(&mut buffer);
        buffer
    }

    /// Returns a random version-4 UUID in its hyphenated form.
    fn uuid(&self) -> String {
        let mut bytes = [0u8; 16];
        self.fill(&mut bytes);
        hyphenated(bytes)
    }

    /// A request id: a version-4 UUID that is no secret (it is echoed on
    /// the answer and kept in the journal), drawn on every request.
    fn request_uuid(&self) -> String {
        self.uuid()
    }
}

/// `bytes` as a version-4 UUID, hyphenated.
fn hyphenated(bytes: [u8; 16]) -> String {
    let mut text = uuid::Uuid::encode_buffer();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// The operating system's generator: what every binary uses by default.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&self, buffer: &mut [u8]) {
        rand::rngs::OsRng.fill_bytes(buffer);
    }

    /// From the thread's generator (seeded and reseeded from the
    /// operating system's), not a system call per request: secrets are
    /// still drawn by [`RandomSource::fill`].
    fn request_uuid(&self) -> String {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        hyphenated(bytes)
    }
}

/// A deterministic generator for tests: the same seed gives the same bytes.
#[derive(Debug)]
pub struct SeededRandom(Mutex<StdRng>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(StdRng::seed_from_u64(seed)))
    }
}

impl RandomSource for SeededRandom {
    fn fill(&self, buffer: &mut [u8]) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .fill_bytes(buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_random_is_reproducible() {
        assert_eq!(
            SeededRandom::new(7).bytes(32),
            SeededRandom::new(7).bytes(32)
        );
        assert_ne!(
            SeededRandom::new(7).bytes(32),
            SeededRandom::new(8).bytes(32)
        );
    }

    #[test]
    fn uuid_has_version_and_variant_bits() {
        for uuid in [
            SeededRandom::new(1).uuid(),
            SeededRandom::new(1).request_uuid(),
            OsRandom.uuid(),
            OsRandom.request_uuid(),
        ] {
            assert_eq!(uuid.len(), 36);
            assert_eq!(&uuid[14..15], "4");
            assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
        }
        assert_ne!(OsRandom.request_uuid(), OsRandom.request_uuid());
    }
}
