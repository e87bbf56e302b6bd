//! The answer of the wizard's `detect_package_manager` tool: which package
//! managers the project's lockfiles and manifests name, read the way the
//! published wizard reads them (Node: every lockfile found; Python: the
//! first rule that holds, `pip` by default).

use std::path::Path;

use protocol::gateway::{PackageManager, PackageManagers};

use crate::framework::{Detection, Framework};

/// A Node package manager and the lockfile rule that finds it.
struct NodeManager {
    name: &'static str,
    label: &'static str,
    install: &'static str,
    run: &'static str,
    /// A lockfile present (any of them), and, if given, a text its
    /// content must hold.
    lockfiles: &'static [&'static str],
    holds: Option<&'static str>,
}

/// In the published wizard's order: the first found is the primary.
const NODE: &[NodeManager] = &[
    NodeManager {
        name: "bun",
        label: "Bun",
        install: "bun add",
        run: "bun run",
        lockfiles: &["bun.lockb", "bun.lock"],
        holds: None,
    },
    NodeManager {
        name: "yarn",
        label: "Yarn V1",
        install: "yarn add",
        run: "yarn",
        lockfiles: &["yarn.lock"],
        holds: Some("yarn lockfile v1"),
    },
    NodeManager {
        name: "yarn",
        label: "Yarn V2/3/4",
        install: "yarn add",
        run: "yarn",
        lockfiles: &["yarn.lock"],
        holds: Some("__metadata"),
    },
    NodeManager {
        name: "pnpm",
        label: "pnpm",
        install: "pnpm add",
        run: "pnpm",
        lockfiles: &["pnpm-lock.yaml"],
        holds: None,
    },
    NodeManager {
        name: "npm",
        label: "npm",
        install: "npm add",
        run: "npm run",
        lockfiles: &["package-lock.json"],
        holds: None,
    },
];

/// Python: (name, label, install command, run command).
type PythonManager = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

const UV: PythonManager = ("uv", "uv", "uv add", Some("uv run"));
const POETRY: PythonManager = ("poetry", "Poetry", "poetry add", Some("poetry run"));
const PDM: PythonManager = ("pdm", "PDM", "pdm add", Some("pdm run"));
const HATCH: PythonManager = ("hatch", "Hatch", "hatch add", Some("hatch run"));
const RYE: PythonManager = ("rye", "Rye", "rye add", Some("rye run"));
const PIPENV: PythonManager = ("pipenv", "Pipenv", "pipenv install", Some("pipenv run"));
const CONDA: PythonManager = ("conda", "Conda", "conda install", Some("conda run"));
const PIP: PythonManager = ("pip", "pip", "pip install", None);
const PIP_DEFAULT: PythonManager = ("pip", "pip (default)", "pip install", None);

/// What `detect_package_manager` answers for `project`.
pub fn detect(project: &Path, framework: &Framework) -> PackageManagers {
    match framework.detection {
        Detection::Npm(_) => node(project),
        Detection::Python(_) => python(project),
    }
}

fn node(project: &Path) -> PackageManagers {
    let detected: Vec<PackageManager> = NODE
        .iter()
        .filter(|manager| {
            manager.lockfiles.iter().any(|lockfile| {
                let path = project.join(lockfile);
                match manager.holds {
                    None => path.is_file(),
                    Some(text) => std::fs::read_to_string(&path)
                        .is_ok_and(|content| content.lines().take(10).any(|l| l.contains(text))),
                }
            })
        })
        .map(|manager| PackageManager {
            name: manager.name.to_owned(),
            label: manager.label.to_owned(),
            install_command: manager.install.to_owned(),
            run_command: Some(manager.run.to_owned()),
        })
        .collect();
    let recommendation = match detected.as_slice() {
        [] => "No lockfile found. Default to npm (npm add, npm run).".to_owned(),
        [only] => format!("Use {} ({}).", only.label, only.install_command),
        [first, ..] => format!(
            "Multiple package managers detected. Prefer {} ({}).",
            first.label, first.install_command
        ),
    };
    PackageManagers {
        primary: detected.first().cloned(),
        detected,
        recommendation,
    }
}

