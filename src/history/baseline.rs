//! Normals (baselines): what a step's time or a probe's number usually is, read from the
//! aggregates (`step_hours`, `step_days`, `series_hours`), never from the raw rows.
//!
//! Two ways, as `normal:` says:
//! - `hour_of_week` (the default): the median of the same hour of the week over the last
//!   `weeks` weeks (Monday 09:00 is compared with the Mondays 09:00 before it: shops are busier
//!   and slower at some hours than others);
//! - `daily`: the average over the last `weeks` weeks' whole days (for series with too few
//!   points per hour).
//!
//! Too little history gives no number but [`Normal::NotEnoughHistory`], saying how much there
//! is: at least half of the hours (or days) looked at must have data, so one odd week does not
//! become the normal. Callers never alert on it.

use super::db::DbError;
use super::read::{percentile, Reader};
use super::{bucket_ms, day_of, hour_of, DAY_MS};
use crate::yaml::check::Checker;
use crate::yaml::diagnostic::did_you_mean;
use std::collections::BTreeMap;

const WEEK_MS: i64 = 7 * DAY_MS;
pub const DEFAULT_WEEKS: u32 = 4;
/// `weeks` at most: a year.
pub const MAX_WEEKS: u32 = 52;

/// How a normal is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    HourOfWeek,
    Daily,
}

impl Basis {
    pub const NAMES: [&'static str; 2] = ["hour_of_week", "daily"];

    pub fn parse(text: &str) -> Option<Basis> {
        match text {
            "hour_of_week" => Some(Basis::HourOfWeek),
            "daily" => Some(Basis::Daily),
            _ => None,
        }
    }
}

/// Over how many weeks, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    pub weeks: u32,
    pub basis: Basis,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            weeks: DEFAULT_WEEKS,
            basis: Basis::HourOfWeek,
        }
    }
}

impl Baseline {
    /// The hours (or days) looked at for `now_ms`, newest first: the same hour 1..=`weeks`
    /// weeks ago, or the `weeks` x 7 whole days before today.
    fn slots(&self, now_ms: i64) -> Vec<i64> {
        match self.basis {
            Basis::HourOfWeek => (1..=i64::from(self.weeks))
                .map(|k| hour_of(now_ms) - k * WEEK_MS)
                .collect(),
            Basis::Daily => (1..=i64::from(self.weeks) * 7)
                .map(|k| day_of(now_ms) - k * DAY_MS)
                .collect(),
        }
    }

    /// How many of the slots must have data (half, rounded up).
    fn needed(&self, slots: usize) -> usize {
        slots.div_ceil(2)
    }

    fn judge(&self, value: Option<f64>, with_data: usize, slots: usize) -> Normal {
        let needed = self.needed(slots);
        match value {
            Some(value) if with_data >= needed && with_data > 0 => Normal::Known(value),
            _ => Normal::NotEnoughHistory {
                with_data,
                needed,
                slots,
                basis: self.basis,
            },
        }
    }
}

/// A series' normal, or why there is none yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Normal {
    Known(f64),
    NotEnoughHistory {
        /// Slots (hours or days) with data, of `slots`; `needed` is enough.
        with_data: usize,
        needed: usize,
        slots: usize,
        basis: Basis,
    },
}

impl Normal {
    pub fn value(&self) -> Option<f64> {
        match self {
            Normal::Known(value) => Some(*value),
            Normal::NotEnoughHistory { .. } => None,
        }
    }
}

impl std::fmt::Display for Normal {
    /// `1.20` or `not enough history yet: 1 of the same hour in the last 4 weeks has data, 2 needed`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Normal::Known(value) => write!(f, "{value}"),
            Normal::NotEnoughHistory {
                with_data,
                needed,
                slots,
                basis,
            } => {
                let what = match basis {
                    Basis::HourOfWeek => format!("the same hour in the last {slots} weeks"),
                    Basis::Daily => format!("the last {slots} days"),
                };
                write!(
                    f,
                    "not enough history yet: {with_data} of {what} with data, {needed} needed"
                )
            }
        }
    }
}

impl Checker<'_> {
    /// `weeks` and `normal` (the keys of `path`) onto `base`; `None` when either is wrong.
    pub(crate) fn baseline(
        &mut self,
        path: &str,
        weeks: Option<u32>,
        normal: Option<&str>,
        base: Baseline,
    ) -> Option<Baseline> {
        let mut baseline = base;
        let mut valid = true;
        if let Some(weeks) = weeks {
            if !(1..=MAX_WEEKS).contains(&weeks) {
                self.error_hint(
                    &format!("{path}.weeks"),
                    format!("`weeks` must be from 1 to {MAX_WEEKS}, not {weeks}"),
                    "the normal is taken over this many past weeks of the history, e.g. `weeks: 4`",
                );
                valid = false;
            }
            baseline.weeks = weeks;
        }
        if let Some(text) = normal {
            match Basis::parse(text) {
                Some(basis) => baseline.basis = basis,
                None => {
                    let hint = match did_you_mean(text, Basis::NAMES) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("write one of: {}", Basis::NAMES.join(", ")),
                    };
                    self.error_hint(
                        &format!("{path}.normal"),
                        format!("`normal: {text}` is not a way to take a normal"),
                        hint,
                    );
                    valid = false;
                }
            }
        }
        valid.then_some(baseline)
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
        let slots = baseline.slots(now_ms);
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
        let slots = baseline.slots(now_ms);
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

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn the_same_hour_of_each_past_week_is_looked_at() {
        let now = 10 * WEEK_MS + 5 * 3_600_000 + 1234;
        let slots = Baseline::default().slots(now);
        assert_eq!(slots.len(), 4);
        assert_eq!(slots[0], 9 * WEEK_MS + 5 * 3_600_000);
        assert_eq!(slots[3], 6 * WEEK_MS + 5 * 3_600_000);
    }

    #[test]
    fn half_of_the_slots_must_have_data() {
        let baseline = Baseline::default();
        assert_eq!(baseline.judge(Some(1.0), 2, 4), Normal::Known(1.0));
        let short = baseline.judge(Some(1.0), 1, 4);
        assert_eq!(short.value(), None);
        assert_eq!(
            short.to_string(),
            "not enough history yet: 1 of the same hour in the last 4 weeks with data, 2 needed"
        );
    }
}
