//! Today's consent for an existing user (the real server's
//! `ee/api/agentic_provisioning/accounts.py` and `views/authorize.py`), as
//! plain functions over plain data: the state a pending consent is known
//! by, the URL the account request answers with, and what
//! `GET /api/agentic/authorize` and the consent page's approval decide.
//!
//! Also where the app's sign-in page (`/login`) may send a browser on to.
//!
//! The handlers are `routes/account_requests.rs` (stores the pending
//! consent), `routes/agentic_authorize.rs` (the entry the partner sends the
//! person to), `routes/consent_page.rs` (`/agentic/authorize`, the page and
//! its approval) and `routes/sign_in_page.rs` (`/login`); the storage is
//! `db/consent.rs`.

use crate::db::consent::PendingConsent;
use crate::db::{Application, Team};

/// How long a pending consent waits for the person (seconds).
pub const PENDING_CONSENT_SECONDS: i64 = 600;

/// The `error` values the real server redirects or answers with.
pub const MISSING_STATE: &str = "missing_state";
pub const EXPIRED_OR_INVALID_STATE: &str = "expired_or_invalid_state";
pub const NO_ORGANIZATION: &str = "no_organization";
pub const PARTNER_DEACTIVATED: &str = "partner_deactivated";
pub const MISSING_CALLBACK: &str = "missing_callback";
pub const EMAIL_MISMATCH: &str = "email_mismatch";
pub const TEAM_NOT_FOUND: &str = "team_not_found";
pub const TEAM_NOT_ACCESSIBLE: &str = "team_not_accessible";
pub const STATE_AND_TEAM_REQUIRED: &str = "state and team_id are required";

/// The consent page, where the entry sends a person who may approve.
pub const CONSENT_PAGE: &str = "/agentic/authorize";
/// Where the entry sends a person signed in as someone else.
pub const ACCOUNT_MISMATCH_PAGE: &str = "/agentic/account-mismatch";
/// The sign-in page of a person who is not signed in.
pub const SIGN_IN_PAGE: &str = "/login";

/// Whether `state` can name a pending consent: 1 to 256 characters of
/// `A-Z a-z 0-9 _ -` (anything else is `missing_state`).
pub fn state_is_safe(state: &str) -> bool {
    (1..=256).contains(&state.len())
        && state
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// The `requires_auth` URL of a pending consent:
/// `<server>/api/agentic/authorize?state=…&scope=…`.
pub fn consent_url(public_url: &str, state: &str, scopes: &[String]) -> String {
    let query = serde_urlencoded::to_string([("state", state), ("scope", &scopes.join(" "))])
        .unwrap_or_default();
    format!("{public_url}{}?{query}", protocol::paths::AGENTIC_AUTHORIZE)
}

/// Where an approved consent sends the code: the partner's first
/// registered redirect URI, whatever the caller would like (`None`: the
/// partner registered none, and the flow fails rather than guess).
pub fn callback(registered: &[String]) -> Option<&str> {
    registered.first().map(String::as_str)
}

/// `next` when it is a path of this site (one leading `/`, no scheme, no
/// backslash, no control character or space), else `/`: the sign-in page
/// never sends a browser elsewhere.
pub fn in_app_path(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path
                    .chars()
                    .any(|c| c == '\\' || c.is_control() || c.is_whitespace()) =>
        {
            path
        }
        _ => "/",
    }
}

/// `/login?next=<path>`: where a person who is not signed in goes first.
pub fn sign_in_location(next: &str) -> String {
    format!(
        "{}?{}",
        SIGN_IN_PAGE,
        serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
    )
}

/// What `GET /api/agentic/authorize` finds, for a signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFacts<'a> {
    /// The `state` query parameter, as sent.
    pub state: Option<&'a str>,
    /// The live pending consent it names, if any.
    pub pending: Option<&'a PendingConsent>,
    /// The signed-in person's email.
    pub email: &'a str,
    /// Their teams, demo ones included (their organizations).
    pub teams: &'a [Team],
    /// The partner that asked.
    pub partner: Option<&'a Application>,
}

/// What the entry does, in the real server's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `302 /?error=<error>` (the app's home page explains it).
    Home { error: &'static str },
    /// `302 /?error=partner_deactivated`, the pending consent forgotten.
    PartnerDeactivated,
    /// `302 /agentic/account-mismatch?…`: signed in as someone else.
    Mismatch { expected_email: String },
    /// `302 /agentic/authorize?state=…`, after creating a project in this
    /// organization when the person has none but a demo one.
    ConsentPage { create_team_in: Option<String> },
}

