//! One whole benchmark run: start everything, measure, compare, write.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use base64::Engine as _;

use protocol::oauth::{DEV_INTROSPECTION_CLIENT_ID, DEV_INTROSPECTION_CLIENT_SECRET};

use crate::bench::flows::{self, Emails, Plain};
use crate::bench::load::{closed_loop, peak_rss_during, LoadResult};
use crate::bench::programs::{self, Launch, Program};
use crate::bench::report::{self, Better, Machine, Report, Row, StepLatency, Target};
use crate::bench::stats::{median, summarize};
use crate::bench::tools::{self, ms};

/// The driver's settings (from `bench`'s flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// Length of each load run.
    pub seconds: u64,
    /// Concurrency levels of the signup runs.
    pub signup_clients: Vec<usize>,
    /// Concurrency of every other load run.
    pub clients: usize,
    /// Starts per program for the start-up time.
    pub starts: usize,
    pub wizard_runs: usize,
    pub out_dir: PathBuf,
    /// `node_modules` holding `oauth2-mock-server`.
    pub peer_modules: PathBuf,
    /// `RUST_LOG` of our servers during the run.
    pub log: String,
    /// Rewrite the figures in `BENCHMARKS.md`.
    pub update_benchmarks_md: bool,
    /// The parts of the benchmark to run (all of them when empty).
    pub only: Vec<Phase>,
    /// Each comparison runs ours and the peer's side alternately this many
    /// times; the figures pool (flows) or take the median of (wrk) the
    /// rounds, so a passing disturbance of the machine weighs on both.
    pub rounds: usize,
}

/// One part of the benchmark, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// Start → `listening on` of each program.
    Startup,
    /// Full signups at each `--signup-clients` level, and the peer's token.
    Signups,
    /// Authorization code + PKCE flows.
    AuthCode,
    /// Introspection and `GET /api/users/@me/` (wrk).
    Lookups,
    /// Authenticated gateway messages.
    Gateway,
    /// The wizard's whole run as a process.
    Wizard,
}

impl Options {
    fn runs(&self, phase: Phase) -> bool {
        self.only.is_empty() || self.only.contains(&phase)
    }
}

const ADMIN_TOKEN: &str = "bench-admin-token";
/// Every load run stops after this many flows even if time remains.
const MAX_FLOWS: u64 = 2_000_000;

struct Context_ {
    options: Options,
    work: tempfile::TempDir,
    server_bin: PathBuf,
    gateway_bin: PathBuf,
    wizard_bin: PathBuf,
    rows: Vec<Row>,
    latencies: Vec<StepLatency>,
    skipped: Vec<String>,
    wrk: bool,
    hyperfine: bool,
}

