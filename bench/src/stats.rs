//! Latency samples and their percentiles (pure; unit-tested).

use std::time::Duration;

use serde::Serialize;

/// Nearest-rank percentile (`p` in 0..=100) of ascending `sorted` samples;
/// `None` when there are none.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A step's latencies, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

/// Summarises samples given in microseconds.
pub fn summarize(samples_us: &mut [u64]) -> Option<Summary> {
    if samples_us.is_empty() {
        return None;
    }
    samples_us.sort_unstable();
    let ms = |us: u64| us as f64 / 1000.0;
    let sum: u128 = samples_us.iter().map(|&us| u128::from(us)).sum();
    Some(Summary {
        count: samples_us.len(),
        p50_ms: ms(percentile(samples_us, 50.0)?),
        p99_ms: ms(percentile(samples_us, 99.0)?),
        mean_ms: sum as f64 / samples_us.len() as f64 / 1000.0,
        max_ms: ms(*samples_us.last()?),
    })
}

/// A duration in whole microseconds (saturating).
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The median of a few measurements (start-up times, process runs).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len() % 2 == 0 {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<u64> = (1..=100).collect();
        for (p, expected) in [(0.0, 1), (1.0, 1), (50.0, 50), (99.0, 99), (100.0, 100)] {
            assert_eq!(percentile(&sorted, p), Some(expected), "p{p}");
        }
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2], 50.0), Some(1));
        assert_eq!(percentile(&[1, 2], 51.0), Some(2));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[3, 4], 250.0), Some(4), "clamped");
    }

    #[test]
    fn summary_sorts_and_converts_to_milliseconds() {
        let mut samples = vec![3000, 1000, 2000, 4000];
        let summary = summarize(&mut samples).unwrap();
        assert_eq!(
            summary,
            Summary {
                count: 4,
                p50_ms: 2.0,
                p99_ms: 4.0,
                mean_ms: 2.5,
                max_ms: 4.0
            }
        );
        assert_eq!(summarize(&mut []), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
