//! The wizard binary as a person runs it.

use std::path::Path;
use std::sync::atomic::Ordering;

use assert_cmd::Command;
use serde_json::json;

use crate::stub::{self, Gateway};

/// The arguments of a signup as a person types them.
pub(crate) const SIGNUP: [&str; 3] = ["--signup", "--email", "a@example.com"];

/// A Next.js project in a temp dir, and a temp HOME and log dir.
pub(crate) struct Sandbox {
    pub(crate) root: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        let project = root.path().join("project");
        std::fs::create_dir_all(project.join("app")).unwrap();
        std::fs::write(
            project.join("package.json"),
            "{\n  \"dependencies\": {\n    \"next\": \"15.3.3\"\n  }\n}\n",
        )
        .unwrap();
        std::fs::write(
            project.join("app/page.tsx"),
            "export default function Page() {}\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        Sandbox { root }
    }

    pub(crate) fn project(&self) -> std::path::PathBuf {
        self.root.path().join("project")
    }

    pub(crate) fn wizard(&self) -> Command {
        let mut command = Command::cargo_bin("wizard").unwrap();
        command
            .env_clear()
            .env("HOME", self.root.path().join("home"))
            .env("POSTHOG_WIZARD_LOG_DIR", self.root.path().join("logs"))
            // Retries wait a millisecond, not half a second.
            .env("POSTHOG_WIZARD_RETRY_BASE_MS", "1")
            .env(
                "POSTHOG_WIZARD_MANAGED_SETTINGS",
                self.root.path().join("managed.json"),
            )
            .arg("--install-dir")
            .arg(self.project());
        command
    }

    /// The wizard pointed at a stand-in: `--base-url` and `--gateway-url`
    /// of one stub URL.
    pub(crate) fn against(&self, url: &str) -> Command {
        let mut command = self.wizard();
        command
            .args(["--base-url", url])
            .args(["--gateway-url", &format!("{url}/wizard")]);
        command
    }

    /// `wizard --signup --email a@example.com` against a stand-in, run to
    /// its end.
    pub(crate) fn signup(&self, url: &str) -> std::process::Output {
        self.against(url).args(SIGNUP).output().unwrap()
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/posthog-wizard.log"))
            .unwrap_or_default()
    }

    pub(crate) fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        walk(&self.project(), &self.project(), &mut files);
        files.sort();
        files
    }
}

fn walk(root: &Path, directory: &Path, files: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            files.push((relative, std::fs::read(&path).unwrap()));
        }
    }
}

/// The run ended with exit code `code`; its stderr tells why when not.
pub(crate) fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The outputs and the log never hold a full pha_/phr_/phx_.
pub(crate) fn assert_no_secrets(sandbox: &Sandbox, output: &std::process::Output) {
    for (name, text) in [
        (
            "stdout",
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ),
        (
            "stderr",
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ),
        ("log", sandbox.log()),
    ] {
        let found = protocol::credential::find_full_secrets(&text);
        assert!(found.is_empty(), "{name} leaks a credential: {text}");
    }
}

#[test]
fn signup_without_email_is_refused_before_any_network_call() {
    let sandbox = Sandbox::new();
    let stub = stub::start(Gateway::Unavailable, "");
    let output = sandbox
        .wizard()
        .args(["--signup", "--base-url", &stub.url])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--signup needs --email"));
    assert_eq!(
        stub.requests.load(Ordering::SeqCst),
        0,
        "no request may leave before the flags are valid"
    );
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    let sandbox = Sandbox::new();
    let cases: &[(&[&str], &str)] = &[
        (&[], "nothing to do"),
        (
            &["--signup", "--email", "a@example.com", "--scopes", ","],
            "--scopes takes",
        ),
        (
            &["--signup", "--ci", "--email", "a@example.com"],
            "cannot be combined",
        ),
        (&["--ci"], "--ci needs --api-key"),
        (
            &["--signup", "--email", "a@example.com", "--region", "mars"],
            "invalid value 'mars'",
        ),
    ];
    for (arguments, needle) in cases {
        let output = sandbox.wizard().args(*arguments).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{arguments:?}: {stderr}");
    }
}

#[test]
fn help_lists_every_exit_code() {
    let output = Command::cargo_bin("wizard")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for code in 0..=7 {
        assert!(
            help.contains(&format!("\n  {code}  ")),
            "exit code {code} missing from --help:\n{help}"
        );
    }
    assert!(help.contains("POSTHOG_WIZARD_"));
}