pub async fn run(options: Options) -> Result<Report> {
    std::fs::create_dir_all(&options.out_dir)?;
    let work = tempfile::Builder::new()
        .prefix("bench-")
        .tempdir_in(&options.out_dir)?;
    let mut cx = Context_ {
        server_bin: programs::binary("provisioning-server", "E2E_SERVER_BIN")?,
        gateway_bin: programs::binary("llm-gateway-mock", "E2E_GATEWAY_BIN")?,
        wizard_bin: programs::binary("wizard", "E2E_WIZARD_BIN")?,
        wrk: programs::on_path("wrk"),
        hyperfine: programs::on_path("hyperfine"),
        options,
        work,
        rows: Vec::new(),
        latencies: Vec::new(),
        skipped: Vec::new(),
    };
    if !cx.wrk {
        cx.skipped.push(
            "wrk is not installed: the single-request rates were measured with the Rust driver instead"
                .into(),
        );
    }
    let peer_script = crate::binaries::workspace_root().join("e2e/bench/peer.mjs");
    let peer_ready = programs::on_path("node")
        && cx
            .options
            .peer_modules
            .join("oauth2-mock-server/package.json")
            .exists();
    if !peer_ready {
        cx.skipped.push(format!(
            "peer: node or {} is missing (`just bench` installs it with npm); peer columns are empty",
            cx.options.peer_modules.display()
        ));
    }
    let peer_launch = peer_ready.then(|| Launch {
        name: "oauth2-mock-server".into(),
        program: "node".into(),
        args: vec![
            peer_script.display().to_string(),
            cx.options.peer_modules.display().to_string(),
            "0".into(),
        ],
        env: Vec::new(),
        stderr: cx.work.path().join("peer.stderr"),
    });

    if cx.options.runs(Phase::Startup) {
        eprintln!("bench: start-up times ({} starts each)", cx.options.starts);
        startup_rows(&mut cx, peer_launch.as_ref()).await?;
    }

    let server = programs::start(&server_launch(&cx, "main")?).await?;
    let gateway = programs::start(&gateway_launch(&cx, &server.url, "main")).await?;
    let peer = match &peer_launch {
        Some(launch) => Some(programs::start(launch).await?),
        None => None,
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = |program: Option<&Program>| program.and_then(|program| tools::rss_of(program.pid));
    let server_idle = idle(Some(&server));
    let gateway_idle = idle(Some(&gateway));
    let peer_idle = idle(peer.as_ref());
    cx.rows.push(Row::new(
        "idle RSS: provisioning-server vs peer",
        "MB",
        server_idle,
        peer_idle,
        Better::Lower,
        "VmRSS 0.5 s after `listening on`",
    ));
    cx.rows.push(Row::new(
        "idle RSS: llm-gateway-mock vs peer",
        "MB",
        gateway_idle,
        peer_idle,
        Better::Lower,
        "VmRSS 0.5 s after `listening on`",
    ));

    let measured = measure(&mut cx, &server, &gateway, peer.as_ref()).await;
    let wizard = match measured {
        Ok(()) if cx.options.runs(Phase::Wizard) => wizard_runs(&mut cx, &server, &gateway).await,
        Ok(()) => Ok(WizardFigures::default()),
        Err(error) => Err(error),
    };
    server.stop().await;
    gateway.stop().await;
    if let Some(peer) = peer {
        peer.stop().await;
    }
    let wizard = wizard?;

    let targets = targets(&cx, server_idle, gateway_idle, &wizard);
    let report = Report {
        machine: machine(),
        settings: vec![
            ("seconds per run".into(), cx.options.seconds.to_string()),
            (
                "rounds (ours and the peer alternately)".into(),
                cx.options.rounds.to_string(),
            ),
            ("clients".into(), cx.options.clients.to_string()),
            ("server RUST_LOG".into(), cx.options.log.clone()),
            (
                "single requests by".into(),
                if cx.wrk { "wrk -t1" } else { "the Rust driver" }.into(),
            ),
        ],
        rows: cx.rows,
        latencies: cx.latencies,
        targets,
        skipped: cx.skipped,
    };
    Ok(report)
}

/// Writes `report.json` and `report.md` to the output directory and, if
/// asked, the figures into `BENCHMARKS.md`.
pub fn write(report: &Report, options: &Options) -> Result<()> {
    std::fs::write(options.out_dir.join("report.json"), report::json(report))?;
    let markdown = report::markdown(report);
    std::fs::write(options.out_dir.join("report.md"), &markdown)?;
    if options.update_benchmarks_md {
        let path = crate::binaries::workspace_root().join("BENCHMARKS.md");
        let document = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
        let updated = report::replace_between(
            &document,
            "<!-- bench:latest:begin -->",
            "<!-- bench:latest:end -->",
            &markdown,
        );
        std::fs::write(&path, updated)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn server_launch(cx: &Context_, label: &str) -> Result<Launch> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("server-{label}-"))
        .tempdir_in(cx.work.path())?
        .keep();
    let database = dir.join("provisioning.db");
    Ok(Launch {
        name: "provisioning-server".into(),
        program: cx.server_bin.clone(),
        args: vec![
            "--bind".into(),
            "127.0.0.1:0".into(),
            "--region".into(),
            "us".into(),
            "--profile".into(),
            "current".into(),
            "--database-url".into(),
            format!("sqlite://{}?mode=rwc", database.display()),
            "--admin-token".into(),
            ADMIN_TOKEN.into(),
            "--seed".into(),
            crate::binaries::workspace_root()
                .join("fixtures/seeds/login-user.toml")
                .display()
                .to_string(),
            // Today's era mints the wizard no personal key; with its gate on,
            // a measured signup still writes the key, as every earlier
            // figure's did.
            "--seed".into(),
            crate::binaries::workspace_root()
                .join("fixtures/seeds/wizard-personal-key.toml")
                .display()
                .to_string(),
            // No gateway-token mints: none is measured, and none may reach
            // whatever listens on the default :3308.
            "--wizard-gateway-url".into(),
            String::new(),
        ],
        env: vec![("RUST_LOG".into(), cx.options.log.clone())],
        stderr: dir.join("server.stderr"),
    })
}

fn gateway_launch(cx: &Context_, server_url: &str, label: &str) -> Launch {
    Launch {
        name: "llm-gateway-mock".into(),
        program: cx.gateway_bin.clone(),
        args: vec![
            "--bind".into(),
            "127.0.0.1:0".into(),
            "--region".into(),
            "us".into(),
            "--introspection-url".into(),
            format!("{server_url}{}", protocol::paths::INTROSPECT),
        ],
        env: vec![("RUST_LOG".into(), cx.options.log.clone())],
        stderr: cx.work.path().join(format!("gateway-{label}.stderr")),
    }
}

async fn startup_rows(cx: &mut Context_, peer: Option<&Launch>) -> Result<()> {
    let (mut server, mut gateway, mut peer_times) = (Vec::new(), Vec::new(), Vec::new());
    for start in 0..cx.options.starts {
        let label = format!("start{start}");
        let program = programs::start(&server_launch(cx, &label)?).await?;
        server.push(ms(program.startup));
        let gateway_program = programs::start(&gateway_launch(cx, &program.url, &label)).await?;
        gateway.push(ms(gateway_program.startup));
        gateway_program.stop().await;
        program.stop().await;
        if let Some(peer) = peer {
            let program = programs::start(peer).await?;
            peer_times.push(ms(program.startup));
            program.stop().await;
        }
    }
    let note = format!(
        "median of {} starts, spawn → `listening on` (server: fresh SQLite file, migrations, seeds)",
        cx.options.starts
    );
    cx.rows.push(Row::new(
        "start → listening: provisioning-server vs peer",
        "ms",
        median(&server),
        median(&peer_times),
        Better::Lower,
        &note,
    ));
    cx.rows.push(Row::new(
        "start → listening: llm-gateway-mock vs peer",
        "ms",
        median(&gateway),
        median(&peer_times),
        Better::Lower,
        &note,
    ));
    Ok(())
}

/// Records the latencies of `result` and prints its rate.
fn record(cx: &mut Context_, flow: &str, result: &LoadResult) {
    cx.latencies.extend(summaries(flow, result));
    print(flow, result);
}

fn summaries(flow: &str, result: &LoadResult) -> Vec<StepLatency> {
    result
        .step_order
        .iter()
        .filter_map(|step| {
            let mut samples = result.steps.get(step).cloned().unwrap_or_default();
            summarize(&mut samples).map(|summary| StepLatency {
                flow: flow.to_owned(),
                clients: result.clients,
                step: (*step).to_owned(),
                summary,
            })
        })
        .collect()
}

fn print(flow: &str, result: &LoadResult) {
    eprintln!(
        "bench: {flow} × {} clients: {:.0}/s ({} flows, {} errors{})",
        result.clients,
        result.rate(),
        result.flows,
        result.errors,
        result
            .first_error
            .as_deref()
            .map(|error| format!("; first: {}", protocol::credential::redact_secrets(error)))
            .unwrap_or_default()
    );
}

/// Prints the latest round of an alternating comparison.
fn round_line(
    what: &str,
    clients: usize,
    round: usize,
    rounds: usize,
    ours: &[LoadResult],
    theirs: &[LoadResult],
) {
    let latest = |runs: &[LoadResult]| {
        runs.last()
            .map_or_else(|| "–".to_owned(), |run| format!("{:.0}/s", run.rate()))
    };
    eprintln!(
        "bench: {what} × {clients} clients, round {round}/{rounds}: ours {}, peer {}",
        latest(ours),
        latest(theirs)
    );
}

fn rate(result: &LoadResult) -> Option<f64> {
    (result.flows > 0).then(|| result.rate())
}

async fn measure(
    cx: &mut Context_,
    server: &Program,
    gateway: &Program,
    peer: Option<&Program>,
) -> Result<()> {
    let http = flows::client()?;
    let duration = Duration::from_secs(cx.options.seconds);

    // a. Full signups against us, the peer's single token at the same
    //    concurrency.
    let emails = Emails::new(&format!("signup{}", std::process::id()));
    let mut server_peak = None;
    let mut peer_peak = None;
    let signup_levels = if cx.options.runs(Phase::Signups) {
        cx.options.signup_clients.clone()
    } else {
        Vec::new()
    };
    for clients in signup_levels {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 1..=cx.options.rounds {
            let (http_, base, emails_) = (http.clone(), server.url.clone(), emails.clone());
            let (run, peaks) = peak_rss_during(
                &[server.pid],
                closed_loop(clients, duration, MAX_FLOWS, move |_| {
                    let (http, base, email) = (http_.clone(), base.clone(), emails_.next());
                    async move {
                        let mut steps = Vec::new();
                        flows::signup(&http, &base, &email, &mut steps).await?;
                        Ok(steps)
                    }
                }),
            )
            .await;
            server_peak = max_opt(server_peak, peaks[0]);
            ours.push(run);
            if let Some(peer) = peer {
                let (http_, base) = (http.clone(), peer.url.clone());
                let (run, peaks) = peak_rss_during(
                    &[peer.pid],
                    closed_loop(clients, duration, MAX_FLOWS, move |_| {
                        let (http, base) = (http_.clone(), base.clone());
                        async move {
                            let mut steps = Vec::new();
                            flows::peer_token(&http, &base, &mut steps).await?;
                            Ok(steps)
                        }
                    }),
                )
                .await;
                peer_peak = max_opt(peer_peak, peaks[0]);
                theirs.push(run);
            }
            round_line("signups", clients, round, cx.options.rounds, &ours, &theirs);
        }
        let ours = LoadResult::pooled(ours);
        record(cx, "signup (ours)", &ours);
        let theirs = (!theirs.is_empty()).then(|| LoadResult::pooled(theirs));
        if let Some(theirs) = &theirs {
            record(cx, "client_credentials token (peer)", theirs);
        }
        cx.rows.push(Row::new(
            &format!("full signups/s vs peer single tokens/s, {clients} clients"),
            "1/s",
            rate(&ours),
            theirs.as_ref().and_then(rate),
            Better::Higher,
            "ours: account request → token → resources on SQLite (WAL); peer: one client_credentials JWT",
        ));
    }

    // b. Authorization code + PKCE.
    let clients = cx.options.clients;
    if cx.options.runs(Phase::AuthCode) {
        let cookie = flows::sign_in(&http, &server.url)
            .await
            .context("signing the seeded user in")?;
        let cookie = Arc::new(cookie);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 1..=cx.options.rounds {
            let (http_, base, cookie_) = (http.clone(), server.url.clone(), cookie.clone());
            ours.push(
                closed_loop(clients, duration, MAX_FLOWS, move |_| {
                    let (http, base, cookie) = (http_.clone(), base.clone(), cookie_.clone());
                    async move {
                        let mut steps = Vec::new();
                        flows::our_auth_code(&http, &base, &cookie, &mut steps).await?;
                        Ok(steps)
                    }
                })
                .await,
            );
            if let Some(peer) = peer {
                let (http_, base) = (http.clone(), peer.url.clone());
                theirs.push(
                    closed_loop(clients, duration, MAX_FLOWS, move |_| {
                        let (http, base) = (http_.clone(), base.clone());
                        async move {
                            let mut steps = Vec::new();
                            flows::peer_auth_code(&http, &base, &mut steps).await?;
                            Ok(steps)
                        }
                    })
                    .await,
                );
            }
            round_line(
                "auth code",
                clients,
                round,
                cx.options.rounds,
                &ours,
                &theirs,
            );
        }
        let ours = LoadResult::pooled(ours);
        record(cx, "auth code + PKCE (ours)", &ours);
        let theirs = (!theirs.is_empty()).then(|| LoadResult::pooled(theirs));
        if let Some(theirs) = &theirs {
            record(cx, "auth code + PKCE (peer)", theirs);
        }
        cx.rows.push(Row::new(
            &format!("auth code + PKCE flows/s, {clients} clients"),
            "1/s",
            rate(&ours),
            theirs.as_ref().and_then(rate),
            Better::Higher,
            "GET authorize → 302 with code → POST token; ours with a signed-in session and remembered consent",
        ));
    }

    // c. Introspection and the user endpoint, with a live signup's token.
    let mut steps = Vec::new();
    let signed_up = flows::signup(&http, &server.url, &emails.next(), &mut steps).await?;
    let peer_token = match peer {
        Some(peer) => Some(flows::peer_token(&http, &peer.url, &mut steps).await?),
        None => None,
    };
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{DEV_INTROSPECTION_CLIENT_ID}:{DEV_INTROSPECTION_CLIENT_SECRET}"
        ))
    );
    let form = "application/x-www-form-urlencoded".to_owned();
    let introspect = |url: String, token: &str| Plain {
        method: reqwest::Method::POST,
        url,
        headers: vec![
            ("Authorization".into(), basic.clone()),
            ("Content-Type".into(), form.clone()),
        ],
        body: Some(format!("token={token}")),
    };
    let (mut our_introspection, mut their_introspection) = (None, None);
    if cx.options.runs(Phase::Lookups) {
        let theirs = match (peer, &peer_token) {
            (Some(peer), Some(token)) => Some(Side {
                label: "introspection (peer)",
                request: introspect(format!("{}/introspect", peer.url), token),
                pids: std::slice::from_ref(&peer.pid),
            }),
            _ => None,
        };
        let ours = Side {
            label: "introspection (ours)",
            request: introspect(
                format!("{}{}", server.url, protocol::paths::INTROSPECT),
                &signed_up.access_token,
            ),
            pids: std::slice::from_ref(&server.pid),
        };
        let (ours, theirs) = paired(cx, ours, theirs).await?;
        our_introspection = ours.rate;
        their_introspection = theirs.and_then(|theirs| theirs.rate);
        cx.rows.push(Row::new(
            &format!("token introspection/s, {clients} connections"),
            "1/s",
            ours.rate,
            their_introspection,
            Better::Higher,
            "POST form token= with HTTP Basic; ours looks the pha_ up, the peer answers {active:true} without a lookup",
        ));
        let bearer = |url: String, token: &str| Plain {
            method: reqwest::Method::GET,
            url,
            headers: vec![("Authorization".into(), format!("Bearer {token}"))],
            body: None,
        };
        let theirs = match (peer, &peer_token) {
            (Some(peer), Some(token)) => Some(Side {
                label: "userinfo (peer)",
                request: bearer(format!("{}/userinfo", peer.url), token),
                pids: std::slice::from_ref(&peer.pid),
            }),
            _ => None,
        };
        let ours = Side {
            label: "users/@me (ours)",
            request: bearer(
                format!("{}{}", server.url, protocol::paths::USERS_ME),
                &signed_up.access_token,
            ),
            pids: std::slice::from_ref(&server.pid),
        };
        let (ours, theirs) = paired(cx, ours, theirs).await?;
        server_peak = max_opt(server_peak, ours.peaks.first().copied().flatten());
        if let Some(theirs) = &theirs {
            peer_peak = max_opt(peer_peak, theirs.peaks.first().copied().flatten());
        }
        cx.rows.push(Row::new(
            &format!("GET /api/users/@me/ vs peer /userinfo, {clients} connections"),
            "1/s",
            ours.rate,
            theirs.and_then(|theirs| theirs.rate),
            Better::Higher,
            "ours: hashed credential lookup, user, teams; the peer answers {sub} without a lookup",
        ));
    }

    // d. Authenticated gateway messages (introspection hop included).
    let mut gateway_peak = None;
    if cx.options.runs(Phase::Gateway) {
        let body = serde_json::json!({
            "model": "claude-bench",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "framework: next-js"}],
        })
        .to_string();
        let pids = [gateway.pid, server.pid];
        let ours = Side {
            label: "gateway messages (ours)",
            request: Plain {
                method: reqwest::Method::POST,
                url: format!("{}/wizard/v1/messages", gateway.url),
                headers: vec![
                    (
                        "Authorization".into(),
                        format!("Bearer {}", signed_up.access_token),
                    ),
                    ("Content-Type".into(), "application/json".into()),
                ],
                body: Some(body),
            },
            pids: &pids,
        };
        let (ours, _) = paired(cx, ours, None).await?;
        server_peak = max_opt(server_peak, ours.peaks.get(1).copied().flatten());
        gateway_peak = ours.peaks.first().copied().flatten();
        // The bar: at least half the rate of the peer's
        // lookup-free answers (the rate introspection must reach); our own
        // introspection rate beside it shows what the hop costs.
        cx.rows.push(Row::new(
            &format!("gateway messages/s vs peer introspection/s, {clients} connections"),
            "1/s",
            ours.rate,
            their_introspection,
            Better::Higher,
            "POST /wizard/v1/messages with a pha_ (one introspection per request) against the peer's lookup-free introspection",
        ));
        cx.rows.push(Row::new(
            &format!("gateway messages/s vs our introspection/s, {clients} connections"),
            "1/s",
            ours.rate,
            our_introspection,
            Better::Higher,
            "the same, against our own introspection: what the gateway's hop costs",
        ));
    }

    // e. Memory under load.
    cx.rows.push(Row::new(
        "peak RSS under load: provisioning-server vs peer",
        "MB",
        server_peak,
        peer_peak,
        Better::Lower,
        "VmRSS sampled every 100 ms during the load runs",
    ));
    cx.rows.push(Row::new(
        "peak RSS under load: llm-gateway-mock vs peer",
        "MB",
        gateway_peak,
        peer_peak,
        Better::Lower,
        "VmRSS sampled every 100 ms during the gateway run",
    ));
    Ok(())
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// One request repeated: with wrk when installed, else the Rust driver.
/// The rate and the peak RSS of `pids`.
/// One run of a single-request load.
struct Single {
    rate: Option<f64>,
    /// Peak VmRSS of each watched process, MB.
    peaks: Vec<Option<f64>>,
    latencies: Vec<StepLatency>,
}