fn python(project: &Path) -> PackageManagers {
    let has = |name: &str| project.join(name).exists();
    let pyproject = std::fs::read_to_string(project.join("pyproject.toml")).unwrap_or_default();
    let requirements_directory = std::fs::read_dir(project.join("requirements"))
        .map(|entries| {
            entries
                .flatten()
                .any(|entry| entry.file_name().to_string_lossy().ends_with(".txt"))
        })
        .unwrap_or(false);
    let (name, label, install, run) = if has("uv.lock") {
        UV
    } else if pyproject.contains("[tool.poetry]") {
        POETRY
    } else if pyproject.contains("[tool.pdm]") {
        PDM
    } else if pyproject.contains("[tool.hatch]") {
        HATCH
    } else if pyproject.contains("[tool.rye]") {
        RYE
    } else if has("poetry.lock") {
        POETRY
    } else if has("pdm.lock") {
        PDM
    } else if has("Pipfile") || has("Pipfile.lock") {
        PIPENV
    } else if has("environment.yml") || has("environment.yaml") {
        CONDA
    } else if [
        "requirements.txt",
        "setup.py",
        "setup.cfg",
        "pyproject.toml",
    ]
    .iter()
    .any(|file| has(file))
        || requirements_directory
    {
        PIP
    } else {
        PIP_DEFAULT
    };
    let manager = PackageManager {
        name: name.to_owned(),
        label: label.to_owned(),
        install_command: install.to_owned(),
        run_command: run.map(str::to_owned),
    };
    PackageManagers {
        recommendation: format!("Use {} ({}).", manager.label, manager.install_command),
        detected: vec![manager.clone()],
        primary: Some(manager),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{DJANGO, NEXT_JS};

    fn check(
        framework: &Framework,
        files: &[(&str, &str)],
        expected: &[&str],
        recommendation: &str,
    ) {
        let directory = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(directory.path().join(name), content).unwrap();
        }
        let answer = detect(directory.path(), framework);
        let labels: Vec<&str> = answer.detected.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(labels, expected, "{files:?}");
        assert_eq!(answer.recommendation, recommendation, "{files:?}");
        assert_eq!(answer.primary, answer.detected.first().cloned());
    }

    #[test]
    fn lockfiles_name_the_package_manager() {
        check(
            &NEXT_JS,
            &[],
            &[],
            "No lockfile found. Default to npm (npm add, npm run).",
        );
        check(
            &NEXT_JS,
            &[("package-lock.json", "{}")],
            &["npm"],
            "Use npm (npm add).",
        );
        check(
            &NEXT_JS,
            &[
                ("yarn.lock", "# yarn lockfile v1\n"),
                ("pnpm-lock.yaml", ""),
            ],
            &["Yarn V1", "pnpm"],
            "Multiple package managers detected. Prefer Yarn V1 (yarn add).",
        );
        check(
            &NEXT_JS,
            &[("yarn.lock", "__metadata:\n")],
            &["Yarn V2/3/4"],
            "Use Yarn V2/3/4 (yarn add).",
        );
        check(
            &NEXT_JS,
            &[("bun.lock", "")],
            &["Bun"],
            "Use Bun (bun add).",
        );
        check(
            &DJANGO,
            &[],
            &["pip (default)"],
            "Use pip (default) (pip install).",
        );
        check(
            &DJANGO,
            &[("requirements.txt", "django\n")],
            &["pip"],
            "Use pip (pip install).",
        );
        check(
            &DJANGO,
            &[("requirements.txt", ""), ("uv.lock", "")],
            &["uv"],
            "Use uv (uv add).",
        );
        check(
            &DJANGO,
            &[("pyproject.toml", "[tool.poetry]\n")],
            &["Poetry"],
            "Use Poetry (poetry add).",
        );
        check(
            &DJANGO,
            &[("Pipfile", "")],
            &["Pipenv"],
            "Use Pipenv (pipenv install).",
        );
    }
}
