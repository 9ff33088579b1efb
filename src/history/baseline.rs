//! The normals of the history's series (see [`crate::normal`]), read from its aggregates
//! (`step_hours`, `step_days`, `series_hours`), never from the raw rows: a step's time, a
//! probe's number; and a run's steps judged against theirs (`slower_than_normal`).

use super::db::DbError;
use super::read::{percentile, Reader};
use super::{bucket_ms, day_of, hour_of, DAY_MS};
use crate::alert::normal::StepVerdict;
use crate::alert::SlowerThanNormal;
use crate::journey::outcome::{RunReport, StepOutcome};
use crate::normal::{median, Baseline, Basis, Normal};
use crate::probe::metric::SeriesStore;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

const WEEK_MS: i64 = 7 * DAY_MS;

/// The hours (or days) looked at for `now_ms`, newest first: the same hour 1..=`weeks` weeks
/// ago, or the `weeks` x 7 whole days before today.
fn slots(baseline: &Baseline, now_ms: i64) -> Vec<i64> {
    match baseline.basis {
        Basis::HourOfWeek => (1..=i64::from(baseline.weeks))
            .map(|k| hour_of(now_ms) - k * WEEK_MS)
            .collect(),
        Basis::Daily => (1..=i64::from(baseline.weeks) * 7)
            .map(|k| day_of(now_ms) - k * DAY_MS)
            .collect(),
    }
}

impl Reader {
    /// The normal time of a passed step (milliseconds) at `now_ms`: from its duration buckets,
    /// pooled over the slots.
    pub async fn step_normal(
        &self,
        journey: &str,
        step: &str,
        baseline: &Baseline,
        now_ms: i64,
    ) -> Result<Normal, DbError> {
        let slots = slots(baseline, now_ms);
        let (Some(newest), Some(oldest)) = (slots.first(), slots.last()) else {
            return Ok(baseline.judge(None, 0, 0));
        };
        let sql = match baseline.basis {
            Basis::HourOfWeek => "SELECT hour_ms, bucket, steps FROM step_hours WHERE journey = ? AND step = ? AND hour_ms >= ? AND hour_ms <= ?",
            Basis::Daily => "SELECT day_ms, bucket, steps FROM step_days WHERE journey = ? AND step = ? AND day_ms >= ? AND day_ms <= ?",
        };
        let rows = self
            .query(
                sql,
                vec![
                    journey.into(),
                    step.into(),
                    (*oldest).into(),
                    (*newest).into(),
                ],
            )
            .await?;
        let mut buckets: BTreeMap<i64, i64> = BTreeMap::new();
        let mut with_data = std::collections::BTreeSet::new();
        for row in rows.iter().filter(|r| slots.contains(&r[0].int())) {
            let n = row[2].int();
            *buckets.entry(row[1].int()).or_default() += n;
            if n > 0 {
                with_data.insert(row[0].int());
            }
        }
        let count: i64 = buckets.values().sum();
        let value = (count > 0).then(|| match baseline.basis {
            Basis::HourOfWeek => percentile(&buckets, count, 0.5),
            Basis::Daily => {
                buckets
                    .iter()
                    .map(|(k, n)| bucket_ms(*k) * *n as f64)
                    .sum::<f64>()
                    / count as f64
            }
        });
        Ok(baseline.judge(value, with_data.len(), slots.len()))
    }

