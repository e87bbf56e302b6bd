//! Property tests of the parsers that read what strangers send: the
//! `Stripe-Signature` header, PKCE verifiers and challenges, credential
//! strings (and the redaction every log line goes through), and scope
//! lists. Each property is what a partner, a wizard or an attacker would
//! see go wrong if it failed.
//!
//! 256 cases per property in the normal run; `RELIABILITY_FULL=1` (the
//! `just reliability` recipe) runs 10,000.

use proptest::prelude::*;
use proptest::test_runner::Config;

use protocol::credential::{find_full_secrets, redact_secrets, Credential, CredentialKind};
use protocol::email::Email;
use protocol::pkce::{CodeChallenge, CodeVerifier, PkceError};
use protocol::random::SeededRandom;
use protocol::scope::{self, Scope};
use protocol::signature::{self, SignatureError, SignatureHeader, TOLERANCE_SECONDS};

/// Cases per property: small in `cargo test`, large under `just reliability`.
fn config() -> Config {
    let cases = match std::env::var("RELIABILITY_FULL").as_deref() {
        Ok("1") => 10_000,
        _ => 256,
    };
    Config {
        cases,
        // A failure prints its shrunk input; no regression files are
        // written into the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Verifiers of RFC 7636 section 4.1: 43 to 128 unreserved characters.
const VALID_VERIFIER: &str = "[A-Za-z0-9._~-]{43,128}";

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// Text made of pieces that look like credentials (full, short, cut,
/// masked, glued together) and arbitrary text between them.
fn credential_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        (
            prop::sample::select(vec!["pha_", "phr_", "phx_", "phc_", "ph", "a_", "x_"]),
            "[A-Za-z0-9_-]{0,40}",
        )
            .prop_map(|(prefix, body)| format!("{prefix}{body}")),
        ".{0,12}",
        prop::sample::select(vec![" ", "***", "\n", "Bearer ", "=", "é", "/", "%"])
            .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

fn valid_scope() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("*".to_owned()),
        20 => ("[a-z0-9_]{1,64}", prop::sample::select(vec!["read", "write"]))
            .prop_map(|(resource, action)| format!("{resource}:{action}")),
    ]
}

