//! Slower than normal: each passed step of a run judged against its own normal from the
//! history (`slower_than_normal`), before the run's observations are made. The only part of
//! alerting that reads the history; what it finds is data the pure observations take in.
//!
//! The median of the step's last `runs` times (this run's included) is compared with `factor`
//! x its normal, so one odd run does not count, and a step whose budget (`slow`) is generous is
//! still caught when it becomes several times slower than it usually is.

use super::SlowerThanNormal;
use crate::history::baseline::{median, Basis, Normal};
use crate::history::read::Reader;
use crate::journey::outcome::{RunReport, StepOutcome};

/// What the history says about one step of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct StepVerdict {
    pub step: String,
    /// The step's normal time (milliseconds), or why there is none yet.
    pub normal: Normal,
    /// The median of its last times (milliseconds), this run's included.
    pub recent_ms: f64,
    /// How many times went into `recent_ms`.
    pub recent_runs: usize,
    pub policy: SlowerThanNormal,
}

impl StepVerdict {
    /// Slower than normal, not, or unknown (not enough history: never an alert).
    pub fn slower(&self) -> Option<bool> {
        self.normal
            .value()
            .map(|normal| self.recent_ms > self.policy.factor * normal)
    }

    /// `the median of its last 3 times, 1.25s, is 3.1 x its normal of 0.40s (the same hour of
    /// the week over 4 weeks)`, or why there is no normal.
    pub fn describe(&self) -> String {
        let Some(normal) = self.normal.value() else {
            return self.normal.to_string();
        };
        let over = match self.policy.baseline.basis {
            Basis::HourOfWeek => format!(
                "the same hour of the week over {} weeks",
                self.policy.baseline.weeks
            ),
            Basis::Daily => format!(
                "the daily average over {} weeks",
                self.policy.baseline.weeks
            ),
        };
        let recent = if self.recent_runs == 1 {
            format!("it took {:.2}s", self.recent_ms / 1000.0)
        } else {
            format!(
                "the median of its last {} times, {:.2}s,",
                self.recent_runs,
                self.recent_ms / 1000.0
            )
        };
        let verb = if self.recent_runs == 1 { "," } else { " is" };
        format!(
            "{recent}{verb} {:.1} x its normal of {:.2}s ({over}; more than {} x is slower than normal)",
            self.recent_ms / normal.max(f64::MIN_POSITIVE),
            normal / 1000.0,
            self.policy.factor
        )
    }
}

/// Each step of `report` that passed, judged; a store that cannot be read is logged and the
/// run judges nothing (its alerts neither fire nor resolve).
pub async fn judge_run(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(normal: Normal, recent_ms: f64, recent_runs: usize) -> StepVerdict {
        StepVerdict {
            step: "cart".into(),
            normal,
            recent_ms,
            recent_runs,
            policy: SlowerThanNormal::default(),
        }
    }

    #[test]
    fn over_factor_times_the_normal_is_slower() {
        let slow = verdict(Normal::Known(400.0), 1250.0, 3);
        assert_eq!(slow.slower(), Some(true));
        assert_eq!(
            slow.describe(),
            "the median of its last 3 times, 1.25s, is 3.1 x its normal of 0.40s (the same hour of the week over 4 weeks; more than 2 x is slower than normal)"
        );
        assert_eq!(
            verdict(Normal::Known(400.0), 790.0, 3).slower(),
            Some(false)
        );
    }

    #[test]
    fn without_a_normal_nothing_is_said() {
        let normal = Normal::NotEnoughHistory {
            with_data: 0,
            needed: 2,
            slots: 4,
            basis: Basis::HourOfWeek,
        };
        assert_eq!(verdict(normal, 9000.0, 3).slower(), None);
    }
}
