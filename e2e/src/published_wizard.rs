//! `e2e published-wizard`: runs pinned published versions of the npm
//! package `@posthog/wizard`, unchanged and headless, against our server
//! and gateway, and reads from their journals how far each got.
//!
//! Each cell (version × server setup × variant; a setup is an era of the
//! real server, [`expected::SERVERS`]) gets a fresh stack, a fresh SQLite
//! file, HOME and copy of the next-js app, and runs the wizard until it
//! exits, until the gateway has answered a model call (nothing later can
//! change the outcome), or the time limit ([`wizard_run`]). The outcome
//! ([`outcome::classify`]) is compared with
//! `fixtures/published-wizard/expected.toml`.
//!
//! Each end-to-end case of the same file (`[[case]]`: version, server,
//! variant, app) runs the same way to the wizard's own exit, and is judged
//! on its outcome, its exit code and the project ([`cases`]): the app's
//! checklist for `integrated`, the whole tree's digest for `untouched`.
//!
//! Claude Code versions run one after another on the fixed ports they
//! derive from a localhost base URL ([`wizard_run::FIXED_PORTS`]); the pi
//! harness's versions take the gateway's address from the mint's answer,
//! so they run beside them on ports of their own
//! ([`wizard_run::PI_PORTS`]). Both append to the wizard's fixed log
//! `/tmp/posthog-wizard.log`; each run keeps what was appended while it
//! ran.
//!
//! Code map: [`install`] (the pinned packages under target/), [`wizard_run`]
//! (one run against a fresh stack), [`outcome`] (how far a run got),
//! [`expected`] (the committed pins, expectations and cases, the server
//! setups), [`cases`] (judging a case), [`project_state`] (the project's
//! digest and diff), [`outputs`] (redacting and scanning what is written),
//! [`report`] (the tables, report.md, report.json).
//!
//! Everything written under `target/e2e/published-wizard/` is redacted and
//! then scanned: no full credential of protocol's secret kinds (`pha_`,
//! `phr_`, `phx_`, `phe_`, …) may be in it.

pub mod cases;
pub mod expected;
pub mod install;
pub mod outcome;
pub mod outputs;
pub mod project_state;
pub mod report;
pub mod result;
pub mod wizard_run;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::integrated::IntegratedProject;
use crate::process;
use cases::CaseResult;
use expected::{Case, CellKey, Expected, Packages, Variant, EXPECTED_FILE, VARIANTS};
use outcome::Outcome;
use outputs::{scan_tree, write_redacted};
use report::{failure_text, render_report, render_table, report_json, row_summary};
pub use result::{CellResult, CredentialScopes, Ending};
use wizard_run::{Lane, Ports, Spec, Until, FIXED_PORTS, PI_PORTS, WIZARD_LOG};

/// The app every cell's wizard runs in.
pub const APP: &str = "next-js";

/// Options of `e2e published-wizard`.
#[derive(Debug, Clone)]
pub struct Options {
    pub fixtures: PathBuf,
    /// Versions to run (all of packages.toml when empty).
    pub versions: Vec<String>,
    /// Profiles to run (both when empty).
    pub profiles: Vec<String>,
    /// Variants to run (both when empty).
    pub variants: Vec<Variant>,
    /// Install what is missing first.
    pub install: bool,
    /// Install and stop.
    pub install_only: bool,
    /// Rewrite expected.toml's cells that ran from what was observed.
    pub bless: bool,
    /// Run `cargo build --workspace --bins` first.
    pub build: bool,
    /// The time limit of one cell's wizard run.
    pub timeout: Duration,
    /// The time limit of one end-to-end case's wizard run (Claude Code
    /// retries a refused model call for minutes before the wizard gives up).
    pub case_timeout: Duration,
    /// Run the cells (the outcome table).
    pub cells: bool,
    /// Run the end-to-end cases.
    pub cases: bool,
    /// Where the table and each run's files go.
    pub out_dir: PathBuf,
}

