//! The `Stripe-Signature` HMAC scheme of protocol section 3.
//!
//! Header `t=<unix seconds>,v1=<64 hex>[,v1=…]`; signed bytes
//! `"<t>." + raw body`; HMAC-SHA256 with the partner's secret, hex. During a
//! secret rotation a partner has two secrets and a sender may put one `v1`
//! per secret: any match passes.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header's name.
pub const HEADER: &str = "Stripe-Signature";

/// Seconds a timestamp may differ from the server's clock, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a signature is refused. Each has its own message (section 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Stripe-Signature header is malformed: expected t=<unix seconds>,v1=<64 hex digits>")]
    Malformed,
    #[error("Stripe-Signature timestamp is outside the 300 second tolerance")]
    OutOfTolerance,
    #[error("No signature in Stripe-Signature matches the request body")]
    NoMatch,
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub signatures: Vec<[u8; 32]>,
}

impl SignatureHeader {
    /// Parses the header. Unknown schemes (`v0=`) are skipped, as Stripe's
    /// own libraries do; at least one `v1` and exactly one `t` are required.
    pub fn parse(header: &str) -> Result<SignatureHeader, SignatureError> {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            let (key, value) = part
                .trim()
                .split_once('=')
                .ok_or(SignatureError::Malformed)?;
            match key {
                "t" => {
                    if timestamp.is_some() || value.is_empty() || value.len() > 12 {
                        return Err(SignatureError::Malformed);
                    }
                    if !value.chars().all(|c| c.is_ascii_digit()) {
                        return Err(SignatureError::Malformed);
                    }
                    timestamp = Some(
                        value
                            .parse::<i64>()
                            .map_err(|_| SignatureError::Malformed)?,
                    );
                }
                "v1" => {
                    let mut bytes = [0u8; 32];
                    hex::decode_to_slice(value, &mut bytes)
                        .map_err(|_| SignatureError::Malformed)?;
                    signatures.push(bytes);
                }
                _ => {}
            }
        }
        match (timestamp, signatures.is_empty()) {
            (Some(timestamp), false) if signatures.len() <= 8 => Ok(SignatureHeader {
                timestamp,
                signatures,
            }),
            _ => Err(SignatureError::Malformed),
        }
    }
}

/// The hex HMAC-SHA256 of `"<t>." + body` under `secret`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body))
}

/// A full header value, one `v1` per secret (for rotation).
pub fn header_value(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let mut value = format!("t={timestamp}");
    for secret in secrets {
        value.push_str(",v1=");
        value.push_str(&sign(secret, timestamp, body));
    }
    value
}

/// Verifies `header` for `body` against any of `secrets` at time `now`.
/// Returns the index of the secret that matched.
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[&[u8]],
    now: i64,
) -> Result<usize, SignatureError> {
    let parsed = SignatureHeader::parse(header)?;
    if (now - parsed.timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::OutOfTolerance);
    }
    for (index, secret) in secrets.iter().enumerate() {
        let expected = mac(secret, parsed.timestamp, body);
        // Compare against every candidate so the time does not depend on
        // which one matched.
        let matched = parsed.signatures.iter().fold(false, |any, candidate| {
            any | bool::from(candidate.ct_eq(&expected))
        });
        if matched {
            return Ok(index);
        }
    }
    Err(SignatureError::NoMatch)
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_775_000_000;

    /// If this fails, a header with a timestamp of more than 12 digits, or
    /// with more than 8 signatures, is parsed (each bounds the work one
    /// request can ask of the server).
    #[test]
    fn a_header_is_bounded() {
        let v1 = format!("v1={}", "0".repeat(64));
        let header = |parts: Vec<String>| SignatureHeader::parse(&parts.join(","));
        assert!(header(vec![format!("t={}", "1".repeat(12)), v1.clone()]).is_ok());
        assert_eq!(
            header(vec![format!("t={}", "1".repeat(13)), v1.clone()]).unwrap_err(),
            SignatureError::Malformed
        );
        let mut eight = vec![format!("t={NOW}")];
        eight.extend(std::iter::repeat_n(v1.clone(), 8));
        assert!(header(eight.clone()).is_ok());
        eight.push(v1);
        assert_eq!(header(eight).unwrap_err(), SignatureError::Malformed);
    }

    #[test]
    fn known_vector() {
        // Computed independently:
        // printf '1775000000.{}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            sign(b"whsec_test", NOW, b"{}"),
            "1b15266f53ba4aab8094a7ccef2f276ec2e4ccc2a1b9a8d4f2ca043c34fc64f2"
        );
    }

    #[test]
    fn verify_table() {
        let body = br#"{"email":"a@example.com"}"#;
        let old: &[u8] = b"secret-old";
        let new: &[u8] = b"secret-new";
        type Case<'a> = (String, Vec<&'a [u8]>, i64, Result<usize, SignatureError>);
        let cases: Vec<Case> = vec![
            (header_value(&[new], NOW, body), vec![new], NOW, Ok(0)),
            (header_value(&[new], NOW - 300, body), vec![new], NOW, Ok(0)),
            (header_value(&[new], NOW + 300, body), vec![new], NOW, Ok(0)),
            (
                header_value(&[new], NOW - 301, body),
                vec![new],
                NOW,
                Err(SignatureError::OutOfTolerance),
            ),
            (
                header_value(&[new], NOW + 301, body),
                vec![new],
                NOW,
                Err(SignatureError::OutOfTolerance),
            ),
            // Rotation: the sender signs with both, the server knows either.
            (header_value(&[old, new], NOW, body), vec![new], NOW, Ok(0)),
            // The same signature twice still matches (no XOR of matches).
            (header_value(&[new, new], NOW, body), vec![new], NOW, Ok(0)),
            (header_value(&[old], NOW, body), vec![old, new], NOW, Ok(0)),
            (header_value(&[new], NOW, body), vec![old, new], NOW, Ok(1)),
            (
                header_value(&[b"other"], NOW, body),
                vec![old, new],
                NOW,
                Err(SignatureError::NoMatch),
            ),
            (
                "".to_owned(),
                vec![new],
                NOW,
                Err(SignatureError::Malformed),
            ),
            (
                "t=abc,v1=00".to_owned(),
                vec![new],
                NOW,
                Err(SignatureError::Malformed),
            ),
            (
                format!("t={NOW}"),
                vec![new],
                NOW,
                Err(SignatureError::Malformed),
            ),
            (
                format!("t={NOW},v1=zz"),
                vec![new],
                NOW,
                Err(SignatureError::Malformed),
            ),
            (
                format!("t={NOW},t={NOW},v1={}", "0".repeat(64)),
                vec![new],
                NOW,
                Err(SignatureError::Malformed),
            ),
            (
                format!("t={NOW},v1={}", "0".repeat(64)),
                vec![new],
                NOW,
                Err(SignatureError::NoMatch),
            ),
        ];
        for (header, secrets, now, expected) in cases {
            assert_eq!(
                verify(&header, body, &secrets, now),
                expected,
                "header {header:?}"
            );
        }
    }

    #[test]
    fn a_changed_body_does_not_verify() {
        let header = header_value(&[b"k"], NOW, b"{\"a\":1}");
        assert_eq!(
            verify(&header, b"{\"a\":2}", &[b"k"], NOW),
            Err(SignatureError::NoMatch)
        );
    }
}
