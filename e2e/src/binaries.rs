//! Locating the three programs under test.
//!
//! Order, per binary: its environment variable (`E2E_SERVER_BIN`, …), then
//! beside the harness's own executable (`target/<profile>/`), then, once for
//! all of them, `cargo build --workspace --bins` in the harness's own
//! profile followed by a second look beside the executable. So
//! `cargo run -p e2e` works on a fresh clone with no other step.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// One program the harness runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinarySpec {
    /// The executable's file name in `target/<profile>/`.
    pub file_name: &'static str,
    /// The environment variable that overrides the location.
    pub env_var: &'static str,
}

pub const SERVER: BinarySpec = BinarySpec {
    file_name: "provisioning-server",
    env_var: "E2E_SERVER_BIN",
};
pub const WIZARD: BinarySpec = BinarySpec {
    file_name: "wizard",
    env_var: "E2E_WIZARD_BIN",
};
pub const GATEWAY: BinarySpec = BinarySpec {
    file_name: "llm-gateway-mock",
    env_var: "E2E_GATEWAY_BIN",
};

/// Where a binary was found, for the line the harness prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    EnvironmentVariable(&'static str),
    BesideHarness,
    BuiltByHarness,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::EnvironmentVariable(name) => write!(f, "from ${name}"),
            Source::BesideHarness => f.write_str("beside the harness"),
            Source::BuiltByHarness => f.write_str("built by the harness"),
        }
    }
}

/// A located binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub path: PathBuf,
    pub source: Source,
}

/// The three located binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    pub server: Located,
    pub wizard: Located,
    pub gateway: Located,
}

/// What one lookup without building found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Located),
    /// Not set and not beside the harness: building may produce it.
    Missing,
}

/// Looks up one binary without building: the environment variable (which
/// must then name an existing file: a wrong override is an error, not a
/// silent fallback), then `exe_dir`.
pub fn lookup(
    spec: BinarySpec,
    env: &dyn Fn(&str) -> Option<OsString>,
    exe_dir: &Path,
) -> Result<Lookup> {
    if let Some(value) = env(spec.env_var).filter(|value| !value.is_empty()) {
        let path = PathBuf::from(value);
        if !path.is_file() {
            bail!(
                "${} is set to {}, which is not a file",
                spec.env_var,
                path.display()
            );
        }
        return Ok(Lookup::Found(Located {
            path,
            source: Source::EnvironmentVariable(spec.env_var),
        }));
    }
    let beside = exe_dir.join(spec.file_name);
    if beside.is_file() {
        return Ok(Lookup::Found(Located {
            path: beside,
            source: Source::BesideHarness,
        }));
    }
    Ok(Lookup::Missing)
}

/// Locates the three binaries, building the workspace once if any is
/// missing, or first of all when `force_build` is set (binaries beside the
/// harness may be older than their sources: `cargo run -p e2e` rebuilds only
/// the harness).
pub fn locate(force_build: bool) -> Result<Binaries> {
    let exe = std::env::current_exe().context("cannot find the harness's own executable")?;
    let exe_dir = exe
        .parent()
        .context("the harness's executable has no directory")?
        .to_path_buf();
    let env = |name: &str| std::env::var_os(name);
    let specs = [SERVER, WIZARD, GATEWAY];
    if force_build {
        build_workspace(&exe)?;
    }
    let mut found = Vec::new();
    for spec in specs {
        found.push(lookup(spec, &env, &exe_dir)?);
    }
    if found.contains(&Lookup::Missing) {
        build_workspace(&exe)?;
        for (slot, spec) in found.iter_mut().zip(specs) {
            if *slot != Lookup::Missing {
                continue;
            }
            let beside = exe_dir.join(spec.file_name);
            if !beside.is_file() {
                bail!(
                    "{} is still missing from {} after `cargo build --workspace --bins`; set ${}",
                    spec.file_name,
                    exe_dir.display(),
                    spec.env_var
                );
            }
            *slot = Lookup::Found(Located {
                path: beside,
                source: Source::BuiltByHarness,
            });
        }
    }
    let mut located = found.into_iter().map(|lookup| match lookup {
        Lookup::Found(located) => located,
        Lookup::Missing => unreachable!("every missing binary was built or reported"),
    });
    Ok(Binaries {
        server: located.next().expect("three binaries"),
        wizard: located.next().expect("three binaries"),
        gateway: located.next().expect("three binaries"),
    })
}

/// Whether the harness runs from a release build (so it builds in release).
pub fn is_release_exe(exe: &Path) -> bool {
    exe.components()
        .collect::<Vec<_>>()
        .windows(2)
        .any(|pair| pair[0].as_os_str() == "target" && pair[1].as_os_str() == "release")
}

/// The workspace root, known at compile time.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir)
}

fn build_workspace(exe: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command
        .args(["build", "--workspace", "--bins"])
        .current_dir(workspace_root());
    if is_release_exe(exe) {
        command.arg("--release");
    }
    eprintln!("e2e: building the workspace's binaries: {command:?}");
    let status = command
        .status()
        .context("cannot run cargo to build the binaries")?;
    if !status.success() {
        bail!("`cargo build --workspace --bins` failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn touch(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, b"#!/bin/sh\n").unwrap();
        path
    }

    fn env_of(pairs: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.as_os_str().to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_environment_variable_wins_over_the_harness_directory() {
        let exe_dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        touch(exe_dir.path(), "wizard");
        let chosen = touch(elsewhere.path(), "my-wizard");
        let env = env_of(&[("E2E_WIZARD_BIN", &chosen)]);
        assert_eq!(
            lookup(WIZARD, &env, exe_dir.path()).unwrap(),
            Lookup::Found(Located {
                path: chosen,
                source: Source::EnvironmentVariable("E2E_WIZARD_BIN"),
            })
        );
    }

    #[test]
    fn without_the_variable_the_binary_beside_the_harness_is_used() {
        let exe_dir = tempfile::tempdir().unwrap();
        let beside = touch(exe_dir.path(), "provisioning-server");
        let env = env_of(&[]);
        assert_eq!(
            lookup(SERVER, &env, exe_dir.path()).unwrap(),
            Lookup::Found(Located {
                path: beside,
                source: Source::BesideHarness,
            })
        );
    }

    #[test]
    fn nothing_found_means_build() {
        let exe_dir = tempfile::tempdir().unwrap();
        let env = env_of(&[]);
        assert_eq!(
            lookup(GATEWAY, &env, exe_dir.path()).unwrap(),
            Lookup::Missing
        );
    }

    #[test]
    fn a_variable_naming_no_file_is_an_error_not_a_fallback() {
        let exe_dir = tempfile::tempdir().unwrap();
        touch(exe_dir.path(), "llm-gateway-mock");
        let missing = exe_dir.path().join("nope");
        let env = env_of(&[("E2E_GATEWAY_BIN", &missing)]);
        let message = lookup(GATEWAY, &env, exe_dir.path())
            .unwrap_err()
            .to_string();
        assert!(message.contains("E2E_GATEWAY_BIN"), "{message}");
    }

    #[test]
    fn release_profile_is_detected_from_the_path() {
        assert!(is_release_exe(Path::new("/w/target/release/e2e")));
        assert!(!is_release_exe(Path::new("/w/target/debug/e2e")));
        assert!(!is_release_exe(Path::new("/w/release/e2e")));
    }
}
