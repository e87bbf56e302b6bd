//! `e2e conformance`: runs the cases of `fixtures/conformance/` against the
//! real server, one server per (era, area, seed) with a fresh database,
//! the cases of a group in sequence on it, each with its own e-mail
//! address; then prints and writes the score ([`crate::conformance`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use protocol::admin::Journal;
use protocol::paths;

use crate::binaries;
use crate::conformance::{self, AreaFile, Case, CaseResult, NotObservable};
use crate::dispatch;
use crate::matrix;
use crate::placeholders::Placeholders;
use crate::process::{self, Invocation};
use crate::runner;
use crate::secrets;
use crate::step_context::StepContext;
use crate::suite::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PASSED, EXIT_USAGE};

/// Options of `e2e conformance`.
#[derive(Debug, Clone)]
pub struct ConformanceOptions {
    pub fixtures: PathBuf,
    /// Substring of a case's real test identifier or of its area.
    pub filter: Option<String>,
    /// Only this era.
    pub era: Option<String>,
    pub build: bool,
    /// Servers running at the same time.
    pub jobs: usize,
    /// Where the Markdown score goes.
    pub report_path: PathBuf,
    /// Also print what each `gap` and `differs` case observed.
    pub verbose: bool,
}

/// The default report: `target/e2e/conformance.md`.
pub fn default_report_path() -> PathBuf {
    binaries::workspace_root().join("target/e2e/conformance.md")
}

/// The cases one server runs.
#[derive(Debug, Clone)]
pub struct Group {
    pub era: String,
    /// The `--profile` argument for the era.
    pub profile: String,
    pub area: String,
    pub seed: String,
    /// Whether an LLM gateway runs beside the server ([`AreaFile::gateway`]).
    pub gateway: bool,
    pub cases: Vec<Case>,
}

/// The groups of a run, in era then area order; empty groups are left out.
pub fn plan(files: &[AreaFile], eras: &[(String, String)], filter: Option<&str>) -> Vec<Group> {
    let mut groups = Vec::new();
    for (era, profile) in eras {
        for file in files {
            let mut seeds: Vec<String> = Vec::new();
            for case in &file.cases {
                if !seeds.iter().any(|seed| seed == case.seed()) {
                    seeds.push(case.seed().to_owned());
                }
            }
            for seed in seeds {
                let cases: Vec<Case> = file
                    .cases
                    .iter()
                    .filter(|case| case.seed() == seed && case.eras.contains(era))
                    .filter(|case| {
                        filter.is_none_or(|filter| {
                            case.real.contains(filter) || file.area.contains(filter)
                        })
                    })
                    .cloned()
                    .collect();
                if !cases.is_empty() {
                    groups.push(Group {
                        era: era.clone(),
                        profile: profile.clone(),
                        area: file.area.clone(),
                        seed,
                        gateway: file.gateway,
                        cases,
                    });
                }
            }
        }
    }
    groups
}

