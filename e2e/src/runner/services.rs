//! A scenario's services: the provisioning server (and the other region's,
//! when the scenario has one) and the gateway, started in the order their
//! addresses require, then read and stopped once the steps are done.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use protocol::admin::{Journal, StateSummary};
use protocol::paths;
use serde::de::DeserializeOwned;

use crate::binaries::Binaries;
use crate::process::{self, Invocation, Service};
use crate::scenario::{Scenario, ServerSetup};
use crate::server_control::ServerControl;

/// The running services of one scenario. Every process group is killed
/// when its handle drops, on every path out; [`Services::stop`] kills
/// them in order.
pub struct Services {
    /// The main server, which `restart_server` steps may crash.
    pub server: ServerControl,
    pub other_server: Option<Service>,
    pub gateway: Service,
    /// Each program as started, with the address it really got.
    pub invocations: Vec<(String, Invocation)>,
}

/// What the services held at the end, read while they still ran.
pub struct Collected {
    pub server_state: Result<StateSummary, String>,
    /// Every server process's entries, the killed ones' first.
    pub server_journal: Result<Journal, String>,
    pub gateway_journal: Result<Journal, String>,
    pub server_restarts: usize,
    /// The output files of the restarted servers (for the leak scan).
    pub restart_outputs: Vec<PathBuf>,
    /// The restarted servers' invocations (for `--keep`).
    pub restart_invocations: Vec<(String, Invocation)>,
}

/// Where the programs are and what they are given.
pub struct Launch<'a> {
    pub binaries: &'a Binaries,
    pub fixtures: &'a Path,
    /// The scratch directory: databases, outputs, the programs' cwd.
    pub dir: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    pub admin_token: &'a str,
}

/// Starts the scenario's services. The gateway's port is chosen before
/// the server starts, so the server can be told where to mint the
/// wizard's gateway tokens (the gateway in turn needs the server's
/// introspection URL, known only once it runs).
pub async fn start(scenario: &Scenario, launch: &Launch<'_>) -> Result<Services> {
    let dir = launch.dir;
    let mut invocations = Vec::new();
    // Held until the gateway starts: the server, bound to port 0 in the
    // meantime, was once given the very port just picked and released.
    let (gateway_port_held, gateway_port) = process::reserve_port()?;
    let gateway_url = format!("http://127.0.0.1:{gateway_port}");
    let server = process::start_service(
        "provisioning-server",
        server_invocation(
            scenario,
            &scenario.server,
            launch,
            "server.sqlite",
            &gateway_url,
        ),
        &dir.join("server.stdout"),
        &dir.join("server.stderr"),
    )
    .await?;
    invocations.push(("provisioning-server".to_owned(), bound_here(&server)));

    let other_server = match &scenario.other_server {
        Some(setup) => {
            // No gateway of its own region runs beside it.
            let invocation = server_invocation(scenario, setup, launch, "other-server.sqlite", "");
            let other = process::start_service(
                "provisioning-server (other region)",
                invocation,
                &dir.join("other-server.stdout"),
                &dir.join("other-server.stderr"),
            )
            .await?;
            invocations.push((
                "provisioning-server (other region)".to_owned(),
                bound_here(&other),
            ));
            Some(other)
        }
        None => None,
    };

    drop(gateway_port_held);
    let gateway = match process::start_service(
        "llm-gateway-mock",
        gateway_invocation(scenario, launch, gateway_port, &server.url),
        &dir.join("gateway.stdout"),
        &dir.join("gateway.stderr"),
    )
    .await
    {
        Ok(gateway) => gateway,
        Err(error) => {
            server.process.kill().await;
            return Err(error);
        }
    };
    invocations.push(("llm-gateway-mock".to_owned(), bound_here(&gateway)));
    Ok(Services {
        // From here on the server may be restarted by a step.
        server: ServerControl::new(server, launch.admin_token, dir),
        other_server,
        gateway,
        invocations,
    })
}

