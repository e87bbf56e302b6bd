//! What every part of a run shares: the driver's [`Options`], the run's
//! `Context_` (programs, figures, tools) and how a load run's figures are
//! recorded and printed.

use std::path::PathBuf;

use crate::load::LoadResult;
use crate::report::{Row, StepLatency};
use crate::stats::summarize;

/// The driver's settings (from `bench`'s flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// Length of each load run.
    pub seconds: u64,
    /// Concurrency levels of the signup runs.
    pub signup_clients: Vec<usize>,
    /// Concurrency of every other load run.
    pub clients: usize,
    /// Starts per program for the start-up time.
    pub starts: usize,
    pub wizard_runs: usize,
    pub out_dir: PathBuf,
    /// `node_modules` holding `oauth2-mock-server`.
    pub peer_modules: PathBuf,
    /// `RUST_LOG` of our servers during the run.
    pub log: String,
    /// Rewrite the figures in `BENCHMARKS.md`.
    pub update_benchmarks_md: bool,
    /// The parts of the benchmark to run (all of them when empty).
    pub only: Vec<Phase>,
    /// Each comparison runs ours and the peer's side alternately this many
    /// times; the figures pool (flows) or take the median of (wrk) the
    /// rounds, so a passing disturbance of the machine weighs on both.
    pub rounds: usize,
    /// Accounts the database holds before the top signup level is measured
    /// again (0: not measured).
    pub grown_accounts: u64,
}

/// One part of the benchmark, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// Start → `listening on` of each program.
    Startup,
    /// Full signups at each `--signup-clients` level, and the peer's token.
    Signups,
    /// Authorization code + PKCE flows.
    AuthCode,
    /// Introspection and `GET /api/users/@me/` (wrk).
    Lookups,
    /// Authenticated gateway messages.
    Gateway,
    /// The wizard's whole run as a process.
    Wizard,
}

impl Options {
    pub(crate) fn runs(&self, phase: Phase) -> bool {
        self.only.is_empty() || self.only.contains(&phase)
    }
}

/// The admin token of the measured servers.
pub(crate) const ADMIN_TOKEN: &str = "bench-admin-token";
/// Every load run stops after this many flows even if time remains.
pub(crate) const MAX_FLOWS: u64 = 2_000_000;

/// What every part of a run shares: the options, the programs, the
/// figures gathered so far and the tools found.
pub(crate) struct Context_ {
    pub(crate) options: Options,
    pub(crate) work: tempfile::TempDir,
    pub(crate) server_bin: PathBuf,
    pub(crate) gateway_bin: PathBuf,
    pub(crate) wizard_bin: PathBuf,
    /// `bench-ceiling`: one fixed answer on our transport.
    pub(crate) ceiling_bin: PathBuf,
    pub(crate) rows: Vec<Row>,
    pub(crate) latencies: Vec<StepLatency>,
    pub(crate) skipped: Vec<String>,
    pub(crate) wrk: bool,
    pub(crate) hyperfine: bool,
}

/// Records the latencies of `result` and prints its rate.
pub(crate) fn record(cx: &mut Context_, flow: &str, result: &LoadResult) {
    cx.latencies.extend(summaries(flow, result));
    print(flow, result);
}

pub(crate) fn summaries(flow: &str, result: &LoadResult) -> Vec<StepLatency> {
    result
        .step_order
        .iter()
        .filter_map(|step| {
            let mut samples = result.steps.get(step).cloned().unwrap_or_default();
            summarize(&mut samples).map(|summary| StepLatency {
                flow: flow.to_owned(),
                clients: result.clients,
                step: (*step).to_owned(),
                summary,
            })
        })
        .collect()
}

pub(crate) fn print(flow: &str, result: &LoadResult) {
    eprintln!(
        "bench: {flow} × {} clients: {:.0}/s ({} flows, {} errors{})",
        result.clients,
        result.rate(),
        result.flows,
        result.errors,
        result
            .first_error
            .as_deref()
            .map(|error| format!("; first: {}", protocol::credential::redact_secrets(error)))
            .unwrap_or_default()
    );
}

/// Prints the latest round of an alternating comparison.
pub(crate) fn round_line(
    what: &str,
    clients: usize,
    round: usize,
    rounds: usize,
    ours: &[LoadResult],
    theirs: &[LoadResult],
) {
    let latest = |runs: &[LoadResult]| {
        runs.last()
            .map_or_else(|| "–".to_owned(), |run| format!("{:.0}/s", run.rate()))
    };
    eprintln!(
        "bench: {what} × {clients} clients, round {round}/{rounds}: ours {}, peer {}",
        latest(ours),
        latest(theirs)
    );
}

pub(crate) fn rate(result: &LoadResult) -> Option<f64> {
    (result.flows > 0).then(|| result.rate())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_runs_unless_some_are_chosen() {
        let mut options = Options {
            seconds: 1,
            signup_clients: vec![1],
            clients: 1,
            starts: 1,
            wizard_runs: 0,
            out_dir: PathBuf::new(),
            peer_modules: PathBuf::new(),
            log: "warn".into(),
            update_benchmarks_md: false,
            only: Vec::new(),
            rounds: 1,
            grown_accounts: 0,
        };
        assert!(options.runs(Phase::Signups) && options.runs(Phase::Wizard));
        options.only = vec![Phase::Lookups];
        assert!(options.runs(Phase::Lookups));
        assert!(!options.runs(Phase::Signups));
    }
}