/// Runs the lane; answers the process's exit code.
pub async fn run(options: Options) -> Result<i32> {
    let workspace = crate::binaries::workspace_root();
    let packages = Packages::load(&options.fixtures)?;
    let versions = chosen(&options.versions, &packages.wizard, "version")?;
    let profiles = chosen(&options.profiles, &expected::server_names(), "server")?;
    let variants = if options.variants.is_empty() {
        VARIANTS.to_vec()
    } else {
        options.variants.clone()
    };
    let install_root = install::root(&workspace);
    if options.install || options.install_only {
        let steps = install::install_missing(&install_root, &packages, &versions)?;
        for step in steps {
            match step.took {
                Some(took) => eprintln!(
                    "published-wizard: installed {} in {:.1} s",
                    step.what,
                    took.as_secs_f64()
                ),
                None => eprintln!("published-wizard: {} already installed", step.what),
            }
        }
        if options.install_only {
            return Ok(crate::suite::EXIT_PASSED);
        }
    }
    for version in &versions {
        install::locate(&install_root, &packages, version)?;
    }
    let binaries = crate::binaries::locate(options.build)?;
    let mut expected = Expected::load(&options.fixtures)?;
    // A run's files are only this run's: no cell of an earlier run stays.
    let _ = std::fs::remove_dir_all(&options.out_dir);
    std::fs::create_dir_all(&options.out_dir)
        .with_context(|| format!("cannot create {}", options.out_dir.display()))?;
    let lane = Lane {
        workspace,
        fixtures: options.fixtures.clone(),
        packages,
        install_root,
        binaries,
        bless: options.bless,
        out_dir: options.out_dir.clone(),
        run_id: crate::runner::new_run_id(),
    };

    let mut jobs = Vec::new();
    if options.cells {
        for version in &versions {
            for profile in &profiles {
                for variant in &variants {
                    let key = CellKey {
                        version: version.clone(),
                        profile: profile.clone(),
                        variant: *variant,
                    };
                    let wanted = expected.get(&key);
                    let spec = lane.spec(key, APP, Until::FirstModelCall, options.timeout);
                    jobs.push(Job::Cell { spec, wanted });
                }
            }
        }
    }
    if options.cases {
        for (index, case) in expected.cases.iter().enumerate() {
            let key = &case.key;
            let chosen = versions.contains(&key.version)
                && profiles.contains(&key.profile)
                && variants.contains(&key.variant);
            if chosen {
                let checklist = match case.project {
                    crate::scenario::ProjectExpectation::Integrated => {
                        Some(IntegratedProject::load(&options.fixtures, &case.app)?)
                    }
                    crate::scenario::ProjectExpectation::Untouched => None,
                };
                let mut spec = lane.spec(key.clone(), &case.app, Until::Exit, options.case_timeout);
                spec.dir_name = case.dir_name();
                jobs.push(Job::Case {
                    index,
                    case: case.clone(),
                    checklist,
                    spec,
                });
            }
        }
    }

    // Claude Code runs one after another on the fixed ports, the pi
    // harness's runs beside them on their own; each list keeps its order.
    let _ = std::fs::remove_file(WIZARD_LOG);
    let (fixed, pi): (Planned, Planned) = jobs
        .into_iter()
        .enumerate()
        .partition(|(_, job)| job.spec().ports == FIXED_PORTS);
    let both = async { tokio::join!(run_jobs(&lane, fixed), run_jobs(&lane, pi)) };
    let (fixed, pi) = tokio::select! {
        done = both => done,
        _ = tokio::signal::ctrl_c() => {
            process::kill_all_live();
            return Ok(crate::suite::EXIT_INTERRUPTED);
        }
    };
    let _ = std::fs::remove_file(WIZARD_LOG);
    let mut done: Vec<(usize, Done)> = fixed.into_iter().chain(pi).collect();
    done.sort_by_key(|(order, _)| *order);
    let mut results = Vec::new();
    let mut case_results = Vec::new();
    for (_, done) in done {
        match done {
            Done::Cell(result) => results.push(result),
            Done::Case(result) => case_results.push(result),
        }
    }

    if options.bless {
        for result in &results {
            if let Some(outcome) = result.outcome {
                expected.set(&result.key, outcome);
            }
        }
        for result in &case_results {
            if let (Some(outcome), Some(code)) = (result.run.outcome, result.exit_code()) {
                expected.set_case(result.index, outcome, code);
            }
        }
        let path = options.fixtures.join(EXPECTED_FILE);
        std::fs::write(&path, expected.render()?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("published-wizard: rewrote {}", path.display());
    }

    if !results.is_empty() {
        println!("{}", render_table(&results));
    }
    if !case_results.is_empty() {
        println!("{}", report::render_case_table(&case_results));
    }
    write_redacted(
        &options.out_dir.join("report.md"),
        &render_report(&results, &case_results),
    )?;
    write_redacted(
        &options.out_dir.join("report.json"),
        &serde_json::to_string_pretty(&report_json(&results, &case_results))?,
    )?;
    let leaks = scan_tree(&options.out_dir)?;
    for leak in &leaks {
        eprintln!("published-wizard: LEAK in what we wrote: {leak}");
    }
    let mut failed = 0;
    for result in &results {
        if !result.passed() {
            failed += 1;
            eprintln!(
                "published-wizard: FAILED {}: {}",
                result.key,
                failure_text(result)
            );
        }
    }
    for result in &case_results {
        if !result.passed() {
            failed += 1;
            eprintln!(
                "published-wizard: FAILED {}: {}",
                result.case,
                failure_text(&result.run)
            );
        }
    }
    eprintln!(
        "published-wizard: {} passed, {failed} failed ({} cells, {} end-to-end cases; files in {})",
        results.len() + case_results.len() - failed,
        results.len(),
        case_results.len(),
        options.out_dir.display()
    );
    Ok(if failed == 0 && leaks.is_empty() {
        crate::suite::EXIT_PASSED
    } else {
        crate::suite::EXIT_FAILED
    })
}

/// One run to do: a cell, or an end-to-end case with what judges it.
enum Job {
    Cell {
        spec: Spec,
        /// The cell's expected outcome, if expected.toml has one.
        wanted: Option<Outcome>,
    },
    Case {
        index: usize,
        case: Case,
        checklist: Option<IntegratedProject>,
        spec: Spec,
    },
}

/// Runs to do, each with its place in the plan.
type Planned = Vec<(usize, Job)>;

/// One run done.
enum Done {
    Cell(CellResult),
    Case(CaseResult),
}

impl Job {
    fn spec(&self) -> &Spec {
        match self {
            Job::Cell { spec, .. } | Job::Case { spec, .. } => spec,
        }
    }
}

impl Lane {
    /// What to run for `key` on `app`: Claude Code versions on the fixed
    /// ports, the pi harness's on its own.
    fn spec(&self, key: CellKey, app: &str, until: Until, timeout: Duration) -> Spec {
        let ports: Ports = if self.packages.runs_claude_code(&key.version) {
            FIXED_PORTS
        } else {
            PI_PORTS
        };
        Spec {
            dir_name: key.dir_name(),
            key,
            app: app.to_owned(),
            ports,
            until,
            timeout,
        }
    }
}

/// Runs `jobs` one after another, each tagged with its place in the plan.
async fn run_jobs(lane: &Lane, jobs: Planned) -> Vec<(usize, Done)> {
    let mut done = Vec::new();
    for (order, job) in jobs {
        let spec = job.spec().clone();
        eprintln!("published-wizard: running {} on {} …", spec.key, spec.app);
        let (run, project) = wizard_run::run(lane, &spec).await;
        let finished = match job {
            Job::Cell { wanted, .. } => {
                let mut run = run;
                // Blessing takes what was observed as the expectation.
                run.expected = if lane.bless { run.outcome } else { wanted };
                Done::Cell(run)
            }
            Job::Case {
                index,
                case,
                checklist,
                ..
            } => {
                let run_dir = lane.out_dir.join(&spec.dir_name);
                let judged = cases::judge(
                    index,
                    &case,
                    checklist.as_ref(),
                    run.clone(),
                    project.as_ref(),
                    &run_dir,
                );
                Done::Case(judged.unwrap_or_else(|error| {
                    let mut run = run;
                    run.expected = Some(case.outcome);
                    run.problems.push(format!("{error:#}"));
                    CaseResult {
                        index,
                        case,
                        run,
                        project_summary: None,
                        digests: None,
                    }
                }))
            }
        };
        let summary = match &finished {
            Done::Cell(result) => row_summary(result),
            Done::Case(result) => row_summary(&result.run),
        };
        eprintln!(
            "published-wizard:   {} on {}: {summary}",
            spec.key, spec.app
        );
        done.push((order, finished));
    }
    done
}

/// The requested subset of `all`, refusing names that are not in it.
fn chosen(requested: &[String], all: &[String], what: &str) -> Result<Vec<String>> {
    if requested.is_empty() {
        return Ok(all.to_vec());
    }
    for name in requested {
        if !all.contains(name) {
            bail!("unknown {what} {name:?} (known: {})", all.join(", "));
        }
    }
    Ok(requested.to_vec())
}
