//! The state machine of one alert, as Gatus keeps it small and apart: consecutive bad runs
//! fire it, consecutive good runs resolve it. No clock and no IO: the caller passes the time.
//! Repeats and maintenance windows are decided by the engine, which knows the sinks.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one run said about an alert's condition. A run that says nothing (a step skipped after
/// an earlier failure, an `error` run for a shop alert) is not observed at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The condition holds (the step failed, was slow, ...).
    Bad,
    /// The condition does not hold.
    Good,
}

/// How one observation changed the alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    None,
    /// It started firing.
    Fired,
    /// It stopped firing; what it was.
    Resolved(Firing),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    /// Consecutive bad observations, and when the first of them was made.
    pub bad_streak: u32,
    pub bad_since_ms: Option<i64>,
    /// Consecutive good observations (while firing, towards recovery).
    pub good_streak: u32,
    pub firing: Option<Firing>,
}

/// A firing alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    /// The first bad observation of the streak that fired it.
    pub since_ms: i64,
    /// When the threshold was reached.
    pub fired_ms: i64,
    /// When it was last queued for each sink (by sink name); empty until first sent. A
    /// resolve goes to exactly these sinks.
    pub sent: BTreeMap<String, i64>,
}

impl Tracker {
    /// Records one observation under `threshold` (bad in a row to fire) and `recovery` (good
    /// in a row to resolve); both at least 1.
    pub fn observe(
        &mut self,
        signal: Signal,
        threshold: u32,
        recovery: u32,
        now_ms: i64,
    ) -> Change {
        match signal {
            Signal::Bad => {
                self.good_streak = 0;
                self.bad_streak = self.bad_streak.saturating_add(1);
                let since = *self.bad_since_ms.get_or_insert(now_ms);
                if self.firing.is_none() && self.bad_streak >= threshold.max(1) {
                    self.firing = Some(Firing {
                        since_ms: since,
                        fired_ms: now_ms,
                        sent: BTreeMap::new(),
                    });
                    return Change::Fired;
                }
                Change::None
            }
            Signal::Good => {
                self.bad_streak = 0;
                self.bad_since_ms = None;
                if self.firing.is_none() {
                    self.good_streak = 0;
                    return Change::None;
                }
                self.good_streak = self.good_streak.saturating_add(1);
                if self.good_streak >= recovery.max(1) {
                    self.good_streak = 0;
                    return Change::Resolved(self.firing.take().expect("firing"));
                }
                Change::None
            }
        }
    }

    pub fn is_firing(&self) -> bool {
        self.firing.is_some()
    }

    /// Nothing to remember: not firing and no streak under way.
    pub fn is_idle(&self) -> bool {
        self.firing.is_none() && self.bad_streak == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Signal::{Bad, Good};

    fn feed(t: &mut Tracker, signals: &[Signal], threshold: u32, recovery: u32) -> Vec<Change> {
        signals
            .iter()
            .enumerate()
            .map(|(i, s)| t.observe(*s, threshold, recovery, i as i64 * 1000))
            .collect()
    }

    #[test]
    fn fires_after_threshold_consecutive_bad_runs_only() {
        let mut t = Tracker::default();
        let changes = feed(&mut t, &[Bad, Good, Bad, Bad, Bad], 2, 1);
        assert_eq!(changes[..3], [Change::None, Change::None, Change::None]);
        assert_eq!(changes[3], Change::Fired);
        assert_eq!(changes[4], Change::None, "fires once, not on every bad run");
        let firing = t.firing.as_ref().unwrap();
        assert_eq!(
            firing.since_ms, 2000,
            "since the first bad run of the streak"
        );
        assert_eq!(firing.fired_ms, 3000);
    }

    #[test]
    fn threshold_one_fires_on_the_first_bad_run() {
        let mut t = Tracker::default();
        assert_eq!(t.observe(Bad, 1, 1, 0), Change::Fired);
        // Zero is treated as one rather than firing with no bad run at all.
        let mut t = Tracker::default();
        assert_eq!(t.observe(Good, 0, 0, 0), Change::None);
        assert_eq!(t.observe(Bad, 0, 0, 1), Change::Fired);
    }

    #[test]
    fn resolves_after_recovery_consecutive_good_runs() {
        let mut t = Tracker::default();
        let changes = feed(&mut t, &[Bad, Good, Good, Bad, Good, Good, Good], 1, 3);
        assert_eq!(changes[0], Change::Fired);
        // A bad run in between starts recovery over.
        assert!(
            changes[1..6].iter().all(|c| *c == Change::None),
            "{changes:?}"
        );
        assert!(matches!(changes[6], Change::Resolved(ref f) if f.since_ms == 0));
        assert!(t.is_idle());
    }

    #[test]
    fn a_new_incident_after_a_resolve_fires_again_with_its_own_start() {
        let mut t = Tracker::default();
        let changes = feed(&mut t, &[Bad, Good, Bad], 1, 1);
        assert_eq!(changes[2], Change::Fired);
        assert_eq!(t.firing.unwrap().since_ms, 2000);
    }
}
