//! Expectations against what a run produced. Each checker returns the list
//! of mismatches as sentences a person can act on; empty means it held.

use std::collections::BTreeMap;

use protocol::admin::{Journal, StateSummary};

use crate::integrated::IntegratedProject;
use crate::process::Ending;
use crate::project::{Difference, Manifest};
use crate::scenario::{Expect, GatewayExpect, ProjectExpectation, ServerExpect};

/// What one scenario run produced, as plain data.
#[derive(Debug, Clone)]
pub struct Observation {
    pub ending: Ending,
    /// The wizard's stdout then its stderr.
    pub output: String,
    pub project_before: Manifest,
    pub project_after: Manifest,
    /// `GET /_admin/state`, or why it could not be read.
    pub server_state: Result<StateSummary, String>,
    /// The server's `GET /_admin/journal`, or why it could not be read.
    pub server_journal: Result<Journal, String>,
    /// The gateway's `GET /_admin/journal`, or why it could not be read.
    pub gateway_journal: Result<Journal, String>,
}

/// Every expectation of `expect` against `observed`; `integrated` is the
/// app's checklist, required when `expect.project` is `integrated`.
pub fn check(
    expect: &Expect,
    integrated: Option<&IntegratedProject>,
    observed: &Observation,
) -> Vec<String> {
    let mut mismatches = Vec::new();
    mismatches.extend(check_ending(expect.exit_code, observed.ending));
    mismatches.extend(check_output(
        &expect.output_contains,
        &expect.output_lacks,
        &observed.output,
    ));
    mismatches.extend(check_project(
        expect,
        integrated,
        &observed.project_before,
        &observed.project_after,
    ));
    if let Some(server) = &expect.server {
        match &observed.server_state {
            Ok(state) => mismatches.extend(check_server(server, state)),
            Err(error) => mismatches.push(format!("server state unreadable: {error}")),
        }
        if let Some(wanted) = server.requests {
            match &observed.server_journal {
                Ok(journal) => mismatches.extend(check_server_requests(wanted, journal)),
                Err(error) => mismatches.push(format!("server journal unreadable: {error}")),
            }
        }
    }
    if let Some(gateway) = &expect.gateway {
        match &observed.gateway_journal {
            Ok(journal) => mismatches.extend(check_gateway(gateway, journal)),
            Err(error) => mismatches.push(format!("gateway journal unreadable: {error}")),
        }
    }
    mismatches
}

/// The wizard's exit code. A timeout or a signal is always a mismatch.
pub fn check_ending(expected: Option<i32>, ending: Ending) -> Vec<String> {
    match (expected, ending) {
        (_, Ending::TimedOut) => vec!["the wizard timed out and was killed".to_owned()],
        (_, Ending::Signalled(signal)) => {
            vec![format!("the wizard was killed by signal {signal}")]
        }
        (Some(code), Ending::Exited(actual)) if code != actual => {
            vec![format!("wizard exit code: expected {code}, got {actual}")]
        }
        _ => Vec::new(),
    }
}

/// Substrings the wizard's output must contain, and must not.
pub fn check_output(contains: &[String], lacks: &[String], output: &str) -> Vec<String> {
    let mut mismatches = Vec::new();
    for wanted in contains {
        if !output.contains(wanted.as_str()) {
            mismatches.push(format!("wizard output lacks {wanted:?}"));
        }
    }
    for unwanted in lacks {
        if output.contains(unwanted.as_str()) {
            mismatches.push(format!("wizard output contains {unwanted:?}"));
        }
    }
    mismatches
}

/// The project directory against `project` (with the app's checklist
/// `integrated` for `project = "integrated"`), `files_created`,
/// `files_changed` and `file_contains`.
pub fn check_project(
    expect: &Expect,
    integrated: Option<&IntegratedProject>,
    before: &Manifest,
    after: &Manifest,
) -> Vec<String> {
    let mut mismatches = Vec::new();
    let difference = Difference::between(before, after);
    match (expect.project, integrated) {
        (Some(ProjectExpectation::Untouched), _) if !difference.is_empty() => {
            mismatches.push(format!(
                "project should be untouched, but {}",
                describe_difference(&difference)
            ));
        }
        (Some(ProjectExpectation::Integrated), None) => mismatches.push(
            "project should be integrated, but the app has no checklist (fixtures/apps/<app>.integrated.toml)"
                .to_owned(),
        ),
        (Some(ProjectExpectation::Integrated), Some(checklist)) => {
            let files = Files {
                created: &checklist.files_created,
                changed: &checklist.files_changed,
                contain: &checklist.file_contains,
            };
            mismatches.extend(
                check_files(&files, &difference, before, after)
                    .into_iter()
                    .map(|mismatch| format!("project should be integrated: {mismatch}")),
            );
        }
        _ => {}
    }
    let files = Files {
        created: &expect.files_created,
        changed: &expect.files_changed,
        contain: &expect.file_contains,
    };
    mismatches.extend(check_files(&files, &difference, before, after));
    mismatches
}

