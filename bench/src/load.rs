//! A closed-loop load generator: `clients` tasks each run a flow again and
//! again until the deadline (or the flow budget) is reached, recording each
//! step's latency. Bounded in time and count; it stops by itself.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::stats::micros;

/// Each step of one flow and how long it took (microseconds).
pub type Steps = Vec<(&'static str, u64)>;

/// What a load run did.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    pub clients: usize,
    pub flows: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Step name → samples (µs), in the order steps first appeared.
    pub steps: BTreeMap<&'static str, Vec<u64>>,
    pub step_order: Vec<&'static str>,
}

impl LoadResult {
    /// Several runs of one load as one: flows, errors, time and samples
    /// added up (the rate is the runs' flows over their time together).
    pub fn pooled(runs: Vec<LoadResult>) -> LoadResult {
        let mut pooled = LoadResult::default();
        for run in runs {
            pooled.clients = run.clients;
            pooled.flows += run.flows;
            pooled.errors += run.errors;
            pooled.elapsed += run.elapsed;
            if pooled.first_error.is_none() {
                pooled.first_error = run.first_error;
            }
            for step in run.step_order {
                if !pooled.step_order.contains(&step) {
                    pooled.step_order.push(step);
                }
            }
            for (step, samples) in run.steps {
                pooled.steps.entry(step).or_default().extend(samples);
            }
        }
        pooled
    }

    /// Completed flows per second.
    pub fn rate(&self) -> f64 {
        if self.elapsed.is_zero() {
            return 0.0;
        }
        self.flows as f64 / self.elapsed.as_secs_f64()
    }
}

/// Times one step.
pub async fn timed<T, E>(
    steps: &mut Steps,
    name: &'static str,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = future.await;
    steps.push((name, micros(started.elapsed())));
    result
}

/// Runs `flow(client_index)` from `clients` tasks for `duration` (and at
/// most `max_flows` flows in all). A flow that errs counts as an error and
/// its steps are not recorded.
pub async fn closed_loop<F, Fut>(
    clients: usize,
    duration: Duration,
    max_flows: u64,
    flow: F,
) -> LoadResult
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<Steps>> + Send + 'static,
{
    let flow = Arc::new(flow);
    let started_flows = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let flow = flow.clone();
        let started_flows = started_flows.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            let mut errors = 0u64;
            let mut first_error = None;
            let mut samples: Vec<(&'static str, u64)> = Vec::new();
            while Instant::now() < deadline
                && started_flows.fetch_add(1, Ordering::Relaxed) < max_flows
            {
                match flow(client).await {
                    Ok(steps) => {
                        ok += 1;
                        samples.extend(steps);
                    }
                    Err(error) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{error:#}"));
                    }
                }
            }
            (ok, errors, first_error, samples, Instant::now())
        }));
    }
    let mut result = LoadResult {
        clients,
        ..LoadResult::default()
    };
    let mut finished = started;
    for task in tasks {
        let Ok((ok, errors, first_error, samples, ended)) = task.await else {
            result.errors += 1;
            continue;
        };
        finished = finished.max(ended);
        result.flows += ok;
        result.errors += errors;
        if result.first_error.is_none() {
            result.first_error = first_error;
        }
        for (step, us) in samples {
            if !result.step_order.contains(&step) {
                result.step_order.push(step);
            }
            result.steps.entry(step).or_default().push(us);
        }
    }
    result.elapsed = finished - started;
    result
}

/// Samples a process's VmRSS every 100 ms while `work` runs; the peak, MB.
pub async fn peak_rss_during<T>(
    pids: &[u32],
    work: impl Future<Output = T>,
) -> (T, Vec<Option<f64>>) {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let pids_owned = pids.to_vec();
    let sampler = tokio::spawn(async move {
        let mut peaks: Vec<Option<f64>> = vec![None; pids_owned.len()];
        loop {
            for (peak, pid) in peaks.iter_mut().zip(&pids_owned) {
                if let Some(rss) = crate::tools::rss_of(*pid) {
                    *peak = Some(peak.map_or(rss, |old: f64| old.max(rss)));
                }
            }
            tokio::select! {
                _ = stopped.changed() => break,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        peaks
    });
    let output = work.await;
    let _ = stop.send(true);
    let peaks = sampler.await.unwrap_or_default();
    (output, peaks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_loop_stops_at_its_flow_budget_and_merges_steps() {
        let result = closed_loop(3, Duration::from_secs(30), 10, |client| async move {
            if client == 0 {
                Ok(vec![("a", 1), ("b", 2)])
            } else {
                Ok(vec![("a", 3)])
            }
        })
        .await;
        assert_eq!(result.flows, 10);
        assert_eq!(result.errors, 0);
        assert_eq!(result.steps["a"].len(), 10);
        assert_eq!(result.step_order[0], "a");
    }

    #[tokio::test]
    async fn errors_are_counted_not_recorded() {
        let result = closed_loop(2, Duration::from_secs(30), 4, |_| async move {
            anyhow::bail!("refused")
        })
        .await;
        assert_eq!(result.flows, 0);
        assert_eq!(result.errors, 4);
        assert_eq!(result.first_error.as_deref(), Some("refused"));
        assert!(result.steps.is_empty());
    }

    fn run(flows: u64, seconds: u64, samples: &[u64]) -> LoadResult {
        LoadResult {
            clients: 8,
            flows,
            errors: 1,
            first_error: None,
            elapsed: Duration::from_secs(seconds),
            steps: BTreeMap::from([("token", samples.to_vec())]),
            step_order: vec!["token"],
        }
    }

    #[test]
    fn pooled_runs_add_up_flows_time_and_samples() {
        let pooled = LoadResult::pooled(vec![run(300, 2, &[1, 2]), run(100, 2, &[3])]);
        assert_eq!(pooled.clients, 8);
        assert_eq!((pooled.flows, pooled.errors), (400, 2));
        assert!((pooled.rate() - 100.0).abs() < 1e-9);
        assert_eq!(pooled.steps["token"], [1, 2, 3]);
        assert_eq!(pooled.step_order, ["token"]);
        assert_eq!(LoadResult::pooled(Vec::new()).rate(), 0.0);
    }
}
