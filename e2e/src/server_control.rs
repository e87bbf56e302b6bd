//! The scenario's provisioning server as the steps see it: running, and
//! crashed and started again by a `restart_server` step on the same port
//! and database file.
//!
//! The server keeps its request journal in memory, so a killed process
//! takes its journal with it: each restart reads the journal just before
//! the kill and keeps it, and [`ServerControl::journal`] answers every
//! process's entries in order (the old ones first). Requests that reach
//! the old process between that read and the kill would be missing; a
//! scenario avoids them by restarting while nothing talks to the server
//! (`after` in [`RestartServerStep`] waits for a known point).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use protocol::admin::{Journal, JournalEntry};
use protocol::paths;

use crate::process::{self, Invocation, Service};
use crate::steps::{RestartServerStep, VerdictWait};

/// The scenario's gateway, as a restart step reaches it: its held
/// requests and its journal.
pub struct GatewayAdmin<'a> {
    pub url: &'a str,
    pub admin_token: &'a str,
}

impl GatewayAdmin<'_> {
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        path: &str,
    ) -> Result<T> {
        admin_json(client.get(format!("{}{path}", self.url)), self.admin_token).await
    }

    async fn held(&self, client: &reqwest::Client) -> Result<u32> {
        let held: protocol::admin::Held = self.get(client, paths::ADMIN_HELD).await?;
        Ok(held.held)
    }

    async fn release(&self, client: &reqwest::Client) -> Result<u32> {
        let url = format!("{}{}", self.url, paths::ADMIN_RELEASE);
        let released: protocol::admin::Held =
            admin_json(client.post(url), self.admin_token).await?;
        Ok(released.held)
    }

    async fn verdicts(&self, client: &reqwest::Client, verdict: &str) -> Result<usize> {
        let journal: Journal = self.get(client, paths::ADMIN_JOURNAL).await?;
        Ok(journal
            .entries
            .iter()
            .filter(|entry| entry.verdict.as_deref() == Some(verdict))
            .count())
    }
}

/// How long a restarted server may keep failing to bind its old port.
pub const REBIND_DEADLINE: Duration = Duration::from_secs(5);

/// The pause between two attempts to start it again.
const REBIND_PAUSE: Duration = Duration::from_millis(50);

/// How often the journal is read while waiting for `after`.
const POLL: Duration = Duration::from_millis(10);