/// File expectations, from a scenario's `[expect]` or an app's checklist.
struct Files<'a> {
    created: &'a [String],
    changed: &'a [String],
    contain: &'a BTreeMap<String, Vec<String>>,
}

fn check_files(
    files: &Files<'_>,
    difference: &Difference,
    before: &Manifest,
    after: &Manifest,
) -> Vec<String> {
    let mut mismatches = Vec::new();
    for path in files.created {
        if !difference.created.contains(path) {
            let state = if before.contains_key(path) {
                "existed before the run"
            } else {
                "does not exist"
            };
            mismatches.push(format!("{path} should have been created, but it {state}"));
        }
    }
    for path in files.changed {
        if !difference.changed.contains(path) {
            let state = match (before.contains_key(path), after.contains_key(path)) {
                (false, false) => "does not exist",
                (false, true) => "did not exist before the run",
                (true, false) => "was removed",
                (true, true) => "is unchanged",
            };
            mismatches.push(format!("{path} should have changed, but it {state}"));
        }
    }
    for (path, needles) in files.contain {
        let Some(bytes) = after.get(path) else {
            mismatches.push(format!("{path} should exist, but it does not"));
            continue;
        };
        for needle in needles {
            if !contains_text(bytes, needle) {
                mismatches.push(format!("{path} lacks {needle:?}"));
            }
        }
    }
    mismatches
}

/// The given fields of `/_admin/state`.
pub fn check_server(expect: &ServerExpect, state: &StateSummary) -> Vec<String> {
    let mut mismatches = Vec::new();
    let counts = [
        ("users", expect.users, state.users),
        ("organizations", expect.organizations, state.organizations),
        ("teams", expect.teams, state.teams),
        (
            "authorization_codes",
            expect.authorization_codes,
            state.authorization_codes,
        ),
        ("access_tokens", expect.access_tokens, state.access_tokens),
        (
            "refresh_tokens",
            expect.refresh_tokens,
            state.refresh_tokens,
        ),
        (
            "personal_api_keys",
            expect.personal_api_keys,
            state.personal_api_keys,
        ),
    ];
    for (field, wanted, actual) in counts {
        if let Some(wanted) = wanted {
            if wanted != actual {
                mismatches.push(format!(
                    "server state {field}: expected {wanted}, got {actual}"
                ));
            }
        }
    }
    let lists = [
        (
            "access_token_scopes",
            &expect.access_token_scopes,
            &state.access_token_scopes,
        ),
        (
            "personal_api_key_scopes",
            &expect.personal_api_key_scopes,
            &state.personal_api_key_scopes,
        ),
    ];
    for (field, wanted, actual) in lists {
        if let Some(wanted) = wanted {
            if wanted != actual {
                mismatches.push(format!(
                    "server state {field}: expected {wanted:?}, got {actual:?}"
                ));
            }
        }
    }
    if !expect.access_token_scopes_include.is_empty() {
        if state.access_token_scopes.is_empty() {
            mismatches.push(
                "server state access_token_scopes_include: there is no access token".to_owned(),
            );
        }
        for (index, held) in state.access_token_scopes.iter().enumerate() {
            let held: Vec<&str> = held.split_whitespace().collect();
            let missing: Vec<&String> = expect
                .access_token_scopes_include
                .iter()
                .filter(|scope| !held.contains(&scope.as_str()))
                .collect();
            if !missing.is_empty() {
                mismatches.push(format!(
                    "server state access_token_scopes_include: access token {} lacks {missing:?} (it holds {} scopes)",
                    index + 1,
                    held.len()
                ));
            }
        }
    }
    mismatches
}

