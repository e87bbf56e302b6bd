//! Transcripts: each scenario's HTTP exchange as the two admin journals saw
//! it (method, path, status, masked credential, verdict, reason), without
//! the parts that change from run to run (times, request ids). Committed
//! under `fixtures/transcripts/`, so a change in wire behaviour shows up in
//! review even when every verdict stays green; `just bless` rewrites them
//! deliberately.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use protocol::admin::Journal;

use crate::runner::Journals;

/// The transcript of one run; `None` when a journal could not be read.
pub fn render(journals: &Journals) -> Option<String> {
    let server = journals.server.as_ref()?;
    let gateway = journals.gateway.as_ref()?;
    let mut text = String::new();
    if journals.server_restarts == 0 {
        section(&mut text, "server", server, |_| true);
        section(&mut text, "gateway", gateway, |_| true);
        return Some(text);
    }
    // A crash lands at a moment that varies from run to run by a few
    // milliseconds: how many gateway requests meet the server down (and
    // are answered 503 `introspection_unavailable`) depends on how fast it
    // comes back. Those entries, and only those, are left out; the
    // scenario's [expect.gateway] checks them where they are deterministic.
    // The server's section joins every process's journal, which together
    // hold every request that reached a server.
    let restarts = journals.server_restarts;
    section(
        &mut text,
        &format!("server (restarted {restarts} time(s); every process's journal, in order)"),
        server,
        |_| true,
    );
    section(
        &mut text,
        &format!("gateway ({UNAVAILABLE} entries left out: their number depends on when the restarted server answers)"),
        gateway,
        |entry| entry.verdict.as_deref() != Some(UNAVAILABLE),
    );
    Some(text)
}

/// The gateway's verdict when it cannot reach the introspection endpoint.
pub const UNAVAILABLE: &str = "introspection_unavailable";

fn section(
    text: &mut String,
    name: &str,
    journal: &Journal,
    keep: impl Fn(&protocol::admin::JournalEntry) -> bool,
) {
    let _ = writeln!(text, "# {name}");
    for entry in journal.entries.iter().filter(|entry| keep(entry)) {
        let mut line = format!(
            "{} {} -> {}",
            entry.method,
            without_uuids(&entry.path),
            entry.status
        );
        if let Some(credential) = &entry.credential {
            let _ = write!(line, " [{credential}]");
        }
        if let Some(verdict) = &entry.verdict {
            let _ = write!(line, " {verdict}");
        }
        if let Some(reason) = &entry.reason {
            let _ = write!(line, " ({reason})");
        }
        // Journals hold masks only; this is a second lock on the door.
        let _ = writeln!(text, "{}", protocol::credential::redact_secrets(&line));
    }
}

