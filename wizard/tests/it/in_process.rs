//! The flows run in this test's process, against the real provisioning
//! server and LLM gateway built from their libraries on loopback listeners:
//! the session writes into buffers, and what a person would read there is
//! pinned as a snapshot. Where `flows.rs` checks the binary's reactions to
//! canned answers, these check that the wizard and the real programs agree,
//! without a process or a port chosen in advance.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::random::SeededRandom;
use wizard::progress::Mode;
use wizard::retry::RetryPolicy;
use wizard::{Command, Config, Outcome, Output, ScopeRequest, Session, WizardError};

/// The CI scenarios' seeded user, project and personal API key.
const CI_SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/seeds/wizard-ci-keys.toml"
);
const CI_KEY: &str = "phx_ci_good_fake_key_0000000000000000000000000000";
const NEXT_JS_APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/apps/next-js");

/// A server of one era and a gateway that introspects at it, each served on
/// its own loopback port by a task of the test's runtime.
struct Stack {
    server: String,
    gateway: String,
}

async fn stack(profile: &str, seeds: &[&str]) -> Stack {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let config = server::Config {
        bind: listener.local_addr().unwrap(),
        database_url: "sqlite::memory:".into(),
        region: protocol::region::Region::Us,
        public_url: None,
        profile: profile.into(),
        seeds: seeds.iter().map(PathBuf::from).collect(),
        admin_token: None,
        wizard_gateway: None,
        limits: protocol::serve::Limits::DEFAULT,
        frozen_clock: false,
    };
    let state = server::prepare(&config, server.clone()).await.unwrap();
    tokio::spawn(
        async move { axum::serve(listener, server::app(state).into_make_service()).await },
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let config = gateway::Config {
        bind: address,
        introspection_url: format!("{server}{}", protocol::paths::INTROSPECT),
        ..gateway::Config::default()
    };
    let state = gateway::AppState::from_config(&config).unwrap();
    tokio::spawn(
        async move { axum::serve(listener, gateway::app(state).into_make_service()).await },
    );
    Stack {
        server,
        gateway: format!("http://{address}"),
    }
}

/// A writer whose bytes the test reads back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(bytes)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A copy of the Next.js fixture app, a HOME without Claude Code settings
/// and a log directory, in one temp dir.
struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        copy_dir(Path::new(NEXT_JS_APP), &root.path().join("project"));
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        Sandbox { root }
    }

    fn project(&self) -> PathBuf {
        self.root.path().join("project").canonicalize().unwrap()
    }

    /// The config `main.rs` would build for `command` with `--base-url`
    /// and `--gateway-url` pointing at `stack`, on a pipe (plain steps).
    fn config(&self, stack: &Stack, command: Command, scopes: ScopeRequest) -> Config {
        Config {
            command,
            region: None,
            install_dir: self.project(),
            base_url: Some(stack.server.clone()),
            us_base_url: wizard::DEFAULT_US_BASE_URL.into(),
            eu_base_url: wizard::DEFAULT_EU_BASE_URL.into(),
            gateway_url: Some(format!("{}/wizard", stack.gateway)),
            scopes,
            callback_port: None,
            login_timeout: wizard::LOGIN_TIMEOUT,
            debug: false,
            progress: Mode::Plain,
            stream: false,
            log_dir: self.root.path().join("logs"),
            home: self.root.path().join("home"),
            managed_settings: self.root.path().join("managed.json"),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy {
                base: Duration::from_millis(1),
                cap: Duration::from_millis(16),
                ..RetryPolicy::default()
            },
            arguments: "(in process)".into(),
        }
    }

    fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        walk(&self.project(), &self.project(), &mut files);
        files.sort();
        files
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        match path.is_dir() {
            true => copy_dir(&path, &target),
            false => {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
}

fn walk(root: &Path, directory: &Path, files: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        match path.is_dir() {
            true => walk(root, &path, files),
            false => files.push((
                path.strip_prefix(root).unwrap().display().to_string(),
                std::fs::read(&path).unwrap(),
            )),
        }
    }
}

