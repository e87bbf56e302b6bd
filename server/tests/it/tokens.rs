//! The life of codes and tokens at `POST /api/agentic/oauth/token`: PKCE,
//! single use, expiry, refresh rotation (protocol section 4).

use axum::http::StatusCode;

use protocol::paths;
use protocol::scope::WIZARD_SIGNUP_SCOPES;

use crate::support::*;

const INVALID_CODE: &str = "Invalid or expired authorization code";
const PKCE_MISMATCH: &str = "PKCE code_verifier does not match";
const INVALID_REFRESH: &str = "Invalid or revoked refresh token";

/// Asserts a 400 `invalid_grant` (or other code) in the RFC 6749 envelope.
fn assert_oauth_error(answer: &Answer, status: StatusCode, code: &str, message: &str) {
    assert_eq!(answer.status, status, "{}", answer.text());
    let (got_code, description) = envelope(Family::OAuth, &answer.json());
    assert_eq!(got_code, code, "{}", answer.text());
    assert!(
        description.contains(message),
        "expected {message:?} in {description:?}"
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

/// If this fails, a stolen code could be tried against many verifiers (in
/// the eras where a wrong verifier consumes the code), or a client that
/// sent a wrong verifier by mistake loses its code where today's server
/// keeps it for the right one.
#[tokio::test]
async fn a_failed_pkce_check_burns_the_code_only_in_the_eras_that_burn() {
    // (era, whether the right verifier still works after a wrong one)
    for (era, kept) in [("ceilings", false), ("current", true)] {
        let server = Server::start(Options::new(era)).await;
        /// Builds the wrong verifier from the right one.
        type Wrong = Box<dyn Fn(&str) -> String>;
        let cases: [(&str, Wrong); 5] = [
            ("too short", Box::new(|_| "abc".into())),
            ("42 characters", Box::new(|right| right[..42].into())),
            ("well-formed but wrong", Box::new(|_| "w".repeat(43))),
            ("not URL-safe", Box::new(|right| format!("{right}+"))),
            ("129 characters", Box::new(|_| "a".repeat(129))),
        ];
        let mut issued = 0;
        for (what, wrong) in cases {
            let (code, verifier) = server.signup(None).await;
            let answer = server.exchange(&code, &wrong(verifier.as_str())).await;
            assert_oauth_error(
                &answer,
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                PKCE_MISMATCH,
            );
            assert!(
                !answer.text().contains(&code),
                "{era} {what}: the code is echoed"
            );
            let answer = server.exchange(&code, verifier.as_str()).await;
            if kept {
                assert_eq!(
                    answer.status,
                    StatusCode::OK,
                    "{era} {what}: {}",
                    answer.text()
                );
                issued += 1;
            } else {
                assert_oauth_error(
                    &answer,
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    INVALID_CODE,
                );
            }
        }
        assert_eq!(server.admin_state().await.access_tokens, issued, "{era}");
    }
}

/// If this fails, a leaked code could be replayed, or the tokens minted
/// from it would keep working after the replay revealed the leak.
#[tokio::test]
async fn a_reused_code_fails_and_revokes_what_it_minted() {
    let server = Server::issuing_keys().await;
    let (code, verifier) = server.signup(None).await;
    let first = tokens_of(server.exchange(&code, verifier.as_str()).await);
    let key = server.provision(&first.access).await.json()["complete"]["access_configuration"]
        ["personal_api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        server.introspect(&first.access).await.json()["active"],
        true
    );

    let again = server.exchange(&code, verifier.as_str()).await;
    assert_oauth_error(
        &again,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        INVALID_CODE,
    );
    insta::assert_json_snapshot!("token_error_reused_code", again.json());

    let dead = server.introspect(&first.access).await;
    assert_eq!(dead.status, StatusCode::OK);
    assert_eq!(dead.text(), r#"{"active":false}"#);
    let refresh = server.refresh(&first.refresh, None).await;
    assert_oauth_error(
        &refresh,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        INVALID_REFRESH,
    );
    let me = server
        .send(Call::get(paths::USERS_ME).bearer(&first.access))
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert!(me.json()["detail"].as_str().unwrap().contains("revoked"));
    // The personal API key was minted with the code's access token: it
    // descends from the code and dies with it (RFC 6749 section 4.1.2),
    // at the API as at introspection.
    assert_eq!(server.introspect(&key).await.text(), r#"{"active":false}"#);
    let me = server.send(Call::get(paths::USERS_ME).bearer(&key)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.text());
}

/// The personal API key a resource call mints with `access`.
async fn key_minted_with(server: &Server, access: &str) -> String {
    let answer = server.provision(access).await;
    answer.json()["complete"]["access_configuration"]["personal_api_key"]
        .as_str()
        .unwrap_or_else(|| panic!("a personal key: {}", answer.text()))
        .to_owned()
}

/// If this fails, a stolen refresh token used after its owner rotated it
/// (or the owner's stale copy used after the thief rotated it) is merely
/// refused: the other party's rotation, and the personal keys minted
/// along the way, stay alive (RFC 9700 section 4.14.2).
#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family() {
    let server = Server::issuing_keys().await;
    let (code, verifier) = server.signup(None).await;
    let first = tokens_of(server.exchange(&code, verifier.as_str()).await);
    let first_key = key_minted_with(&server, &first.access).await;
    let rotated = tokens_of(server.refresh(&first.refresh, None).await);
    let rotated_key = key_minted_with(&server, &rotated.access).await;
    // Another signup's family is not touched.
    let (other_code, other_verifier) = server.signup(None).await;
    let other = tokens_of(server.exchange(&other_code, other_verifier.as_str()).await);
    for live in [&rotated.access, &first_key, &rotated_key] {
        assert_eq!(server.introspect(live).await.json()["active"], true);
    }

    let reused = server.refresh(&first.refresh, None).await;
    assert_oauth_error(
        &reused,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        INVALID_REFRESH,
    );
    for (label, dead) in [
        ("the rotation's access token", &rotated.access),
        ("the key minted before the rotation", &first_key),
        ("the key minted after it", &rotated_key),
    ] {
        assert_eq!(
            server.introspect(dead).await.text(),
            r#"{"active":false}"#,
            "{label}"
        );
        let me = server.send(Call::get(paths::USERS_ME).bearer(dead)).await;
        assert_eq!(
            me.status,
            StatusCode::UNAUTHORIZED,
            "{label}: {}",
            me.text()
        );
    }
    assert_oauth_error(
        &server.refresh(&rotated.refresh, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        INVALID_REFRESH,
    );
    assert_eq!(
        server.introspect(&other.access).await.json()["active"],
        true
    );
    // A signup can still start a new family.
    let (code, verifier) = server.signup(None).await;
    tokens_of(server.exchange(&code, verifier.as_str()).await);
}

/// If this fails, a replayed code leaves alive the pair its tokens were
/// refreshed into: the link from a refreshed pair back to its code was
/// dropped, and a leak revealed by the replay keeps working.
#[tokio::test]
async fn a_code_reused_after_a_refresh_revokes_the_refreshed_pair_too() {
    for era in ["current", "legacy"] {
        let server = Server::start(Options::new(era)).await;
        let (code, verifier) = server
            .signup(Some(&["user:read", "llm_gateway:read"]))
            .await;
        let first = tokens_of(server.exchange(&code, verifier.as_str()).await);
        let refreshed = tokens_of(server.refresh(&first.refresh, None).await);
        let twice = tokens_of(server.refresh(&refreshed.refresh, None).await);
        assert_eq!(
            server.introspect(&twice.access).await.json()["active"],
            true,
            "{era}"
        );

        let again = server.exchange(&code, verifier.as_str()).await;
        assert_oauth_error(
            &again,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            INVALID_CODE,
        );

        for (label, tokens) in [("refreshed", &refreshed), ("refreshed twice", &twice)] {
            assert_eq!(
                server.introspect(&tokens.access).await.text(),
                r#"{"active":false}"#,
                "{era}: the {label} access token"
            );
            assert_oauth_error(
                &server.refresh(&tokens.refresh, None).await,
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                INVALID_REFRESH,
            );
        }
    }
}

/// If this fails, a replay whose verifier is wrong is answered as a PKCE
/// mismatch and leaves alive what the code minted (an attacker holding a
/// leaked code but not the verifier must still reveal the leak), or a
/// code at its very expiry second is checked for PKCE instead of refused
/// as expired.
#[tokio::test]
async fn a_dead_code_is_refused_as_such_whatever_its_verifier() {
    for era in ["current", "legacy"] {
        let server = Server::start(Options::new(era)).await;
        let (code, verifier) = server.signup(None).await;
        let first = tokens_of(server.exchange(&code, verifier.as_str()).await);
        let wrong = server.verifier();
        let replayed = server.exchange(&code, wrong.as_str()).await;
        assert_oauth_error(
            &replayed,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            INVALID_CODE,
        );
        assert_eq!(
            server.introspect(&first.access).await.text(),
            r#"{"active":false}"#,
            "{era}: the replay revoked what the code minted"
        );

        let (code, _) = server.signup(None).await;
        server.state.clock.advance(300).unwrap();
        let expired = server.exchange(&code, wrong.as_str()).await;
        assert_oauth_error(
            &expired,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            INVALID_CODE,
        );
    }
}

/// If this fails, a refresh with an empty `scope` drops every scope
/// instead of keeping the grant, or a refreshed access token lives longer
/// (or shorter) than an hour.
#[tokio::test]
async fn a_refresh_keeps_the_grant_for_an_empty_scope_and_lives_an_hour() {
    let server = Server::current().await;
    let tokens = server
        .tokens(Some(&["user:read", "llm_gateway:read"]))
        .await;
    let refreshed = server.refresh(&tokens.refresh, Some("")).await.json();
    assert_eq!(
        refreshed["scope"], "user:read llm_gateway:read",
        "{refreshed}"
    );
    assert_eq!(refreshed["expires_in"], 3600);
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    server.state.clock.advance(3599).unwrap();
    assert_eq!(server.introspect(&access).await.json()["active"], true);
    server.state.clock.advance(1).unwrap();
    assert_eq!(
        server.introspect(&access).await.text(),
        r#"{"active":false}"#,
        "expired at 3600 s"
    );
}

/// If this fails, a code would live longer than the contract's 300 s.
#[tokio::test]
async fn a_code_expires_after_300_seconds() {
    let server = Server::current().await;
    let (code, verifier) = server.signup(None).await;
    server.state.clock.advance(300).unwrap();
    let (fresh, fresh_verifier) = server.signup(None).await;
    server.state.clock.advance(1).unwrap();
    let answer = server.exchange(&code, verifier.as_str()).await;
    assert_oauth_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        INVALID_CODE,
    );
    // One issued 1 s ago still works.
    tokens_of(server.exchange(&fresh, fresh_verifier.as_str()).await);
}

/// If this fails, a refresh would leave the old tokens alive (two valid
/// pairs after a rotation) or let a client widen what the user granted.
#[tokio::test]
async fn refresh_rotates_and_may_only_narrow() {
    let server = Server::current().await;
    let first = server.tokens(Some(&WIZARD_SIGNUP_SCOPES)).await;

    let widened = server
        .refresh(&first.refresh, Some("user:read organization:read"))
        .await;
    assert_oauth_error(
        &widened,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "organization:read",
    );
    // A refused widening does not rotate anything.
    assert_eq!(
        server.introspect(&first.access).await.json()["active"],
        true
    );

    let answer = server
        .refresh(&first.refresh, Some("user:read llm_gateway:read"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.header("pragma"), Some("no-cache"));
    let second = tokens_of(answer);
    assert_eq!(second.answer["scope"], "user:read llm_gateway:read");
    assert_eq!(second.answer["token_type"], "bearer");
    assert_eq!(second.answer["expires_in"], 3600);
    assert!(
        second.answer.get("account").is_none(),
        "a refresh answer omits account"
    );
    assert_ne!(second.access, first.access);
    assert_ne!(second.refresh, first.refresh);

    assert_eq!(
        server.introspect(&first.access).await.text(),
        r#"{"active":false}"#
    );
    let view = server.introspect(&second.access).await.json();
    assert_eq!(view["active"], true);
    assert_eq!(view["scope"], "user:read llm_gateway:read");

    // Without `scope`, a refresh keeps what the refresh token holds.
    let third = tokens_of(server.refresh(&second.refresh, None).await);
    assert_eq!(third.answer["scope"], "user:read llm_gateway:read");

    // The first refresh token is single use: presented again it is
    // refused, and the family it belongs to is revoked with it
    // (`a_reused_refresh_token_revokes_its_whole_family`).
    let old = server.refresh(&first.refresh, None).await;
    assert_oauth_error(
        &old,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        INVALID_REFRESH,
    );
    assert_eq!(
        server.introspect(&third.access).await.text(),
        r#"{"active":false}"#
    );
}

/// If this fails, an access token would outlive its `expires_in`.
#[tokio::test]
async fn an_access_token_expires_after_3600_seconds() {
    let server = Server::current().await;
    let tokens = server.tokens(None).await;
    server.state.clock.advance(3599).unwrap();
    assert_eq!(
        server.introspect(&tokens.access).await.json()["active"],
        true
    );
    server.state.clock.advance(2).unwrap();
    assert_eq!(
        server.introspect(&tokens.access).await.text(),
        r#"{"active":false}"#
    );
    let answer = server.provision(&tokens.access).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let (code, message) = envelope(Family::Resource, &answer.json());
    assert_eq!(code, "unauthorized");
    assert!(message.contains("expired"), "{message}");
    // The refresh token still gets a new pair.
    let renewed = tokens_of(server.refresh(&tokens.refresh, None).await);
    assert_eq!(
        server.introspect(&renewed.access).await.json()["active"],
        true
    );
}

/// If this fails, the token endpoint would accept a grant it does not
/// implement, or answer a malformed one in another envelope.
#[tokio::test]
async fn grant_type_table() {
    let server = Server::current().await;
    /// (form, error code, what the description names)
    type Row<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Row; 6] = [
        (&[], "invalid_request", "grant_type"),
        (&[("grant_type", "")], "invalid_request", "grant_type"),
        (
            &[("grant_type", "password")],
            "unsupported_grant_type",
            "password",
        ),
        (
            &[("grant_type", "client_credentials")],
            "unsupported_grant_type",
            "client_credentials",
        ),
        (
            &[("grant_type", "authorization_code")],
            "invalid_request",
            "code",
        ),
        (
            &[("grant_type", "refresh_token")],
            "invalid_request",
            "refresh_token",
        ),
    ];
    for (form, code, needle) in cases {
        let answer = server
            .send(Call::post(paths::AGENTIC_TOKEN).version().form(form))
            .await;
        assert_oauth_error(&answer, StatusCode::BAD_REQUEST, code, needle);
    }
    let unknown_code = server
        .send(Call::post(paths::AGENTIC_TOKEN).version().form(&[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("code_verifier", &"a".repeat(43)),
        ]))
        .await;
    assert_oauth_error(
        &unknown_code,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        INVALID_CODE,
    );
    // Refresh with something that is not a live refresh token.
    let tokens = server.tokens(None).await;
    for presented in [
        "phr_unknownunknownunknownunknown".to_owned(),
        tokens.access.clone(),
        "not a token".to_owned(),
    ] {
        let answer = server.refresh(&presented, None).await;
        assert_oauth_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            INVALID_REFRESH,
        );
        assert!(
            protocol::credential::find_full_secrets(&answer.text()).is_empty(),
            "an error body echoes a secret: {}",
            answer.text()
        );
    }
}
