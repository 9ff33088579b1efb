//! Alerts: a failed or slow step, a failed probe, an expiring or invalid certificate, and the
//! monitor's own faults, sent to Alertmanager, PagerDuty, Opsgenie, chats, phones, email and
//! webhooks.
//!
//! Layout, one job per file:
//! - [`config`]: `alerting:` as written, validated into [`AlertingConfig`].
//! - [`normal`]: each passed step of a run judged against its normal from the history
//!   (`slower_than_normal`), for the observations.
//! - [`observations`]: what a run report or probe result says about each alert: pure.
//! - [`state`]: the state machine of one alert (thresholds, recovery): pure, no clock, no IO.
//! - [`engine`]: [`Alerting`], what the daemon talks to: feeds observations to the trackers,
//!   decides what to send and when (first notification, repeats, maintenance windows,
//!   resolves) and keeps the state and the queues in the state file.
//! - [`outbox`]: the queues per sink (bounded) and what delivery needs of them.
//! - [`delivery`]: one worker per sink, sending in order with retries and backoff.
//! - [`notification`]: what is sent: the documented JSON body every sink starts from.
//! - [`sink`]: [`Sink`], the one extension point for sink kinds, one file each (their
//!   settings as written, validation and send), and the filters every sink has.
//!
//! An `error` outcome (WebDriver down, session refused, browser crashed) is the monitor's fault:
//! it feeds only `MonitorUnhealthy` and never fires or resolves an alert about the shop.

pub mod config;
pub mod delivery;
pub mod engine;
pub mod normal;
pub mod notification;
pub mod observations;
pub mod outbox;
pub mod sink;
pub mod state;

pub use engine::Alerting;
pub use notification::Notification;
pub use sink::{Sink, SinkConfig, SinkKind, SinkSettings};

/// A setting given as text or as `{secret: env:NAME}` / `{secret: file:PATH}`, read at start.
pub use crate::secret::Var as SecretValue;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Every alert shopwatch raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlertName {
    /// A step failed `failure_threshold` runs in a row (critical).
    JourneyStepFailed,
    /// A step was over its `slow` budget `slow_threshold` runs in a row (warning).
    JourneyStepSlow,
    /// A step's recent times are over `factor` x its normal from the history (warning).
    JourneyStepSlowerThanNormal,
    /// A probe failed `failure_threshold` runs in a row (critical).
    ProbeFailed,
    /// A certificate expires within `warn_days` (warning) or `critical_days` (critical).
    CertificateExpiring,
    /// A certificate chain does not verify (critical).
    CertificateInvalid,
    /// The monitor itself failed (`error` outcomes): WebDriver down, session refused, browser
    /// crashed, an unreadable `ca_file` (warning).
    MonitorUnhealthy,
}

impl AlertName {
    pub const ALL: [AlertName; 7] = [
        AlertName::JourneyStepFailed,
        AlertName::JourneyStepSlow,
        AlertName::JourneyStepSlowerThanNormal,
        AlertName::ProbeFailed,
        AlertName::CertificateExpiring,
        AlertName::CertificateInvalid,
        AlertName::MonitorUnhealthy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertName::JourneyStepFailed => "JourneyStepFailed",
            AlertName::JourneyStepSlow => "JourneyStepSlow",
            AlertName::JourneyStepSlowerThanNormal => "JourneyStepSlowerThanNormal",
            AlertName::ProbeFailed => "ProbeFailed",
            AlertName::CertificateExpiring => "CertificateExpiring",
            AlertName::CertificateInvalid => "CertificateInvalid",
            AlertName::MonitorUnhealthy => "MonitorUnhealthy",
        }
    }

    /// The severities it comes with (`CertificateExpiring`: warning, then critical).
    pub fn severities(self) -> &'static [Severity] {
        match self {
            AlertName::CertificateExpiring => &[Severity::Warning, Severity::Critical],
            AlertName::JourneyStepSlow
            | AlertName::JourneyStepSlowerThanNormal
            | AlertName::MonitorUnhealthy => &[Severity::Warning],
            AlertName::JourneyStepFailed
            | AlertName::ProbeFailed
            | AlertName::CertificateInvalid => &[Severity::Critical],
        }
    }

    pub fn parse(text: &str) -> Option<AlertName> {
        AlertName::ALL.into_iter().find(|n| n.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Only the test alert of `shopwatch alert test`.
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// `alerting:` validated.
#[derive(Debug, Clone)]
pub struct AlertingConfig {
    /// The policy of every journey and probe without an override.
    pub defaults: Policy,
    /// Per-journey policies (defaults with the journey's overrides applied), by journey name.
    pub journeys: HashMap<String, Policy>,
    /// Per-probe policies, by probe name.
    pub probes: HashMap<String, Policy>,
    pub maintenance: Vec<MaintenanceWindow>,
    /// What each journey and probe depends on, followed through (a dependency's dependencies
    /// too), nearest first: while one of them fails, the subject's alerts are folded into it.
    pub depends_on: HashMap<Subject, Vec<Subject>>,
    pub sinks: Vec<SinkConfig>,
    /// Alert state and pending deliveries, kept across restarts.
    pub state_file: PathBuf,
    /// Where shopwatch is reached from outside, for screenshot links; default from `listen`.
    pub external_url: Option<url::Url>,
}

impl AlertingConfig {
    pub fn journey_policy(&self, journey: &str) -> &Policy {
        self.journeys.get(journey).unwrap_or(&self.defaults)
    }

    pub fn probe_policy(&self, probe: &str) -> &Policy {
        self.probes.get(probe).unwrap_or(&self.defaults)
    }

    /// What `subject` depends on, directly or through others.
    pub fn dependencies(&self, subject: &Subject) -> &[Subject] {
        self.depends_on.get(subject).map_or(&[], Vec::as_slice)
    }
}

/// Thresholds and timing of alerts, as defaults or for one journey or probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Consecutive failed runs before `JourneyStepFailed`/`ProbeFailed`/`MonitorUnhealthy`.
    pub failure_threshold: u32,
    /// Consecutive slow (degraded) runs before `JourneyStepSlow`.
    pub slow_threshold: u32,
    /// When `JourneyStepSlowerThanNormal` is watched, and how (off unless configured).
    pub slower_than_normal: Option<SlowerThanNormal>,
    /// Consecutive good runs before a firing alert is resolved.
    pub recovery_threshold: u32,
    /// How often a firing alert is sent again (Alertmanager gets it every minute regardless).
    pub repeat: Duration,
    /// `CertificateExpiring` (warning) when the certificate expires within this many days.
    pub warn_days: u32,
    /// `CertificateExpiring` (critical) within this many days.
    pub critical_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            failure_threshold: 2,
            slow_threshold: 3,
            slower_than_normal: None,
            recovery_threshold: 2,
            repeat: Duration::from_secs(4 * 3600),
            warn_days: 14,
            critical_days: 3,
        }
    }
}

