//! A whole harness run: find the fixtures and scenarios, run the selected
//! ones a few at a time, print progress and the report, and turn Ctrl-C
//! into killing every child.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::binaries;
use crate::matrix::{self, MatrixRun};
use crate::process;
use crate::report;
use crate::runner::{self, ScenarioResult, Settings};
use crate::scenario::{self, Scenario};
use crate::shard::Shard;
use crate::transcript;

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
    /// Run the scenario files.
    pub scenarios: bool,
    /// Run the compatibility matrix too ([`crate::matrix`]).
    pub matrix: bool,
    /// Rewrite `fixtures/matrix/expected.toml` from what was observed.
    pub bless: bool,
    /// Run only this shard of the sorted list.
    pub shard: Option<Shard>,
    /// Rewrite each scenario's committed transcript
    /// (`fixtures/transcripts/`) instead of comparing with it.
    pub bless_transcripts: bool,
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

/// What a run covers: the scenario files and/or the matrix's cells,
/// sorted by name, filtered, then cut to the shard. Returns the list and
/// the names of the matrix cells in it.
pub fn plan(options: &RunOptions) -> Result<(Vec<Scenario>, Vec<String>)> {
    let mut all = Vec::new();
    if options.scenarios {
        all.extend(scenario::load_all(&options.fixtures.join("scenarios"))?);
    }
    let mut cells = Vec::new();
    if options.matrix {
        let built = matrix::cell_scenarios(&options.fixtures)?;
        cells = built.iter().map(|cell| cell.name.clone()).collect();
        all.extend(built);
    }
    all.sort_by(|left, right| left.name.cmp(&right.name));
    let mut selected = select(all, options.filter.as_deref());
    if let Some(shard) = options.shard {
        selected = shard.select(selected);
    }
    Ok((selected, cells))
}