/// The number of requests in the server's journal (admin routes are not
/// journaled), naming them when it is wrong.
pub fn check_server_requests(wanted: usize, journal: &Journal) -> Vec<String> {
    if journal.entries.len() == wanted {
        return Vec::new();
    }
    let seen: Vec<String> = journal
        .entries
        .iter()
        .map(|entry| format!("{} {} {}", entry.method, entry.path, entry.status))
        .collect();
    vec![format!(
        "server requests: expected {wanted}, got {} {seen:?}",
        seen.len()
    )]
}

/// The verdicts of the gateway journal, in order, skipping entries that
/// carry none.
pub fn verdicts(journal: &Journal) -> Vec<String> {
    journal
        .entries
        .iter()
        .filter_map(|entry| entry.verdict.clone())
        .collect()
}

/// The gateway journal's verdicts.
pub fn check_gateway(expect: &GatewayExpect, journal: &Journal) -> Vec<String> {
    let mut mismatches = Vec::new();
    let seen = verdicts(journal);
    if let Some(wanted) = &expect.verdicts {
        if *wanted != seen {
            mismatches.push(format!(
                "gateway verdicts: expected {wanted:?}, got {seen:?}"
            ));
        }
    }
    for wanted in &expect.verdicts_include {
        if !seen.contains(wanted) {
            mismatches.push(format!(
                "gateway verdicts should include {wanted:?}, got {seen:?}"
            ));
        }
    }
    if let Some(only) = &expect.verdicts_all {
        if seen.is_empty() || seen.iter().any(|verdict| verdict != only) {
            mismatches.push(format!(
                "gateway verdicts should all be {only:?} (at least one), got {seen:?}"
            ));
        }
    }
    mismatches
}

fn contains_text(bytes: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(bytes).contains(needle)
}