/// One side of a single-request comparison.
struct Side<'a> {
    label: &'a str,
    request: Plain,
    pids: &'a [u32],
}

/// Runs `ours` and `theirs` alternately for the rounds; each side's
/// figures are its median round's rate and latencies (recorded) and its
/// highest peaks.
async fn paired(
    cx: &mut Context_,
    ours: Side<'_>,
    theirs: Option<Side<'_>>,
) -> Result<(Single, Option<Single>)> {
    let (mut our_runs, mut their_runs) = (Vec::new(), Vec::new());
    for _ in 0..cx.options.rounds {
        our_runs.push(single_once(cx, ours.label, ours.request.clone(), ours.pids).await?);
        if let Some(theirs) = &theirs {
            their_runs
                .push(single_once(cx, theirs.label, theirs.request.clone(), theirs.pids).await?);
        }
    }
    let ours = median_round(our_runs);
    let theirs = (!their_runs.is_empty()).then(|| median_round(their_runs));
    for side in std::iter::once(&ours).chain(theirs.as_ref()) {
        cx.latencies.extend(side.latencies.iter().cloned());
    }
    Ok((ours, theirs))
}

/// The round with the median rate (the lower middle one of an even
/// count), with the highest peaks of all rounds.
fn median_round(mut runs: Vec<Single>) -> Single {
    let mut peaks: Vec<Option<f64>> = Vec::new();
    for run in &runs {
        peaks.resize(peaks.len().max(run.peaks.len()), None);
        for (peak, value) in peaks.iter_mut().zip(&run.peaks) {
            *peak = max_opt(*peak, *value);
        }
    }
    runs.sort_by(|a, b| a.rate.unwrap_or(0.0).total_cmp(&b.rate.unwrap_or(0.0)));
    let middle = runs.len().saturating_sub(1) / 2;
    let mut median = runs.into_iter().nth(middle).unwrap_or(Single {
        rate: None,
        peaks: Vec::new(),
        latencies: Vec::new(),
    });
    median.peaks = peaks;
    median
}

