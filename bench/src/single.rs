//! Single-request comparisons: one request repeated (with wrk when
//! installed, else the Rust driver), ours and the peer's alternately for
//! the rounds, each side's figures taken from its median round.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::context::{print, rate, summaries, Context_, MAX_FLOWS};
use crate::flows::{self, Plain};
use crate::load::{closed_loop, peak_rss_during};
use crate::report::StepLatency;
use crate::tools;

pub(crate) fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// One run of a single-request load: its rate, the peak RSS of each
/// watched process (MB) and its latencies.
pub(crate) struct Single {
    pub(crate) rate: Option<f64>,
    /// Peak VmRSS of each watched process, MB.
    pub(crate) peaks: Vec<Option<f64>>,
    pub(crate) latencies: Vec<StepLatency>,
}

/// One side of a single-request comparison.
pub(crate) struct Side<'a> {
    pub(crate) label: &'a str,
    pub(crate) request: Plain,
    pub(crate) pids: &'a [u32],
}

/// Runs every side in turn, round after round, so a passing disturbance
/// of the machine weighs on all of them; one median round per side, in
/// the order given, its latencies recorded.
pub(crate) async fn alternated(cx: &mut Context_, sides: &[Side<'_>]) -> Result<Vec<Single>> {
    let mut runs: Vec<Vec<Single>> = sides.iter().map(|_| Vec::new()).collect();
    for _ in 0..cx.options.rounds {
        for (side, runs) in sides.iter().zip(&mut runs) {
            runs.push(single_once(cx, side.label, side.request.clone(), side.pids).await?);
        }
    }
    let medians: Vec<Single> = runs.into_iter().map(median_round).collect();
    for side in &medians {
        cx.latencies.extend(side.latencies.iter().cloned());
    }
    Ok(medians)
}

/// The round with the median rate (the lower middle one of an even
/// count), with the highest peaks of all rounds.
pub(crate) fn median_round(mut runs: Vec<Single>) -> Single {
    let mut peaks: Vec<Option<f64>> = Vec::new();
    for run in &runs {
        peaks.resize(peaks.len().max(run.peaks.len()), None);
        for (peak, value) in peaks.iter_mut().zip(&run.peaks) {
            *peak = max_opt(*peak, *value);
        }
    }
    runs.sort_by(|a, b| a.rate.unwrap_or(0.0).total_cmp(&b.rate.unwrap_or(0.0)));
    let middle = runs.len().saturating_sub(1) / 2;
    let mut median = runs.into_iter().nth(middle).unwrap_or(Single {
        rate: None,
        peaks: Vec::new(),
        latencies: Vec::new(),
    });
    median.peaks = peaks;
    median
}

/// One run of `request`, with wrk when installed, else the Rust driver,
/// watching the peak RSS of `pids`.
pub(crate) async fn single_once(
    cx: &mut Context_,
    label: &str,
    request: Plain,
    pids: &[u32],
) -> Result<Single> {
    let clients = cx.options.clients;
    let duration = Duration::from_secs(cx.options.seconds);
    if cx.wrk {
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let script = tools::wrk_script(request.method.as_str(), &headers, request.body.as_deref());
        let path = cx.work.path().join(format!("{}.lua", slug(label)));
        std::fs::write(&path, script)?;
        let mut command = tokio::process::Command::new("wrk");
        command
            .args([
                "-t1",
                &format!("-c{clients}"),
                &format!("-d{}s", cx.options.seconds),
            ])
            .args(["--timeout", "10s", "--latency", "-s"])
            .arg(&path)
            .arg(&request.url)
            .kill_on_drop(true);
        let limit = duration + Duration::from_secs(30);
        let (output, peaks) =
            peak_rss_during(pids, tokio::time::timeout(limit, command.output())).await;
        let output = output
            .map_err(|_| anyhow::anyhow!("wrk ran past {limit:?}"))?
            .context("cannot run wrk")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let Some(result) = tools::parse_wrk(&text) else {
            cx.skipped.push(format!("{label}: wrk printed no figures"));
            return Ok(Single {
                rate: None,
                peaks,
                latencies: Vec::new(),
            });
        };
        eprintln!(
            "bench: {label} (wrk, {clients} connections): {:.0}/s, p50 {:?} ms, p99 {:?} ms, {} failures",
            result.requests_per_second, result.p50_ms, result.p99_ms, result.failures
        );
        if result.failures > 0 {
            cx.skipped.push(format!(
                "{label}: {} of {} answers were not 2xx/3xx (the rate counts them)",
                result.failures, result.requests
            ));
        }
        let mut latencies = Vec::new();
        if let (Some(p50), Some(p99)) = (result.p50_ms, result.p99_ms) {
            latencies.push(StepLatency {
                flow: format!("{label} (wrk)"),
                clients,
                step: "request".into(),
                summary: crate::stats::Summary {
                    count: usize::try_from(result.requests).unwrap_or(usize::MAX),
                    p50_ms: p50,
                    p99_ms: p99,
                    mean_ms: f64::NAN,
                    max_ms: f64::NAN,
                },
            });
        }
        return Ok(Single {
            rate: Some(result.requests_per_second),
            peaks,
            latencies,
        });
    }
    let http = flows::client()?;
    let request = Arc::new(request);
    let (result, peaks) = peak_rss_during(
        pids,
        closed_loop(clients, duration, MAX_FLOWS, move |_| {
            let (http, request) = (http.clone(), request.clone());
            async move {
                let mut steps = Vec::new();
                flows::plain(&http, &request, &mut steps).await?;
                Ok(steps)
            }
        }),
    )
    .await;
    print(label, &result);
    Ok(Single {
        rate: rate(&result),
        peaks,
        latencies: summaries(label, &result),
    })
}

pub(crate) fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: Option<f64>, peak: Option<f64>) -> Single {
        Single {
            rate,
            peaks: vec![peak],
            latencies: Vec::new(),
        }
    }

    #[test]
    fn the_median_round_carries_the_highest_peaks() {
        let median = median_round(vec![
            run(Some(300.0), Some(10.0)),
            run(Some(100.0), Some(30.0)),
            run(Some(200.0), None),
        ]);
        assert_eq!(median.rate, Some(200.0));
        assert_eq!(median.peaks, [Some(30.0)]);
        // An even count takes the lower middle round.
        let median = median_round(vec![run(Some(4.0), None), run(Some(2.0), None)]);
        assert_eq!(median.rate, Some(2.0));
        assert_eq!(median_round(Vec::new()).rate, None);
    }
}
