//! The streamed gateway answer (`--stream`) and the summary's dashboard
//! link: a streamed conversation integrates exactly like the JSON one, a
//! stream cut once is retried, and a deep link that cannot be issued costs
//! only the link, never the run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::cli::{assert_no_secrets, Sandbox, SIGNUP};
use crate::stub::{self, DeepLinks, Gateway, Options, DEEP_LINK_TOKEN, FAKE_ACCESS_TOKEN};

const SIGNUP_SCOPE: &str = "user:read project:read llm_gateway:read dashboard:write insight:write query:read notebook:write event_definition:write";

fn tools() -> Vec<Value> {
    vec![
        json!({"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "instrumentation-client.ts", "content": "import posthog from 'posthog-js'\nposthog.init(process.env.NEXT_PUBLIC_POSTHOG_KEY!, { api_host: process.env.NEXT_PUBLIC_POSTHOG_HOST })\n"}}),
        // Claude Code's rule: a file is read before it is edited.
        json!({"type": "tool_use", "id": "t0", "name": "Read", "input": {"file_path": "package.json"}}),
        json!({"type": "tool_use", "id": "t2", "name": "Edit", "input": {"file_path": "package.json", "old_string": "\"next\": \"15.3.3\"", "new_string": "\"next\": \"15.3.3\",\n    \"posthog-js\": \"^1.200.0\""}}),
    ]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A signup run against `stub`, with `extra` arguments.
fn signup(sandbox: &Sandbox, stub: &stub::Stub, extra: &[&str]) -> std::process::Output {
    sandbox
        .against(&stub.url)
        .args(SIGNUP)
        .args(extra)
        .output()
        .unwrap()
}

/// stdout with the sandbox and the stub's URL replaced by labels.
fn shown(output: &std::process::Output, sandbox: &Sandbox, stub: &stub::Stub) -> String {
    let mut shown = format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        text(&output.stdout),
        text(&output.stderr)
    )
    .replace(&stub.url, "[SERVER]");
    if let Ok(root) = sandbox.root.path().canonicalize() {
        shown = shown.replace(&root.display().to_string(), "[SANDBOX]");
    }
    shown
        .replace(&sandbox.root.path().display().to_string(), "[SANDBOX]")
        .replace(DEEP_LINK_TOKEN, "[SINGLE-USE TOKEN]")
}

#[test]
fn a_streamed_conversation_integrates_like_the_json_one() {
    let json_run = Sandbox::new();
    let json_stub = stub::start(Gateway::Script(tools()), SIGNUP_SCOPE);
    let json_output = signup(&json_run, &json_stub, &[]);
    assert_eq!(
        json_output.status.code(),
        Some(0),
        "{}",
        text(&json_output.stderr)
    );

    let streamed_run = Sandbox::new();
    let streamed_stub = stub::start(Gateway::Script(tools()), SIGNUP_SCOPE);
    let streamed_output = signup(&streamed_run, &streamed_stub, &["--stream"]);
    assert_no_secrets(&streamed_run, &streamed_output);
    assert_eq!(
        streamed_output.status.code(),
        Some(0),
        "{}",
        text(&streamed_output.stderr)
    );
    assert_eq!(
        *streamed_stub.gateway_streams.lock().unwrap(),
        [json!(true), json!(true)],
        "every turn must ask for a stream"
    );
    assert_eq!(
        *json_stub.gateway_streams.lock().unwrap(),
        [Value::Null, Value::Null],
        "without --stream the field is omitted"
    );
    // The same files with the same bytes: the stream rebuilt the same
    // tool inputs (the env file names the stub's own port, so it differs).
    let files = |sandbox: &Sandbox| {
        let mut files = sandbox.snapshot();
        files.retain(|(path, _)| path != ".env.local");
        files
    };
    assert_eq!(files(&streamed_run), files(&json_run));
    assert!(files(&streamed_run)
        .iter()
        .any(|(path, _)| path == "instrumentation-client.ts"));
    assert_eq!(
        shown(&streamed_output, &streamed_run, &streamed_stub),
        shown(&json_output, &json_run, &json_stub),
        "a person sees the same run"
    );
}

#[test]
fn the_environment_turns_streaming_on() {
    let sandbox = Sandbox::new();
    let stub = stub::start(Gateway::Script(tools()), SIGNUP_SCOPE);
    let output = sandbox
        .against(&stub.url)
        .env("POSTHOG_WIZARD_STREAM", "true")
        .args(SIGNUP)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(stub.gateway_streams.lock().unwrap()[0], json!(true));
}

fn cut(cuts: usize) -> (Gateway, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let gateway = Gateway::CutStream {
        cuts,
        calls: calls.clone(),
        script: tools(),
    };
    (gateway, calls)
}

#[test]
fn a_stream_cut_once_is_retried_and_integrates() {
    let sandbox = Sandbox::new();
    let (gateway, calls) = cut(1);
    let stub = stub::start(gateway, SIGNUP_SCOPE);
    let output = signup(&sandbox, &stub, &["--stream"]);
    assert_no_secrets(&sandbox, &output);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // The cut first turn, its retry, and the second turn.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(
        stderr.contains("broke off its streamed answer (agent turn 1): the stream ended before message_stop; retrying"),
        "{stderr}"
    );
    assert!(sandbox.project().join("instrumentation-client.ts").exists());
    assert!(sandbox.log().contains("retrying in"), "the retry is logged");
}

#[test]
fn a_stream_cut_every_time_exits_5_naming_the_gateway_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let (gateway, calls) = cut(usize::MAX);
    let stub = stub::start(gateway, SIGNUP_SCOPE);
    let before = sandbox.snapshot();
    let output = signup(&sandbox, &stub, &["--stream"]);
    assert_no_secrets(&sandbox, &output);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert_eq!(calls.load(Ordering::SeqCst), 4, "four attempts in all");
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(
        last.replace(&stub.url, "[SERVER]"),
        "the LLM gateway at [SERVER] broke off its streamed answer (agent turn 1): the stream ended before message_stop (after 4 attempts)"
    );
    assert_eq!(sandbox.snapshot(), before, "the project must be untouched");
}