/// `e2e conformance`: returns the process exit code.
pub async fn run(options: ConformanceOptions) -> Result<i32> {
    let known_eras = conformance::eras(&options.fixtures)?;
    let files = conformance::load_all(&options.fixtures, &known_eras)?;
    let profiles = matrix::profiles(&options.fixtures)?;
    let mut eras: Vec<(String, String)> = Vec::new();
    for era in &known_eras {
        if options.era.as_ref().is_some_and(|wanted| wanted != era) {
            continue;
        }
        let argument = profiles
            .iter()
            .find(|profile| &profile.name == era)
            .map(|profile| match profile.argument.ends_with(".toml") {
                true => options
                    .fixtures
                    .join(&profile.argument)
                    .display()
                    .to_string(),
                false => profile.argument.clone(),
            })
            .with_context(|| format!("era {era} has no server profile"))?;
        eras.push((era.clone(), argument));
    }
    if let Some(era) = &options.era {
        if eras.is_empty() {
            bail!(
                "--era {era}: no such era (known: {})",
                known_eras.join(", ")
            );
        }
    }
    let groups = plan(&files, &eras, options.filter.as_deref());
    if groups.is_empty() {
        eprintln!(
            "e2e: no conformance case matches {:?}",
            options.filter.as_deref().unwrap_or("")
        );
        return Ok(EXIT_USAGE);
    }
    let build = options.build;
    let located = tokio::task::spawn_blocking(move || binaries::locate(build))
        .await
        .context("the binary lookup panicked")??;
    println!(
        "e2e: provisioning-server: {} ({})",
        located.server.path.display(),
        located.server.source
    );
    let cases: usize = groups.iter().map(|group| group.cases.len()).sum();
    println!(
        "e2e: conformance: {cases} case(s) on {} server(s), {} at a time",
        groups.len(),
        options.jobs.max(1)
    );
    let started = Instant::now();
    let shared = Arc::new(Shared {
        fixtures: options.fixtures.clone(),
        server: located.server.path.clone(),
        gateway: located.gateway.path.clone(),
        run_id: runner::new_run_id(),
    });
    let outcome = tokio::select! {
        outcome = run_groups(groups, shared, options.jobs.max(1)) => outcome?,
        _ = tokio::signal::ctrl_c() => {
            process::kill_all_live();
            eprintln!("\ne2e: interrupted; every child process group was killed");
            return Ok(EXIT_INTERRUPTED);
        }
    };
    let not_observable: Vec<(String, NotObservable)> = files
        .iter()
        .flat_map(|file| {
            file.not_observable
                .iter()
                .map(|skipped| (file.area.clone(), skipped.clone()))
        })
        .collect();
    let mut text = conformance::report(&outcome.results, &not_observable);
    if !outcome.problems.is_empty() {
        text.push_str("\n## Harness problems\n\n");
        for problem in &outcome.problems {
            text.push_str(&format!("- {problem}\n"));
        }
    }
    let leaks = secrets::scan(&[secrets::Source {
        label: "the conformance report".to_owned(),
        text: text.clone(),
    }]);
    if options.verbose {
        for result in &outcome.results {
            if matches!(
                result.verdict,
                conformance::Verdict::Gap | conformance::Verdict::Differs
            ) {
                println!("[{}] {} `{}`:", result.era, result.area, result.real);
                for mismatch in &result.mismatches {
                    println!("    {mismatch}");
                }
            }
        }
    }
    println!();
    println!("{text}");
    println!(
        "e2e: conformance took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let written = match leaks.is_empty() {
        true => write_report(&options.report_path, &text),
        false => {
            for leak in &leaks {
                eprintln!("e2e: {leak}; the report is not written");
            }
            false
        }
    };
    let green = conformance::passed(&outcome.results) && outcome.problems.is_empty() && written;
    Ok(if green { EXIT_PASSED } else { EXIT_FAILED })
}

fn write_report(path: &Path, text: &str) -> bool {
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(path, text));
    match written {
        Ok(()) => {
            println!("e2e: conformance score written to {}", path.display());
            true
        }
        Err(error) => {
            eprintln!("e2e: cannot write {}: {error}", path.display());
            false
        }
    }
}

struct Shared {
    fixtures: PathBuf,
    server: PathBuf,
    gateway: PathBuf,
    run_id: String,
}

#[derive(Default)]
struct Outcome {
    results: Vec<CaseResult>,
    /// A server that did not start, a leak: the run fails.
    problems: Vec<String>,
}

async fn run_groups(groups: Vec<Group>, shared: Arc<Shared>, jobs: usize) -> Result<Outcome> {
    let permits = Arc::new(tokio::sync::Semaphore::new(jobs));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, group) in groups.into_iter().enumerate() {
        let permits = Arc::clone(&permits);
        let shared = Arc::clone(&shared);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let started = Instant::now();
            let outcome = run_group(&group, &shared).await;
            let held = outcome
                .results
                .iter()
                .filter(|result| result.verdict.acceptable())
                .count();
            println!(
                "{} {} / {}: {held}/{} as expected ({:.1} s)",
                if held == outcome.results.len() && outcome.problems.is_empty() {
                    "ok  "
                } else {
                    "FAIL"
                },
                group.era,
                group.area,
                outcome.results.len(),
                started.elapsed().as_secs_f64()
            );
            (index, outcome)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        outcomes.push(joined.context("a conformance task panicked")?);
    }
    outcomes.sort_by_key(|(index, _)| *index);
    let mut all = Outcome::default();
    for (_, outcome) in outcomes {
        all.results.extend(outcome.results);
        all.problems.extend(outcome.problems);
    }
    Ok(all)
}