/// The entry's decision.
pub fn entry(facts: &EntryFacts<'_>) -> Entry {
    if !facts.state.is_some_and(state_is_safe) {
        return Entry::Home {
            error: MISSING_STATE,
        };
    }
    let Some(pending) = facts.pending else {
        return Entry::Home {
            error: EXPIRED_OR_INVALID_STATE,
        };
    };
    if pending.email != facts.email {
        return Entry::Mismatch {
            expected_email: pending.email.clone(),
        };
    }
    let Some(first) = facts.teams.first() else {
        return Entry::Home {
            error: NO_ORGANIZATION,
        };
    };
    let create_team_in = match facts.teams.iter().any(|team| !team.is_demo) {
        true => None,
        false => Some(first.organization_id.clone()),
    };
    if facts.partner.is_some_and(|partner| !partner.active) {
        return Entry::PartnerDeactivated;
    }
    Entry::ConsentPage { create_team_in }
}

/// Why an approval is refused: the real confirm endpoint's status and
/// `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub error: &'static str,
    /// The pending consent is forgotten too.
    pub forget: bool,
}

impl Refused {
    const fn new(status: u16, error: &'static str) -> Refused {
        Refused {
            status,
            error,
            forget: false,
        }
    }
}

/// What an approval finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalFacts<'a> {
    pub state: Option<&'a str>,
    /// The chosen project, as sent.
    pub team_id: Option<&'a str>,
    pub pending: Option<&'a PendingConsent>,
    pub email: &'a str,
    /// The chosen team, if it exists and is not a demo.
    pub team: Option<&'a Team>,
    /// Whether the person belongs to that team's organization.
    pub team_in_their_organizations: bool,
    pub partner: Option<&'a Application>,
    /// The partner's registered redirect URIs.
    pub registered: &'a [String],
}