#[test]
fn the_summary_ends_with_a_single_use_dashboard_link() {
    let sandbox = Sandbox::new();
    let stub = stub::start(Gateway::Script(tools()), SIGNUP_SCOPE);
    let output = signup(&sandbox, &stub, &[]);
    assert_no_secrets(&sandbox, &output);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let requests = stub.deep_link_requests.lock().unwrap().clone();
    assert_eq!(
        requests,
        [(
            "0.1d".to_owned(),
            format!("Bearer {FAKE_ACCESS_TOKEN}"),
            json!({"purpose": "dashboard"})
        )],
        "one deep link request, with the API version and the run's access token"
    );
    assert!(
        !sandbox.log().contains(DEEP_LINK_TOKEN),
        "the link's token is a bearer secret: not in the log"
    );
    insta::assert_snapshot!(shown(&output, &sandbox, &stub));
}

#[test]
fn a_failed_deep_link_costs_only_the_link() {
    let cases = [
        ("refused", DeepLinks::Refused(403)),
        ("server error", DeepLinks::Refused(500)),
        ("garbled", DeepLinks::Garbled),
    ];
    for (name, deep_links) in cases {
        let sandbox = Sandbox::new();
        let mut options = Options::new(Gateway::Script(tools()), SIGNUP_SCOPE);
        options.deep_links = deep_links;
        let stub = stub::start_with(options);
        let output = signup(&sandbox, &stub, &[]);
        assert_no_secrets(&sandbox, &output);
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{name}: {stdout}");
        assert!(!stdout.contains("Open your dashboard"), "{name}: {stdout}");
        assert!(stdout.contains("PostHog is set up in"), "{name}: {stdout}");
        assert!(
            sandbox.log().contains("no dashboard link:"),
            "{name}: the failure is logged"
        );
    }
}

#[test]
fn ci_mode_has_no_access_token_so_no_link() {
    let sandbox = Sandbox::new();
    let mut options = Options::new(Gateway::Script(tools()), "");
    options.gateway_credential = stub::FAKE_PERSONAL_KEY;
    let stub = stub::start_with(options);
    let output = sandbox
        .against(&stub.url)
        .args(["--ci", "--api-key", stub::FAKE_PERSONAL_KEY])
        .output()
        .unwrap();
    assert_no_secrets(&sandbox, &output);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(stub.deep_link_requests.lock().unwrap().is_empty());
    assert!(!text(&output.stdout).contains("Open your dashboard"));
}