/// One server, the group's cases in sequence on it.
async fn run_group(group: &Group, shared: &Shared) -> Outcome {
    let title = format!("{} / {} (seed {})", group.era, group.area, group.seed);
    let scratch = match tempfile::Builder::new()
        .prefix(&format!("e2e-conformance-{}-{}-", group.era, group.area))
        .tempdir()
    {
        Ok(scratch) => scratch,
        Err(error) => return broken(group, format!("{title}: no scratch directory: {error}")),
    };
    let dir = scratch.path();
    let seed = shared.fixtures.join(&group.seed);
    if !seed.is_file() {
        return broken(
            group,
            format!("{title}: the seed {} does not exist", seed.display()),
        );
    }
    let admin_token = format!("e2e-admin-{}", shared.run_id);
    let env = process::base_environment(&dir.join("home"), &dir.join("logs"));
    // The gateway mints without introspecting, so it needs no server; the
    // server needs the gateway's address. An area without one gets the
    // endpoint off rather than whatever listens on the default port.
    let gateway = match group.gateway {
        true => {
            let invocation = Invocation {
                program: shared.gateway.clone(),
                args: vec![
                    "--bind".to_owned(),
                    "127.0.0.1:0".to_owned(),
                    "--introspection-url".to_owned(),
                    "http://127.0.0.1:9/oauth/introspect".to_owned(),
                ],
                env: env.clone(),
                current_dir: dir.to_path_buf(),
            };
            match process::start_service(
                "llm-gateway-mock",
                invocation,
                &dir.join("gateway.stdout"),
                &dir.join("gateway.stderr"),
            )
            .await
            {
                Ok(gateway) => Some(gateway),
                Err(error) => return broken(group, format!("{title}: {error:#}")),
            }
        }
        false => None,
    };
    let gateway_url = gateway
        .as_ref()
        .map(|gateway| gateway.url.clone())
        .unwrap_or_default();
    let invocation = Invocation {
        program: shared.server.clone(),
        args: vec![
            format!("--wizard-gateway-url={gateway_url}"),
            "--bind".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--database-url".to_owned(),
            format!("sqlite://{}?mode=rwc", dir.join("server.sqlite").display()),
            "--region".to_owned(),
            "us".to_owned(),
            "--profile".to_owned(),
            group.profile.clone(),
            "--admin-token".to_owned(),
            admin_token.clone(),
            "--seed".to_owned(),
            seed.display().to_string(),
        ],
        env,
        current_dir: dir.to_path_buf(),
    };
    let server = match process::start_service(
        "provisioning-server",
        invocation,
        &dir.join("server.stdout"),
        &dir.join("server.stderr"),
    )
    .await
    {
        Ok(server) => server,
        Err(error) => return broken(group, format!("{title}: {error:#}")),
    };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => return broken(group, format!("{title}: no HTTP client: {error}")),
    };
    let mut outcome = Outcome::default();
    let mut transcript = Vec::new();
    for (index, case) in group.cases.iter().enumerate() {
        let values = Placeholders {
            email: runner::unique_email(&format!("{}{index}", group.area), &shared.run_id),
            server: server.url.clone(),
            other_server: String::new(),
            gateway: String::new(),
            project: String::new(),
        };
        let steps = dispatch::run_steps(
            &case.steps,
            &StepContext {
                client: &client,
                server_url: &server.url,
                gateway_url: "",
                admin_token: &admin_token,
                values: &values,
                random: &protocol::random::OsRandom,
                wizard: None,
                server: None,
                chromium: None,
                screenshots: None,
                admin_link: None,
            },
        )
        .await;
        transcript.extend(steps.transcript);
        let held = steps.mismatches.is_empty() && steps.passed == steps.total;
        outcome.results.push(CaseResult {
            era: group.era.clone(),
            area: group.area.clone(),
            real: case.real.clone(),
            verdict: conformance::verdict(case.mark(), held),
            mark_text: case.gap.clone().or_else(|| case.differs.clone()),
            mismatches: steps.mismatches,
        });
    }
    let journal = fetch_journal(&client, &server.url, &admin_token).await;
    server.process.kill().await;
    if let Some(gateway) = gateway {
        gateway.process.kill().await;
    }
    let mut sources = vec![secrets::Source {
        label: format!("{title}: the steps' transcript"),
        text: transcript.join("\n"),
    }];
    for file in [
        "server.stdout",
        "server.stderr",
        "gateway.stdout",
        "gateway.stderr",
    ] {
        sources.push(secrets::Source {
            label: format!("{title}: {file}"),
            text: std::fs::read_to_string(dir.join(file)).unwrap_or_default(),
        });
    }
    match journal {
        Ok(journal) => sources.push(secrets::Source {
            label: format!("{title}: the server's journal"),
            text: serde_json::to_string(&journal).unwrap_or_default(),
        }),
        Err(error) => outcome
            .problems
            .push(format!("{title}: journal unreadable: {error}")),
    }
    outcome.problems.extend(secrets::scan(&sources));
    outcome
}

