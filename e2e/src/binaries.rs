//! Locating the three programs under test.
//!
//! Order, per binary: its environment variable (`E2E_SERVER_BIN`, …), then
//! beside the harness's own executable, then, once for all of them,
//! `cargo build --workspace --bins` in the harness's own profile, taking
//! each binary from where cargo says it put it (its `compiler-artifact`
//! messages). So `cargo run -p e2e` works on a fresh clone with no other
//! step, with `CARGO_TARGET_DIR` set, in `--release` or a custom
//! `--profile`, and from a workspace moved since the harness was built.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

impl Lookup {
    /// Whether an environment variable chose the binary: a build never
    /// replaces it.
    pub fn is_override(&self) -> bool {
        matches!(
            self,
            Lookup::Found(Located {
                source: Source::EnvironmentVariable(_),
                ..
            })
        )
    }
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
    let mut found = Vec::new();
    for spec in specs {
        found.push(lookup(spec, &env, &exe_dir)?);
    }
    let built_now = force_build && !found.iter().all(Lookup::is_override);
    if built_now || found.contains(&Lookup::Missing) {
        let root = workspace_root_at_run_time(&env)?;
        let built = build_workspace(&root, HARNESS_PROFILE, &env)?;
        for (slot, spec) in found.iter_mut().zip(specs) {
            if slot.is_override() {
                continue;
            }
            let Some(path) = built.get(spec.file_name) else {
                bail!(
                    "`cargo build --workspace --bins --profile {HARNESS_PROFILE}` in {} reported no \
                     executable {}; set ${}",
                    root.display(),
                    spec.file_name,
                    spec.env_var
                );
            };
            *slot = Lookup::Found(Located {
                path: path.clone(),
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

/// The cargo profile the harness itself was built in (`dev`, `release` or
/// a custom one), known at compile time from its build directory (see
/// `build.rs`): the binaries it builds are of the same profile.
pub const HARNESS_PROFILE: &str = env!("E2E_BUILD_PROFILE");

/// The workspace root, as it was when the harness was compiled.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir)
}

/// The workspace root now: beside the manifest `cargo run` names
/// (`$CARGO_MANIFEST_DIR`), else the compiled-in root if it is still there,
/// else the nearest directory above the current one whose `Cargo.toml`
/// has the harness as a workspace member. So a workspace moved (or copied)
/// since the harness was built is found where it is now.
pub fn workspace_root_at_run_time(env: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    let from_cargo_run = env("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|manifest| manifest.parent().map(Path::to_path_buf));
    let candidates = from_cargo_run.into_iter().chain([workspace_root()]);
    for candidate in candidates {
        if is_our_workspace(&candidate) {
            return Ok(candidate);
        }
    }
    let here = std::env::current_dir().context("cannot read the current directory")?;
    here.ancestors()
        .find(|dir| is_our_workspace(dir))
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "cannot find the workspace to build: {} is gone and no directory above {} has a \
                 Cargo.toml with an `e2e` member; run from the workspace or set $E2E_SERVER_BIN, \
                 $E2E_WIZARD_BIN and $E2E_GATEWAY_BIN",
                workspace_root().display(),
                here.display()
            )
        })
}

/// Whether `dir` is this workspace's root: a `Cargo.toml` with a
/// `[workspace]` whose members include `e2e`.
pub fn is_our_workspace(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
        return false;
    };
    let Ok(manifest) = text.parse::<toml::Table>() else {
        return false;
    };
    manifest
        .get("workspace")
        .and_then(|workspace| workspace.get("members"))
        .and_then(toml::Value::as_array)
        .is_some_and(|members| members.iter().any(|member| member.as_str() == Some("e2e")))
}

/// The build command: every binary of the workspace at `root`, in
/// `profile`, with cargo's messages as JSON on stdout (diagnostics still
/// rendered for a person on stderr).
pub fn build_command(cargo: OsString, root: &Path, profile: &str) -> Command {
    let mut command = Command::new(cargo);
    command
        .args(["build", "--workspace", "--bins", "--profile", profile])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(root)
        .stdout(Stdio::piped());
    command
}

/// Builds the workspace at `root` in `profile` and answers where cargo put
/// each binary, by binary name (`$CARGO_TARGET_DIR` and the profile's
/// directory included, as cargo resolved them).
pub fn build_workspace(
    root: &Path,
    profile: &str,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<BTreeMap<String, PathBuf>> {
    let cargo = env("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = build_command(cargo, root, profile);
    // Inherited anyway; passed on from `env` so that a caller's view of
    // the environment is the one cargo builds in.
    match env("CARGO_TARGET_DIR") {
        Some(target_dir) => command.env("CARGO_TARGET_DIR", target_dir),
        None => command.env_remove("CARGO_TARGET_DIR"),
    };
    eprintln!("e2e: building the workspace's binaries: {command:?}");
    let mut child = command
        .spawn()
        .context("cannot run cargo to build the binaries")?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let executables = executables(BufReader::new(stdout));
    let status = child.wait().context("cannot wait for cargo")?;
    if !status.success() {
        bail!("`cargo build --workspace --bins --profile {profile}` failed ({status})");
    }
    executables
}

/// The executables cargo's JSON messages report, by target name; lines
/// that are not messages are skipped.
pub fn executables(messages: impl std::io::BufRead) -> Result<BTreeMap<String, PathBuf>> {
    let mut found = BTreeMap::new();
    for message in cargo_metadata::Message::parse_stream(messages) {
        if let cargo_metadata::Message::CompilerArtifact(artifact) =
            message.context("reading cargo's messages")?
        {
            if let Some(executable) = artifact.executable {
                found.insert(artifact.target.name.clone(), executable.into_std_path_buf());
            }
        }
    }
    Ok(found)
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
    fn the_harness_knows_its_own_profile() {
        // `debug` is a directory, not a profile: the build script maps it
        // to `dev`, the profile `cargo build --profile` takes.
        assert!(!HARNESS_PROFILE.is_empty());
        assert_ne!(HARNESS_PROFILE, "debug");
    }

    #[test]
    fn cargo_messages_give_each_binary_where_cargo_put_it() {
        let messages = concat!(
            "{\"reason\":\"compiler-artifact\",\"package_id\":\"path+file:///w/server#0.1.0\",",
            "\"manifest_path\":\"/w/server/Cargo.toml\",\"target\":{\"kind\":[\"bin\"],",
            "\"crate_types\":[\"bin\"],\"name\":\"provisioning-server\",\"src_path\":\"/w/server/src/main.rs\",",
            "\"edition\":\"2021\",\"doc\":true,\"doctest\":false,\"test\":true},",
            "\"profile\":{\"opt_level\":\"0\",\"debuginfo\":2,\"debug_assertions\":true,",
            "\"overflow_checks\":true,\"test\":false},\"features\":[],",
            "\"filenames\":[\"/elsewhere/ci-fast/provisioning-server\"],",
            "\"executable\":\"/elsewhere/ci-fast/provisioning-server\",\"fresh\":true}\n",
            "not a message\n",
            "{\"reason\":\"build-finished\",\"success\":true}\n",
        );
        let found = executables(messages.as_bytes()).unwrap();
        assert_eq!(
            found,
            BTreeMap::from([(
                "provisioning-server".to_owned(),
                PathBuf::from("/elsewhere/ci-fast/provisioning-server")
            )])
        );
    }

    #[test]
    fn the_build_names_the_profile_and_asks_for_json() {
        let command = build_command("cargo".into(), Path::new("/w"), "release");
        let args: Vec<_> = command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "build",
                "--workspace",
                "--bins",
                "--profile",
                "release",
                "--message-format=json-render-diagnostics"
            ]
        );
        assert_eq!(command.get_current_dir(), Some(Path::new("/w")));
    }

    #[test]
    fn a_moved_workspace_is_found_from_where_cargo_runs_it() {
        let moved = tempfile::tempdir().unwrap();
        std::fs::write(
            moved.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"protocol\", \"e2e\"]\n",
        )
        .unwrap();
        let manifest = moved.path().join("e2e");
        let env = env_of(&[("CARGO_MANIFEST_DIR", &manifest)]);
        assert_eq!(workspace_root_at_run_time(&env).unwrap(), moved.path());
        // A manifest of another workspace is not ours: the compiled-in root
        // (this checkout) is taken instead.
        std::fs::write(
            moved.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"other\"]\n",
        )
        .unwrap();
        assert_eq!(workspace_root_at_run_time(&env).unwrap(), workspace_root());
        assert!(is_our_workspace(&workspace_root()));
    }
}
