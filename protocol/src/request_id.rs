//! `x-request-id`: caller-controlled text that every program writes into
//! its log lines and journal, answers back, and (the gateway) forwards to
//! introspection. Each program takes a presented id only through
//! [`accept`] and generates its own otherwise, so nothing a caller hides in
//! the header (a credential, a newline, a megabyte) travels any further.

/// The longest id taken from a caller.
pub const MAX_LENGTH: usize = 128;

/// The presented id, trimmed, when it is 1 to [`MAX_LENGTH`] characters of
/// `A-Z a-z 0-9 . _ -` and holds nothing shaped like a secret: no
/// credential (a `phx_…` fits the characters, so the charset alone is not
/// enough), and nothing [`redact_secret_shaped`] would mask (an
/// authorization code, a session id or a signing secret has no prefix to
/// be known by, only its shape).
///
/// [`redact_secret_shaped`]: crate::credential::redact_secret_shaped
pub fn accept(presented: &str) -> Option<&str> {
    let id = presented.trim();
    let charset = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-');
    let acceptable = !id.is_empty()
        && id.len() <= MAX_LENGTH
        && id.bytes().all(charset)
        && crate::credential::redact_secret_shaped(id) == id;
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

    /// If this fails, an authorization code, a session id or a signing
    /// secret sent as a request id is echoed, journaled and logged in full
    /// (none has a prefix to be known by), or a request id of a common
    /// shape is replaced.
    #[test]
    fn a_secret_without_a_prefix_is_never_an_id() {
        let table: &[(&str, bool)] = &[
            ("0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", true),
            ("0B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D", true),
            ("req_0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", true),
            (
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                true,
            ),
            ("01ARZ3NDEKTSV4RRFFQ69G5FAV", true),
            ("ShortMixed42", true),
            ("Ab3.Cd4.Ef5.Gh6.Ij7.Kl8.Mn9.Op0.Qr1.St2.Uv3", true),
            ("ajuDgVwlLK4AMke9lsqoGfQOgwxPDsibn6Hr7bDKSA8", false),
            ("whsec_fake_Zk3dPq9LmN2xYt7RvB4sWc8HjA1e", false),
            ("trace.lMjioyO9ItefmQktu9yAkFELcTXPAHNvE-bW0bh4ICQ", false),
        ];
        for (id, taken) in table {
            assert_eq!(accept(id).is_some(), *taken, "{id}");
        }
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