impl Services {
    /// Reads the server's state and both journals while everything still
    /// runs, then stops every process.
    pub async fn stop(self, client: &reqwest::Client, admin_token: &str) -> Collected {
        let server_state: Result<StateSummary, String> =
            fetch_admin(client, &self.server.url, paths::ADMIN_STATE, admin_token).await;
        let server_journal: Result<Journal, String> = self.server.journal(client).await;
        let gateway_journal: Result<Journal, String> =
            fetch_admin(client, &self.gateway.url, paths::ADMIN_JOURNAL, admin_token).await;
        let server_restarts = self.server.restarts().await;
        let restart_outputs = self.server.outputs().await;
        let restart_invocations = self
            .server
            .restart_invocations()
            .await
            .into_iter()
            .enumerate()
            .map(|(number, invocation)| {
                (
                    format!("provisioning-server (restart {})", number + 1),
                    invocation,
                )
            })
            .collect();
        self.server.kill().await;
        self.gateway.process.kill().await;
        if let Some(other) = self.other_server {
            other.process.kill().await;
        }
        Collected {
            server_state,
            server_journal,
            gateway_journal,
            server_restarts,
            restart_outputs,
            restart_invocations,
        }
    }
}

/// One provisioning server's invocation: bound to any free port, with its
/// own database file in the scratch directory.
fn server_invocation(
    scenario: &Scenario,
    setup: &ServerSetup,
    launch: &Launch<'_>,
    database: &str,
    gateway_url: &str,
) -> Invocation {
    let mut args = vec![
        "--bind".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--database-url".to_owned(),
        format!("sqlite://{}?mode=rwc", launch.dir.join(database).display()),
        "--region".to_owned(),
        setup.region.clone(),
        "--profile".to_owned(),
        scenario.profile_argument_of(setup, launch.fixtures),
        "--admin-token".to_owned(),
        launch.admin_token.to_owned(),
        "--wizard-gateway-url".to_owned(),
        gateway_url.to_owned(),
    ];
    if let Some(seed) = &setup.seed {
        args.push("--seed".to_owned());
        args.push(launch.fixtures.join(seed).display().to_string());
    }
    if setup.frozen_clock {
        args.push("--frozen-clock".to_owned());
    }
    Invocation {
        program: launch.binaries.server.path.clone(),
        args,
        env: launch.env.clone(),
        current_dir: launch.dir.to_path_buf(),
    }
}

/// The gateway's invocation, on the port chosen before the server started.
fn gateway_invocation(
    scenario: &Scenario,
    launch: &Launch<'_>,
    port: u16,
    server_url: &str,
) -> Invocation {
    let mut args = vec![
        "--bind".to_owned(),
        format!("127.0.0.1:{port}"),
        "--region".to_owned(),
        scenario.gateway.region.clone(),
        "--introspection-url".to_owned(),
        scenario.introspection_url(server_url),
        "--admin-token".to_owned(),
        launch.admin_token.to_owned(),
        "--fault-seed".to_owned(),
        scenario.gateway.fault_seed.to_string(),
    ];
    for fault in &scenario.gateway.faults {
        args.push("--fault".to_owned());
        args.push(fault.clone());
    }
    if let Some(agent_dir) = &scenario.gateway.agent_dir {
        args.push("--agent-dir".to_owned());
        args.push(launch.fixtures.join(agent_dir).display().to_string());
    }
    Invocation {
        program: launch.binaries.gateway.path.clone(),
        args,
        env: launch.env.clone(),
        current_dir: launch.dir.to_path_buf(),
    }
}

/// A service's invocation with `--bind` set to the address it really got,
/// so the printed rerun commands agree with each other.
fn bound_here(service: &Service) -> Invocation {
    let mut invocation = service.invocation.clone();
    let address = service
        .url
        .strip_prefix("http://")
        .unwrap_or(&service.url)
        .to_owned();
    if let Some(position) = invocation.args.iter().position(|arg| arg == "--bind") {
        if let Some(value) = invocation.args.get_mut(position + 1) {
            *value = address;
        }
    }
    invocation
}

async fn fetch_admin<T: DeserializeOwned>(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
) -> Result<T, String> {
    let url = format!("{base}{path}");
    let response = client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(format!(
            "GET {url}: {status}: {}",
            protocol::credential::redact_secrets(&body)
        ));
    }
    response
        .json::<T>()
        .await
        .map_err(|error| format!("GET {url}: unexpected body: {error}"))
}
