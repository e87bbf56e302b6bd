//! The wizard's whole signup-and-integrate run as a process: wall and CPU
//! time, by the driver's own loop and, when installed, by hyperfine.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::context::{Context_, ADMIN_TOKEN};
use crate::programs::{self, Program};
use crate::report::{Better, Row};
use crate::stats::median;
use crate::tools::{self, ms};

/// The wizard's whole signup-and-integrate run as a process.
#[derive(Debug, Default)]
pub(crate) struct WizardFigures {
    pub(crate) wall_ms: Option<f64>,
    pub(crate) cpu_ms: Option<f64>,
    pub(crate) tool: String,
}

pub(crate) async fn wizard_runs(
    cx: &mut Context_,
    server: &Program,
    gateway: &Program,
) -> Result<WizardFigures> {
    let runs = cx.options.wizard_runs;
    if runs == 0 {
        return Ok(WizardFigures::default());
    }
    let app = e2e::binaries::workspace_root().join("fixtures/apps/next-js");
    let home = cx.work.path().join("wizard-home");
    let logs = cx.work.path().join("wizard-logs");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(&logs)?;
    let env: Vec<(String, String)> = vec![
        ("HOME".into(), home.display().to_string()),
        ("POSTHOG_WIZARD_LOG_DIR".into(), logs.display().to_string()),
        (
            e2e::runner::MANAGED_SETTINGS_ENV.into(),
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
