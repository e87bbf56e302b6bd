//! `x-request-id`: caller-controlled text that every program writes into
//! its log lines and journal, answers back, and (the gateway) forwards to
//! introspection. Each program takes a presented id only through
//! [`accept`] and generates its own otherwise, so nothing a caller hides in
//! the header (a credential, a newline, a megabyte) travels any further.

/// The longest id taken from a caller.
pub const MAX_LENGTH: usize = 128;

/// The presented id, trimmed, when it is 1 to [`MAX_LENGTH`] characters of
/// `A-Z a-z 0-9 . _ -` and holds nothing shaped like a secret (a `phx_…`
/// fits the characters, so the charset alone is not enough).
pub fn accept(presented: &str) -> Option<&str> {
    let id = presented.trim();
    let charset = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-');
    let acceptable = !id.is_empty()
        && id.len() <= MAX_LENGTH
        && id.bytes().all(charset)
        && crate::credential::find_full_secrets(id).is_empty();
    acceptable.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_a_caller_may_choose() {
        let longest = "r".repeat(MAX_LENGTH);
        let table: &[(&str, Option<&str>)] = &[
            ("trace-42", Some("trace-42")),
            (
                "  req_0b1c2d3e-0000-4000.v2 ",
                Some("req_0b1c2d3e-0000-4000.v2"),
            ),
            (&longest, Some(&longest)),
            ("", None),
            ("   ", None),
            ("two words", None),
            ("line\nbreak", None),
            ("caf\u{e9}", None),
            ("a/b", None),
            ("<script>", None),
        ];
        for (presented, expected) in table {
            assert_eq!(accept(presented), *expected, "{presented:?}");
        }
        assert_eq!(accept(&format!("{longest}r")), None);
    }

    #[test]
    fn a_credential_is_never_an_id() {
        for prefix in ["phx_", "pha_", "phr_", "phs_", "phe_"] {
            let secret = format!("{prefix}{}", "R".repeat(40));
            assert_eq!(accept(&secret), None, "{prefix}");
            assert_eq!(accept(&format!("oops-{secret}")), None, "{prefix}");
        }
    }
}
