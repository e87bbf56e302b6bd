//! Starting the programs under measurement: the release binaries beside
//! the driver, and the Node peer. Each prints `listening on http://…`;
//! the time from spawn to that line is its start-up time.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};

/// How long a program may take to print `listening on`.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A running program. Dropping it kills it.
pub struct Program {
    pub name: String,
    pub url: String,
    pub startup: Duration,
    pub pid: u32,
    child: tokio::process::Child,
}

impl Program {
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Launch {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stderr: PathBuf,
}

pub async fn start(launch: &Launch) -> Result<Program> {
    let stderr = std::fs::File::create(&launch.stderr)
        .with_context(|| format!("cannot create {}", launch.stderr.display()))?;
    let mut command = tokio::process::Command::new(&launch.program);
    command
        .args(&launch.args)
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| {
        format!(
            "cannot start {} ({})",
            launch.name,
            launch.program.display()
        )
    })?;
    let pid = child.id().unwrap_or(0);
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(START_DEADLINE, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.strip_prefix("listening on ") {
                return Ok::<_, std::io::Error>(Some(url.trim().to_owned()));
            }
        }
        Ok(None)
    })
    .await;
    let startup = started.elapsed();
    let url = match url {
        Ok(Ok(Some(url))) => url,
        Ok(Ok(None)) | Ok(Err(_)) => bail!(
            "{} exited before `listening on`; see {}",
            launch.name,
            launch.stderr.display()
        ),
        Err(_) => bail!(
            "{} printed no `listening on` within {START_DEADLINE:?}",
            launch.name
        ),
    };
    // Keep reading stdout so the program never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Program {
        name: launch.name.clone(),
        url,
        startup,
        pid,
        child,
    })
}

/// The workspace's release binaries: `$E2E_*_BIN`, else beside the driver.
pub fn binary(file_name: &str, env_var: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context("cannot find the driver's own path")?;
    let path = exe
        .parent()
        .map(|dir| dir.join(file_name))
        .ok_or_else(|| anyhow!("the driver has no directory"))?;
    if !path.exists() {
        bail!(
            "{} not found beside the driver; run `cargo build --release --workspace --bins`",
            path.display()
        );
    }
    Ok(path)
}

/// Whether `program` can be run (found on PATH).
pub fn on_path(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Copies a directory tree (the wizard's project, before each run).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
