//! What a person sees in each flow, pinned as insta snapshots: usage
//! errors, the 401 variants, the `--api-key` prefix warning, region
//! discovery, `doctor`, the interactive login fallback and the second run.
//! Temp paths, ports, `state` and PKCE challenges are redacted after their
//! shape is checked; credentials only ever appear masked (`pha_***`), and
//! every output and the verbose log are scanned for full ones.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::cli::{assert_no_secrets, Sandbox};
use crate::stub::{self, Api, Gateway, Options, FAKE_ACCESS_TOKEN, FAKE_PERSONAL_KEY, LOGIN_CODE};

const INSUFFICIENT_SCOPE: &str =
    r#"Bearer realm="llm-gateway", error="insufficient_scope", scope="llm_gateway:read""#;
const SIGNUP_SCOPE: &str = "user:read project:read llm_gateway:read dashboard:write insight:write query:read notebook:write event_definition:write";
const LOGIN_SCOPE: &str = "user:read project:read llm_gateway:read dashboard:write insight:write query:read notebook:write event_definition:write health_issue:read wizard_session:read wizard_session:write organization:read";

/// The script of a Next.js integration: one file written, the SDK added.
fn next_js_script() -> Gateway {
    Gateway::Script(vec![
        json!({"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "instrumentation-client.ts", "content": "init()\n"}}),
        // Claude Code's rule: a file is read before it is edited.
        json!({"type": "tool_use", "id": "t0", "name": "Read", "input": {"file_path": "package.json"}}),
        json!({"type": "tool_use", "id": "t2", "name": "Edit", "input": {"file_path": "package.json", "old_string": "\"next\": \"15.3.3\"", "new_string": "\"next\": \"15.3.3\",\n    \"posthog-js\": \"^1.200.0\""}}),
    ])
}

/// Replaces what changes between runs by a label, after checking that
/// each redacted value has the expected shape.
fn redact(text: &str, sandbox: &Sandbox, servers: &[(&str, &str)]) -> String {
    let mut text = text.to_owned();
    for (url, label) in servers {
        text = text.replace(url, label);
    }
    let root = sandbox.root.path();
    if let Ok(canonical) = root.canonicalize() {
        text = text.replace(&canonical.display().to_string(), "[SANDBOX]");
    }
    text = text.replace(&root.display().to_string(), "[SANDBOX]");
    text = redact_after(&text, "localhost:", "[PORT]", |value| {
        value.chars().all(|c| c.is_ascii_digit()) && value.parse::<u16>().is_ok()
    });
    text = redact_after(&text, "localhost%3A", "[PORT]", |value| {
        value.chars().all(|c| c.is_ascii_digit()) && value.parse::<u16>().is_ok()
    });
    text = redact_after(&text, "state=", "[STATE]", |value| {
        value.len() == 32 && value.chars().all(|c| c.is_ascii_hexdigit())
    });
    text = redact_after(&text, "code_challenge=", "[CHALLENGE]", |value| {
        value.len() == 43
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    text
}

fn redact_after(text: &str, marker: &str, label: &str, shape: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(position) = rest.find(marker) {
        let after = &rest[position + marker.len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(after.len());
        let value = &after[..end];
        assert!(
            value.is_empty() || shape(value),
            "{marker}{value} does not have the expected shape"
        );
        out.push_str(&rest[..position + marker.len()]);
        out.push_str(if value.is_empty() { "" } else { label });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `exit N` then stdout and stderr, redacted: what a person sees.
fn seen(output: &std::process::Output, sandbox: &Sandbox, servers: &[(&str, &str)]) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        redact(&text(&output.stdout), sandbox, servers),
        redact(&text(&output.stderr), sandbox, servers)
    )
}

#[test]
fn usage_errors_as_a_person_sees_them() {
    let sandbox = Sandbox::new();
    let cases: &[&[&str]] = &[
        &[],
        &["--signup"],
        &["--signup", "--email", "a@example.com", "--scopes", ","],
        &["--signup", "--ci", "--email", "a@example.com"],
        &["--ci"],
        &["provision"],
    ];
    let mut report = String::new();
    for arguments in cases {
        let output = sandbox.wizard().args(*arguments).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
        report.push_str(&format!(
            "$ wizard {}\n{}\n",
            arguments.join(" "),
            redact(&text(&output.stderr), &sandbox, &[])
        ));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn gateway_401_variants() {
    // (name, wizard arguments, stub options, settings conflict)
    let scope_bug = Options::new(Gateway::Unauthorized(INSUFFICIENT_SCOPE), "");
    let conflict = Options::new(
        Gateway::Unauthorized(r#"Bearer realm="llm-gateway", error="invalid_token""#),
        SIGNUP_SCOPE,
    );
    let mut generic = Options::new(Gateway::Unauthorized(""), "");
    generic.gateway_credential = FAKE_PERSONAL_KEY;
    let cases: [(&str, &[&str], Options, bool); 3] = [
        (
            "scope bug",
            &["--signup", "--email", "a@example.com", "--scopes", "none"],
            scope_bug,
            false,
        ),
        (
            "settings conflict",
            &["--signup", "--email", "a@example.com"],
            conflict,
            true,
        ),
        (
            "generic",
            &["--ci", "--api-key", FAKE_PERSONAL_KEY],
            generic,
            false,
        ),
    ];
    let mut report = String::new();
    for (name, arguments, options, conflict) in cases {
        let sandbox = Sandbox::new();
        if conflict {
            let settings = sandbox.root.path().join("home/.claude/settings.json");
            std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
            std::fs::write(&settings, r#"{"env": {"ANTHROPIC_AUTH_TOKEN": "x"}}"#).unwrap();
        }
        let stub = stub::start_with(options);
        let before = sandbox.snapshot();
        let output = sandbox.against(&stub.url).args(arguments).output().unwrap();
        assert_eq!(output.status.code(), Some(3), "{name}");
        assert_eq!(
            sandbox.snapshot(),
            before,
            "{name}: the project must be untouched"
        );
        assert_no_secrets(&sandbox, &output);
        report.push_str(&format!(
            "=== {name}\n{}\n",
            seen(&output, &sandbox, &[(&stub.url, "[SERVER]")])
        ));
    }
    insta::assert_snapshot!(report);
}

/// If this fails, the wizard writes what the agent staged on turn 1 even
/// though the gateway refused turn 2: the "nothing was written" promise
/// holds only for a refusal of the first turn.
#[test]
fn a_refusal_after_edits_were_staged_writes_nothing() {
    for status in [401, 403] {
        let Gateway::Script(script) = next_js_script() else {
            unreachable!()
        };
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stub = stub::start(
            Gateway::RefusedAfter {
                status,
                after: 1,
                calls: calls.clone(),
                script,
            },
            SIGNUP_SCOPE,
        );
        let sandbox = Sandbox::new();
        let before = sandbox.snapshot();
        let output = sandbox.signup(&stub.url);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{status}: {}",
            text(&output.stderr)
        );
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "{status}: turn 1 answered with two edits, turn 2 refused"
        );
        assert_eq!(
            sandbox.snapshot(),
            before,
            "{status}: the project must be untouched"
        );
        assert_no_secrets(&sandbox, &output);
    }
}

#[test]
fn the_api_key_prefix_warning_names_the_key_type() {
    let cases = [
        ("pha_", FAKE_ACCESS_TOKEN),
        ("phc_", "phc_public_project_key_given_by_mistake"),
        ("unknown", "sk-ant-not-a-posthog-key-1234567890"),
    ];
    let mut report = String::new();
    for (name, key) in cases {
        let sandbox = Sandbox::new();
        let mut options = Options::new(Gateway::Unauthorized(""), "");
        options.gateway_credential = key;
        let stub = stub::start_with(options);
        let output = sandbox
            .wizard()
            .args(["--ci", "--api-key", key, "--base-url", &stub.url])
            .args(["--gateway-url", &format!("{}/wizard", stub.url)])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3), "{name}");
        let stderr = text(&output.stderr);
        assert!(stderr.starts_with("warning: --api-key"), "{name}: {stderr}");
        assert!(
            !stderr.contains(key),
            "{name}: the key itself must not be printed"
        );
        assert_no_secrets(&sandbox, &output);
        report.push_str(&format!(
            "=== {name}\n{}\n",
            seen(&output, &sandbox, &[(&stub.url, "[SERVER]")])
        ));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn api_401_and_403_state_the_cause_first() {
    let cases = [
        (
            "expired",
            Api::Unauthorized("Invalid credential: this key or token has expired."),
        ),
        (
            "revoked",
            Api::Unauthorized("Invalid credential: this key or token has been revoked."),
        ),
        (
            "unknown",
            Api::Unauthorized("Invalid credential: this key or token is unknown."),
        ),
        (
            "missing scope",
            Api::Forbidden(
                "This action requires the 'user:read' scope, which this credential does not have",
            ),
        ),
    ];
    let mut report = String::new();
    for (name, api) in cases {
        let sandbox = Sandbox::new();
        let mut options = Options::new(Gateway::Unavailable, "");
        options.api = api;
        let stub = stub::start_with(options);
        let output = sandbox
            .wizard()
            .args([
                "--ci",
                "--api-key",
                FAKE_PERSONAL_KEY,
                "--base-url",
                &stub.url,
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3), "{name}");
        assert_no_secrets(&sandbox, &output);
        report.push_str(&format!(
            "=== {name}\n{}\n",
            seen(&output, &sandbox, &[(&stub.url, "[SERVER]")])
        ));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn region_discovery_uses_the_region_that_knows_the_key() {
    let sandbox = Sandbox::new();
    let mut us = Options::new(Gateway::Unavailable, "");
    us.api = Api::Unauthorized("Invalid credential: this key or token is unknown.");
    let us = stub::start_with(us);
    let mut eu = Options::new(next_js_script(), "");
    eu.gateway_credential = FAKE_PERSONAL_KEY;
    let eu = stub::start_with(eu);
    let output = sandbox
        .wizard()
        .args(["--ci", "--api-key", FAKE_PERSONAL_KEY])
        .args(["--us-base-url", &us.url, "--eu-base-url", &eu.url])
        .args(["--gateway-url", &format!("{}/wizard", eu.url)])
        .output()
        .unwrap();
    assert_no_secrets(&sandbox, &output);
    let shown = seen(&output, &sandbox, &[(&us.url, "[US]"), (&eu.url, "[EU]")]);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    insta::assert_snapshot!(shown);
}

#[test]
fn a_key_of_the_other_region_is_named_as_such() {
    let sandbox = Sandbox::new();
    let mut us = Options::new(Gateway::Unavailable, "");
    us.api = Api::Unauthorized("Invalid credential: this key or token is unknown.");
    let us = stub::start_with(us);
    let eu = stub::start(Gateway::Unavailable, "");
    let output = sandbox
        .wizard()
        .args(["--ci", "--api-key", FAKE_PERSONAL_KEY, "--region", "us"])
        .args(["--us-base-url", &us.url, "--eu-base-url", &eu.url])
        .output()
        .unwrap();
    assert_no_secrets(&sandbox, &output);
    let shown = seen(&output, &sandbox, &[(&us.url, "[US]"), (&eu.url, "[EU]")]);
    assert_eq!(output.status.code(), Some(3), "{shown}");
    assert!(shown.contains("this key belongs to the EU region; run with --region eu"));
    insta::assert_snapshot!(shown);
}

#[test]
fn neither_region_answering_exits_5_naming_both_hosts() {
    let sandbox = Sandbox::new();
    let closed = || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let (us, eu) = (closed(), closed());
    let output = sandbox
        .wizard()
        .args(["--ci", "--api-key", FAKE_PERSONAL_KEY])
        .args(["--us-base-url", &us, "--eu-base-url", &eu])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&us) && stderr.contains(&eu), "{stderr}");
}

#[test]
fn neither_region_knowing_the_key_is_a_401() {
    let sandbox = Sandbox::new();
    let unknown = || {
        let mut options = Options::new(Gateway::Unavailable, "");
        options.api = Api::Unauthorized("Invalid credential: this key or token is unknown.");
        stub::start_with(options)
    };
    let (us, eu) = (unknown(), unknown());
    let output = sandbox
        .wizard()
        .args(["--ci", "--api-key", FAKE_PERSONAL_KEY])
        .args(["--us-base-url", &us.url, "--eu-base-url", &eu.url])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("neither the US nor the EU server knows this key"),
        "{stderr}"
    );
}

#[test]
fn doctor_lists_active_issues_by_severity() {
    let issue = |id: &str, kind: &str, severity: &str| json!({"id": id, "kind": kind, "severity": severity, "status": "active", "dismissed": false, "created_at": "2026-05-01T10:00:00Z"});
    let mut report = String::new();
    let with_issues = vec![
        issue("h1", "sdk_outdated", "warning"),
        issue("h2", "ingestion_stopped", "critical"),
        issue("h3", "reverse_proxy_missing", "info"),
        issue("h4", "web_vitals_disabled", "warning"),
    ];
    let cases = [
        ("with issues", Api::Ok, with_issues, 6),
        ("without issues", Api::Ok, vec![], 0),
        ("without the scope", Api::Ok, vec![], 3),
    ];
    for (name, api, issues, code) in cases {
        let sandbox = Sandbox::new();
        let mut options = Options::new(Gateway::Unavailable, "");
        options.api = api;
        options.health_forbidden = code == 3;
        options.health_issues = issues;
        let stub = stub::start_with(options);
        let output = sandbox
            .wizard()
            .args([
                "doctor",
                "--api-key",
                FAKE_PERSONAL_KEY,
                "--base-url",
                &stub.url,
            ])
            .output()
            .unwrap();
        assert_no_secrets(&sandbox, &output);
        let shown = seen(&output, &sandbox, &[(&stub.url, "[SERVER]")]);
        assert_eq!(output.status.code(), Some(code), "{name}: {shown}");
        report.push_str(&format!("=== {name}\n{shown}\n"));
    }
    assert!(report.contains("health_issue:read"));
    insta::assert_snapshot!(report);
}

/// A running wizard whose stdout is read line by line.
struct Interactive {
    child: Child,
    stdout: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Interactive {
    /// A signup for the stub's existing email, which signs in through the
    /// browser on `port`, against the stub server and gateway.
    fn existing_email_signup(sandbox: &Sandbox, stub: &stub::Stub, port: &str) -> Interactive {
        let gateway = format!("{}/wizard", stub.url);
        Interactive::start(
            sandbox,
            &[
                "--signup",
                "--email",
                "ada@example.com",
                "--callback-port",
                port,
                "--base-url",
                &stub.url,
                "--gateway-url",
                &gateway,
            ],
        )
    }

    fn start(sandbox: &Sandbox, arguments: &[&str]) -> Interactive {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("wizard"))
            .env_clear()
            .env("HOME", sandbox.root.path().join("home"))
            .env("POSTHOG_WIZARD_LOG_DIR", sandbox.root.path().join("logs"))
            .env(
                "POSTHOG_WIZARD_MANAGED_SETTINGS",
                sandbox.root.path().join("managed.json"),
            )
            .arg("--install-dir")
            .arg(sandbox.project())
            .args(["--login-timeout-seconds", "60"])
            .args(arguments)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Interactive {
            child,
            stdout: receiver,
            seen: Vec::new(),
        }
    }

    /// Reads stdout until the authorize URL, alone on its line.
    fn authorize_url(&mut self) -> reqwest::Url {
        loop {
            let line = self
                .stdout
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no authorize URL; stdout so far: {:?}", self.seen));
            self.seen.push(line.clone());
            if line.contains("/oauth/authorize?") {
                assert!(
                    line.starts_with("http"),
                    "the URL must be alone on its line: {line}"
                );
                return reqwest::Url::parse(&line).unwrap();
            }
        }
    }

    fn finish(mut self) -> std::process::Output {
        drop(self.child.stdin.take());
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let mut stdout = self.seen.join("\n");
        stdout.push('\n');
        std::process::Output {
            status,
            stdout: stdout.into_bytes(),
            stderr: stderr.into_bytes(),
        }
    }
}

fn param(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("the authorize URL lacks {name}: {url}"))
}

/// A plain HTTP GET, as the browser's redirect would do; returns the answer.
fn browser_get(url: &str) -> String {
    let parsed = reqwest::Url::parse(url).unwrap();
    let address = format!("127.0.0.1:{}", parsed.port().unwrap());
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let target = format!("{}?{}", parsed.path(), parsed.query().unwrap_or_default());
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn login_stub() -> stub::Stub {
    let mut options = Options::new(next_js_script(), "");
    options.existing_email = true;
    options.login_scope = SIGNUP_SCOPE;
    stub::start_with(options)
}

#[test]
fn an_existing_email_signs_in_through_the_browser_callback() {
    let sandbox = Sandbox::new();
    let stub = login_stub();
    let port = free_port().to_string();
    let mut wizard = Interactive::existing_email_signup(&sandbox, &stub, &port);
    let url = wizard.authorize_url();
    assert!(url
        .as_str()
        .starts_with(&format!("{}/oauth/authorize?", stub.url)));
    let redirect_uri = param(&url, "redirect_uri");
    assert_eq!(redirect_uri, format!("http://localhost:{port}/callback"));
    assert_eq!(param(&url, "scope"), SIGNUP_SCOPE);
    assert_eq!(param(&url, "response_type"), "code");
    let state = param(&url, "state");
    let foreign = browser_get(&format!("{redirect_uri}?code={LOGIN_CODE}&state=not-ours"));
    assert!(foreign.starts_with("HTTP/1.1 400"), "{foreign}");
    let page = browser_get(&format!("{redirect_uri}?code={LOGIN_CODE}&state={state}"));
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("You can close this tab"), "{page}");
    let output = wizard.finish();
    assert_no_secrets(&sandbox, &output);
    let shown = seen(&output, &sandbox, &[(&stub.url, "[SERVER]")]);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    let form = stub.login_form.lock().unwrap().clone().unwrap();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["redirect_uri"], redirect_uri);
    assert_eq!(form["client_id"], "posthog-wizard");
    insta::assert_snapshot!(shown);
}

#[test]
fn a_pasted_code_completes_the_sign_in() {
    let sandbox = Sandbox::new();
    let stub = login_stub();
    let port = free_port().to_string();
    let mut wizard = Interactive::existing_email_signup(&sandbox, &stub, &port);
    let url = wizard.authorize_url();
    let state = param(&url, "state");
    let stdin = wizard.child.stdin.as_mut().unwrap();
    writeln!(
        stdin,
        "http://localhost:{port}/callback?code={LOGIN_CODE}&state={state}"
    )
    .unwrap();
    stdin.flush().unwrap();
    let output = wizard.finish();
    assert_no_secrets(&sandbox, &output);
    let shown = seen(&output, &sandbox, &[(&stub.url, "[SERVER]")]);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(sandbox.project().join(".env.local").exists());
}

#[test]
fn a_bare_pasted_code_and_a_narrow_grant_warn_about_the_gateway() {
    let sandbox = Sandbox::new();
    let mut options = Options::new(Gateway::Unauthorized(INSUFFICIENT_SCOPE), "");
    options.existing_email = true;
    options.login_scope = "user:read project:read";
    let stub = stub::start_with(options);
    let port = free_port().to_string();
    let mut wizard = Interactive::existing_email_signup(&sandbox, &stub, &port);
    wizard.authorize_url();
    let stdin = wizard.child.stdin.as_mut().unwrap();
    writeln!(stdin, "{LOGIN_CODE}").unwrap();
    stdin.flush().unwrap();
    let output = wizard.finish();
    assert_no_secrets(&sandbox, &output);
    let shown = seen(&output, &sandbox, &[(&stub.url, "[SERVER]")]);
    assert_eq!(output.status.code(), Some(3), "{shown}");
    insta::assert_snapshot!(shown);
}

#[test]
fn declining_in_the_browser_exits_3() {
    let sandbox = Sandbox::new();
    let stub = login_stub();
    let port = free_port().to_string();
    let mut wizard = Interactive::start(
        &sandbox,
        &[
            "--signup",
            "--email",
            "ada@example.com",
            "--callback-port",
            &port,
            "--base-url",
            &stub.url,
        ],
    );
    let url = wizard.authorize_url();
    let state = param(&url, "state");
    let redirect_uri = param(&url, "redirect_uri");
    let before = sandbox.snapshot();
    let page = browser_get(&format!("{redirect_uri}?error=access_denied&state={state}"));
    assert!(page.contains("You can close this tab"), "{page}");
    let output = wizard.finish();
    let shown = seen(&output, &sandbox, &[(&stub.url, "[SERVER]")]);
    assert_eq!(output.status.code(), Some(3), "{shown}");
    assert_eq!(sandbox.snapshot(), before);
    insta::assert_snapshot!(shown);
}

#[test]
fn doctor_without_a_key_signs_in_with_the_login_scopes() {
    let sandbox = Sandbox::new();
    let mut options = Options::new(Gateway::Unavailable, "");
    options.login_scope = LOGIN_SCOPE;
    let stub = stub::start_with(options);
    let port = free_port().to_string();
    let mut wizard = Interactive::start(
        &sandbox,
        &["doctor", "--callback-port", &port, "--base-url", &stub.url],
    );
    let url = wizard.authorize_url();
    assert_eq!(param(&url, "scope"), LOGIN_SCOPE);
    let state = param(&url, "state");
    browser_get(&format!(
        "{}?code={LOGIN_CODE}&state={state}",
        param(&url, "redirect_uri")
    ));
    let output = wizard.finish();
    let shown = seen(&output, &sandbox, &[(&stub.url, "[SERVER]")]);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains("No active health issues"), "{shown}");
}

#[test]
fn a_second_run_changes_nothing() {
    let sandbox = Sandbox::new();
    let stub = stub::start(next_js_script(), SIGNUP_SCOPE);
    let run = || sandbox.signup(&stub.url);
    let first = run();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let after_first = sandbox.snapshot();
    let second = run();
    assert_no_secrets(&sandbox, &second);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    assert_eq!(
        sandbox.snapshot(),
        after_first,
        "a second run must write nothing"
    );
    // Each run asks for its own single-use link: the first run's is spent.
    assert!(text(&first.stdout).contains(&stub::deep_link_token(1)));
    assert!(text(&second.stdout).contains(&stub::deep_link_token(2)));
    let servers = [(stub.url.as_str(), "[SERVER]")];
    insta::assert_snapshot!(format!(
        "=== first run\n{}\n=== second run\n{}",
        seen(&first, &sandbox, &servers),
        seen(&second, &sandbox, &servers)
    ));
}

#[test]
fn a_second_run_with_another_key_updates_only_the_env_file() {
    let sandbox = Sandbox::new();
    let stub = stub::start(next_js_script(), SIGNUP_SCOPE);
    let mut arguments = vec!["--signup", "--email", "a@example.com"];
    let gateway = format!("{}/wizard", stub.url);
    arguments.extend(["--base-url", &stub.url, "--gateway-url", &gateway]);
    let first = sandbox.wizard().args(&arguments).output().unwrap();
    assert_eq!(first.status.code(), Some(0));
    let env = sandbox.project().join(".env.local");
    std::fs::write(
        &env,
        format!(
            "OTHER=1\nNEXT_PUBLIC_POSTHOG_KEY=phc_an_older_key\nNEXT_PUBLIC_POSTHOG_HOST={}\n",
            stub.url
        ),
    )
    .unwrap();
    let mut before = sandbox.snapshot();
    let requests = stub.requests.load(std::sync::atomic::Ordering::SeqCst);
    let second = sandbox.wizard().args(&arguments).output().unwrap();
    let shown = seen(&second, &sandbox, &[(&stub.url, "[SERVER]")]);
    assert_eq!(second.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("only the project key and host changed"),
        "{shown}"
    );
    let mut after = sandbox.snapshot();
    before.retain(|(path, _)| path != ".env.local");
    after.retain(|(path, _)| path != ".env.local");
    assert_eq!(before, after, "only the env file may change");
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        format!("OTHER=1\nNEXT_PUBLIC_POSTHOG_KEY=phc_public_project_key\nNEXT_PUBLIC_POSTHOG_HOST={}\n", stub.url)
    );
    // account request, code exchange, resources, the dashboard link: no
    // gateway turn.
    assert_eq!(
        stub.requests.load(std::sync::atomic::Ordering::SeqCst) - requests,
        4
    );
}