proptest! {
    #![proptest_config(config())]

    // ---- Stripe-Signature ----

    /// If this fails, a partner (or anyone) can crash the request handler
    /// with a strange header.
    #[test]
    fn any_signature_header_is_parsed_without_panicking(header in ".{0,200}") {
        let _ = SignatureHeader::parse(&header);
        let _ = signature::verify(&header, b"{}", &[b"secret"], 1_775_000_000);
    }

    /// The same, for headers that are nearly right (the pieces a parser
    /// trips on: repeated keys, odd hex, long numbers, stray separators).
    #[test]
    fn near_miss_signature_headers_are_parsed_without_panicking(
        parts in prop::collection::vec(
            prop_oneof![
                "t=[0-9]{0,20}",
                "v1=[0-9a-fA-Fg]{0,70}",
                "v0=.{0,10}",
                "[ =,]{0,3}",
                "t=-?[0-9]{1,5}",
            ],
            0..12,
        )
    ) {
        let header = parts.join(",");
        let _ = SignatureHeader::parse(&header);
        let _ = signature::verify(&header, b"", &[b"", b"k"], 0);
    }

    /// If this fails, an honest partner's correctly signed request is
    /// refused, or one a second too old is let in.
    #[test]
    fn a_built_header_verifies_within_the_tolerance_and_not_beyond(
        secret in prop::collection::vec(any::<u8>(), 0..64),
        timestamp in 0i64..=999_999_999_999,
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let secrets: &[&[u8]] = &[&secret];
        let header = signature::header_value(secrets, timestamp, &body);
        prop_assert_eq!(signature::verify(&header, &body, secrets, timestamp), Ok(0));
        for edge in [timestamp - TOLERANCE_SECONDS, timestamp + TOLERANCE_SECONDS] {
            prop_assert_eq!(signature::verify(&header, &body, secrets, edge), Ok(0));
        }
        for outside in [
            timestamp - TOLERANCE_SECONDS - 1,
            timestamp + TOLERANCE_SECONDS + 1,
        ] {
            prop_assert_eq!(
                signature::verify(&header, &body, secrets, outside),
                Err(SignatureError::OutOfTolerance)
            );
        }
    }

    /// If this fails, a request body changed in transit (one byte is
    /// enough: an email, an amount) would still pass as signed.
    #[test]
    fn any_single_byte_change_of_the_body_fails(
        secret in prop::collection::vec(any::<u8>(), 1..64),
        timestamp in 0i64..=999_999_999_999,
        body in prop::collection::vec(any::<u8>(), 1..256),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let secrets: &[&[u8]] = &[&secret];
        let header = signature::header_value(secrets, timestamp, &body);
        let mut changed = body.clone();
        let at = index.index(changed.len());
        changed[at] ^= flip;
        prop_assert_eq!(
            signature::verify(&header, &changed, secrets, timestamp),
            Err(SignatureError::NoMatch)
        );
    }

    // ---- PKCE ----

    /// If this fails, a client following RFC 7636 is refused.
    #[test]
    fn every_verifier_of_the_rfc_alphabet_and_length_is_accepted(
        text in VALID_VERIFIER
    ) {
        match CodeVerifier::parse(&text) {
            Ok(verifier) => prop_assert_eq!(verifier.as_str(), text.as_str()),
            Err(error) => prop_assert!(false, "{:?} refused: {}", text, error),
        }
    }

    /// If this fails, a verifier outside RFC 7636 (too short to be
    /// secret, or with characters that change under URL encoding) is
    /// accepted.
    #[test]
    fn anything_else_is_refused_as_a_verifier(text in prop_oneof![
        ".{0,160}",
        "[A-Za-z0-9._~-]{0,42}",
        "[A-Za-z0-9._~-]{129,200}",
        // A valid verifier with one foreign character put in.
        (
            "[A-Za-z0-9._~-]{43,127}",
            any::<prop::sample::Index>(),
            any::<char>().prop_filter("foreign", |c| !is_unreserved(*c)),
        )
            .prop_map(|(valid, index, foreign)| {
                let mut chars: Vec<char> = valid.chars().collect();
                let at = index.index(chars.len() + 1);
                chars.insert(at, foreign);
                chars.into_iter().collect()
            }),
    ]) {
        let valid = (43..=128).contains(&text.len()) && text.chars().all(is_unreserved);
        match CodeVerifier::parse(&text) {
            Ok(_) => prop_assert!(valid, "{:?} accepted", text),
            Err(error) => {
                prop_assert!(!valid, "{:?} refused", text);
                prop_assert_eq!(error, PkceError::BadVerifier);
            }
        }
    }

    /// If this fails, the wizard's own verifier does not answer the
    /// challenge it sent, and every signup ends in `invalid_grant`.
    #[test]
    fn the_challenge_of_a_valid_verifier_always_answers_it(
        text in VALID_VERIFIER,
        other in VALID_VERIFIER,
    ) {
        let verifier = CodeVerifier::parse(&text).unwrap();
        let sent = verifier.challenge();
        // What the server parses from the account request.
        let received = CodeChallenge::parse(sent.as_str(), Some("S256"));
        prop_assert!(received.is_ok(), "{:?}", sent);
        let received = received.unwrap();
        prop_assert!(received.is_answered_by(&verifier));
        let other = CodeVerifier::parse(&other).unwrap();
        prop_assert_eq!(received.is_answered_by(&other), text == other.as_str());
    }

    /// If this fails, a strange challenge crashes the account request.
    #[test]
    fn any_challenge_is_parsed_without_panicking(
        challenge in ".{0,160}",
        method in prop::option::of(".{0,8}"),
    ) {
        let _ = CodeChallenge::parse(&challenge, method.as_deref());
    }

    // ---- Credentials ----

    /// If this fails, a strange `Authorization` header crashes a request.
    #[test]
    fn any_string_is_parsed_as_a_credential_without_panicking(text in ".{0,600}") {
        let _ = Credential::parse(&text);
    }

    /// If this fails, a credential the server issued is refused when it
    /// comes back, or comes back as another kind.
    #[test]
    fn generated_credentials_round_trip(seed in any::<u64>(), kind in 0usize..4) {
        let kind = CredentialKind::ALL[kind];
        let credential = Credential::generate(kind, &SeededRandom::new(seed));
        let parsed = Credential::parse(credential.expose());
        prop_assert_eq!(parsed.as_ref(), Ok(&credential));
        prop_assert_eq!(parsed.unwrap().kind(), kind);
        prop_assert_eq!(CredentialKind::of(credential.expose()), Some(kind));
        // Formatting never shows it.
        prop_assert_eq!(format!("{credential}"), format!("{}***", kind.prefix()));
        if kind.is_secret() {
            let text = format!("{credential:?} {credential}");
            prop_assert!(find_full_secrets(&text).is_empty(), "{}", text);
        }
    }

    /// If this fails, a log line, journal entry or error message shows a
    /// working credential after it was "redacted".
    #[test]
    fn redaction_leaves_no_full_secret_and_is_idempotent(text in credential_soup()) {
        let redacted = redact_secrets(&text);
        prop_assert_eq!(find_full_secrets(&redacted), Vec::<String>::new(), "{:?}", text);
        prop_assert_eq!(redact_secrets(&redacted), redacted.clone(), "{:?}", text);
        // Nothing but the secrets' bodies is touched.
        let found = find_full_secrets(&text);
        for secret in &found {
            prop_assert!(!redacted.contains(secret.as_str()));
        }
    }

    /// The same over arbitrary text, multi-byte characters included.
    #[test]
    fn redaction_of_any_text_is_safe(text in ".{0,300}") {
        let redacted = redact_secrets(&text);
        prop_assert!(find_full_secrets(&redacted).is_empty());
        prop_assert_eq!(redact_secrets(&redacted), redacted);
    }

    /// If this fails, a real credential in a log line is missed by the
    /// redaction (wherever it sits in the line).
    #[test]
    fn every_generated_secret_in_text_is_masked(
        seed in any::<u64>(),
        kind in 0usize..3,
        before in ".{0,30}",
        after in "[^A-Za-z0-9_-].{0,30}|",
    ) {
        // The first three kinds are the secret ones.
        let kind = CredentialKind::ALL[kind];
        prop_assert!(kind.is_secret());
        let credential = Credential::generate(kind, &SeededRandom::new(seed));
        let text = format!("{before}{}{after}", credential.expose());
        let redacted = redact_secrets(&text);
        prop_assert!(!redacted.contains(credential.expose()), "{:?}", redacted);
        prop_assert!(!redacted.contains(&credential.expose()[4..]), "{:?}", redacted);
        // The same credential with one of its characters percent-encoded,
        // as a path may carry it.
        let full = credential.expose();
        let at = (seed as usize) % full.len();
        let encoded = format!("{}%{:02X}{}", &full[..at], full.as_bytes()[at], &full[at + 1..]);
        let redacted = redact_secrets(&format!("{before}{encoded}{after}"));
        prop_assert!(!redacted.contains(&full[4..]), "{:?}", redacted);
        prop_assert!(find_full_secrets(&redacted).is_empty(), "{:?}", redacted);
    }

    // ---- Scopes ----

    /// If this fails, a strange scope string crashes an account request.
    #[test]
    fn any_scope_text_is_parsed_without_panicking(text in ".{0,100}") {
        if let Ok(parsed) = Scope::parse(&text) {
            prop_assert_eq!(parsed.as_str(), text.as_str());
            prop_assert!(!text.contains(char::is_whitespace));
        }
    }

    /// If this fails, a well-formed scope is refused.
    #[test]
    fn well_formed_scopes_are_accepted(text in valid_scope()) {
        prop_assert!(Scope::parse(&text).is_ok(), "{:?}", text);
    }

    /// If this fails, a scope list stored as one space-separated string
    /// (codes, tokens, PATs) comes back different from what was granted.
    #[test]
    fn split_and_join_round_trip(scopes in prop::collection::vec(valid_scope(), 0..20)) {
        prop_assert_eq!(scope::split(&scope::join(&scopes)), scopes);
    }

    /// The other direction: any text splits into the words `join` puts
    /// back together, whatever the whitespace was.
    #[test]
    fn join_of_split_normalises_whitespace(text in "[a-z:_ \t\n]{0,80}|.{0,80}") {
        let words = scope::split(&text);
        let joined = scope::join(&words);
        prop_assert_eq!(scope::split(&joined), words.clone());
        let expected: Vec<&str> = text.split_whitespace().collect();
        prop_assert_eq!(joined, expected.join(" "));
        prop_assert!(words.iter().all(|word| !word.is_empty()));
    }
}