/// A step is slower than normal when the median of its last `runs` times is over `factor` x
/// its normal (`baseline`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlowerThanNormal {
    pub factor: f64,
    pub runs: u32,
    pub baseline: crate::normal::Baseline,
}

impl Default for SlowerThanNormal {
    fn default() -> Self {
        SlowerThanNormal {
            factor: 2.0,
            runs: 3,
            baseline: crate::normal::Baseline::default(),
        }
    }
}

/// A time when alerts are silenced but runs go on: from each `cron` occurrence (UTC) for
/// `duration`, for the journeys and probes listed (all when none are).
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    pub cron: Box<crate::calendar::Cron>,
    pub duration: Duration,
    pub journeys: Vec<String>,
    pub probes: Vec<String>,
}

impl MaintenanceWindow {
    /// Whether the window is open at `now` for an alert about `subject`.
    pub fn covers(&self, subject: &Subject, now: chrono::DateTime<chrono::Utc>) -> bool {
        let listed = match subject {
            Subject::Journey(name) => self.journeys.contains(name),
            Subject::Probe(name) => self.probes.contains(name),
        };
        let for_all = self.journeys.is_empty() && self.probes.is_empty();
        if !(for_all || listed) {
            return false;
        }
        // The latest start at or before `now`: the first occurrence after `now - duration`.
        let Ok(duration) = chrono::Duration::from_std(self.duration) else {
            return false;
        };
        let since = now - duration;
        self.cron
            .after(&(since - chrono::Duration::seconds(1)))
            .next()
            .is_some_and(|start| start <= now && now < start + duration)
    }
}

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Journey(String),
    Probe(String),
}

impl std::fmt::Display for Subject {
    /// `journey demo-shop`, `probe shop-home`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Journey(name) => write!(f, "journey {name}"),
            Subject::Probe(name) => write!(f, "probe {name}"),
        }
    }
}

/// Which alerts a sink gets; an empty list lets everything through.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub severity: Vec<Severity>,
    pub journeys: Vec<String>,
    pub probes: Vec<String>,
    pub alerts: Vec<AlertName>,
}

impl Filter {
    pub fn passes(&self, name: AlertName, severity: Severity, subject: &Subject) -> bool {
        let subject_listed = match subject {
            Subject::Journey(j) => self.journeys.contains(j),
            Subject::Probe(p) => self.probes.contains(p),
        };
        (self.severity.is_empty() || self.severity.contains(&severity))
            && (self.alerts.is_empty() || self.alerts.contains(&name))
            && ((self.journeys.is_empty() && self.probes.is_empty()) || subject_listed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn maintenance_windows_open_at_each_occurrence_for_their_duration() {
        let window = MaintenanceWindow {
            // Sundays 02:00 UTC, for two hours.
            cron: Box::new(crate::calendar::Cron::parse_utc("0 0 2 * * Sun").unwrap()),
            duration: Duration::from_secs(2 * 3600),
            journeys: vec!["shop".into()],
            probes: vec![],
        };
        let shop = Subject::Journey("shop".into());
        let sunday = |h, m| chrono::Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0).unwrap();
        assert!(!window.covers(&shop, sunday(1, 59)));
        assert!(window.covers(&shop, sunday(2, 0)));
        assert!(window.covers(&shop, sunday(3, 59)));
        assert!(!window.covers(&shop, sunday(4, 0)));
        // Other journeys and probes are not in this window.
        assert!(!window.covers(&Subject::Journey("other".into()), sunday(3, 0)));
        assert!(!window.covers(&Subject::Probe("shop".into()), sunday(3, 0)));
    }

    #[test]
    fn filters_let_through_what_they_list() {
        let shop = Subject::Journey("shop".into());
        let all = Filter::default();
        assert!(all.passes(AlertName::JourneyStepSlow, Severity::Warning, &shop));
        let critical = Filter {
            severity: vec![Severity::Critical],
            ..Filter::default()
        };
        assert!(!critical.passes(AlertName::JourneyStepSlow, Severity::Warning, &shop));
        assert!(critical.passes(AlertName::JourneyStepFailed, Severity::Critical, &shop));
        let cert = Filter {
            probes: vec!["cert".into()],
            ..Filter::default()
        };
        assert!(!cert.passes(AlertName::JourneyStepFailed, Severity::Critical, &shop));
        assert!(cert.passes(
            AlertName::CertificateExpiring,
            Severity::Warning,
            &Subject::Probe("cert".into())
        ));
    }
}
