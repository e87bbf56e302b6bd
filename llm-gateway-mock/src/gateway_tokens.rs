//! Gateway tokens (`phe_`): minted here at the provisioning server's request
//! (`POST /v1/tokens`, Bearer the mint key), one per wizard run, and
//! checked here without introspection: the gateway is the only program that
//! knows them. Stored as SHA-256 hashes, in memory: a restarted gateway has
//! forgotten every token, and the wizard asks the server for a new one.
//!
//! The rules are plain functions over plain data with the time passed in,
//! so expiry is tested without waiting.

use std::collections::HashMap;
use std::sync::Mutex;

use protocol::credential::{constant_time_eq, hash_secret, Credential, CredentialKind};
use protocol::gateway::{MintAnswer, MintRequest};
use protocol::random::RandomSource;

/// Lifetimes the gateway accepts, in seconds.
pub const MIN_TTL_SECONDS: i64 = 60;
pub const MAX_TTL_SECONDS: i64 = 86_400;
/// The highest cap a token may carry, in whole dollars.
pub const MAX_CAP_USD: u64 = 10_000;

/// What a minted token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    pub product: String,
    pub obo: String,
    pub user: String,
    pub cap_usd: String,
    pub expires_at: i64,
}

/// Why a mint was refused; the message is the `{"error"}` of the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("invalid mint key")]
    Unauthorized,
    #[error("{0}")]
    Invalid(String),
}

/// The tokens this gateway minted, by hash.
pub struct GatewayTokens {
    mint_key_hash: String,
    tokens: Mutex<HashMap<String, Minted>>,
}

impl GatewayTokens {
    pub fn new(mint_key: &str) -> GatewayTokens {
        GatewayTokens {
            mint_key_hash: hash_secret(mint_key),
            tokens: Mutex::default(),
        }
    }

    /// Whether `presented` is the mint key (compared as hashes, in constant
    /// time).
    pub fn is_mint_key(&self, presented: Option<&str>) -> bool {
        presented
            .is_some_and(|presented| constant_time_eq(&hash_secret(presented), &self.mint_key_hash))
    }

    /// Mints a token for `request` if `presented` is the mint key and the
    /// request is within bounds.
    pub fn mint(
        &self,
        presented: Option<&str>,
        request: &MintRequest,
        now: i64,
        random: &dyn RandomSource,
    ) -> Result<MintAnswer, MintError> {
        if !self.is_mint_key(presented) {
            return Err(MintError::Unauthorized);
        }
        let minted = check(request, now)?;
        let token = Credential::generate(CredentialKind::GatewayToken, random);
        let answer = MintAnswer {
            token: token.expose().to_owned(),
            expires_at: rfc3339(minted.expires_at),
            cap_usd: minted.cap_usd.clone(),
        };
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(token.hash(), minted);
        Ok(answer)
    }

    /// The live token `presented`, if this gateway minted it and it has not
    /// expired at `now`.
    pub fn live(&self, presented: &str, now: i64) -> Option<Minted> {
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens
            .get(&hash_secret(presented))
            .filter(|minted| now < minted.expires_at)
            .cloned()
    }
}

/// The bounds of a mint request, as the real gateway enforces them.
pub fn check(request: &MintRequest, now: i64) -> Result<Minted, MintError> {
    if !(MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&request.ttl_seconds) {
        return Err(MintError::Invalid(format!(
            "ttl_seconds must be between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS}"
        )));
    }
    let cap_usd = cap(&request.cap_usd).ok_or_else(|| {
        MintError::Invalid(format!(
            "cap_usd must be a positive amount with at most 6 decimals, at most {MAX_CAP_USD}"
        ))
    })?;
    for (field, value) in [
        ("product", &request.product),
        ("obo", &request.obo),
        ("user", &request.user),
    ] {
        if value.trim().is_empty() {
            return Err(MintError::Invalid(format!("{field} is required")));
        }
    }
    Ok(Minted {
        product: request.product.clone(),
        obo: request.obo.clone(),
        user: request.user.clone(),
        cap_usd,
        expires_at: now + request.ttl_seconds,
    })
}