/// Addresses that look right, in mixed case, with Unicode mixed in.
fn email_like() -> impl Strategy<Value = String> {
    (
        "[A-Za-z0-9.+_-]{0,20}",
        prop::sample::select(vec![
            "", "\u{212A}", "\u{200B}", "\u{0}", " ", "\u{130}", "\u{FEFF}",
        ]),
        "[A-Za-z0-9-]{1,12}",
        "[A-Za-z]{2,6}",
    )
        .prop_map(|(local, odd, host, top)| format!("{local}{odd}@{host}.{top}"))
}

proptest! {
    #![proptest_config(config())]

    /// If this fails, a strange address crashes an account request.
    #[test]
    fn any_text_is_judged_as_an_email_without_panicking(text in ".{0,300}") {
        let _ = Email::parse(&text);
    }

    /// If this fails, two spellings of one address can open two accounts,
    /// or one spelling can reach another person's account.
    #[test]
    fn an_accepted_email_is_canonical_ascii_and_case_blind(text in email_like()) {
        if let Ok(email) = Email::parse(&text) {
            prop_assert!(email.as_str().bytes().all(|byte| byte.is_ascii_graphic()));
            prop_assert!(!email.as_str().bytes().any(|byte| byte.is_ascii_uppercase()));
            prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            prop_assert_eq!(Email::parse(&text.to_ascii_uppercase()), Ok(email.clone()));
            // Only ASCII case folds: nothing else is mapped onto a letter.
            prop_assert_eq!(email.as_str(), text.trim().to_ascii_lowercase());
        }
    }

    /// If this fails, a person with an ordinary address cannot sign up.
    #[test]
    fn a_well_formed_address_is_accepted(
        runs in prop::collection::vec("[A-Za-z0-9+_-]{1,8}", 1..4),
        host in "[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?",
        top in "[A-Za-z]{2,6}",
    ) {
        let text = format!("{}@{host}.{top}", runs.join("."));
        prop_assert_eq!(Email::parse(&text).map(Email::into_string), Ok(text.to_ascii_lowercase()));
    }
}