pub fn describe_difference(difference: &Difference) -> String {
    let mut parts = Vec::new();
    if !difference.created.is_empty() {
        parts.push(format!("created {}", difference.created.join(", ")));
    }
    if !difference.changed.is_empty() {
        parts.push(format!("changed {}", difference.changed.join(", ")));
    }
    if !difference.removed.is_empty() {
        parts.push(format!("removed {}", difference.removed.join(", ")));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::admin::JournalEntry;

    fn manifest(pairs: &[(&str, &str)]) -> Manifest {
        pairs
            .iter()
            .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
            .collect()
    }

    fn fixture() -> Manifest {
        manifest(&[
            ("package.json", r#"{"dependencies":{"next":"15"}}"#),
            ("app/page.tsx", "export default function Page() {}"),
        ])
    }

    fn integrated() -> Manifest {
        manifest(&[
            (
                "package.json",
                r#"{"dependencies":{"next":"15","posthog-js":"^1"}}"#,
            ),
            ("app/page.tsx", "export default function Page() {}"),
            ("instrumentation-client.ts", "posthog.init()"),
            (
                ".env.local",
                "NEXT_PUBLIC_POSTHOG_KEY=phc_abc\nNEXT_PUBLIC_POSTHOG_HOST=http://x\n",
            ),
        ])
    }

    fn journal(verdicts: &[Option<&str>]) -> Journal {
        Journal {
            entries: verdicts
                .iter()
                .map(|verdict| JournalEntry {
                    at: 0,
                    request_id: "r".to_owned(),
                    method: "POST".to_owned(),
                    path: "/wizard/v1/messages".to_owned(),
                    status: 200,
                    credential: Some("pha_***".to_owned()),
                    verdict: verdict.map(str::to_owned),
                    reason: None,
                })
                .collect(),
        }
    }

    #[test]
    fn exit_code_table() {
        let cases = [
            (Some(3), Ending::Exited(3), 0),
            (Some(3), Ending::Exited(0), 1),
            (None, Ending::Exited(1), 0),
            (None, Ending::TimedOut, 1),
            (Some(0), Ending::Signalled(9), 1),
        ];
        for (expected, ending, mismatches) in cases {
            assert_eq!(
                check_ending(expected, ending).len(),
                mismatches,
                "{expected:?} {ending:?}"
            );
        }
    }

    #[test]
    fn output_contains_and_lacks() {
        let output = "Authentication failed (401)\nsee /tmp/log";
        let contains = vec![
            "Authentication failed (401)".to_owned(),
            "missing".to_owned(),
        ];
        let lacks = vec!["panicked".to_owned(), "/tmp/log".to_owned()];
        assert_eq!(
            check_output(&contains, &lacks, output),
            [
                "wizard output lacks \"missing\"",
                "wizard output contains \"/tmp/log\""
            ]
        );
    }

    #[test]
    fn untouched_project_names_what_changed() {
        let expect = Expect {
            project: Some(ProjectExpectation::Untouched),
            ..Expect::default()
        };
        assert!(check_project(&expect, None, &fixture(), &fixture()).is_empty());
        let mismatches = check_project(&expect, None, &fixture(), &integrated());
        assert_eq!(mismatches.len(), 1);
        assert!(mismatches[0].contains("created .env.local, instrumentation-client.ts"));
        assert!(mismatches[0].contains("changed package.json"));
    }

    /// The next-js checklist, as `fixtures/apps/next-js.integrated.toml`
    /// states it (without the page edit, which `integrated()` lacks).
    fn next_js_checklist() -> IntegratedProject {
        IntegratedProject {
            files_created: vec![
                ".env.local".to_owned(),
                "instrumentation-client.ts".to_owned(),
            ],
            files_changed: vec!["package.json".to_owned()],
            file_contains: [
                (
                    ".env.local".to_owned(),
                    vec![
                        "NEXT_PUBLIC_POSTHOG_KEY=phc_".to_owned(),
                        "NEXT_PUBLIC_POSTHOG_HOST=http".to_owned(),
                    ],
                ),
                ("package.json".to_owned(), vec!["posthog-js".to_owned()]),
            ]
            .into(),
        }
    }

    #[test]
    fn integrated_project_follows_the_apps_checklist() {
        let expect = Expect {
            project: Some(ProjectExpectation::Integrated),
            ..Expect::default()
        };
        let checklist = next_js_checklist();
        let check = |after: &Manifest| check_project(&expect, Some(&checklist), &fixture(), after);
        assert!(check(&integrated()).is_empty());
        assert_eq!(
            check(&fixture()),
            [
                "project should be integrated: .env.local should have been created, but it does not exist",
                "project should be integrated: instrumentation-client.ts should have been created, but it does not exist",
                "project should be integrated: package.json should have changed, but it is unchanged",
                "project should be integrated: .env.local should exist, but it does not",
                "project should be integrated: package.json lacks \"posthog-js\"",
            ]
        );
        let mut secret_key = integrated();
        secret_key.insert(
            ".env.local".to_owned(),
            b"NEXT_PUBLIC_POSTHOG_KEY=phx_oops\nNEXT_PUBLIC_POSTHOG_HOST=http://x\n".to_vec(),
        );
        assert_eq!(
            check(&secret_key),
            ["project should be integrated: .env.local lacks \"NEXT_PUBLIC_POSTHOG_KEY=phc_\""]
        );
        assert_eq!(
            check_project(&expect, None, &fixture(), &integrated()).len(),
            1,
            "without a checklist, integrated cannot pass"
        );
    }

    #[test]
    fn files_created_changed_and_contents() {
        let expect = Expect {
            files_created: vec![
                "instrumentation-client.ts".to_owned(),
                "package.json".to_owned(),
            ],
            files_changed: vec!["package.json".to_owned(), "app/page.tsx".to_owned()],
            file_contains: [(
                ".env.local".to_owned(),
                vec!["NEXT_PUBLIC_POSTHOG_HOST=".to_owned(), "phx_".to_owned()],
            )]
            .into(),
            ..Expect::default()
        };
        assert_eq!(
            check_project(&expect, None, &fixture(), &integrated()),
            [
                "package.json should have been created, but it existed before the run",
                "app/page.tsx should have changed, but it is unchanged",
                ".env.local lacks \"phx_\"",
            ]
        );
    }

    #[test]
    fn server_state_checks_only_the_given_fields() {
        let state = StateSummary {
            users: 1,
            personal_api_keys: 1,
            access_token_scopes: vec![String::new()],
            personal_api_key_scopes: vec![String::new()],
            ..StateSummary::default()
        };
        let good = ServerExpect {
            users: Some(1),
            access_token_scopes: Some(vec![String::new()]),
            ..ServerExpect::default()
        };
        assert!(check_server(&good, &state).is_empty());
        let bad = ServerExpect {
            users: Some(0),
            personal_api_key_scopes: Some(vec!["user:read".to_owned()]),
            ..ServerExpect::default()
        };
        assert_eq!(
            check_server(&bad, &state),
            [
                "server state users: expected 0, got 1",
                "server state personal_api_key_scopes: expected [\"user:read\"], got [\"\"]",
            ]
        );
    }

    #[test]
    fn included_scopes_are_checked_in_every_access_token() {
        let state = StateSummary {
            access_token_scopes: vec![
                "user:read llm_gateway:read project:read".to_owned(),
                "user:read".to_owned(),
            ],
            ..StateSummary::default()
        };
        let include = |scopes: &[&str]| ServerExpect {
            access_token_scopes_include: scopes.iter().map(|scope| scope.to_string()).collect(),
            ..ServerExpect::default()
        };
        assert!(check_server(&include(&["user:read"]), &state).is_empty());
        assert_eq!(
            check_server(&include(&["llm_gateway:read", "user:read"]), &state),
            ["server state access_token_scopes_include: access token 2 lacks [\"llm_gateway:read\"] (it holds 1 scopes)"]
        );
        assert_eq!(
            check_server(&include(&["user:read"]), &StateSummary::default()),
            ["server state access_token_scopes_include: there is no access token"]
        );
    }

    #[test]
    fn gateway_verdict_checks() {
        let seen = journal(&[None, Some("granted"), Some("granted")]);
        let exact = GatewayExpect {
            verdicts: Some(vec!["granted".to_owned(), "granted".to_owned()]),
            ..GatewayExpect::default()
        };
        assert!(check_gateway(&exact, &seen).is_empty());
        let all = GatewayExpect {
            verdicts_all: Some("granted".to_owned()),
            ..GatewayExpect::default()
        };
        assert!(check_gateway(&all, &seen).is_empty());
        assert_eq!(check_gateway(&all, &journal(&[])).len(), 1);
        let include = GatewayExpect {
            verdicts_include: vec!["insufficient_scope".to_owned()],
            ..GatewayExpect::default()
        };
        assert_eq!(
            check_gateway(&include, &seen),
            ["gateway verdicts should include \"insufficient_scope\", got [\"granted\", \"granted\"]"]
        );
    }

    #[test]
    fn unreadable_admin_state_is_a_mismatch_only_when_asked_for() {
        let observed = Observation {
            ending: Ending::Exited(0),
            output: String::new(),
            project_before: fixture(),
            project_after: fixture(),
            server_state: Err("connection refused".to_owned()),
            server_journal: Err("connection refused".to_owned()),
            gateway_journal: Err("connection refused".to_owned()),
        };
        assert!(check(&Expect::default(), None, &observed).is_empty());
        let expect = Expect {
            server: Some(ServerExpect::default()),
            gateway: Some(GatewayExpect::default()),
            ..Expect::default()
        };
        assert_eq!(check(&expect, None, &observed).len(), 2);
        let counting = Expect {
            server: Some(ServerExpect {
                requests: Some(0),
                ..ServerExpect::default()
            }),
            ..Expect::default()
        };
        assert_eq!(
            check(&counting, None, &observed),
            [
                "server state unreadable: connection refused",
                "server journal unreadable: connection refused"
            ]
        );
    }

    #[test]
    fn server_request_count() {
        let mut seen = journal(&[None]);
        seen.entries[0].path = "/api/agentic/provisioning/account_requests".to_owned();
        assert!(check_server_requests(1, &seen).is_empty());
        assert!(check_server_requests(0, &journal(&[])).is_empty());
        assert_eq!(
            check_server_requests(0, &seen),
            ["server requests: expected 0, got 1 [\"POST /api/agentic/provisioning/account_requests 200\"]"]
        );
        let observed = Observation {
            ending: Ending::Exited(2),
            output: String::new(),
            project_before: fixture(),
            project_after: fixture(),
            server_state: Ok(StateSummary::default()),
            server_journal: Ok(seen),
            gateway_journal: Ok(journal(&[])),
        };
        let expect = Expect {
            server: Some(ServerExpect {
                users: Some(0),
                requests: Some(0),
                ..ServerExpect::default()
            }),
            ..Expect::default()
        };
        assert_eq!(check(&expect, None, &observed).len(), 1);
    }
}
