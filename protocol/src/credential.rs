//! Credential formats (protocol section 1).
//!
//! A [`Credential`] owns the full secret string, but its `Display` and
//! `Debug` print only the masked form (`phx_***`), so that no ordinary
//! formatting path (a log line, an error message, `{:?}` in a panic) can leak
//! it. The full string is reachable only through [`Credential::expose`],
//! which reads as what it is at every call site.

use std::fmt;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::random::RandomSource;

/// Bytes of OS randomness in every generated credential (section 1: at least 32).
pub const RANDOM_BYTES: usize = 32;

/// The kinds of credential, told apart by their prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// `pha_`: an OAuth access token.
    AccessToken,
    /// `phr_`: an OAuth refresh token.
    RefreshToken,
    /// `phx_`: a personal API key.
    PersonalApiKey,
    /// `phc_`: a project API key, public by design.
    ProjectApiKey,
    /// `phe_`: a gateway token for one wizard run, minted by the LLM gateway
    /// at the server's request (`POST /api/wizard/gateway_token/`): capped,
    /// expiring, known only to the gateway.
    GatewayToken,
    /// `phs_`: the key the server mints gateway tokens with (the real one
    /// belongs to PostHog's own wizard team).
    GatewayMintKey,
}

impl CredentialKind {
    pub const ALL: [CredentialKind; 6] = [
        CredentialKind::AccessToken,
        CredentialKind::RefreshToken,
        CredentialKind::PersonalApiKey,
        CredentialKind::ProjectApiKey,
        CredentialKind::GatewayToken,
        CredentialKind::GatewayMintKey,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            CredentialKind::AccessToken => "pha_",
            CredentialKind::RefreshToken => "phr_",
            CredentialKind::PersonalApiKey => "phx_",
            CredentialKind::ProjectApiKey => "phc_",
            CredentialKind::GatewayToken => "phe_",
            CredentialKind::GatewayMintKey => "phs_",
        }
    }

    /// Whether the credential is a secret: stored hashed, never printed.
    pub fn is_secret(self) -> bool {
        !matches!(self, CredentialKind::ProjectApiKey)
    }

    /// What a person should call it, for messages.
    pub fn description(self) -> &'static str {
        match self {
            CredentialKind::AccessToken => "an OAuth access token",
            CredentialKind::RefreshToken => "an OAuth refresh token",
            CredentialKind::PersonalApiKey => "a personal API key",
            CredentialKind::ProjectApiKey => "a project API key (public ingestion key)",
            CredentialKind::GatewayToken => "a gateway token (one wizard run's LLM gateway key)",
            CredentialKind::GatewayMintKey => "a gateway mint key",
        }
    }

    /// The prefixes of the secret kinds: what logs and outputs are scanned
    /// for, and what [`redact_secrets`] masks.
    pub fn secret_prefixes() -> impl Iterator<Item = &'static str> {
        Self::ALL
            .into_iter()
            .filter(|kind| kind.is_secret())
            .map(CredentialKind::prefix)
    }

    /// The kind whose prefix starts `presented`, if any.
    pub fn of(presented: &str) -> Option<CredentialKind> {
        Self::ALL
            .into_iter()
            .find(|kind| presented.starts_with(kind.prefix()))
    }
}

/// Why a presented string is not a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the credential has no known prefix (pha_, phr_, phx_, phc_, phe_ or phs_)")]
    UnknownPrefix,
    #[error("the credential has an empty or malformed random part")]
    Malformed,
}

/// A full credential. Formatting it prints only the masked form.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    kind: CredentialKind,
    full: String,
}

impl Credential {
    /// Draws a new credential of `kind` from `random`.
    pub fn generate(kind: CredentialKind, random: &dyn RandomSource) -> Credential {
        let body = URL_SAFE_NO_PAD.encode(random.bytes(RANDOM_BYTES));
        Credential {
            kind,
            full: format!("{}{body}", kind.prefix()),
        }
    }

    /// Parses a presented string: a known prefix followed by a non-empty
    /// URL-safe random part. Surrounding whitespace is not trimmed: a
    /// credential with a stray newline is not the credential.
    pub fn parse(presented: &str) -> Result<Credential, CredentialError> {
        Ok(Credential {
            kind: Credential::kind_of(presented)?,
            full: presented.to_owned(),
        })
    }

