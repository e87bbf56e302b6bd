//! A live server and an HTTP client for it: in process on a loopback port
//! (the same `prepare` that `server::run` calls: system clock, OS
//! randomness, a file database in WAL mode), or the real binary as a child
//! process. The client speaks the wizard's signup over reqwest.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use protocol::admin::StateSummary;
use protocol::oauth::{DEV_INTROSPECTION_CLIENT_ID, DEV_INTROSPECTION_CLIENT_SECRET};
use protocol::pkce::CodeVerifier;
use protocol::random::OsRandom;
use protocol::{paths, API_VERSION, API_VERSION_HEADER};

pub const ADMIN_TOKEN: &str = "reliability-admin-token";
const WIZARD: &str = "posthog-wizard";

/// Every request gives up after this long, so a dead server never hangs a test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a started server may take to print its `listening on` line.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A temporary SQLite file and its URL.
pub struct DatabaseFile {
    pub directory: tempfile::TempDir,
    pub path: PathBuf,
    pub url: String,
}

impl DatabaseFile {
    pub fn new() -> DatabaseFile {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("provisioning.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        DatabaseFile {
            directory,
            path,
            url,
        }
    }
}

/// The server in process, serving on `127.0.0.1:<free port>`.
pub struct InProcess {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
    _database: DatabaseFile,
}

impl InProcess {
    pub async fn start() -> InProcess {
        let database = DatabaseFile::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().unwrap();
        let config = config(address, &database.url);
        let base = format!("http://{address}");
        let state = server::prepare(&config, base.clone())
            .await
            .expect("the server prepares");
        let task = tokio::spawn(async move {
            axum::serve(listener, server::app(state).into_make_service())
                .await
                .expect("the server serves");
        });
        InProcess {
            base,
            task,
            _database: database,
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn config(bind: std::net::SocketAddr, database_url: &str) -> server::Config {
    server::Config {
        bind,
        database_url: database_url.to_owned(),
        region: protocol::region::Region::Us,
        public_url: None,
        // An era that mints a personal key with each resource: a signup's
        // key is the suite's proof that every step of it was stored.
        profile: LOAD_ERA.into(),
        seeds: Vec::new(),
        admin_token: Some(ADMIN_TOKEN.into()),
        wizard_gateway: None,
        limits: protocol::serve::Limits::DEFAULT,
        frozen_clock: false,
    }
}

/// The era the load runs in.
const LOAD_ERA: &str = "ceilings";

/// The real `provisioning-server` binary, started on a database file.
pub struct Process {
    pub base: String,
    child: tokio::process::Child,
}

impl Process {
    /// Starts the binary Cargo built for this test run and waits for its
    /// `listening on` line. Its log goes to `log` (appended).
    pub async fn start(database_url: &str, log: &Path) -> Process {
        Process::start_with(database_url, log, &[]).await
    }

    /// [`Process::start`] with more flags.
    pub async fn start_with(database_url: &str, log: &Path, flags: &[&str]) -> Process {
        let mut all = vec!["--profile", LOAD_ERA, "--wizard-gateway-url", ""];
        all.extend_from_slice(flags);
        Process::launch(database_url, log, &all, &[("RUST_LOG", "warn")]).await
    }

    /// Starts the binary Cargo built for this test run with exactly these
    /// flags (besides the bind address, region, database and admin token)
    /// and environment, and waits for its `listening on` line. Its log goes
    /// to `log` (appended).
    pub async fn launch(
        database_url: &str,
        log: &Path,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Process {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("the log file opens");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_provisioning-server"))
            .args(["--bind", "127.0.0.1:0", "--region", "us"])
            .args(["--database-url", database_url])
            .args(["--admin-token", ADMIN_TOKEN])
            .args(flags)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("provisioning-server starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(START_DEADLINE, lines.next_line())
            .await
            .expect("provisioning-server printed nothing within the deadline")
            .expect("stdout reads")
            .expect("provisioning-server exited before listening");
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Process { base, child }
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no graceful shutdown,
    /// no flush, no chance to finish a transaction.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("the server is killed");
    }
}

/// An answer: status and JSON body (`Null` when the body is not JSON).
pub type Answer = (StatusCode, Value);

/// A reqwest client for one server.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("a client"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn answer(response: reqwest::Response) -> reqwest::Result<Answer> {
        let status = response.status();
        let bytes = response.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// The wizard's account request (PKCE, the signup scope list).
    pub async fn account_request(
        &self,
        id: &str,
        email: &str,
        verifier: &CodeVerifier,
    ) -> reqwest::Result<Answer> {
        let body = json!({
            "id": id,
            "email": email,
            "name": "Load",
            "client_id": WIZARD,
            "scopes": protocol::scope::WIZARD_SIGNUP_SCOPES,
            "code_challenge": verifier.challenge().as_str(),
            "code_challenge_method": "S256",
            "configuration": {"region": "US"},
        });
        let response = self
            .http
            .post(self.url(paths::ACCOUNT_REQUESTS))
            .header(API_VERSION_HEADER, API_VERSION)
            .json(&body)
            .send()
            .await?;
        Client::answer(response).await
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> reqwest::Result<Answer> {
        let response = self
            .http
            .post(self.url(paths::AGENTIC_TOKEN))
            .header(API_VERSION_HEADER, API_VERSION)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", verifier),
            ])
            .send()
            .await?;
        Client::answer(response).await
    }

    pub async fn provision(&self, access: &str) -> reqwest::Result<Answer> {
        let response = self
            .http
            .post(self.url(paths::RESOURCES))
            .header(API_VERSION_HEADER, API_VERSION)
            .bearer_auth(access)
            .json(&json!({}))
            .send()
            .await?;
        Client::answer(response).await
    }

    /// `POST /oauth/introspect` as the gateway: whether `token` is active.
    pub async fn is_active(&self, token: &str) -> bool {
        let response = self
            .http
            .post(self.url(paths::INTROSPECT))
            .basic_auth(
                DEV_INTROSPECTION_CLIENT_ID,
                Some(DEV_INTROSPECTION_CLIENT_SECRET),
            )
            .form(&[("token", token)])
            .send()
            .await
            .expect("introspection answers");
        let (status, body) = Client::answer(response).await.expect("introspection reads");
        assert_eq!(status, StatusCode::OK, "introspection: {body}");
        body["active"] == json!(true)
    }

    /// `GET /api/users/@me/` with `credential`.
    pub async fn me(&self, credential: &str) -> Answer {
        let response = self
            .http
            .get(self.url(paths::USERS_ME))
            .bearer_auth(credential)
            .send()
            .await
            .expect("/api/users/@me/ answers");
        Client::answer(response)
            .await
            .expect("/api/users/@me/ reads")
    }

    pub async fn admin_state(&self) -> StateSummary {
        let response = self
            .http
            .get(self.url(paths::ADMIN_STATE))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the admin state answers");
        let (status, body) = Client::answer(response).await.expect("admin state reads");
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).expect("a state summary")
    }
}

/// How far one signup got, and what it was handed on the way. Its `Debug`
/// masks the credentials, so a failing assertion prints none in full.
#[derive(Clone, Default)]
pub struct Signup {
    pub email: String,
    /// The account request answered `oauth` with a code.
    pub code_issued: bool,
    /// The token exchange answered 200 with this access token.
    pub access: Option<String>,
    /// The resource creation answered 200 with this personal API key.
    pub personal_api_key: Option<String>,
    /// Where it stopped, when it did not finish: a transport error (the
    /// server died) or an unexpected answer.
    pub stopped: Option<String>,
}

impl std::fmt::Debug for Signup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = |value: &Option<String>| value.as_deref().map(protocol::credential::mask);
        f.debug_struct("Signup")
            .field("email", &self.email)
            .field("code_issued", &self.code_issued)
            .field("access", &masked(&self.access))
            .field("personal_api_key", &masked(&self.personal_api_key))
            .field("stopped", &self.stopped)
            .finish()
    }
}