/// Runs `config`'s command in process, as the binary would, and returns
/// the result with what a person read: stdout, then stderr (where the
/// binary prints the error), with the stack's URLs and the sandbox's path
/// replaced by labels. No output may hold a full credential.
async fn run(
    sandbox: &Sandbox,
    stack: &Stack,
    config: Config,
) -> (Result<Outcome, WizardError>, String) {
    let (stdout, stderr) = (Buffer::default(), Buffer::default());
    let output = Output::new(stdout.clone(), stderr.clone());
    let session = Session::new(config, output.clone(), Box::new(SeededRandom::new(7))).unwrap();
    let result = wizard::run(session).await;
    if let Err(error) = &result {
        output.warn(error.for_a_person());
    }
    let seen = format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        match &result {
            Ok(outcome) => format!("{outcome:?}"),
            Err(error) => format!("exit {}", error.exit_code()),
        },
        stdout.text(),
        stderr.text()
    );
    let log = std::fs::read_to_string(sandbox.root.path().join("logs/posthog-wizard.log")).unwrap();
    for text in [&seen, &log] {
        let found = protocol::credential::find_full_secrets(text);
        assert!(found.is_empty(), "a full credential leaked: {text}");
    }
    let sandbox_root = sandbox.root.path().canonicalize().unwrap();
    let seen = seen
        .replace(&stack.server, "[SERVER]")
        .replace(&stack.gateway, "[GATEWAY]")
        .replace(&sandbox_root.display().to_string(), "[SANDBOX]")
        .replace(&sandbox.root.path().display().to_string(), "[SANDBOX]");
    (result, seen)
}

/// If this fails, a person who signs up sees other steps, another summary
/// or no summary at all, or the project is not integrated with the new
/// project's key and host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signup_reads_as_steps_then_a_summary() {
    let stack = stack("current", &[]).await;
    let sandbox = Sandbox::new();
    let command = Command::Signup {
        email: "ada@example.com".into(),
        name: Some("Ada".into()),
        project_id: None,
    };
    let config = sandbox.config(&stack, command, ScopeRequest::Signup);
    let (result, seen) = run(&sandbox, &stack, config).await;
    assert!(matches!(result, Ok(Outcome::Integrated { .. })), "{seen}");
    let env = std::fs::read_to_string(sandbox.project().join(".env.local")).unwrap();
    assert!(env.contains("NEXT_PUBLIC_POSTHOG_KEY=phc_"), "{env}");
    assert!(
        env.contains(&format!("NEXT_PUBLIC_POSTHOG_HOST={}", stack.server)),
        "{env}"
    );
    insta::assert_snapshot!(seen);
}

/// If this fails, the scope bug (a scopeless signup on the April 2026
/// server, refused by the gateway) is no longer named as the cause first,
/// or the project is touched although nothing may be written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_401_is_explained_and_nothing_is_written() {
    let stack = stack("legacy", &[]).await;
    let sandbox = Sandbox::new();
    let before = sandbox.files();
    let command = Command::Signup {
        email: "grace@example.com".into(),
        name: None,
        project_id: None,
    };
    let config = sandbox.config(&stack, command, ScopeRequest::None);
    let (result, seen) = run(&sandbox, &stack, config).await;
    assert!(matches!(result, Err(WizardError::Auth(_))), "{seen}");
    assert_eq!(sandbox.files(), before, "the project must be untouched");
    insta::assert_snapshot!(seen);
}

/// If this fails, CI mode with a good personal API key no longer says which
/// server and project it uses, or does not integrate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_mode_names_the_project_then_integrates() {
    let stack = stack("current", &[CI_SEED]).await;
    let sandbox = Sandbox::new();
    let command = Command::Ci {
        api_key: CI_KEY.into(),
        project_id: None,
    };
    let config = sandbox.config(&stack, command, ScopeRequest::Signup);
    let (result, seen) = run(&sandbox, &stack, config).await;
    assert!(
        matches!(
            result,
            Ok(Outcome::Integrated {
                project_id: 401,
                ..
            })
        ),
        "{seen}"
    );
    insta::assert_snapshot!(seen);
}

/// If this fails, `wizard scopes` tells a person something else about the
/// scopes it asks for than today's server advertises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_are_checked_against_todays_server() {
    let stack = stack("current", &[]).await;
    let sandbox = Sandbox::new();
    let config = sandbox.config(&stack, Command::Scopes, ScopeRequest::Login);
    let (result, seen) = run(&sandbox, &stack, config).await;
    assert_eq!(result.ok(), Some(Outcome::Explained), "{seen}");
    insta::assert_snapshot!(seen);
}

/// If this fails, a module writes to the terminal by itself, so what it
/// prints escapes the session's output: the tests above no longer see all
/// a person reads, and an embedding program cannot redirect it. Only
/// `main.rs` (which hands the session the process's streams) and
/// `output.rs` (which writes them) may name stdout or stderr.
#[test]
fn only_the_output_writes_to_the_terminal() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&source, &source, &mut files);
    let forbidden = [
        "print!(",
        "println!(",
        "eprint!(",
        "eprintln!(",
        "dbg!(",
        "io::stdout(",
        "io::stderr(",
    ];
    for (path, bytes) in files {
        if !path.ends_with(".rs") || path == "main.rs" || path == "output.rs" {
            continue;
        }
        let text = String::from_utf8(bytes).unwrap();
        for (number, line) in text.lines().enumerate() {
            for needle in forbidden {
                assert!(
                    !line.contains(needle),
                    "src/{path}:{}: {needle} bypasses the session's output: {line}",
                    number + 1
                );
            }
        }
    }
}
