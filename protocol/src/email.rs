//! One canonical email address, the only way any program names a person.
//!
//! An address is accepted only in a form where two spellings of the same
//! person cannot differ: ASCII throughout (as Django's `EmailValidator`
//! requires of the local part; an internationalised domain must arrive in
//! its `xn--` form), a dot-atom local part, a host name of letters, digits
//! and hyphens with at least one dot, and ASCII case folded. Surrounding
//! ASCII whitespace is trimmed; anything invisible inside (controls, format
//! characters such as zero-width spaces, non-ASCII lookalikes such as the
//! KELVIN SIGN) is refused instead of being folded, so an address can never
//! be made to collide with another person's by a Unicode mapping.

use std::fmt;

/// The longest address SMTP carries (RFC 5321 §4.5.3.1.3, a path of 256
/// octets minus its angle brackets).
pub const MAX_LENGTH: usize = 254;

/// The longest local part (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_LENGTH: usize = 64;

/// The longest label of a host name (RFC 1035 §2.3.4).
const MAX_LABEL_LENGTH: usize = 63;

/// An email address in its canonical form: trimmed, checked and lower-case.
/// Two addresses name the same person exactly when they are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

/// Why a text is not an address we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the address is empty")]
    Empty,
    #[error("the address is longer than {MAX_LENGTH} characters")]
    TooLong,
    #[error("the address holds a character that is not printable ASCII")]
    NotPrintableAscii,
    #[error("the address needs exactly one @")]
    NotOneAt,
    #[error("the part before @ is not a dot-atom of at most {MAX_LOCAL_LENGTH} characters")]
    BadLocalPart,
    #[error("the part after @ is not a host name with a dot")]
    BadDomain,
}

impl Email {
    /// The canonical form of `text`, or why there is none.
    pub fn parse(text: &str) -> Result<Email, EmailError> {
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if text.is_empty() {
            return Err(EmailError::Empty);
        }
        if text.len() > MAX_LENGTH {
            return Err(EmailError::TooLong);
        }
        if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(EmailError::NotPrintableAscii);
        }
        let (local, domain) = match text.split_once('@') {
            Some((local, domain)) if !domain.contains('@') => (local, domain),
            _ => return Err(EmailError::NotOneAt),
        };
        if !is_dot_atom(local) || local.len() > MAX_LOCAL_LENGTH {
            return Err(EmailError::BadLocalPart);
        }
        if !is_host_name(domain) {
            return Err(EmailError::BadDomain);
        }
        Ok(Email(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::str::FromStr for Email {
    type Err = EmailError;

    fn from_str(text: &str) -> Result<Email, EmailError> {
        Email::parse(text)
    }
}

/// RFC 5322's dot-atom: atext runs separated by single dots.
fn is_dot_atom(local: &str) -> bool {
    let atext = |byte: u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&byte);
    local
        .split('.')
        .all(|run| !run.is_empty() && run.bytes().all(atext))
}

/// A host name of at least two labels, each of letters, digits and inner
/// hyphens (RFC 1123), the last not all digits (no bare IP addresses).
fn is_host_name(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LENGTH
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    };
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|top| !top.bytes().all(|byte| byte.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<String, EmailError> {
        Email::parse(text).map(Email::into_string)
    }

    #[test]
    fn canonical_forms() {
        let table: &[(&str, Result<&str, EmailError>)] = &[
            ("kim@example.test", Ok("kim@example.test")),
            ("  Kim@Example.TEST\t", Ok("kim@example.test")),
            (
                "first.last+tag@sub.example.com",
                Ok("first.last+tag@sub.example.com"),
            ),
            (
                "o'neil@xn--bcher-kva.example",
                Ok("o'neil@xn--bcher-kva.example"),
            ),
            ("", Err(EmailError::Empty)),
            ("   ", Err(EmailError::Empty)),
            // Lookalikes and invisibles are refused, never folded.
            (
                "\u{212A}im@example.test",
                Err(EmailError::NotPrintableAscii),
            ),
            (
                "ki\u{200B}m@example.test",
                Err(EmailError::NotPrintableAscii),
            ),
            ("kim\u{0}@example.test", Err(EmailError::NotPrintableAscii)),
            (
                "kim@example.test\u{FEFF}",
                Err(EmailError::NotPrintableAscii),
            ),
            (
                "k\u{0130}m@example.test",
                Err(EmailError::NotPrintableAscii),
            ),
            (
                "kim@b\u{00FC}cher.example",
                Err(EmailError::NotPrintableAscii),
            ),
            ("kim @example.test", Err(EmailError::NotPrintableAscii)),
            ("kim\n@example.test", Err(EmailError::NotPrintableAscii)),
            ("kim", Err(EmailError::NotOneAt)),
            ("kim@a@example.test", Err(EmailError::NotOneAt)),
            ("@example.test", Err(EmailError::BadLocalPart)),
            (".kim@example.test", Err(EmailError::BadLocalPart)),
            ("k..im@example.test", Err(EmailError::BadLocalPart)),
            ("kim.@example.test", Err(EmailError::BadLocalPart)),
            ("\"kim\"@example.test", Err(EmailError::BadLocalPart)),
            ("../../etc/passwd@x.y", Err(EmailError::BadLocalPart)),
            ("kim@", Err(EmailError::BadDomain)),
            ("kim@localhost", Err(EmailError::BadDomain)),
            ("kim@.example.test", Err(EmailError::BadDomain)),
            ("kim@example.test.", Err(EmailError::BadDomain)),
            ("kim@-example.test", Err(EmailError::BadDomain)),
            ("kim@exa_mple.test", Err(EmailError::BadDomain)),
            ("kim@127.0.0.1", Err(EmailError::BadDomain)),
            ("kim@[127.0.0.1]", Err(EmailError::BadDomain)),
        ];
        for (text, expected) in table {
            assert_eq!(check(text), expected.map(str::to_owned), "{text:?}");
        }
    }

    #[test]
    fn lengths_at_and_over_the_limits() {
        let local = "a".repeat(MAX_LOCAL_LENGTH);
        assert!(Email::parse(&format!("{local}@example.test")).is_ok());
        assert_eq!(
            check(&format!("{local}a@example.test")),
            Err(EmailError::BadLocalPart)
        );
        let label = "b".repeat(MAX_LABEL_LENGTH);
        assert!(Email::parse(&format!("kim@{label}.test")).is_ok());
        assert_eq!(
            check(&format!("kim@{label}b.test")),
            Err(EmailError::BadDomain)
        );
        let domain = format!("{label}.{label}.{label}.{}.test", "c".repeat(53));
        let longest = format!("kim@{domain}");
        assert_eq!(longest.len(), MAX_LENGTH);
        assert!(Email::parse(&longest).is_ok());
        assert_eq!(check(&format!("k{longest}")), Err(EmailError::TooLong));
    }

    #[test]
    fn the_canonical_form_is_a_fixed_point() {
        let email = Email::parse(" First.Last@Example.Test ").unwrap();
        assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
        assert_eq!(email.domain(), "example.test");
        assert_eq!(email.to_string(), "first.last@example.test");
    }
}
