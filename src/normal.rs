//! Normals (baselines): what a step's time or a probe's number usually is, and how it is
//! taken. The history reads them from its aggregates (`history::baseline`); alerting, metric
//! probes and heartbeats compare with them.
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

use crate::yaml::check::Checker;
use crate::yaml::diagnostic::did_you_mean;

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
    /// How many of `slots` hours (or days) must have data: half, rounded up.
    pub fn needed(&self, slots: usize) -> usize {
        slots.div_ceil(2)
    }

    /// The normal `value` taken from `with_data` of `slots` hours (or days), if that is enough.
    pub fn judge(&self, value: Option<f64>, with_data: usize, slots: usize) -> Normal {
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