/// The provisioning server of one scenario.
#[derive(Debug)]
pub struct ServerControl {
    /// `http://127.0.0.1:<port>`; the same across restarts.
    pub url: String,
    admin_token: String,
    scratch: PathBuf,
    inner: tokio::sync::Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None` after a kill whose restart failed.
    service: Option<Service>,
    /// The journals of the processes killed so far, in order.
    earlier: Vec<JournalEntry>,
    restarts: usize,
    /// The stdout and stderr files of the restarted processes.
    outputs: Vec<PathBuf>,
    /// Each process's invocation as started (for `--keep`).
    invocations: Vec<Invocation>,
}

impl ServerControl {
    pub fn new(service: Service, admin_token: &str, scratch: &Path) -> ServerControl {
        ServerControl {
            url: service.url.clone(),
            admin_token: admin_token.to_owned(),
            scratch: scratch.to_path_buf(),
            inner: tokio::sync::Mutex::new(Inner {
                service: Some(service),
                earlier: Vec::new(),
                restarts: 0,
                outputs: Vec::new(),
                invocations: Vec::new(),
            }),
        }
    }

    /// Runs a `restart_server` step; the lines of what happened go to
    /// `transcript`.
    pub async fn restart(
        &self,
        step: &RestartServerStep,
        client: &reqwest::Client,
        gateway: &GatewayAdmin<'_>,
        transcript: &mut Vec<String>,
        title: &str,
    ) -> Result<Vec<String>> {
        let mut inner = self.inner.lock().await;
        let Some(service) = inner.service.take() else {
            bail!("the server is not running (an earlier restart failed)");
        };
        if let Some(wanted) = step.after_gateway_holds {
            let timeout = step
                .after
                .as_ref()
                .map_or(10, |after| after.timeout_seconds);
            let deadline = Instant::now() + Duration::from_secs(timeout);
            loop {
                let held = match gateway.held(client).await {
                    Ok(held) => held,
                    Err(error) => {
                        inner.service = Some(service);
                        return Err(error);
                    }
                };
                if held >= wanted {
                    transcript.push(format!("{title}: the gateway holds {held} request(s)"));
                    break;
                }
                if Instant::now() >= deadline {
                    inner.service = Some(service);
                    bail!(
                        "the gateway held {held} request(s) after {timeout} s, not {wanted} (is its `hold` fault set?); the server was not restarted"
                    );
                }
                tokio::time::sleep(POLL).await;
            }
        }
        if let Some(after) = &step.after {
            let deadline = Instant::now() + Duration::from_secs(after.timeout_seconds);
            loop {
                let seen = match self.fetch_journal(client).await {
                    Ok(journal) => count_path(&journal, &after.path),
                    Err(error) => {
                        inner.service = Some(service);
                        return Err(error);
                    }
                };
                if seen >= after.count {
                    transcript.push(format!(
                        "{title}: the server's journal holds {seen} × {}",
                        after.path
                    ));
                    break;
                }
                if Instant::now() >= deadline {
                    inner.service = Some(service);
                    bail!(
                        "the server's journal held {seen} × {} after {} s, not {}; the server was not restarted",
                        after.path,
                        after.timeout_seconds,
                        after.count
                    );
                }
                tokio::time::sleep(POLL).await;
            }
        }
        // Read last, right before the kill: the old process's journal dies
        // with it.
        let journal = match self.fetch_journal(client).await {
            Ok(journal) => journal,
            Err(error) => {
                inner.service = Some(service);
                return Err(error.context("cannot read the journal before the restart"));
            }
        };
        let invocation = service.invocation.clone();
        service.process.kill().await;
        inner.earlier.extend(journal.entries);
        inner.restarts += 1;
        let number = inner.restarts;
        match &step.up_when {
            Some(up) => transcript.push(format!(
                "{title}: killed the server (SIGKILL); down until the gateway has answered {} × {}",
                up.count, up.gateway_verdict
            )),
            None => transcript.push(format!(
                "{title}: killed the server (SIGKILL); down {} ms",
                step.down_ms
            )),
        }
        if step.release_gateway {
            let released = gateway.release(client).await?;
            transcript.push(format!("{title}: released {released} held request(s)"));
        }
        match &step.up_when {
            Some(up) => wait_for_verdicts(gateway, client, up, transcript, title).await?,
            None => tokio::time::sleep(Duration::from_millis(step.down_ms)).await,
        }

        let address = self.url.strip_prefix("http://").unwrap_or(&self.url);
        let invocation = with_bind(invocation, address);
        let stdout = self.scratch.join(format!("server-restart{number}.stdout"));
        let stderr = self.scratch.join(format!("server-restart{number}.stderr"));
        inner.outputs.push(stdout.clone());
        inner.outputs.push(stderr.clone());
        inner.invocations.push(invocation.clone());
        let started = Instant::now();
        let mut attempts = 0;
        let service = loop {
            attempts += 1;
            match process::start_service(
                "provisioning-server (restarted)",
                invocation.clone(),
                &stdout,
                &stderr,
            )
            .await
            {
                Ok(service) => break service,
                Err(error) if started.elapsed() >= REBIND_DEADLINE => {
                    return Err(error.context(format!(
                        "the server did not start again on {address} in {} attempts within {} s",
                        attempts,
                        REBIND_DEADLINE.as_secs()
                    )));
                }
                Err(_) => tokio::time::sleep(REBIND_PAUSE).await,
            }
        };
        if service.url != self.url {
            let url = service.url.clone();
            service.process.kill().await;
            bail!("the restarted server listens on {url}, not on {}", self.url);
        }
        transcript.push(format!(
            "{title}: listening again on {} after {} ms ({attempts} attempt(s))",
            self.url,
            started.elapsed().as_millis()
        ));
        inner.service = Some(service);
        Ok(Vec::new())
    }

    /// The journal of every process, oldest first: what the killed ones
    /// held when they were killed, then the running one's.
    pub async fn journal(&self, client: &reqwest::Client) -> Result<Journal, String> {
        let inner = self.inner.lock().await;
        let mut entries = inner.earlier.clone();
        if inner.service.is_none() {
            return Err("the server is not running (a restart failed)".to_owned());
        }
        let current = self
            .fetch_journal(client)
            .await
            .map_err(|error| format!("{error:#}"))?;
        entries.extend(current.entries);
        Ok(Journal { entries })
    }

    /// How many times the server was killed.
    pub async fn restarts(&self) -> usize {
        self.inner.lock().await.restarts
    }

    /// The output files of the restarted processes (for the leak scan).
    pub async fn outputs(&self) -> Vec<PathBuf> {
        self.inner.lock().await.outputs.clone()
    }

    /// The invocations of the restarted processes (for `--keep`).
    pub async fn restart_invocations(&self) -> Vec<Invocation> {
        self.inner.lock().await.invocations.clone()
    }

    /// Kills the running process, if any.
    pub async fn kill(self) {
        if let Some(service) = self.inner.into_inner().service {
            service.process.kill().await;
        }
    }

    async fn fetch_journal(&self, client: &reqwest::Client) -> Result<Journal> {
        let url = format!("{}{}", self.url, paths::ADMIN_JOURNAL);
        admin_json(client.get(url), &self.admin_token).await
    }
}

/// Sends an admin request with the admin token and reads its JSON answer;
/// a failure names the method and URL.
async fn admin_json<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    admin_token: &str,
) -> Result<T> {
    let (client, request) = request.bearer_auth(admin_token).build_split();
    let request = request?;
    let what = format!("{} {}", request.method(), request.url());
    let response = client
        .execute(request)
        .await
        .with_context(|| what.clone())?;
    let status = response.status();
    if !status.is_success() {
        bail!("{what}: {status}");
    }
    response
        .json()
        .await
        .with_context(|| format!("{what}: unexpected body"))
}

/// Waits until the gateway's journal holds `up.count` entries with
/// `up.gateway_verdict`.
async fn wait_for_verdicts(
    gateway: &GatewayAdmin<'_>,
    client: &reqwest::Client,
    up: &VerdictWait,
    transcript: &mut Vec<String>,
    title: &str,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(up.timeout_seconds);
    loop {
        let seen = gateway.verdicts(client, &up.gateway_verdict).await?;
        if seen >= up.count {
            transcript.push(format!(
                "{title}: the gateway's journal holds {seen} × {}",
                up.gateway_verdict
            ));
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "the gateway's journal held {seen} × {} after {} s, not {}; the server stays down",
                up.gateway_verdict,
                up.timeout_seconds,
                up.count
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Entries of `journal` on exactly `path`.
pub fn count_path(journal: &Journal, path: &str) -> usize {
    journal
        .entries
        .iter()
        .filter(|entry| entry.path == path)
        .count()
}

/// `invocation` with its `--bind` value (or a `--bind=` argument) set to
/// `address`, or `--bind address` added.
pub fn with_bind(mut invocation: Invocation, address: &str) -> Invocation {
    if let Some(position) = invocation.args.iter().position(|arg| arg == "--bind") {
        if let Some(value) = invocation.args.get_mut(position + 1) {
            *value = address.to_owned();
            return invocation;
        }
    }
    if let Some(arg) = invocation
        .args
        .iter_mut()
        .find(|arg| arg.starts_with("--bind="))
    {
        *arg = format!("--bind={address}");
        return invocation;
    }
    invocation.args.push("--bind".to_owned());
    invocation.args.push(address.to_owned());
    invocation
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn invocation(args: &[&str]) -> Invocation {
        Invocation {
            program: PathBuf::from("/bin/server"),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            env: BTreeMap::new(),
            current_dir: PathBuf::from("/tmp"),
        }
    }

    #[test]
    fn the_restart_binds_the_address_the_server_had() {
        let cases: [(&[&str], &[&str]); 3] = [
            (
                &["--bind", "127.0.0.1:0", "--region", "us"],
                &["--bind", "127.0.0.1:4321", "--region", "us"],
            ),
            (&["--bind=127.0.0.1:0"], &["--bind=127.0.0.1:4321"]),
            (
                &["--region", "us"],
                &["--region", "us", "--bind", "127.0.0.1:4321"],
            ),
        ];
        for (before, after) in cases {
            assert_eq!(
                with_bind(invocation(before), "127.0.0.1:4321").args,
                after,
                "{before:?}"
            );
        }
    }

    #[test]
    fn journal_entries_are_counted_by_exact_path() {
        let entry = |path: &str| JournalEntry {
            at: 0,
            request_id: "r".into(),
            method: "POST".into(),
            path: path.into(),
            status: 200,
            credential: None,
            verdict: None,
            reason: None,
        };
        let journal = Journal {
            entries: vec![
                entry("/oauth/introspect"),
                entry("/api/agentic/oauth/token"),
                entry("/oauth/introspect"),
                entry("/oauth/introspect/x"),
            ],
        };
        assert_eq!(count_path(&journal, "/oauth/introspect"), 2);
        assert_eq!(count_path(&journal, "/nothing"), 0);
    }
}
