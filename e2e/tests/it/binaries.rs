//! Where the harness finds the programs it builds, against real cargo: a
//! small workspace of three binaries named like ours, built the way the
//! harness builds ours, with `CARGO_TARGET_DIR` set, in `release` and in a
//! custom profile, and after the workspace was moved.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use e2e::binaries::{build_workspace, is_our_workspace, workspace_root_at_run_time};

const NAMES: [&str; 3] = ["provisioning-server", "wizard", "llm-gateway-mock"];

/// A workspace like ours, reduced to an `e2e` library and three tiny
/// binaries, with a custom profile `ci-fast`.
fn small_workspace(root: &Path) {
    let mut members = vec!["\"e2e\"".to_owned()];
    for name in NAMES {
        members.push(format!("\"{name}\""));
        let dir = root.join(name).join("src");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            root.join(name).join("Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        )
        .unwrap();
        std::fs::write(dir.join("main.rs"), "fn main() {}\n").unwrap();
    }
    std::fs::create_dir_all(root.join("e2e/src")).unwrap();
    std::fs::write(
        root.join("e2e/Cargo.toml"),
        "[package]\nname = \"e2e\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(root.join("e2e/src/lib.rs"), "").unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n\n[profile.ci-fast]\ninherits = \"dev\"\n",
            members.join(", ")
        ),
    )
    .unwrap();
}

fn env_with(pairs: Vec<(&'static str, OsString)>) -> impl Fn(&str) -> Option<OsString> {
    move |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
            .or_else(|| {
                (name == "CARGO")
                    .then(|| std::env::var_os("CARGO"))
                    .flatten()
            })
    }
}

fn assert_built_under(found: &std::collections::BTreeMap<String, PathBuf>, dir: &Path) {
    for name in NAMES {
        let path = found
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {found:?}"));
        assert!(path.is_file(), "{}", path.display());
        assert!(
            path.starts_with(dir),
            "{} is not under {}",
            path.display(),
            dir.display()
        );
    }
}

/// If this fails, `cargo run --release -p e2e` with `CARGO_TARGET_DIR`
/// set (or a custom profile) looks for the binaries where it guessed they
/// would be, not where cargo put them, and exits 2 on a fresh machine.
#[test]
fn binaries_are_taken_from_where_cargo_built_them() {
    let scratch = tempfile::tempdir().unwrap();
    let workspace = scratch.path().join("workspace");
    small_workspace(&workspace);
    let target = scratch.path().join("shared-target");
    let env = env_with(vec![("CARGO_TARGET_DIR", target.clone().into_os_string())]);
    for (profile, directory) in [
        ("release", "release"),
        ("ci-fast", "ci-fast"),
        ("dev", "debug"),
    ] {
        let found = build_workspace(&workspace, profile, &env).unwrap();
        assert_built_under(&found, &target.join(directory));
    }

    // Moved: the workspace is found from the manifest `cargo run` names,
    // and builds where it is now (its own target directory this time).
    let moved = scratch.path().join("moved");
    std::fs::rename(&workspace, &moved).unwrap();
    let env = env_with(vec![(
        "CARGO_MANIFEST_DIR",
        moved.join("e2e").into_os_string(),
    )]);
    let root = workspace_root_at_run_time(&env).unwrap();
    assert_eq!(root, moved);
    assert!(is_our_workspace(&root));
    let found = build_workspace(&root, "dev", &env).unwrap();
    assert_built_under(&found, &moved.join("target/debug"));
}