/// A fixed-point dollar amount: digits, at most six decimals, positive, at
/// most [`MAX_CAP_USD`]; normalised to six decimals.
fn cap(text: &str) -> Option<String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 6
        || fraction.len() > 6
        || !digits(whole)
        || !digits(fraction)
    {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let fraction: u64 = format!("{fraction:0<6}").parse().ok()?;
    let micros = whole * 1_000_000 + fraction;
    (micros > 0 && micros <= MAX_CAP_USD * 1_000_000).then(|| format!("{whole}.{fraction:06}"))
}

fn rfc3339(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Seconds since the epoch on the system clock.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::random::SeededRandom;

    const NOW: i64 = 1_775_000_000;
    const KEY: &str = "phs_test_mint_key_fake";

    fn request(cap_usd: &str, ttl_seconds: i64) -> MintRequest {
        MintRequest {
            cap_usd: cap_usd.to_owned(),
            ttl_seconds,
            product: "wizard:posthog-integration".to_owned(),
            obo: "0190aaaa-0000-7000-8000-000000000000".to_owned(),
            user: "distinct-1".to_owned(),
        }
    }

    #[test]
    fn mint_bounds() {
        fn check_case(cap_usd: &str, ttl_seconds: i64, expected: Result<&str, ()>) {
            let got = check(&request(cap_usd, ttl_seconds), NOW).map(|minted| minted.cap_usd);
            match expected {
                Ok(cap) => assert_eq!(got.as_deref(), Ok(cap), "{cap_usd} {ttl_seconds}"),
                Err(()) => assert!(got.is_err(), "{cap_usd} {ttl_seconds}: {got:?}"),
            }
        }
        check_case("20.000000", 3600, Ok("20.000000"));
        check_case("20", 3600, Ok("20.000000"));
        check_case("0.5", 60, Ok("0.500000"));
        check_case("10000", 86_400, Ok("10000.000000"));
        check_case("10000.000001", 3600, Err(()));
        check_case("0", 3600, Err(()));
        check_case("0.0000001", 3600, Err(()));
        check_case("-1", 3600, Err(()));
        check_case("1e3", 3600, Err(()));
        check_case("", 3600, Err(()));
        check_case(".5", 3600, Err(()));
        check_case("20", 59, Err(()));
        check_case("20", 86_401, Err(()));
    }

    #[test]
    fn a_minted_token_is_live_until_it_expires_and_only_here() {
        let tokens = GatewayTokens::new(KEY);
        let random = SeededRandom::new(3);
        assert_eq!(
            tokens.mint(Some("phs_other_fake"), &request("20", 3600), NOW, &random),
            Err(MintError::Unauthorized)
        );
        assert_eq!(
            tokens.mint(None, &request("20", 3600), NOW, &random),
            Err(MintError::Unauthorized)
        );
        let answer = tokens
            .mint(Some(KEY), &request("20", 3600), NOW, &random)
            .expect("mints");
        assert!(
            answer.token.starts_with("phe_"),
            "{}",
            protocol::credential::mask(&answer.token)
        );
        assert_eq!(answer.expires_at, "2026-04-01T00:33:20Z");
        let minted = tokens
            .live(&answer.token, NOW + 3599)
            .expect("live before expiry");
        assert_eq!(minted.product, "wizard:posthog-integration");
        assert_eq!(tokens.live(&answer.token, NOW + 3600), None, "expired");
        assert_eq!(tokens.live("phe_never_minted_here_fake", NOW), None);
        let other = GatewayTokens::new(KEY);
        assert_eq!(
            other.live(&answer.token, NOW),
            None,
            "another gateway never minted it"
        );
    }
}