async fn single_once(
    cx: &mut Context_,
    label: &str,
    request: Plain,
    pids: &[u32],
) -> Result<Single> {
    let clients = cx.options.clients;
    let duration = Duration::from_secs(cx.options.seconds);
    if cx.wrk {
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let script = tools::wrk_script(request.method.as_str(), &headers, request.body.as_deref());
        let path = cx.work.path().join(format!("{}.lua", slug(label)));
        std::fs::write(&path, script)?;
        let mut command = tokio::process::Command::new("wrk");
        command
            .args([
                "-t1",
                &format!("-c{clients}"),
                &format!("-d{}s", cx.options.seconds),
            ])
            .args(["--timeout", "10s", "--latency", "-s"])
            .arg(&path)
            .arg(&request.url)
            .kill_on_drop(true);
        let limit = duration + Duration::from_secs(30);
        let (output, peaks) =
            peak_rss_during(pids, tokio::time::timeout(limit, command.output())).await;
        let output = output
            .map_err(|_| anyhow::anyhow!("wrk ran past {limit:?}"))?
            .context("cannot run wrk")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let Some(result) = tools::parse_wrk(&text) else {
            cx.skipped.push(format!("{label}: wrk printed no figures"));
            return Ok(Single {
                rate: None,
                peaks,
                latencies: Vec::new(),
            });
        };
        eprintln!(
            "bench: {label} (wrk, {clients} connections): {:.0}/s, p50 {:?} ms, p99 {:?} ms, {} failures",
            result.requests_per_second, result.p50_ms, result.p99_ms, result.failures
        );
        if result.failures > 0 {
            cx.skipped.push(format!(
                "{label}: {} of {} answers were not 2xx/3xx (the rate counts them)",
                result.failures, result.requests
            ));
        }
        let mut latencies = Vec::new();
        if let (Some(p50), Some(p99)) = (result.p50_ms, result.p99_ms) {
            latencies.push(StepLatency {
                flow: format!("{label} (wrk)"),
                clients,
                step: "request".into(),
                summary: crate::bench::stats::Summary {
                    count: usize::try_from(result.requests).unwrap_or(usize::MAX),
                    p50_ms: p50,
                    p99_ms: p99,
                    mean_ms: f64::NAN,
                    max_ms: f64::NAN,
                },
            });
        }
        return Ok(Single {
            rate: Some(result.requests_per_second),
            peaks,
            latencies,
        });
    }
    let http = flows::client()?;
    let request = Arc::new(request);
    let (result, peaks) = peak_rss_during(
        pids,
        closed_loop(clients, duration, MAX_FLOWS, move |_| {
            let (http, request) = (http.clone(), request.clone());
            async move {
                let mut steps = Vec::new();
                flows::plain(&http, &request, &mut steps).await?;
                Ok(steps)
            }
        }),
    )
    .await;
    print(label, &result);
    Ok(Single {
        rate: rate(&result),
        peaks,
        latencies: summaries(label, &result),
    })
}

fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The wizard's whole signup-and-integrate run as a process.
#[derive(Debug, Default)]
struct WizardFigures {
    wall_ms: Option<f64>,
    cpu_ms: Option<f64>,
    tool: String,
}

async fn wizard_runs(
    cx: &mut Context_,
    server: &Program,
    gateway: &Program,
) -> Result<WizardFigures> {
    let runs = cx.options.wizard_runs;
    if runs == 0 {
        return Ok(WizardFigures::default());
    }
    let app = crate::binaries::workspace_root().join("fixtures/apps/next-js");
    let home = cx.work.path().join("wizard-home");
    let logs = cx.work.path().join("wizard-logs");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(&logs)?;
    let env: Vec<(String, String)> = vec![
        ("HOME".into(), home.display().to_string()),
        ("POSTHOG_WIZARD_LOG_DIR".into(), logs.display().to_string()),
        (
            crate::runner::MANAGED_SETTINGS_ENV.into(),
            home.join("managed-settings.json").display().to_string(),
        ),
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
    ];
    let project = cx.work.path().join("wizard-project");
    let args = |email: &str| -> Vec<String> {
        vec![
            "--signup".into(),
            "--email".into(),
            email.into(),
            "--region".into(),
            "us".into(),
            "--scopes".into(),
            "signup".into(),
            "--install-dir".into(),
            project.display().to_string(),
            "--base-url".into(),
            server.url.clone(),
            "--gateway-url".into(),
            format!("{}/wizard", gateway.url),
        ]
    };
    // The driver's own loop: wall time, and the wizard's CPU time from the
    // kernel's accounting of reaped children.
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    for run in 0..runs {
        let _ = std::fs::remove_dir_all(&project);
        programs::copy_dir(&app, &project)?;
        let email = format!("wizard{}-{run}@bench.example.com", std::process::id());
        let (wizard, args, env) = (cx.wizard_bin.clone(), args(&email), env.clone());
        let (wall, cpu, status) = tokio::task::spawn_blocking(move || -> Result<_> {
            let before = children_cpu_ms();
            let started = Instant::now();
            let status = std::process::Command::new(wizard)
                .args(args)
                .env_clear()
                .envs(env)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()?;
            Ok((ms(started.elapsed()), children_cpu_ms() - before, status))
        })
        .await??;
        if !status.success() {
            anyhow::bail!(
                "the wizard's run {run} failed ({status}); logs in {}",
                logs.display()
            );
        }
        walls.push(wall);
        cpus.push(cpu);
    }
    let mut figures = WizardFigures {
        wall_ms: median(&walls),
        cpu_ms: median(&cpus),
        tool: format!("median of {runs} runs timed by the driver"),
    };
    if cx.hyperfine {
        match hyperfine_wizard(
            cx,
            &app,
            &project,
            &env,
            &args("hyperfine@bench.example.com"),
            &server.url,
        )
        .await
        {
            Ok(result) => {
                figures.wall_ms = Some(result.median_ms);
                figures.cpu_ms = Some(result.user_ms + result.system_ms);
                figures.tool = format!(
                    "hyperfine, median of {} runs (driver's own loop: {:.1} ms)",
                    result.runs,
                    median(&walls).unwrap_or(f64::NAN)
                );
            }
            Err(error) => cx
                .skipped
                .push(format!("hyperfine: {error:#}; the driver's loop stands")),
        }
    } else {
        cx.skipped
            .push("hyperfine is not installed: the wizard was timed by the driver's loop".into());
    }
    cx.rows.push(Row::new(
        "wizard signup + integrate, start → exit",
        "ms",
        figures.wall_ms,
        None,
        Better::Lower,
        &figures.tool,
    ));
    cx.rows.push(Row::new(
        "wizard CPU time (user + sys) per run",
        "ms",
        figures.cpu_ms,
        None,
        Better::Lower,
        "the wizard process only",
    ));
    Ok(figures)
}