    /// The kind of `presented` if [`Credential::parse`] would take it,
    /// without a copy of the secret (every authenticated request asks).
    pub fn kind_of(presented: &str) -> Result<CredentialKind, CredentialError> {
        let kind = CredentialKind::of(presented).ok_or(CredentialError::UnknownPrefix)?;
        let body = &presented.as_bytes()[kind.prefix().len()..];
        let url_safe = |byte: &u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_');
        if body.is_empty() || body.len() > 512 || !body.iter().all(url_safe) {
            return Err(CredentialError::Malformed);
        }
        Ok(kind)
    }

    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The full secret. Call it only where the credential leaves the
    /// program on purpose: an HTTP header or body, or one of the two places
    /// of protocol section 1 that hand a credential to a person.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// The stored form: lowercase hex SHA-256 of the full string.
    pub fn hash(&self) -> String {
        hash_secret(&self.full)
    }

    /// The masked form, `phx_***`.
    pub fn masked(&self) -> String {
        mask(&self.full)
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({:?}, {})", self.kind, self.masked())
    }
}

/// SHA-256 of a secret, as stored in the database.
pub fn hash_secret(secret: &str) -> String {
    // Into a buffer at once: `hex::encode` pushes one char at a time,
    // which cost as much as the digest on every lookup.
    let mut text = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(secret.as_bytes()), &mut text)
        .expect("64 bytes hold a SHA-256 digest in hex");
    String::from_utf8_lossy(&text).into_owned()
}

/// Compares two stored hashes (or any two secrets) in constant time.
pub fn constant_time_eq(left: &str, right: &str) -> bool {
    left.as_bytes().ct_eq(right.as_bytes()).into()
}

/// Masks any presented string: its first 4 characters, then `***`. Strings
/// of 4 characters or fewer are masked whole, so nothing short leaks either.
pub fn mask(presented: &str) -> String {
    match presented.char_indices().nth(4) {
        Some((end, _)) => {
            let mut masked = String::with_capacity(end + 3);
            masked.push_str(&presented[..end]);
            masked.push_str("***");
            masked
        }
        None => "***".to_owned(),
    }
}

/// Replaces every full secret credential (`pha_`, `phr_`, `phx_`, `phe_`,
/// `phs_`) inside `text` by
/// its masked form. Used on anything that may echo a request (journals,
/// error messages built from input) before it is stored or printed. A
/// credential spelled with percent-encoded characters (`%70hx_…`,
/// `phx%5F…`, as a path may carry it) is found too, and comes out decoded
/// and masked.
pub fn redact_secrets(text: &str) -> String {
    // Every journal line passes here: most hold no `%` and nothing shaped
    // like a secret prefix (`ph?_`), and are returned without a search.
    if !may_hold_prefixed_secret(text) {
        return text.to_owned();
    }
    let text = reveal_encoded(text);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_ref();
    while let Some(position) = find_secret_start(rest) {
        out.push_str(&rest[..position]);
        let candidate = &rest[position..];
        let body_len = secret_body_len(candidate);
        if body_len == 0 {
            out.push_str(&candidate[..4]);
        } else {
            out.push_str(&candidate[..4]);
            out.push_str("***");
        }
        rest = &candidate[4 + body_len..];
    }
    out.push_str(rest);
    out
}

/// The shortest run that [`redact_secret_shaped`] takes for a secret
/// without a prefix when it mixes upper case, lower case and digits: 24
/// random bytes in URL-safe base64. Codes, session ids and CSRF tokens are
/// 43 such characters (32 bytes); the request ids and path segments in
/// use (UUIDs, hex trace ids, ULIDs, numbers) are of one case.
pub const SECRET_SHAPED_RUN: usize = 32;

/// [`redact_secrets`], and every run of URL-safe characters shaped like a
/// secret that has no prefix (an authorization code, a session id, a
/// signing secret: [`SECRET_SHAPED_RUN`] or more characters mixing both
/// cases and digits) masked as [`mask`] does. A public `phc_` key is left
/// alone. For caller text written where people read it whatever it holds:
/// request ids and paths in journals and logs.
pub fn redact_secret_shaped(text: &str) -> String {
    mask_runs(redact_secrets(text), secret_shaped)
}

