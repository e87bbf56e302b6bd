//! One whole benchmark run: start everything, measure, compare, write.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;

use protocol::oauth::{DEV_INTROSPECTION_CLIENT_ID, DEV_INTROSPECTION_CLIENT_SECRET};

pub use crate::context::{Options, Phase};

use crate::context::{rate, record, round_line, Context_, ADMIN_TOKEN, MAX_FLOWS};
use crate::flows::{self, Emails, Plain};
use crate::load::{closed_loop, LoadResult};
use crate::programs::{self, Launch, Program};
use crate::report::{self, Better, Machine, Report, Row, SAME_REQUEST_CEILING};
use crate::signups::signups;
use crate::single::{alternated, max_opt, Side, Single};
use crate::stats::median;
use crate::targets::targets;
use crate::tools::{self, ms};
use crate::wizard::{wizard_runs, WizardFigures};

pub async fn run(options: Options) -> Result<Report> {
    let load_at_start = tools::load_average(&read("/proc/loadavg"));
    std::fs::create_dir_all(&options.out_dir)?;
    let work = tempfile::Builder::new()
        .prefix("bench-")
        .tempdir_in(&options.out_dir)?;
    let mut cx = Context_ {
        server_bin: programs::binary("provisioning-server", "E2E_SERVER_BIN")?,
        gateway_bin: programs::binary("llm-gateway-mock", "E2E_GATEWAY_BIN")?,
        wizard_bin: programs::binary("wizard", "E2E_WIZARD_BIN")?,
        ceiling_bin: programs::binary("bench-ceiling", "BENCH_CEILING_BIN")?,
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
    let peer_script = e2e::binaries::workspace_root().join("bench/peer.mjs");
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
    let ceiling = programs::start(&Launch {
        name: "bench-ceiling".into(),
        program: cx.ceiling_bin.clone(),
        args: Vec::new(),
        env: Vec::new(),
        stderr: cx.work.path().join("ceiling.stderr"),
    })
    .await?;
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

    let measured = measure(&mut cx, &server, &gateway, peer.as_ref(), &ceiling).await;
    let wizard = match measured {
        Ok(()) if cx.options.runs(Phase::Wizard) => wizard_runs(&mut cx, &server, &gateway).await,
        Ok(()) => Ok(WizardFigures::default()),
        Err(error) => Err(error),
    };
    server.stop().await;
    gateway.stop().await;
    ceiling.stop().await;
    if let Some(peer) = peer {
        peer.stop().await;
    }
    let wizard = wizard?;

    let targets = targets(&cx, server_idle, gateway_idle, &wizard);
    let report = Report {
        machine: machine(load_at_start),
        settings: vec![
            ("seconds per run".into(), cx.options.seconds.to_string()),
            (
                "rounds (ours and the peer alternately)".into(),
                cx.options.rounds.to_string(),
            ),
            ("clients".into(), cx.options.clients.to_string()),
            (
                "grown database".into(),
                format!(
                    "{} accounts",
                    crate::signups::thousands(cx.options.grown_accounts)
                ),
            ),
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
        let path = e2e::binaries::workspace_root().join("BENCHMARKS.md");
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
            e2e::binaries::workspace_root()
                .join("fixtures/seeds/login-user.toml")
                .display()
                .to_string(),
            // Today's era mints the wizard no personal key; with its gate on,
            // a measured signup still writes the key, as every earlier
            // figure's did.
            "--seed".into(),
            e2e::binaries::workspace_root()
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

async fn measure(
    cx: &mut Context_,
    server: &Program,
    gateway: &Program,
    peer: Option<&Program>,
    ceiling: &Program,
) -> Result<()> {
    let http = flows::client()?;
    let duration = Duration::from_secs(cx.options.seconds);

    // a. Full signups against us, the peer's single token at the same
    //    concurrency; then the top level on a grown database.
    let emails = Emails::new(&format!("signup{}", std::process::id()));
    let (mut server_peak, mut peer_peak) = (None, None);
    if cx.options.runs(Phase::Signups) {
        let figures = signups(cx, server_launch, peer, &emails).await?;
        server_peak = figures.server_peak;
        peer_peak = figures.peer_peak;
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
    let ceiling_pids = [ceiling.pid];
    let ceiling_url = format!("{}/ceiling", ceiling.url);
    let ceiling_side = || Side {
        label: "ceiling",
        request: Plain {
            method: reqwest::Method::GET,
            url: ceiling_url.clone(),
            headers: Vec::new(),
            body: None,
        },
        pids: &ceiling_pids,
    };
    // A POST's body reaches the handler through hyper's body channel, one
    // more turn of the connection's task: the ceiling for a POST is the
    // same request answered by bench-ceiling.
    let same_request_ceiling = |request: &Plain| Side {
        label: "ceiling (same request)",
        request: Plain {
            url: ceiling_url.clone(),
            ..request.clone()
        },
        pids: &ceiling_pids,
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
        let same_request = same_request_ceiling(&ours.request);
        let (ours, theirs, ceiling) = with_post_ceilings(
            cx,
            ours,
            theirs,
            [ceiling_side(), same_request],
            "introspection",
        )
        .await?;
        our_introspection = ours.rate;
        their_introspection = theirs.and_then(|theirs| theirs.rate);
        cx.rows.push(
            Row::new(
                &format!("token introspection/s, {clients} connections"),
                "1/s",
                ours.rate,
                their_introspection,
                Better::Higher,
                "POST form token= with HTTP Basic; ours looks the pha_ up, the peer answers {active:true} without a lookup",
            )
            .against_ceiling(ceiling),
        );
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
        let (ours, theirs, ceilings) =
            with_ceilings(cx, ours, theirs, vec![ceiling_side()]).await?;
        let ceiling = ceilings[0];
        server_peak = max_opt(server_peak, ours.peaks.first().copied().flatten());
        if let Some(theirs) = &theirs {
            peer_peak = max_opt(peer_peak, theirs.peaks.first().copied().flatten());
        }
        cx.rows.push(ceiling_row(ceiling, "/api/users/@me/"));
        cx.rows.push(
            Row::new(
                &format!("GET /api/users/@me/ vs peer /userinfo, {clients} connections"),
                "1/s",
                ours.rate,
                theirs.and_then(|theirs| theirs.rate),
                Better::Higher,
                "ours: hashed credential lookup, user, teams; the peer answers {sub} without a lookup",
            )
            .against_ceiling(ceiling),
        );
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
        let same_request = same_request_ceiling(&ours.request);
        let ceilings = [ceiling_side(), same_request];
        let (ours, _, ceiling) =
            with_post_ceilings(cx, ours, None, ceilings, "gateway messages").await?;
        server_peak = max_opt(server_peak, ours.peaks.get(1).copied().flatten());
        gateway_peak = ours.peaks.first().copied().flatten();
        // The bar: at least half the rate of the peer's
        // lookup-free answers (the rate introspection must reach); our own
        // introspection rate beside it shows what the hop costs.
        cx.rows.push(
            Row::new(
                &format!("gateway messages/s vs peer introspection/s, {clients} connections"),
                "1/s",
                ours.rate,
                their_introspection,
                Better::Higher,
                "POST /wizard/v1/messages with a pha_ (each judged by an introspection sent after it arrived; requests at once share one) against the peer's lookup-free introspection",
            )
            .against_ceiling(ceiling),
        );
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

/// `ours`, `theirs` and the ceilings, alternately for the rounds; each
/// ceiling's rate is the median of its own rounds, in the order given.
async fn with_ceilings(
    cx: &mut Context_,
    ours: Side<'_>,
    theirs: Option<Side<'_>>,
    ceilings: Vec<Side<'_>>,
) -> Result<(Single, Option<Single>, Vec<Option<f64>>)> {
    let has_theirs = theirs.is_some();
    let mut sides = vec![ours];
    sides.extend(theirs);
    sides.extend(ceilings);
    let mut medians = alternated(cx, &sides).await?.into_iter();
    let ours = medians.next().expect("one median per side");
    let theirs = if has_theirs { medians.next() } else { None };
    let ceilings = medians.map(|ceiling| ceiling.rate).collect();
    Ok((ours, theirs, ceilings))
}

/// A POST comparison beside its two ceilings, `[GET, same request]`, as
/// [`with_ceilings`], with both ceilings' rows pushed; the GET ceiling's
/// rate, which the comparison's own row is read against.
async fn with_post_ceilings(
    cx: &mut Context_,
    ours: Side<'_>,
    theirs: Option<Side<'_>>,
    ceilings: [Side<'_>; 2],
    beside: &str,
) -> Result<(Single, Option<Single>, Option<f64>)> {
    let (ours, theirs, rates) = with_ceilings(cx, ours, theirs, ceilings.into()).await?;
    let (ceiling, same_request) = (rates[0], rates[1]);
    cx.rows.push(ceiling_row(ceiling, beside));
    cx.rows
        .push(same_request_row(same_request, ceiling, beside));
    Ok((ours, theirs, ceiling))
}

/// The ceiling measured beside one comparison, as its own row.
fn ceiling_row(ceiling: Option<f64>, beside: &str) -> Row {
    Row::new(
        &format!("ceiling: one fixed JSON answer/s, measured beside {beside}"),
        "1/s",
        ceiling,
        None,
        Better::Higher,
        "bench-ceiling: our runtime and transport (protocol::serve), one axum route, no database; same wrk settings",
    )
}

/// The ceiling answering the very request of one comparison (a POST
/// with its body), as its own row, read against the GET ceiling: what
/// receiving that request costs the transport itself.
fn same_request_row(same_request: Option<f64>, ceiling: Option<f64>, beside: &str) -> Row {
    Row::new(
        &format!("{SAME_REQUEST_CEILING} {beside}: one fixed JSON answer/s"),
        "1/s",
        same_request,
        None,
        Better::Higher,
        "bench-ceiling reading the same method, headers and body before its fixed answer; ÷ ceiling: its share of the GET ceiling",
    )
    .against_ceiling(ceiling)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn machine(load_at_start: String) -> Machine {
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
        load_at_start,
        load_at_end: tools::load_average(&read("/proc/loadavg")),
    }
}