async fn fetch_journal(client: &reqwest::Client, url: &str, token: &str) -> Result<Journal> {
    let response = client
        .get(format!("{url}{}", paths::ADMIN_JOURNAL))
        .bearer_auth(token)
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        bail!("status {status}");
    }
    Ok(response.json().await?)
}

/// Every case of a group that could not run, as failures with the reason.
fn broken(group: &Group, problem: String) -> Outcome {
    Outcome {
        results: group
            .cases
            .iter()
            .map(|case| CaseResult {
                era: group.era.clone(),
                area: group.area.clone(),
                real: case.real.clone(),
                verdict: conformance::Verdict::Fails,
                mark_text: None,
                mismatches: vec![problem.clone()],
            })
            .collect(),
        problems: vec![problem],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(area: &str, cases: &[(&str, &[&str], Option<&str>)]) -> AreaFile {
        let mut text = String::new();
        for (real, eras, seed) in cases {
            text.push_str(&format!(
                "[[cases]]\nreal = \"{real}\"\ndescription = \"d\"\neras = {eras:?}\n{}\n[[cases.steps]]\nkind = \"http\"\nmethod = \"GET\"\npath = \"/x\"\n\n",
                seed.map(|seed| format!("seed = \"{seed}\"")).unwrap_or_default()
            ));
        }
        let eras = vec!["current".to_owned(), "legacy".to_owned()];
        AreaFile::parse(&text, Path::new(&format!("{area}.toml")), &eras).unwrap()
    }

    #[test]
    fn one_server_per_era_area_and_seed() {
        let files = [
            file(
                "token",
                &[
                    ("t.py::T::a", &["current", "legacy"], None),
                    ("t.py::T::b", &["current"], Some("conformance/other.toml")),
                    ("t.py::T::c", &["current"], None),
                ],
            ),
            file("health", &[("h.py::H::a", &["legacy"], None)]),
        ];
        let eras = [
            ("current".to_owned(), "current".to_owned()),
            ("legacy".to_owned(), "legacy".to_owned()),
        ];
        let summary = |groups: Vec<Group>| {
            groups
                .into_iter()
                .map(|group| {
                    let cases: Vec<String> =
                        group.cases.iter().map(|case| case.real.clone()).collect();
                    format!(
                        "{} {} {} {}",
                        group.era,
                        group.area,
                        group.seed,
                        cases.join(",")
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            summary(plan(&files, &eras, None)),
            [
                "current token conformance/seed.toml t.py::T::a,t.py::T::c",
                "current token conformance/other.toml t.py::T::b",
                "legacy token conformance/seed.toml t.py::T::a",
                "legacy health conformance/seed.toml h.py::H::a",
            ]
        );
        assert_eq!(
            summary(plan(&files, &eras, Some("health"))),
            ["legacy health conformance/seed.toml h.py::H::a"]
        );
        assert_eq!(
            summary(plan(&files, &eras[..1], Some("T::c"))),
            ["current token conformance/seed.toml t.py::T::c"]
        );
    }
}
