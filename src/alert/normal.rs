//! Slower than normal: what the history said of each passed step of a run against its own
//! normal (`slower_than_normal`; read by `history::baseline` before the run's observations are
//! made), as data the pure observations take in.
//!
//! The median of the step's last `runs` times (this run's included) is compared with `factor`
//! x its normal, so one odd run does not count, and a step whose budget (`slow`) is generous is
//! still caught when it becomes several times slower than it usually is.

use super::SlowerThanNormal;
use crate::normal::{Basis, Normal};

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