/// hyperfine with a fixed email: before each run, the server's admin reset
/// frees it and the project is copied afresh.
async fn hyperfine_wizard(
    cx: &Context_,
    app: &Path,
    project: &Path,
    env: &[(String, String)],
    args: &[String],
    server_url: &str,
) -> Result<tools::HyperfineResult> {
    let json = cx.work.path().join("hyperfine.json");
    let prepare = format!(
        "sh -c 'curl -sf -o /dev/null -X POST -H \"Authorization: Bearer {ADMIN_TOKEN}\" {server_url}{} && rm -rf {project} && cp -r {app} {project}'",
        protocol::paths::ADMIN_RESET,
        project = project.display(),
        app = app.display(),
    );
    let command = std::iter::once(cx.wizard_bin.display().to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut hyperfine = tokio::process::Command::new("hyperfine");
    hyperfine
        .args(["-N", "--style", "none", "--warmup", "1", "--runs"])
        .arg(cx.options.wizard_runs.to_string())
        .arg("--prepare")
        .arg(prepare)
        .arg("--export-json")
        .arg(&json)
        .arg(command)
        .env_clear()
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    let status = tokio::time::timeout(Duration::from_secs(300), hyperfine.status())
        .await
        .map_err(|_| anyhow::anyhow!("hyperfine ran past 300 s"))??;
    if !status.success() {
        anyhow::bail!("hyperfine failed ({status})");
    }
    tools::parse_hyperfine(&std::fs::read_to_string(&json)?)
        .ok_or_else(|| anyhow::anyhow!("hyperfine's JSON has no figures"))
}

/// User + system CPU of every reaped child so far, in ms.
fn children_cpu_ms() -> f64 {
    // SAFETY: getrusage writes one rusage into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let time = |tv: libc::timeval| tv.tv_sec as f64 * 1000.0 + tv.tv_usec as f64 / 1000.0;
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn find<'a>(rows: &'a [Row], prefix: &str) -> Option<&'a Row> {
    rows.iter().find(|row| row.name.starts_with(prefix))
}

