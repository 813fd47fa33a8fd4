//! Latency summaries.

use std::time::Duration;

/// Percentiles of a set of latencies, by the nearest-rank method.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

impl Summary {
    /// Summarises `samples` (in any order); `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let max = *sorted.last()?;
        let total: Duration = sorted.iter().sum();
        let count = sorted.len();
        Some(Summary {
            count,
            p50: nearest_rank(&sorted, 50),
            p99: nearest_rank(&sorted, 99),
            max,
            mean: total / u32::try_from(count).unwrap_or(u32::MAX),
        })
    }
}

/// The smallest sample with at least `percent`% of the samples at or below
/// it. `sorted` must be sorted and non-empty.
fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Percentiles of values in milliseconds that may be negative (an interval
/// between two events whose order is not fixed), by the nearest-rank method.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct MsSummary {
    pub count: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl MsSummary {
    /// Summarises `samples` (in any order, NaN ignored); `None` when there
    /// are none.
    pub fn of(samples: &[f64]) -> Option<MsSummary> {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_unstable_by(f64::total_cmp);
        let rank = |percent: usize| {
            let r = (sorted.len() * percent).div_ceil(100).max(1);
            sorted[r - 1]
        };
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        Some(MsSummary {
            count: sorted.len(),
            min,
            p50: rank(50),
            p90: rank(90),
            p99: rank(99),
            max,
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        })
    }
}

/// A duration in milliseconds, for reports.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let s = Summary::of(&millis((1..=100).rev())).unwrap();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));

        let s = Summary::of(&millis([7, 3, 5])).unwrap();
        assert_eq!(s.p50, Duration::from_millis(5));
        assert_eq!(s.p99, Duration::from_millis(7));
        assert_eq!(s.mean, Duration::from_millis(5));

        let s = Summary::of(&millis([4])).unwrap();
        assert_eq!(
            (s.p50, s.p99, s.max),
            (s.max, s.max, Duration::from_millis(4))
        );
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(MsSummary::of(&[f64::NAN]), None);
    }

    #[test]
    fn signed_percentiles() {
        let values: Vec<f64> = (1..=100).rev().map(|v| f64::from(v) - 10.0).collect();
        let s = MsSummary::of(&values).unwrap();
        assert_eq!(
            (s.min, s.p50, s.p90, s.p99, s.max),
            (-9.0, 40.0, 80.0, 89.0, 90.0)
        );
        assert_eq!(s.count, 100);
        assert!((s.mean - 40.5).abs() < 1e-9);
    }
}