/// `e2e run` and `e2e matrix`: returns the process exit code.
pub async fn run(options: RunOptions) -> Result<i32> {
    let (selected, cell_names) = plan(&options)?;
    let complete = options.filter.is_none() && options.shard.is_none();
    if options.bless && !complete {
        bail!("--bless needs the whole matrix: drop the filter and --shard");
    }
    if selected.is_empty() {
        if let Some(shard) = options.shard.filter(|_| options.filter.is_none()) {
            println!("e2e: shard {shard} has nothing to run");
            return Ok(EXIT_PASSED);
        }
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
    let cells_selected = selected
        .iter()
        .filter(|scenario| cell_names.contains(&scenario.name))
        .count();
    println!(
        "e2e: running {} scenario(s) and {cells_selected} matrix cell(s){}, {} at a time",
        selected.len() - cells_selected,
        options
            .shard
            .map(|shard| format!(" (shard {shard})"))
            .unwrap_or_default(),
        options.jobs
    );
    let settings = Arc::new(Settings {
        fixtures: options.fixtures.clone(),
        binaries: located,
        keep: options.keep,
        run_id: runner::new_run_id(),
        report_dir: options.report_path.parent().map(Path::to_path_buf),
    });

    let everything = tokio::select! {
        results = run_all(selected, settings, options.jobs.max(1)) => results?,
        _ = tokio::signal::ctrl_c() => {
            process::kill_all_live();
            eprintln!("\ne2e: interrupted; every child process group was killed");
            return Ok(EXIT_INTERRUPTED);
        }
    };
    let (cell_results, mut results): (Vec<ScenarioResult>, Vec<ScenarioResult>) = everything
        .into_iter()
        .partition(|result| cell_names.contains(&result.name));
    // Each scenario's exchange against its committed transcript; a
    // scenario whose services never started has none to compare.
    for result in &mut results {
        if let Some(rendered) = transcript::render(&result.journals) {
            if let Some(mismatch) = transcript::check(
                &options.fixtures,
                &result.name,
                &rendered,
                options.bless_transcripts,
            ) {
                result.mismatches.push(mismatch);
            }
        }
    }
    if options.bless_transcripts {
        println!(
            "e2e: transcripts rewritten under {}",
            options.fixtures.join("transcripts").display()
        );
    }

    // Only when a cell ran: `e2e run scope-bug` selects no cell.
    let matrix_run = match options.matrix && !cell_results.is_empty() {
        true => Some(evaluate_matrix(&options, &cell_results, complete)?),
        false => None,
    };
    if !results.is_empty() {
        println!();
        println!("{}", report::table(&results));
    }
    if let Some(run) = &matrix_run {
        println!();
        println!("{}", matrix::table(run));
        for mismatch in run.mismatches() {
            println!("  - {mismatch}");
        }
        // A cell's program tails, when it failed for another reason than
        // its outcome (a leak, a set-up failure).
        let broken: Vec<ScenarioResult> = cell_results
            .iter()
            .filter(|result| !result.passed())
            .cloned()
            .collect();
        if !broken.is_empty() {
            println!();
            println!("{}", report::failures(&broken));
        }
    }
    let failures = report::failures(&results);
    if !failures.is_empty() {
        println!();
        println!("{failures}");
    }
    let not_run = report::not_run(&results);
    if !not_run.is_empty() {
        println!();
        println!("{not_run}");
    }
    for result in results.iter().chain(&cell_results) {
        if let Some(kept) = &result.kept {
            println!();
            println!("{kept}");
        }
    }
    let reports_written =
        match report::write_reports(&options.report_path, &results, matrix_run.as_ref()) {
            Ok(paths) => {
                let names: Vec<String> = paths
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect();
                println!("e2e: reports written to {}", names.join(", "));
                true
            }
            Err(error) => {
                eprintln!("e2e: {error:#}");
                false
            }
        };
    let passed = reports_written
        && results.iter().all(ScenarioResult::passed)
        && matrix_run.as_ref().is_none_or(MatrixRun::passed);
    Ok(if passed { EXIT_PASSED } else { EXIT_FAILED })
}

/// The matrix cells' results against `fixtures/matrix/expected.toml`;
/// with `--bless`, first rewrite the file from them.
fn evaluate_matrix(
    options: &RunOptions,
    cell_results: &[ScenarioResult],
    complete: bool,
) -> Result<MatrixRun> {
    let columns: Vec<String> = matrix::profiles(&options.fixtures)?
        .into_iter()
        .map(|profile| profile.name)
        .collect();
    let references: Vec<&ScenarioResult> = cell_results.iter().collect();
    let expected = matrix::load_expected(&options.fixtures)?;
    let run = matrix::evaluate(&columns, &references, &expected, complete);
    if !options.bless {
        return Ok(run);
    }
    let path = matrix::bless(&options.fixtures, &run)?;
    println!("e2e: matrix expectation written to {}", path.display());
    let expected = matrix::load_expected(&options.fixtures)?;
    Ok(matrix::evaluate(&columns, &references, &expected, complete))
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
            // A matrix cell's verdict comes later, against the expectation.
            match matrix::is_cell(&result.name) && result.passed() {
                true => println!("{}", report::ran_line(&result)),
                false => println!("{}", report::progress_line(&result)),
            }
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

    fn options(shard: Option<Shard>) -> RunOptions {
        RunOptions {
            fixtures: binaries::workspace_root().join("fixtures"),
            filter: None,
            jobs: 1,
            keep: false,
            build: false,
            report_path: PathBuf::from("report.json"),
            scenarios: true,
            matrix: true,
            bless: false,
            bless_transcripts: false,
            shard,
        }
    }

    fn planned(shard: Option<Shard>) -> Vec<String> {
        plan(&options(shard))
            .unwrap()
            .0
            .into_iter()
            .map(|scenario| scenario.name)
            .collect()
    }

    /// CI's shards together run the whole catalogue and matrix once, each
    /// shard the same list on every machine.
    #[test]
    fn the_shards_of_the_real_plan_cover_it_once() {
        let whole = planned(None);
        let (_, cells) = plan(&options(None)).unwrap();
        assert!(cells.len() >= 8, "{cells:?}");
        assert!(cells.iter().all(|cell| whole.contains(cell)));
        let mut sorted = whole.clone();
        sorted.sort();
        assert_eq!(whole, sorted);
        let mut union: Vec<String> = (1..=3)
            .flat_map(|index| planned(Some(Shard { index, count: 3 })))
            .collect();
        union.sort();
        assert_eq!(union, whole);
        assert_eq!(
            planned(Some(Shard { index: 2, count: 3 })),
            planned(Some(Shard { index: 2, count: 3 }))
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