#[test]
fn a_server_that_does_not_answer_is_named_and_exits_5() {
    let sandbox = Sandbox::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let before = sandbox.snapshot();
    let output = sandbox
        .wizard()
        .args(["--signup", "--email", "a@example.com", "--base-url", &url])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&url),
        "the host that did not answer must be named: {stderr}"
    );
    assert_eq!(sandbox.snapshot(), before);
}

#[test]
fn a_scopeless_token_meets_the_gateway_401_and_the_project_is_untouched() {
    let sandbox = Sandbox::new();
    let stub = stub::start(
        Gateway::Unauthorized(
            r#"Bearer realm="llm-gateway", error="insufficient_scope", scope="llm_gateway:read""#,
        ),
        "",
    );
    let before = sandbox.snapshot();
    let output = sandbox
        .against(&stub.url)
        .args(["--signup", "--email", "a@example.com", "--scopes", "none"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("Authentication failed (401)\nCause: the server granted this signup's access token no scopes"), "{stderr}");
    assert!(stderr.contains("Likely causes:"));
    assert!(
        !stderr.contains("claude auth logout"),
        "no settings conflict exists here: {stderr}"
    );
    assert!(stderr.contains("posthog-wizard.log"));
    assert_eq!(
        sandbox.snapshot(),
        before,
        "a failed run must leave the project untouched"
    );
    let log = sandbox.log();
    for line in [
        "gateway URL: ",
        "gateway credential: pha_***",
        "settings conflict check: no conflict",
        "step 1: account request",
    ] {
        assert!(log.contains(line), "the verbose log lacks {line:?}:\n{log}");
    }
    assert_no_secrets(&sandbox, &output);
}

#[test]
fn a_settings_conflict_gets_the_logout_advice_naming_the_file() {
    let sandbox = Sandbox::new();
    let settings = sandbox.root.path().join("home/.claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"env": {"ANTHROPIC_AUTH_TOKEN": "x"}}"#).unwrap();
    let stub = stub::start(
        Gateway::Unauthorized(r#"Bearer realm="llm-gateway", error="invalid_token""#),
        "llm_gateway:read",
    );
    let output = sandbox.signup(&stub.url);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("claude auth logout"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} sets env.ANTHROPIC_AUTH_TOKEN",
            settings.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_gateway_outage_is_not_blamed_on_the_key() {
    let sandbox = Sandbox::new();
    let stub = stub::start(Gateway::Unavailable, "llm_gateway:read");
    let output = sandbox.signup(&stub.url);
    assert_eq!(output.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a problem with your key"), "{stderr}");
    assert!(!stderr.contains("Authentication failed"), "{stderr}");
}

#[test]
fn edits_are_written_together_after_end_turn() {
    let sandbox = Sandbox::new();
    let stub = stub::start(
        Gateway::Script(vec![
            json!({"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "instrumentation-client.ts", "content": "init()\n"}}),
            // Claude Code's rule: a file is read before it is edited.
            json!({"type": "tool_use", "id": "t0", "name": "Read", "input": {"file_path": "package.json"}}),
            json!({"type": "tool_use", "id": "t2", "name": "Edit", "input": {"file_path": "package.json", "old_string": "\"next\": \"15.3.3\"", "new_string": "\"next\": \"15.3.3\",\n    \"posthog-js\": \"^1.200.0\""}}),
        ]),
        "llm_gateway:read",
    );
    let output = sandbox.signup(&stub.url);
    assert_exit(&output, 0);
    let project = sandbox.project();
    assert_eq!(
        std::fs::read_to_string(project.join("instrumentation-client.ts")).unwrap(),
        "init()\n"
    );
    assert!(std::fs::read_to_string(project.join("package.json"))
        .unwrap()
        .contains("posthog-js"));
    let env = std::fs::read_to_string(project.join(".env.local")).unwrap();
    assert_eq!(
        env,
        format!(
            "NEXT_PUBLIC_POSTHOG_KEY=phc_public_project_key\nNEXT_PUBLIC_POSTHOG_HOST={}\n",
            stub.url
        )
    );
    assert!(
        !env.contains("phx_"),
        "the env file must never hold the personal API key"
    );
    assert_eq!(
        std::fs::read_to_string(project.join(".gitignore")).unwrap(),
        ".env.local\n",
        "the env file is kept out of commits, as the published wizard keeps it"
    );
    assert_no_secrets(&sandbox, &output);
}

#[test]
fn a_refused_edit_writes_nothing_and_exits_7() {
    let cases = [
        json!({"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "../outside.ts", "content": "x"}}),
        json!({"type": "tool_use", "id": "t1", "name": "Edit", "input": {"file_path": "package.json", "old_string": "not there", "new_string": "x"}}),
        json!({"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "rm -rf /"}}),
        // Reads and listings leave the project no more than writes do.
        json!({"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "/etc/passwd"}}),
        json!({"type": "tool_use", "id": "t1", "name": "Glob", "input": {"pattern": "*", "path": "/etc"}}),
        json!({"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "escape/x.ts", "content": "x"}}),
        json!({"type": "tool_use", "id": "t1", "name": "mcp__wizard-tools__set_env_values", "input": {"filePath": "../.env", "values": {"K": "v"}}}),
    ];
    for refused in cases {
        let sandbox = Sandbox::new();
        // `escape` is a symlink out of the project (to the sandbox's HOME).
        std::os::unix::fs::symlink(
            sandbox.root.path().join("home"),
            sandbox.project().join("escape"),
        )
        .unwrap();
        let stub = stub::start(
            Gateway::Script(vec![
                json!({"type": "tool_use", "id": "t0", "name": "Write", "input": {"file_path": "fine.ts", "content": "x"}}),
                refused.clone(),
            ]),
            "llm_gateway:read",
        );
        let before = sandbox.snapshot();
        let output = sandbox.signup(&stub.url);
        assert_eq!(output.status.code(), Some(7), "{refused}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("nothing was written"));
        assert_eq!(sandbox.snapshot(), before, "{refused}");
        assert!(!sandbox.root.path().join("outside.ts").exists());
        assert!(!sandbox.root.path().join("home/x.ts").exists());
        assert!(!sandbox.root.path().join(".env").exists());
    }
}

/// If this fails, an agent that corrects its own failed edit (as Claude
/// Code lets it) has its whole run refused.
#[test]
fn a_failed_edit_retried_successfully_is_written_with_the_rest() {
    let sandbox = Sandbox::new();
    let stub = stub::start(
        Gateway::Script(vec![
            json!({"type": "tool_use", "id": "t0", "name": "Read", "input": {"file_path": "package.json"}}),
            json!({"type": "tool_use", "id": "t1", "name": "Edit", "input": {"file_path": "package.json", "old_string": "\"next\": \"15\"", "new_string": "x"}}),
            json!({"type": "tool_use", "id": "t2", "name": "Edit", "input": {"file_path": "package.json", "old_string": "\"next\": \"15.3.3\"", "new_string": "\"next\": \"15.3.3\",\n    \"posthog-js\": \"^1.200.0\""}}),
        ]),
        "llm_gateway:read",
    );
    let output = sandbox.signup(&stub.url);
    assert_exit(&output, 0);
    assert!(
        std::fs::read_to_string(sandbox.project().join("package.json"))
            .unwrap()
            .contains("posthog-js")
    );
    // The agent heard of its failure as Claude Code would tell it.
    let bodies = stub.gateway_bodies.lock().unwrap().clone();
    let told = bodies[1].to_string();
    assert!(
        told.contains("String to replace not found in file."),
        "{told}"
    );
}

fn flaky(
    status: u16,
    failures: usize,
) -> (Gateway, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let gateway = Gateway::Flaky {
        status,
        failures,
        calls: calls.clone(),
        script: vec![
            json!({"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "instrumentation-client.ts", "content": "init()\n"}}),
        ],
    };
    (gateway, calls)
}

#[test]
fn an_overloaded_or_rate_limited_gateway_is_retried_until_it_answers() {
    for status in [429, 500, 529] {
        let sandbox = Sandbox::new();
        let (gateway, calls) = flaky(status, 2);
        let stub = stub::start(gateway, "llm_gateway:read");
        let output = sandbox.signup(&stub.url);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{status}: {stderr}");
        assert!(stderr.contains("; retrying in"), "{status}: {stderr}");
        // Two failures, then the two turns of the script.
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            4,
            "{status}"
        );
        assert!(sandbox.project().join("instrumentation-client.ts").exists());
        assert!(
            sandbox.log().contains("retrying in"),
            "the verbose log records each retry"
        );
    }
}

#[test]
fn a_gateway_that_stays_overloaded_fails_with_exit_5_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let (gateway, calls) = flaky(529, usize::MAX);
    let stub = stub::start(gateway, "llm_gateway:read");
    let before = sandbox.snapshot();
    let output = sandbox.signup(&stub.url);
    assert_eq!(output.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is overloaded (529 Overloaded) and still was after 4 attempts"),
        "{stderr}"
    );
    assert!(stderr.contains("not a problem with your key"), "{stderr}");
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "the wizard gives up after 4 attempts"
    );
    assert_eq!(sandbox.snapshot(), before);
}