fn targets(
    cx: &Context_,
    server_idle: Option<f64>,
    gateway_idle: Option<f64>,
    wizard: &WizardFigures,
) -> Vec<Target> {
    let mut targets = Vec::new();
    let fmt = |value: Option<f64>, unit: &str| {
        value.map_or_else(
            || "not measured".to_owned(),
            |value| format!("{} {unit}", report::number(value)),
        )
    };
    let mut ratio_target = |name: &str, row: Option<&Row>, wanted: f64| {
        let ratio = row.and_then(|row| row.ratio);
        targets.push(Target {
            name: name.to_owned(),
            wanted: format!("ours ÷ peer ≥ {wanted}"),
            measured: ratio.map_or_else(|| "not measured".into(), |ratio| format!("{ratio:.2}×")),
            met: ratio.map(|ratio| ratio >= wanted),
        });
    };
    let top = cx
        .options
        .signup_clients
        .iter()
        .max()
        .copied()
        .unwrap_or(64);
    ratio_target(
        &format!("full signups/s ≥ peer's single-token rate ({top} clients)"),
        find(
            &cx.rows,
            &format!("full signups/s vs peer single tokens/s, {top} clients"),
        ),
        1.0,
    );
    ratio_target(
        "auth code + PKCE flows ≥ 2× the peer's",
        find(&cx.rows, "auth code + PKCE"),
        2.0,
    );
    ratio_target(
        "introspection ≥ the peer's lookup-free answer",
        find(&cx.rows, "token introspection"),
        1.0,
    );
    ratio_target(
        "/api/users/@me/ ≥ the peer's /userinfo",
        find(&cx.rows, "GET /api/users/@me/"),
        1.0,
    );
    ratio_target(
        "gateway messages ≥ ½ of the peer's lookup-free introspection rate",
        find(&cx.rows, "gateway messages/s vs peer"),
        0.5,
    );
    // p99 per step at the top concurrency.
    for latency in cx.latencies.iter().filter(|latency| {
        latency.clients == top
            && latency.flow.contains("(ours)")
            && latency.summary.p99_ms.is_finite()
    }) {
        targets.push(Target {
            name: format!(
                "p99 of {} / {} at {top} clients",
                latency.flow, latency.step
            ),
            wanted: "< 10 ms".into(),
            measured: format!("{} ms", report::number(latency.summary.p99_ms)),
            met: Some(latency.summary.p99_ms < 10.0),
        });
    }
    for (name, prefix) in [
        (
            "provisioning-server start → listening",
            "start → listening: provisioning-server",
        ),
        (
            "llm-gateway-mock start → listening",
            "start → listening: llm-gateway-mock",
        ),
    ] {
        let value = find(&cx.rows, prefix).and_then(|row| row.ours);
        targets.push(Target {
            name: name.into(),
            wanted: "< 50 ms".into(),
            measured: fmt(value, "ms"),
            met: value.map(|value| value < 50.0),
        });
    }
    for (name, value) in [
        ("provisioning-server idle RSS", server_idle),
        ("llm-gateway-mock idle RSS", gateway_idle),
    ] {
        targets.push(Target {
            name: name.into(),
            wanted: "< 20 MB".into(),
            measured: fmt(value, "MB"),
            met: value.map(|value| value < 20.0),
        });
    }
    targets.push(Target {
        name: "wizard full run, start → exit".into(),
        wanted: "< 150 ms".into(),
        measured: format!(
            "{} (CPU {})",
            fmt(wizard.wall_ms, "ms"),
            fmt(wizard.cpu_ms, "ms")
        ),
        met: wizard.wall_ms.map(|value| value < 150.0),
    });
    targets
}