    /// The normal of a series of numbers a probe read, at `now_ms`: the median of the slots'
    /// hourly means (`hour_of_week`), or the mean of every value in the days (`daily`).
    pub async fn series_normal(
        &self,
        series: &str,
        baseline: &Baseline,
        now_ms: i64,
    ) -> Result<Normal, DbError> {
        let slots = slots(baseline, now_ms);
        let (Some(newest), Some(oldest)) = (slots.first(), slots.last()) else {
            return Ok(baseline.judge(None, 0, 0));
        };
        let until = match baseline.basis {
            Basis::HourOfWeek => *newest,
            Basis::Daily => newest + DAY_MS - 1,
        };
        let rows = self
            .query(
                "SELECT hour_ms, points, total FROM series_hours WHERE series = ? AND hour_ms >= ? AND hour_ms <= ?",
                vec![series.into(), (*oldest).into(), until.into()],
            )
            .await?;
        let slot_of = |hour: i64| match baseline.basis {
            Basis::HourOfWeek => hour,
            Basis::Daily => day_of(hour),
        };
        // Per slot: points and their sum.
        let mut per_slot: BTreeMap<i64, (i64, f64)> = BTreeMap::new();
        for row in &rows {
            let slot = slot_of(row[0].int());
            if row[1].int() > 0 && slots.contains(&slot) {
                let entry = per_slot.entry(slot).or_default();
                entry.0 += row[1].int();
                entry.1 += row[2].real();
            }
        }
        let value = match baseline.basis {
            Basis::HourOfWeek => {
                let means: Vec<f64> = per_slot.values().map(|(n, sum)| sum / *n as f64).collect();
                median(means)
            }
            Basis::Daily => {
                let (n, sum) = per_slot
                    .values()
                    .fold((0, 0.0), |(n, s), (pn, ps)| (n + pn, s + ps));
                (n > 0).then(|| sum / n as f64)
            }
        };
        Ok(baseline.judge(value, per_slot.len(), slots.len()))
    }

    /// A step's times (milliseconds) in the journey's last `runs` runs that passed it, newest
    /// first.
    pub async fn recent_step_times(
        &self,
        journey: &str,
        step: &str,
        runs: u32,
    ) -> Result<Vec<f64>, DbError> {
        let rows = self
            .query(
                "SELECT s.duration_ms FROM runs r JOIN steps s ON s.run = r.id \
                 WHERE r.journey = ? AND s.name = ? AND s.outcome IN ('ok', 'slow') AND s.duration_ms IS NOT NULL \
                 ORDER BY r.started_ms DESC LIMIT ?",
                vec![journey.into(), step.into(), i64::from(runs).into()],
            )
            .await?;
        Ok(rows.iter().map(|r| r[0].real()).collect())
    }
}

/// Each step of `report` that passed, judged; a store that cannot be read is logged and the
/// run judges nothing (its alerts neither fire nor resolve).
pub async fn judge_steps(
    reader: &Reader,
    report: &RunReport,
    policy: SlowerThanNormal,
    now_ms: i64,
) -> Vec<StepVerdict> {
    let mut verdicts = Vec::new();
    for step in &report.steps {
        let (StepOutcome::Ok | StepOutcome::Slow, Some(ms)) = (step.outcome, step.duration_ms)
        else {
            continue;
        };
        let judged = async {
            let normal = reader
                .step_normal(&report.journey, &step.name, &policy.baseline, now_ms)
                .await?;
            let mut times = reader
                .recent_step_times(&report.journey, &step.name, policy.runs - 1)
                .await?;
            times.push(ms);
            Ok::<_, crate::history::db::DbError>((normal, times))
        }
        .await;
        match judged {
            Ok((normal, times)) => verdicts.push(StepVerdict {
                step: step.name.clone(),
                normal,
                recent_runs: times.len(),
                recent_ms: median(times).unwrap_or(ms),
                policy,
            }),
            Err(e) => {
                tracing::warn!(
                    journey = report.journey,
                    "slower than normal: cannot read the history, the run is not judged: {e}"
                );
                return Vec::new();
            }
        }
    }
    verdicts
}

/// The history as the store of metric probes' numbers and heartbeats' counts.
impl SeriesStore for super::History {
    fn normal<'a>(
        &'a self,
        series: &'a str,
        baseline: &'a Baseline,
        at_ms: i64,
    ) -> Pin<Box<dyn Future<Output = Result<Normal, String>> + Send + 'a>> {
        Box::pin(async move {
            self.reader
                .series_normal(series, baseline, at_ms)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn keep(&self, series: &str, at_ms: i64, value: f64) {
        self.writer.send(super::Record::Value(super::ValueRecord {
            series: series.to_string(),
            at_ms,
            value,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_hour_of_each_past_week_is_looked_at() {
        let now = 10 * WEEK_MS + 5 * 3_600_000 + 1234;
        let slots = slots(&Baseline::default(), now);
        assert_eq!(slots.len(), 4);
        assert_eq!(slots[0], 9 * WEEK_MS + 5 * 3_600_000);
        assert_eq!(slots[3], 6 * WEEK_MS + 5 * 3_600_000);
    }
}