/// `text` with every run of URL-safe characters that `masked` picks
/// replaced by its [`mask`]. Request ids and paths rarely hold one: then
/// `text` is handed back without a copy.
pub fn mask_runs(text: String, masked: impl Fn(&str) -> bool) -> String {
    // Split on bytes, not characters: URL-safe characters are ASCII, so
    // every byte of a multi-byte character ends a run as the character
    // would, and each run is ASCII (valid UTF-8).
    let mut runs = text
        .as_bytes()
        .split(|byte| !is_url_safe(char::from(*byte)))
        .map(|run| std::str::from_utf8(run).unwrap_or_default());
    if !runs.any(&masked) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find(is_url_safe) {
        out.push_str(&rest[..start]);
        let run = &rest[start..];
        let length = run.find(|c: char| !is_url_safe(c)).unwrap_or(run.len());
        let (run, after) = run.split_at(length);
        match masked(run) {
            true => out.push_str(&mask(run)),
            false => out.push_str(run),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Whether a run of URL-safe characters looks like a secret without a
/// prefix ([`redact_secret_shaped`]).
fn secret_shaped(run: &str) -> bool {
    run.len() >= SECRET_SHAPED_RUN
        && CredentialKind::of(run) != Some(CredentialKind::ProjectApiKey)
        && run.bytes().any(|byte| byte.is_ascii_uppercase())
        && run.bytes().any(|byte| byte.is_ascii_lowercase())
        && run.bytes().any(|byte| byte.is_ascii_digit())
}

/// Whether `text` may hold a secret prefix, plain or percent-encoded: a
/// `%`, or `p`, `h`, any byte, `_` (every secret prefix's shape).
fn may_hold_prefixed_secret(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.contains(&b'%')
        || bytes
            .windows(4)
            .any(|window| window[0] == b'p' && window[1] == b'h' && window[3] == b'_')
}

fn find_secret_start(text: &str) -> Option<usize> {
    CredentialKind::secret_prefixes()
        .filter_map(|prefix| text.find(prefix))
        .min()
}

/// The length of the URL-safe run after the 4-character prefix that
/// starts `candidate`.
fn secret_body_len(candidate: &str) -> usize {
    candidate[4..]
        .find(|c: char| !is_url_safe(c))
        .unwrap_or(candidate.len() - 4)
}

fn is_url_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `text` with each run of URL-safe characters and `%XX` escapes decoded
/// where the decoding shows a secret prefix followed by its body: how a
/// credential hidden by percent-encoding (once or a few times over) is
/// found. Escapes of anything else (`%2F`, `%FF`) are left alone, and so
/// is a run that shows no credential.
fn reveal_encoded(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('%') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| is_url_safe(c) || c == '%') {
        out.push_str(&rest[..start]);
        let run = &rest[start..];
        let length = run
            .find(|c: char| !(is_url_safe(c) || c == '%'))
            .unwrap_or(run.len());
        let (run, after) = run.split_at(length);
        let decoded = decode_url_safe(run);
        let shows_a_secret = find_secret_start(&decoded)
            .is_some_and(|position| secret_body_len(&decoded[position..]) > 0);
        out.push_str(if shows_a_secret && run.contains('%') {
            &decoded
        } else {
            run
        });
        rest = after;
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// `%XX` escapes of URL-safe characters and of `%` itself decoded, again
/// while that changes anything (at most four times over).
fn decode_url_safe(run: &str) -> String {
    let mut current = run.to_owned();
    for _ in 0..4 {
        let bytes = current.as_bytes();
        let mut decoded = String::with_capacity(current.len());
        let mut index = 0;
        while index < bytes.len() {
            let escaped = (bytes[index] == b'%')
                .then(|| current.get(index + 1..index + 3))
                .flatten()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .map(char::from)
                .filter(|c| is_url_safe(*c) || *c == '%');
            match escaped {
                Some(c) => {
                    decoded.push(c);
                    index += 3;
                }
                None => {
                    decoded.push(char::from(bytes[index]));
                    index += 1;
                }
            }
        }
        if decoded == current {
            break;
        }
        current = decoded;
    }
    current
}

/// Finds full secrets (a secret prefix followed by at least 16 URL-safe
/// characters) in `text`, percent-encoded ones included (decoded). Tests
/// use it to scan logs and outputs.
pub fn find_full_secrets(text: &str) -> Vec<String> {
    let text = reveal_encoded(text);
    let mut found = Vec::new();
    let mut rest = text.as_ref();
    while let Some(position) = find_secret_start(rest) {
        let candidate = &rest[position..];
        let body_len = secret_body_len(candidate);
        if body_len >= 16 {
            found.push(candidate[..4 + body_len].to_owned());
        }
        rest = &candidate[4 + body_len..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    /// If this fails, a secret prefix does not have the shape the quick
    /// check of [`redact_secrets`] looks for (`p`, `h`, any, `_`), and
    /// credentials of that kind would be journaled in full.
    #[test]
    fn every_secret_prefix_is_seen_by_the_quick_check() {
        for prefix in CredentialKind::secret_prefixes() {
            assert!(may_hold_prefixed_secret(prefix), "{prefix}");
            assert!(
                may_hold_prefixed_secret(&format!("/x/{prefix}abc")),
                "{prefix}"
            );
        }
        assert!(may_hold_prefixed_secret("/%70hx_abc"));
        assert!(!may_hold_prefixed_secret("/api/users/@me"));
        assert_eq!(redact_secret_shaped("/api/users/@me"), "/api/users/@me");
    }

    /// If this fails, a run shaped like a secret is missed or cut wrong
    /// next to characters of more than one byte (runs are split on bytes).
    #[test]
    fn shaped_runs_are_found_between_multi_byte_characters() {
        let run = "Ab1".repeat(11);
        assert_eq!(
            redact_secret_shaped(&format!("é{run}ü/{run}☃x")),
            "éAb1A***ü/Ab1A***☃x"
        );
        assert_eq!(redact_secret_shaped("é/ü/☃"), "é/ü/☃");
        let short = "Ab1".repeat(10);
        assert_eq!(
            redact_secret_shaped(&format!("é{short}ü")),
            format!("é{short}ü")
        );
    }

    /// If this fails, a credential body of 512 characters is refused or one
    /// of 513 is taken (the bound every program parses with).
    #[test]
    fn a_body_may_be_512_characters_and_no_more() {
        let at = |length: usize| Credential::parse(&format!("phx_{}", "a".repeat(length)));
        assert!(at(512).is_ok());
        assert_eq!(at(513).unwrap_err(), CredentialError::Malformed);
        assert_eq!(at(0).unwrap_err(), CredentialError::Malformed);
    }

    /// If this fails, what is stored for a credential is not the SHA-256 of
    /// the full string the other programs hash when they look it up.
    #[test]
    fn the_stored_form_is_the_hash_of_the_whole_credential() {
        let credential = Credential::parse("pha_test_fake_access_token").unwrap();
        assert_eq!(credential.hash(), hash_secret("pha_test_fake_access_token"));
        assert_eq!(credential.hash().len(), 64);
        assert_ne!(
            credential.hash(),
            Credential::parse("pha_test_fake_other_token")
                .unwrap()
                .hash()
        );
    }

    /// If this fails, a message naming the kind of key a person gave says
    /// nothing, or the wrong thing.
    #[test]
    fn each_kind_has_its_name_for_people() {
        assert_eq!(
            CredentialKind::PersonalApiKey.description(),
            "a personal API key"
        );
        assert_eq!(
            CredentialKind::ProjectApiKey.description(),
            "a project API key (public ingestion key)"
        );
        let mut names: Vec<&str> = CredentialKind::ALL
            .iter()
            .map(|kind| kind.description())
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CredentialKind::ALL.len(), "one name each");
    }

    #[test]
    fn generated_credentials_carry_prefix_and_enough_randomness() {
        let random = SeededRandom::new(1);
        for kind in CredentialKind::ALL {
            let credential = Credential::generate(kind, &random);
            assert!(credential.expose().starts_with(kind.prefix()));
            // 32 bytes in unpadded base64 are 43 characters.
            assert_eq!(credential.expose().len(), 4 + 43);
            assert_eq!(Credential::parse(credential.expose()).unwrap(), credential);
        }
    }

    #[test]
    fn formatting_never_prints_the_secret() {
        let credential =
            Credential::generate(CredentialKind::PersonalApiKey, &SeededRandom::new(2));
        assert_eq!(format!("{credential}"), "phx_***");
        let debug = format!("{credential:?}");
        assert!(!debug.contains(&credential.expose()[4..]), "{debug}");
        assert!(debug.contains("phx_***"));
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, Result<CredentialKind, CredentialError>)] = &[
            ("pha_abc", Ok(CredentialKind::AccessToken)),
            ("phr_abc-_9", Ok(CredentialKind::RefreshToken)),
            ("phx_abc", Ok(CredentialKind::PersonalApiKey)),
            ("phc_abc", Ok(CredentialKind::ProjectApiKey)),
            ("phe_abc", Ok(CredentialKind::GatewayToken)),
            ("phs_abc", Ok(CredentialKind::GatewayMintKey)),
            ("phx_", Err(CredentialError::Malformed)),
            ("phx_ab cd", Err(CredentialError::Malformed)),
            ("phx_abc\n", Err(CredentialError::Malformed)),
            ("sk-ant-123", Err(CredentialError::UnknownPrefix)),
            ("", Err(CredentialError::UnknownPrefix)),
            ("PHX_abc", Err(CredentialError::UnknownPrefix)),
        ];
        for (input, expected) in cases {
            let got = Credential::parse(input).map(|credential| credential.kind());
            assert_eq!(&got, expected, "input {input:?}");
        }
    }

    #[test]
    fn hash_is_sha256_hex_and_compares_in_constant_time() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(&hash_secret("a"), &hash_secret("a")));
        assert!(!constant_time_eq(&hash_secret("a"), &hash_secret("b")));
        assert!(!constant_time_eq("short", "longer"));
    }

    #[test]
    fn mask_table() {
        assert_eq!(mask("phx_secretsecret"), "phx_***");
        assert_eq!(mask("abcde"), "abcd***");
        assert_eq!(mask("abcd"), "***");
        assert_eq!(mask(""), "***");
        // Characters, not bytes.
        assert_eq!(mask("éàüöß"), "éàüö***");
        assert_eq!(mask("éàüö"), "***");
    }

    #[test]
    fn redaction_masks_every_secret_in_text() {
        let text = "Bearer pha_AAAAAAAAAAAAAAAAAAAA and phx_BBBB-BBBB_BBBBBBBBBB, phc_CCCC stays; \
                    phe_DDDDDDDDDDDDDDDDDDDD phs_EEEEEEEEEEEEEEEEEEEE phr_FFFFFFFFFFFFFFFFFFFF";
        let redacted = redact_secrets(text);
        assert_eq!(
            redacted,
            "Bearer pha_*** and phx_***, phc_CCCC stays; phe_*** phs_*** phr_***"
        );
        assert!(find_full_secrets(&redacted).is_empty());
        assert_eq!(find_full_secrets(text).len(), 5);
    }

    /// If this fails, a credential a client percent-encoded (a path
    /// segment `%70hx_…`, an escaped underscore, an escape escaped again)
    /// passes the redaction and reaches a journal or a log in full.
    #[test]
    fn percent_encoded_secrets_are_found_and_masked() {
        let body = "AAAAAAAAAAAAAAAAAAAA";
        let table = [
            (
                format!("/resources/%70hx_{body}"),
                "/resources/phx_***".to_owned(),
            ),
            (format!("/r/pha%5F{body}/x"), "/r/pha_***/x".to_owned()),
            (
                format!("/r/%2570hr_{body}%2Fnext"),
                "/r/phr_***%2Fnext".to_owned(),
            ),
            (format!("a%20phe_{body}"), "a%20phe_***".to_owned()),
            (
                "/r/%2e%2e%2f%FF?x=%70hc_public".to_owned(),
                "/r/%2e%2e%2f%FF?x=%70hc_public".to_owned(),
            ),
            ("/r/%70hx_".to_owned(), "/r/%70hx_".to_owned()),
        ];
        for (text, expected) in table {
            let redacted = redact_secrets(&text);
            assert_eq!(redacted, expected, "{text}");
            assert!(!redacted.contains(body), "{text}");
            assert_eq!(redact_secrets(&redacted), redacted, "{text}");
        }
        assert_eq!(
            find_full_secrets(&format!("x %70hx_{body}")),
            [format!("phx_{body}")]
        );
    }

    /// If this fails, a code, a session id or a signing secret in a path
    /// or a request id reaches a journal or a log in full (they have no
    /// prefix, only their shape), or an ordinary id or path is masked.
    #[test]
    fn secrets_without_a_prefix_are_masked_by_their_shape() {
        let code = "ajuDgVwlLK4AMke9lsqoGfQOgwxPDsibn6Hr7bDKSA8";
        let public = format!("phc_{code}");
        let uuid = "/req_0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
        let ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV.ShortMixed42";
        let table = [
            (
                format!("/resources/{code}/remove"),
                "/resources/ajuD***/remove".to_owned(),
            ),
            (format!("/r/%70hx_{code}"), "/r/phx_***".to_owned()),
            (
                "whsec_fake_Zk3dPq9LmN2xYt7RvB4sWc8HjA1e".to_owned(),
                "whse***".to_owned(),
            ),
            (format!("/r/{public}"), format!("/r/{public}")),
            (uuid.to_owned(), uuid.to_owned()),
            (ulid.to_owned(), ulid.to_owned()),
            ("/resources/%FF".to_owned(), "/resources/%FF".to_owned()),
        ];
        for (text, expected) in table {
            let redacted = redact_secret_shaped(&text);
            assert_eq!(redacted, expected, "{text}");
            assert_eq!(redact_secret_shaped(&redacted), redacted, "{text}");
        }
    }
}
