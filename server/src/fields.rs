//! Request fields several endpoints read, parsed at the edge into plain
//! values with the contract's refusals: an email, `configuration.team_id`,
//! a resource id from the path, an `expires_at`.

use protocol::email::Email;

use crate::error::ApiError;

/// An email in its one canonical form ([`Email`]: ASCII, a dot-atom, a
/// host name with a dot, ASCII case folded), or `400 invalid_request`
/// naming `email` and why. Lookalikes such as the KELVIN SIGN and
/// invisible characters are refused, never folded onto another person's
/// address (issue 14, class 1).
pub fn parse_email(email: &str) -> Result<String, ApiError> {
    Email::parse(email).map(Email::into_string).map_err(|why| {
        ApiError::InvalidRequest(format!("email must be a valid email address: {why}"))
    })
}

/// `configuration.team_id`: an integer or a string of digits.
pub fn parse_team_id(value: Option<&serde_json::Value>) -> Result<Option<i64>, ApiError> {
    let invalid = || ApiError::InvalidRequest("configuration.team_id must be an integer".into());
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(number)) => number.as_i64().map(Some).ok_or_else(invalid),
        Some(serde_json::Value::String(text))
            if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) =>
        {
            text.parse().map(Some).map_err(|_| invalid())
        }
        Some(_) => Err(invalid()),
    }
}

/// A resource id from the path: a team id, an integer.
pub fn parse_resource_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| {
        ApiError::InvalidResourceId(format!(
            "Resource id {:?} is not an integer",
            protocol::credential::redact_secrets(id)
        ))
    })
}

/// An ISO 8601 date-time as unix seconds; one without an offset is UTC.
pub fn parse_expires_at(text: &str) -> Option<i64> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(time.timestamp());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        .map(|time| time.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// If this fails, an `expires_at` is read as another time than it says.
    #[test]
    fn expires_at_is_read_as_utc_unless_it_says_otherwise() {
        assert_eq!(
            parse_expires_at("2099-01-01T00:00:00+00:00"),
            Some(4_070_908_800)
        );
        assert_eq!(
            parse_expires_at("2099-01-01T01:00:00+01:00"),
            Some(4_070_908_800)
        );
        assert_eq!(parse_expires_at("2099-01-01T00:00:00"), Some(4_070_908_800));
        assert_eq!(
            parse_expires_at("2099-01-01T00:00:00.5"),
            Some(4_070_908_800)
        );
        assert_eq!(parse_expires_at("tomorrow"), None);
    }

    #[test]
    fn team_id_table() {
        assert_eq!(parse_team_id(None).unwrap(), None);
        assert_eq!(parse_team_id(Some(&json!(7))).unwrap(), Some(7));
        assert_eq!(parse_team_id(Some(&json!("42"))).unwrap(), Some(42));
        for bad in [
            json!("4a"),
            json!(""),
            // Signs parse as integers in Rust but are not digits.
            json!("-5"),
            json!("+5"),
            json!(1.5),
            json!(true),
            json!([1]),
            json!("99999999999999999999"),
        ] {
            let error = parse_team_id(Some(&bad)).unwrap_err();
            assert_eq!(
                error.to_string(),
                "configuration.team_id must be an integer",
                "{bad}"
            );
        }
    }

    #[test]
    fn email_table() {
        assert_eq!(parse_email(" Ada@Example.com ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
            "ada@.com",
            "\u{212A}im@example.test",
            "ki\u{200B}m@example.test",
            "kim\u{0}@example.test",
        ] {
            let refusal = parse_email(bad).expect_err(bad).to_string();
            assert!(refusal.contains("email"), "{bad:?}: {refusal}");
        }
    }

    /// If this fails, a resource id that is not an integer reaches the
    /// database, or a pasted credential is echoed back in full.
    #[test]
    fn resource_ids_are_integers_and_never_echo_a_secret() {
        assert_eq!(parse_resource_id("42").unwrap(), 42);
        let secret = format!("pha_{}", "a".repeat(40));
        let error = parse_resource_id(&secret).unwrap_err();
        assert_eq!(error.code(), "invalid_resource_id");
        assert!(!error.to_string().contains(&secret), "{error}");
    }
}
