//! Identifiers the PostHog API shows that the simulator does not store: a
//! team's UUID, a user's `distinct_id` and an organization's slug. Each is
//! derived from stored values that came from the injected random source, so
//! it is stable across restarts, distinct per team or user, and as
//! reproducible as the rest of a seeded run.

use sha2::{Digest, Sha256};

/// The UUID of team `team_id` of the organization `organization_id`.
pub fn team_uuid(organization_id: &str, team_id: i64) -> String {
    derived_uuid(&format!("team\0{organization_id}\0{team_id}"))
}

/// The `distinct_id` PostHog's own analytics knows the user `user_uuid` by
/// (a separate identifier from the user's UUID, as in the real model).
pub fn distinct_id(user_uuid: &str) -> String {
    derived_uuid(&format!("distinct_id\0{user_uuid}"))
}

/// A URL-safe slug of an organization's name: lower-case ASCII letters and
/// digits, runs of anything else as one `-`, never empty.
pub fn organization_slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            slug.push(character.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        slug.push_str("organization");
    }
    slug
}

/// A version 8 (custom) UUID from the first 16 bytes of SHA-256 of `key`.
fn derived_uuid(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_uuids_are_uuid_shaped_stable_and_distinct() {
        let first = team_uuid("0b1c2d3e-0000-4000-8000-000000000001", 1);
        assert_eq!(first, team_uuid("0b1c2d3e-0000-4000-8000-000000000001", 1));
        assert_ne!(first, team_uuid("0b1c2d3e-0000-4000-8000-000000000001", 2));
        assert_ne!(first, team_uuid("0b1c2d3e-0000-4000-8000-000000000002", 1));
        let parts: Vec<&str> = first.split('-').collect();
        assert_eq!(
            parts.iter().map(|part| part.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'), "version 8: {first}");
        assert!(
            matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "RFC 4122 variant: {first}"
        );
        assert_ne!(distinct_id("u-1"), distinct_id("u-2"));
        assert_ne!(distinct_id("u-1"), "u-1");
    }

    #[test]
    fn slugs() {
        for (name, slug) in [
            ("Ada's organization", "ada-s-organization"),
            ("  Acme  Corp!  ", "acme-corp"),
            ("Ünïcode", "n-code"),
            ("!!!", "organization"),
            ("", "organization"),
        ] {
            assert_eq!(organization_slug(name), slug, "{name:?}");
        }
    }
}
