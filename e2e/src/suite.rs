//! A whole harness run: find the fixtures and scenarios, run the selected
//! ones a few at a time, print progress and the report, and turn Ctrl-C
//! into killing every child.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::binaries;
use crate::process;
use crate::report;
use crate::runner::{self, ScenarioResult, Settings};
use crate::scenario::{self, Scenario};

/// Exit code when every selected scenario passed.
pub const EXIT_PASSED: i32 = 0;
/// Exit code when any scenario failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code for a harness usage error (no scenario matches, bad fixtures).
pub const EXIT_USAGE: i32 = 2;
/// Exit code after Ctrl-C.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Options of `e2e run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub fixtures: PathBuf,
    /// Substring of scenario names; `None` runs all.
    pub filter: Option<String>,
    pub jobs: usize,
    pub keep: bool,
    /// Run `cargo build --workspace --bins` before looking for binaries.
    pub build: bool,
    pub report_path: PathBuf,
}

/// The fixtures directory: `fixtures/` found walking up from `start`, then
/// beside this crate's manifest (known at compile time).
pub fn find_fixtures(start: &Path) -> Result<PathBuf> {
    for dir in start.ancestors() {
        let candidate = dir.join("fixtures");
        if candidate.join("scenarios").is_dir() {
            return Ok(candidate);
        }
    }
    let compiled = binaries::workspace_root().join("fixtures");
    if compiled.join("scenarios").is_dir() {
        return Ok(compiled);
    }
    bail!(
        "no fixtures/ directory with scenarios/ above {} nor at {}; pass --fixtures DIR",
        start.display(),
        compiled.display()
    )
}

/// The scenarios whose name contains `filter`.
pub fn select(scenarios: Vec<Scenario>, filter: Option<&str>) -> Vec<Scenario> {
    match filter {
        None => scenarios,
        Some(filter) => scenarios
            .into_iter()
            .filter(|scenario| scenario.name.contains(filter))
            .collect(),
    }
}

/// `e2e list`: name and description of each scenario.
pub fn list(fixtures: &Path) -> Result<String> {
    let scenarios = scenario::load_all(&fixtures.join("scenarios"))?;
    let width = scenarios
        .iter()
        .map(|scenario| scenario.name.len())
        .max()
        .unwrap_or(0);
    Ok(scenarios
        .iter()
        .map(|scenario| format!("{:width$}  {}", scenario.name, scenario.description))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `e2e run`: returns the process exit code.
pub async fn run(options: RunOptions) -> Result<i32> {
    let all = scenario::load_all(&options.fixtures.join("scenarios"))?;
    let selected = select(all, options.filter.as_deref());
    if selected.is_empty() {
        eprintln!(
            "e2e: no scenario matches {:?} (see `e2e list`)",
            options.filter.as_deref().unwrap_or("")
        );
        return Ok(EXIT_USAGE);
    }
    let build = options.build;
    let located = tokio::task::spawn_blocking(move || binaries::locate(build))
        .await
        .context("the binary lookup panicked")??;
    for (name, binary) in [
        ("provisioning-server", &located.server),
        ("llm-gateway-mock", &located.gateway),
        ("wizard", &located.wizard),
    ] {
        println!("e2e: {name}: {} ({})", binary.path.display(), binary.source);
    }
    println!(
        "e2e: running {} scenario(s), {} at a time",
        selected.len(),
        options.jobs
    );
    let settings = Arc::new(Settings {
        fixtures: options.fixtures.clone(),
        binaries: located,
        keep: options.keep,
        run_id: runner::new_run_id(),
    });

    let results = tokio::select! {
        results = run_all(selected, settings, options.jobs.max(1)) => results?,
        _ = tokio::signal::ctrl_c() => {
            process::kill_all_live();
            eprintln!("\ne2e: interrupted; every child process group was killed");
            return Ok(EXIT_INTERRUPTED);
        }
    };

    println!();
    println!("{}", report::table(&results));
    let failures = report::failures(&results);
    if !failures.is_empty() {
        println!();
        println!("{failures}");
    }
    for result in &results {
        if let Some(kept) = &result.kept {
            println!();
            println!("{kept}");
        }
    }
    match report::write_reports(&options.report_path, &results) {
        Ok(markdown) => println!(
            "e2e: reports written to {} and {}",
            options.report_path.display(),
            markdown.display()
        ),
        Err(error) => eprintln!("e2e: {error:#}"),
    }
    Ok(if results.iter().all(ScenarioResult::passed) {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    })
}

/// Runs the scenarios `jobs` at a time, printing a line as each finishes;
/// the results come back in scenario order.
async fn run_all(
    scenarios: Vec<Scenario>,
    settings: Arc<Settings>,
    jobs: usize,
) -> Result<Vec<ScenarioResult>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(jobs));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, scenario) in scenarios.into_iter().enumerate() {
        let permits = Arc::clone(&permits);
        let settings = Arc::clone(&settings);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = runner::run_scenario(&scenario, &settings).await;
            println!("{}", report::progress_line(&result));
            (index, result)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.context("a scenario task panicked")?);
    }
    results.sort_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, result)| result).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_found_walking_up() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("fixtures/scenarios")).unwrap();
        std::fs::create_dir_all(root.path().join("a/b")).unwrap();
        assert_eq!(
            find_fixtures(&root.path().join("a/b")).unwrap(),
            root.path().join("fixtures")
        );
    }

    #[test]
    fn the_filter_is_a_substring_of_the_name() {
        let text = |name: &str| {
            format!(
                "name = \"{name}\"\ndescription = \"d\"\n[server]\nprofile = \"current\"\n[wizard]\napp = \"next-js\"\n"
            )
        };
        let scenarios: Vec<Scenario> = ["scope-bug-a", "signup-b", "scope-fix-c"]
            .iter()
            .map(|name| Scenario::parse(&text(name), Path::new(&format!("{name}.toml"))).unwrap())
            .collect();
        let names = |selected: Vec<Scenario>| {
            selected
                .into_iter()
                .map(|scenario| scenario.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(select(scenarios.clone(), Some("scope"))),
            ["scope-bug-a", "scope-fix-c"]
        );
        assert_eq!(names(select(scenarios.clone(), None)).len(), 3);
        assert!(select(scenarios, Some("nothing")).is_empty());
    }
}