/// `path` with each UUID segment (a user's, drawn at random, as in
/// `/verify_email/<uuid>`) written `{uuid}`: it changes from run to run.
fn without_uuids(path: &str) -> String {
    let is_uuid = |segment: &str| {
        let groups: Vec<&str> = segment.split('-').collect();
        groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|group| group.bytes().all(|byte| byte.is_ascii_hexdigit()))
    };
    path.split('/')
        .map(|segment| match is_uuid(segment) {
            true => "{uuid}",
            false => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Where a scenario's committed transcript lives.
pub fn committed_path(fixtures: &Path, scenario: &str) -> PathBuf {
    fixtures.join("transcripts").join(format!("{scenario}.txt"))
}

/// Compares `rendered` with the committed transcript (or writes it, when
/// blessing). Returns the mismatch to report, if any.
pub fn check(fixtures: &Path, scenario: &str, rendered: &str, bless: bool) -> Option<String> {
    let path = committed_path(fixtures, scenario);
    if bless {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        return std::fs::write(&path, rendered)
            .err()
            .map(|error| format!("cannot write the transcript {}: {error}", path.display()));
    }
    let Ok(committed) = std::fs::read_to_string(&path) else {
        return Some(format!(
            "no committed transcript {}: review this run's exchange and accept it with `just bless`",
            path.display()
        ));
    };
    (committed != rendered).then(|| {
        format!(
            "the HTTP exchange differs from {} (accept a deliberate change with `just bless`):\n{}",
            path.display(),
            first_difference(&committed, rendered)
        )
    })
}

/// The first differing line of two transcripts, for the report.
pub fn first_difference(committed: &str, rendered: &str) -> String {
    let old: Vec<&str> = committed.lines().collect();
    let new: Vec<&str> = rendered.lines().collect();
    for index in 0..old.len().max(new.len()) {
        let (left, right) = (old.get(index), new.get(index));
        if left != right {
            return format!(
                "    line {}: committed {:?}\n    line {}: observed  {:?}",
                index + 1,
                left.copied().unwrap_or("(nothing)"),
                index + 1,
                right.copied().unwrap_or("(nothing)")
            );
        }
    }
    "    (only line endings differ)".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::admin::JournalEntry;

    fn entry(
        path: &str,
        status: u16,
        credential: Option<&str>,
        verdict: Option<&str>,
    ) -> JournalEntry {
        JournalEntry {
            at: 1_775_000_000,
            request_id: "req-random".into(),
            method: "POST".into(),
            path: path.into(),
            status,
            credential: credential.map(str::to_owned),
            verdict: verdict.map(str::to_owned),
            reason: None,
        }
    }

    fn journals() -> Journals {
        Journals {
            server: Some(Journal {
                entries: vec![entry("/api/agentic/oauth/token", 200, None, None)],
            }),
            gateway: Some(Journal {
                entries: vec![entry(
                    "/wizard/v1/messages",
                    401,
                    Some("pha_***"),
                    Some("insufficient_scope"),
                )],
            }),
            server_restarts: 0,
        }
    }

    #[test]
    fn transcripts_leave_out_what_changes_between_runs() {
        let text = render(&journals()).unwrap();
        assert_eq!(
            text,
            "# server\nPOST /api/agentic/oauth/token -> 200\n# gateway\nPOST /wizard/v1/messages -> 401 [pha_***] insufficient_scope\n"
        );
        assert!(!text.contains("req-random") && !text.contains("1775000000"));
        assert!(render(&Journals::default()).is_none());
    }

    #[test]
    fn uuid_segments_are_left_out() {
        for (path, expected) in [
            (
                "/verify_email/99d930ba-d807-42b0-8492-692ed84c884b",
                "/verify_email/{uuid}",
            ),
            ("/project/1", "/project/1"),
            (
                "/api/x/99d930ba-d807-42b0-8492-692ed84c884",
                "/api/x/99d930ba-d807-42b0-8492-692ed84c884",
            ),
            (
                "/a/zzzzzzzz-d807-42b0-8492-692ed84c884b/b",
                "/a/zzzzzzzz-d807-42b0-8492-692ed84c884b/b",
            ),
        ] {
            assert_eq!(without_uuids(path), expected, "{path}");
        }
    }

    #[test]
    fn after_a_restart_only_the_timing_dependent_entries_are_left_out() {
        let mut journals = journals();
        let gateway = journals.gateway.as_mut().unwrap();
        gateway.entries.push(entry(
            "/wizard/v1/messages",
            503,
            Some("pha_***"),
            Some(UNAVAILABLE),
        ));
        gateway.entries.push(entry(
            "/wizard/v1/messages",
            200,
            Some("pha_***"),
            Some("granted"),
        ));
        let plain = render(&journals).unwrap();
        assert!(plain.contains("-> 503"), "{plain}");
        journals.server_restarts = 1;
        let restarted = render(&journals).unwrap();
        assert!(!restarted.contains("-> 503"), "{restarted}");
        assert!(
            restarted.contains("-> 200 [pha_***] granted"),
            "{restarted}"
        );
        assert!(
            restarted.contains("-> 401 [pha_***] insufficient_scope"),
            "{restarted}"
        );
        assert!(
            restarted.contains("POST /api/agentic/oauth/token -> 200"),
            "{restarted}"
        );
        assert!(
            restarted.starts_with("# server (restarted 1 time(s)"),
            "{restarted}"
        );
        // More or fewer 503s while the server was down: the same transcript.
        journals.gateway.as_mut().unwrap().entries.insert(
            1,
            entry(
                "/wizard/v1/messages",
                503,
                Some("pha_***"),
                Some(UNAVAILABLE),
            ),
        );
        assert_eq!(render(&journals).unwrap(), restarted);
    }

    #[test]
    fn check_blesses_compares_and_names_the_first_difference() {
        let fixtures = tempfile::tempdir().unwrap();
        let text = render(&journals()).unwrap();
        let missing = check(fixtures.path(), "s", &text, false).unwrap();
        assert!(missing.contains("just bless"), "{missing}");
        assert_eq!(check(fixtures.path(), "s", &text, true), None);
        assert_eq!(check(fixtures.path(), "s", &text, false), None);
        let changed = text.replace("-> 401", "-> 200");
        let difference = check(fixtures.path(), "s", &changed, false).unwrap();
        assert!(difference.contains("line 4"), "{difference}");
    }
}