/// The approval's decision, in the real server's order: the callback to
/// send the code to, or the refusal.
pub fn approval<'a>(facts: &ApprovalFacts<'a>) -> Result<&'a str, Refused> {
    let state_ok = facts.state.is_some_and(state_is_safe);
    if !state_ok || facts.team_id.is_none_or(str::is_empty) {
        return Err(Refused::new(400, STATE_AND_TEAM_REQUIRED));
    }
    let Some(pending) = facts.pending else {
        return Err(Refused::new(400, EXPIRED_OR_INVALID_STATE));
    };
    if pending.email != facts.email {
        return Err(Refused::new(403, EMAIL_MISMATCH));
    }
    if facts.team.is_none() {
        return Err(Refused::new(404, TEAM_NOT_FOUND));
    }
    if !facts.team_in_their_organizations {
        return Err(Refused::new(403, TEAM_NOT_ACCESSIBLE));
    }
    if facts.partner.is_some_and(|partner| !partner.active) {
        return Err(Refused {
            forget: true,
            ..Refused::new(403, PARTNER_DEACTIVATED)
        });
    }
    let callback = facts.partner.and_then(|_| callback(facts.registered));
    callback.ok_or(Refused::new(400, MISSING_CALLBACK))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(email: &str) -> PendingConsent {
        PendingConsent {
            state_hash: "h".into(),
            client_id: "partner".into(),
            email: email.into(),
            scopes: "query:read".into(),
            code_challenge: "c".into(),
            region: "us".into(),
            created_at: 0,
            expires_at: 600,
        }
    }

    fn team(id: i64, organization: &str, is_demo: bool) -> Team {
        Team::for_test(id, organization, is_demo)
    }

    fn partner(active: bool) -> Application {
        Application {
            client_id: "partner".into(),
            label: "Partner".into(),
            kind: "partner".into(),
            auth_method: crate::db::AuthMethod::Pkce,
            secrets: Vec::new(),
            active,
            can_create_accounts: true,
            can_provision_resources: true,
            can_issue_deep_links: false,
            issues_personal_api_key: false,
            skip_existing_user_consent: false,
            scope_ceiling: String::new(),
            rate_limits: Default::default(),
        }
    }

    #[test]
    fn states_table() {
        for (state, safe) in [
            ("abc_DEF-123", true),
            ("", false),
            ("a b", false),
            ("a%20b", false),
            ("a.b", false),
            (&"x".repeat(256), true),
            (&"x".repeat(257), false),
        ] {
            assert_eq!(state_is_safe(state), safe, "{state:?}");
        }
        assert_eq!(
            consent_url("http://s", "st", &["query:read".into(), "user:read".into()]),
            "http://s/api/agentic/authorize?state=st&scope=query%3Aread+user%3Aread"
        );
    }

    #[test]
    fn entry_table() {
        let mine = pending("me@example.com");
        let theirs = pending("other@example.com");
        let one = [team(1, "o1", false)];
        let demo = [team(2, "o1", true)];
        let (active, inactive) = (partner(true), partner(false));
        let facts = |state, pending, teams, partner| EntryFacts {
            state,
            pending,
            email: "me@example.com",
            teams,
            partner,
        };
        let home = |error| Entry::Home { error };
        let cases: Vec<(EntryFacts, Entry)> = vec![
            (
                facts(None, Some(&mine), &one, Some(&active)),
                home(MISSING_STATE),
            ),
            (
                facts(Some("a b"), Some(&mine), &one, Some(&active)),
                home(MISSING_STATE),
            ),
            (
                facts(Some("s"), None, &one, Some(&active)),
                home(EXPIRED_OR_INVALID_STATE),
            ),
            (
                facts(Some("s"), Some(&theirs), &one, Some(&active)),
                Entry::Mismatch {
                    expected_email: "other@example.com".into(),
                },
            ),
            (
                facts(Some("s"), Some(&mine), &[], Some(&active)),
                home(NO_ORGANIZATION),
            ),
            (
                facts(Some("s"), Some(&mine), &one, Some(&inactive)),
                Entry::PartnerDeactivated,
            ),
            (
                facts(Some("s"), Some(&mine), &one, Some(&active)),
                Entry::ConsentPage {
                    create_team_in: None,
                },
            ),
            (
                facts(Some("s"), Some(&mine), &demo, None),
                Entry::ConsentPage {
                    create_team_in: Some("o1".into()),
                },
            ),
        ];
        for (facts, expected) in cases {
            assert_eq!(entry(&facts), expected, "{facts:?}");
        }
    }

    #[test]
    fn approval_table() {
        let mine = pending("me@example.com");
        let theirs = pending("other@example.com");
        let chosen = team(1, "o1", false);
        let (active, inactive) = (partner(true), partner(false));
        let registered = ["https://partner.example/cb".to_owned()];
        let base = ApprovalFacts {
            state: Some("s"),
            team_id: Some("1"),
            pending: Some(&mine),
            email: "me@example.com",
            team: Some(&chosen),
            team_in_their_organizations: true,
            partner: Some(&active),
            registered: &registered,
        };
        let refused = |facts: &ApprovalFacts| {
            approval(facts)
                .map(str::to_owned)
                .map_err(|r| (r.status, r.error))
        };
        assert_eq!(approval(&base), Ok("https://partner.example/cb"));
        let cases: Vec<(ApprovalFacts, (u16, &str))> = vec![
            (
                ApprovalFacts {
                    state: None,
                    ..base.clone()
                },
                (400, STATE_AND_TEAM_REQUIRED),
            ),
            (
                ApprovalFacts {
                    team_id: None,
                    ..base.clone()
                },
                (400, STATE_AND_TEAM_REQUIRED),
            ),
            (
                ApprovalFacts {
                    pending: None,
                    ..base.clone()
                },
                (400, EXPIRED_OR_INVALID_STATE),
            ),
            (
                ApprovalFacts {
                    pending: Some(&theirs),
                    ..base.clone()
                },
                (403, EMAIL_MISMATCH),
            ),
            (
                ApprovalFacts {
                    team: None,
                    ..base.clone()
                },
                (404, TEAM_NOT_FOUND),
            ),
            (
                ApprovalFacts {
                    team_in_their_organizations: false,
                    ..base.clone()
                },
                (403, TEAM_NOT_ACCESSIBLE),
            ),
            (
                ApprovalFacts {
                    partner: Some(&inactive),
                    ..base.clone()
                },
                (403, PARTNER_DEACTIVATED),
            ),
            (
                ApprovalFacts {
                    partner: None,
                    ..base.clone()
                },
                (400, MISSING_CALLBACK),
            ),
            (
                ApprovalFacts {
                    registered: &[],
                    ..base.clone()
                },
                (400, MISSING_CALLBACK),
            ),
        ];
        for (facts, expected) in cases {
            assert_eq!(refused(&facts), Err(expected), "{facts:?}");
        }
        let forgotten = approval(&ApprovalFacts {
            partner: Some(&inactive),
            ..base.clone()
        });
        assert!(forgotten.is_err_and(|refused| refused.forget));
    }

    #[test]
    fn next_stays_on_this_site() {
        for (next, expected) in [
            (
                Some("/api/agentic/authorize?state=abc"),
                "/api/agentic/authorize?state=abc",
            ),
            (Some("/"), "/"),
            (None, "/"),
            (Some(""), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("//evil.example/"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("/a b"), "/"),
            (Some("/a\nLocation: x"), "/"),
        ] {
            assert_eq!(in_app_path(next), expected, "{next:?}");
        }
        assert_eq!(
            sign_in_location("/api/agentic/authorize?state=a"),
            "/login?next=%2Fapi%2Fagentic%2Fauthorize%3Fstate%3Da"
        );
    }
}