impl Signup {
    pub fn is_complete(&self) -> bool {
        self.personal_api_key.is_some() && self.stopped.is_none()
    }
}

/// The wizard's signup: account request, token exchange, resource
/// creation. Never panics on a transport error (the durability test kills
/// the server under it); a 500 is recorded as a stop, and callers refuse it.
pub async fn signup(client: &Client, email: &str) -> Signup {
    let mut signup = Signup {
        email: email.to_owned(),
        ..Signup::default()
    };
    let verifier = CodeVerifier::generate(&OsRandom);
    let id = format!("load_{email}");
    let code = match client.account_request(&id, email, &verifier).await {
        Ok((StatusCode::OK, body)) if body["type"] == "oauth" => body["oauth"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        Ok((status, body)) => return signup.stop(format!("account request: {status} {body}")),
        Err(error) => return signup.stop(format!("account request: {error}")),
    };
    signup.code_issued = true;
    let access = match client.exchange(&code, verifier.as_str()).await {
        Ok((StatusCode::OK, body)) => body["access_token"].as_str().unwrap_or_default().to_owned(),
        Ok((status, body)) => return signup.stop(format!("token: {status} {body}")),
        Err(error) => return signup.stop(format!("token: {error}")),
    };
    signup.access = Some(access.clone());
    match client.provision(&access).await {
        Ok((StatusCode::OK, body)) => {
            let key = &body["complete"]["access_configuration"]["personal_api_key"];
            signup.personal_api_key = key.as_str().map(str::to_owned);
        }
        Ok((status, body)) => return signup.stop(format!("resources: {status} {body}")),
        Err(error) => return signup.stop(format!("resources: {error}")),
    }
    signup
}

impl Signup {
    fn stop(mut self, reason: String) -> Signup {
        self.stopped = Some(protocol::credential::redact_secrets(&reason));
        self
    }
}
