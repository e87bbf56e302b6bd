//! Wire shapes that other clients depend on, checked field by field.

use protocol::provisioning::{AccountRequest, AccountRequestAnswer, OAuthCode};
use serde_json::json;

#[test]
fn account_request_without_scopes_omits_the_field() {
    // `--scopes none` must reproduce the first signup client exactly.
    let request = AccountRequest {
        email: "a@example.com".into(),
        ..AccountRequest::default()
    };
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({"email": "a@example.com"})
    );
}

#[test]
fn account_request_ignores_unknown_fields() {
    let parsed: AccountRequest =
        serde_json::from_value(json!({"email": "a@example.com", "future_field": [1, 2]})).unwrap();
    assert_eq!(parsed.email, "a@example.com");
}

#[test]
fn oauth_answer_is_tagged_by_type_and_always_has_an_id() {
    let answer = AccountRequestAnswer::Oauth {
        id: "req_1".into(),
        oauth: OAuthCode { code: "c".into() },
    };
    assert_eq!(
        serde_json::to_value(&answer).unwrap(),
        json!({"type": "oauth", "id": "req_1", "oauth": {"code": "c"}})
    );
}

#[test]
fn introspection_inactive_is_exactly_active_false() {
    let inactive = protocol::oauth::IntrospectionAnswer::inactive();
    assert_eq!(
        serde_json::to_string(&inactive).unwrap(),
        r#"{"active":false}"#
    );
}

#[test]
fn unknown_content_blocks_are_tolerated() {
    let message: protocol::gateway::Message = serde_json::from_value(json!({
        "role": "assistant",
        "content": [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "hi"}]
    }))
    .unwrap();
    assert_eq!(message.content.text(), "hi");
}