fn machine() -> Machine {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    Machine {
        nproc: std::thread::available_parallelism().map_or(1, usize::from),
        memory_mb: tools::mem_total_mb(&read("/proc/meminfo")).unwrap_or(0),
        cpu_model: tools::cpu_model(&read("/proc/cpuinfo")).unwrap_or_else(|| "unknown CPU".into()),
        date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: Option<f64>, peak: Option<f64>) -> Single {
        Single {
            rate,
            peaks: vec![peak],
            latencies: Vec::new(),
        }
    }

    #[test]
    fn the_median_round_carries_the_highest_peaks() {
        let median = median_round(vec![
            run(Some(300.0), Some(10.0)),
            run(Some(100.0), Some(30.0)),
            run(Some(200.0), None),
        ]);
        assert_eq!(median.rate, Some(200.0));
        assert_eq!(median.peaks, [Some(30.0)]);
        // An even count takes the lower middle round.
        let median = median_round(vec![run(Some(4.0), None), run(Some(2.0), None)]);
        assert_eq!(median.rate, Some(2.0));
        assert_eq!(median_round(Vec::new()).rate, None);
    }

    #[test]
    fn every_phase_runs_unless_some_are_chosen() {
        let mut options = Options {
            seconds: 1,
            signup_clients: vec![1],
            clients: 1,
            starts: 1,
            wizard_runs: 0,
            out_dir: PathBuf::new(),
            peer_modules: PathBuf::new(),
            log: "warn".into(),
            update_benchmarks_md: false,
            only: Vec::new(),
            rounds: 1,
        };
        assert!(options.runs(Phase::Signups) && options.runs(Phase::Wizard));
        options.only = vec![Phase::Lookups];
        assert!(options.runs(Phase::Lookups));
        assert!(!options.runs(Phase::Signups));
    }
}
