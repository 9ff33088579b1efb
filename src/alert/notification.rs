//! What shopwatch sends: one notification per alert event. The webhook sink posts it as JSON
//! exactly as serialized here (the README documents every field); the other sinks render it
//! (Alertmanager labels and annotations, a Slack message, an email).

use serde::{Deserialize, Serialize};

/// The version of the JSON format; bumped on an incompatible change.
pub const FORMAT_VERSION: u32 = 1;
/// The `alert` of the test notification.
pub const TEST_ALERT: &str = "ShopwatchTest";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The alert started firing (or a maintenance window that held it back ended).
    Firing,
    /// Still firing: a reminder every `repeat` (and Alertmanager's refresh every minute).
    Repeat,
    Resolved,
    /// `shopwatch alert test`: not a real alert.
    Test,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Firing => "firing",
            Event::Repeat => "repeat",
            Event::Resolved => "resolved",
            Event::Test => "test",
        }
    }

    /// `firing` or `resolved`, as Alertmanager and most receivers see it.
    pub fn status(self) -> &'static str {
        match self {
            Event::Resolved => "resolved",
            _ => "firing",
        }
    }
}

/// How a notification should look; chat and push sinks turn it into an icon, a color or a
/// priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Resolved,
    Test,
    Critical,
    Warning,
}

/// One step of the run the alert is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    pub name: String,
    /// `ok`, `slow`, `failed`, `error`, `skipped`.
    pub outcome: String,
    /// Absent for skipped steps.
    pub duration_ms: Option<f64>,
}

/// One alert event, as the webhook sink posts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub version: u32,
    /// Unique per notification: a receiver that sees an id twice can drop the second.
    pub id: String,
    pub event: Event,
    /// `firing` or `resolved`.
    pub status: String,
    /// `JourneyStepFailed`, `JourneyStepSlow`, `ProbeFailed`, `CertificateExpiring`,
    /// `CertificateInvalid`, `MonitorUnhealthy`, or `ShopwatchTest`.
    pub alert: String,
    /// `critical`, `warning` (or `info` for a test).
    pub severity: String,
    /// Identifies the alert across its events: `JourneyStepFailed{journey=demo-shop,step=checkout}`.
    pub key: String,
    /// One line for a human: what failed and why.
    pub summary: String,
    pub journey: Option<String>,
    pub step: Option<String>,
    pub probe: Option<String>,
    /// The monitor's `location`.
    pub location: Option<String>,
    /// The outcome of the run that last showed the problem: `failed`, `degraded`, `error`.
    pub outcome: String,
    /// The failing action, its selector and what the page showed (secrets redacted).
    pub reason: Option<String>,
    /// A stable class of the reason: `element_missing`, `http_status`, `timeout`, ...
    pub reason_class: Option<String>,
    /// The run that last showed the problem (its artifacts are under this id).
    pub run_id: Option<String>,
    /// RFC 3339: the first failed run of the streak that fired the alert.
    pub first_failed_at: String,
    /// RFC 3339: the latest run that showed the problem.
    pub last_failed_at: String,
    /// RFC 3339, on `resolved` only.
    pub resolved_at: Option<String>,
    /// Consecutive bad runs so far (0 on a resolve: the streak has ended).
    pub failed_runs: u32,
    /// The step timings of that run.
    pub steps: Vec<StepTiming>,
    /// Screenshot of the failing step, served by shopwatch under /artifacts/.
    pub screenshot_url: Option<String>,
    /// shopwatch's own address (`alerting.external_url`).
    pub monitor_url: Option<String>,
    /// The keys of the alerts of journeys and probes that depend on this one's (`depends_on`)
    /// and fail now: folded into this notification, not sent on their own while it fires.
    #[serde(default)]
    pub affected: Vec<String>,
    /// RFC 3339: when this notification was made.
    pub sent_at: String,
}

impl Notification {
    /// The clearly marked test alert of `shopwatch alert test`.
    pub fn test(location: Option<String>, monitor_url: Option<String>) -> Notification {
        let now = chrono::Utc::now();
        let at = rfc3339(now);
        Notification {
            version: FORMAT_VERSION,
            id: format!("test-{:x}", now.timestamp_millis()),
            event: Event::Test,
            status: Event::Test.status().to_string(),
            alert: TEST_ALERT.to_string(),
            severity: "info".to_string(),
            key: format!("{TEST_ALERT}{{}}"),
            summary: "Test alert from `shopwatch alert test`: this receiver gets shopwatch's alerts. Nothing is wrong.".to_string(),
            journey: None,
            step: None,
            probe: None,
            location,
            outcome: "ok".to_string(),
            reason: None,
            reason_class: None,
            run_id: None,
            first_failed_at: at.clone(),
            last_failed_at: at.clone(),
            resolved_at: None,
            failed_runs: 0,
            steps: Vec::new(),
            screenshot_url: None,
            monitor_url,
            affected: Vec::new(),
            sent_at: at,
        }
    }

    /// How it should look: resolved, a test, or firing (again) at its severity.
    pub fn tone(&self) -> Tone {
        match self.event {
            Event::Resolved => Tone::Resolved,
            Event::Test => Tone::Test,
            _ if self.severity == "critical" => Tone::Critical,
            _ => Tone::Warning,
        }
    }

    /// `[FIRING] JourneyStepFailed critical: demo-shop / checkout`.
    pub fn title(&self) -> String {
        let subject = match (&self.journey, &self.step, &self.probe) {
            (Some(j), Some(s), _) => format!("{j} / {s}"),
            (Some(j), None, _) => j.clone(),
            (None, _, Some(p)) => format!("probe {p}"),
            _ => "shopwatch".to_string(),
        };
        let tag = match self.event {
            Event::Test => "TEST",
            Event::Resolved => "RESOLVED",
            _ => "FIRING",
        };
        format!("[{tag}] {} {}: {subject}", self.alert, self.severity)
    }

    /// The details as `label: value` lines, for plain-text sinks (email, Slack).
    pub fn detail_lines(&self) -> Vec<(String, String)> {
        let mut lines: Vec<(String, String)> = Vec::new();
        let mut add = |label: &str, value: Option<&str>| {
            if let Some(value) = value {
                lines.push((label.to_string(), value.to_string()));
            }
        };
        add("Alert", Some(&self.alert));
        add("Severity", Some(&self.severity));
        add("Journey", self.journey.as_deref());
        add("Step", self.step.as_deref());
        add("Probe", self.probe.as_deref());
        add("Location", self.location.as_deref());
        add("Outcome", Some(&self.outcome));
        add("Reason", self.reason.as_deref());
        add("Run", self.run_id.as_deref());
        add("First failed", Some(&self.first_failed_at));
        add("Resolved", self.resolved_at.as_deref());
        let failed_runs = self.failed_runs.to_string();
        add("Failed runs in a row", Some(&failed_runs));
        add("Screenshot", self.screenshot_url.as_deref());
        add("Monitor", self.monitor_url.as_deref());
        lines
    }

    /// The step timings as lines: `checkout  failed  1234 ms`.
    pub fn step_lines(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| match s.duration_ms {
                Some(ms) => format!("{}: {} in {:.0} ms", s.name, s.outcome, ms),
                None => format!("{}: {}", s.name, s.outcome),
            })
            .collect()
    }

    /// The whole notification as plain text (email body, logs of `alert test`).
    pub fn plain_text(&self) -> String {
        let mut text = format!("{}\n\n{}\n\n", self.title(), self.summary);
        for (label, value) in self.detail_lines() {
            text.push_str(&format!("{label}: {value}\n"));
        }
        let steps = self.step_lines();
        if !steps.is_empty() {
            text.push_str("\nSteps of that run:\n");
            for line in steps {
                text.push_str(&format!("  {line}\n"));
            }
        }
        if self.event == Event::Test {
            text.push_str(
                "\nThis is a test alert sent by `shopwatch alert test`; nothing is wrong.\n",
            );
        }
        text
    }
}

/// A time as notifications write it: RFC 3339 in UTC, with milliseconds.
pub fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A typical notification: checkout failed on the demo shop.
    pub fn sample(event: Event) -> Notification {
        Notification {
            version: FORMAT_VERSION,
            id: "18f3a-7".into(),
            event,
            status: event.status().into(),
            alert: "JourneyStepFailed".into(),
            severity: "critical".into(),
            key: "JourneyStepFailed{journey=demo-shop,step=checkout}".into(),
            summary: "demo-shop: step checkout failed: HTTP 500".into(),
            journey: Some("demo-shop".into()),
            step: Some("checkout".into()),
            probe: None,
            location: Some("eu-west".into()),
            outcome: "failed".into(),
            reason: Some("open /checkout: HTTP 500".into()),
            reason_class: Some("http_status".into()),
            run_id: Some("20261121T095800Z-demo-shop-1".into()),
            first_failed_at: "2026-11-21T09:58:00.000Z".into(),
            last_failed_at: "2026-11-21T09:59:00.000Z".into(),
            resolved_at: None,
            failed_runs: 2,
            steps: vec![
                StepTiming {
                    name: "browse".into(),
                    outcome: "ok".into(),
                    duration_ms: Some(812.0),
                },
                StepTiming {
                    name: "checkout".into(),
                    outcome: "failed".into(),
                    duration_ms: Some(95.5),
                },
            ],
            screenshot_url: Some(
                "http://127.0.0.1:9464/artifacts/demo-shop/r1/attempt-1/checkout.png".into(),
            ),
            monitor_url: Some("http://127.0.0.1:9464".into()),
            affected: vec![],
            sent_at: "2026-11-21T09:59:01.000Z".into(),
        }
    }

    #[test]
    fn plain_text_has_what_on_call_needs() {
        let text = sample(Event::Firing).plain_text();
        assert!(text.starts_with("[FIRING] JourneyStepFailed critical: demo-shop / checkout\n"));
        for needle in [
            "Reason: open /checkout: HTTP 500",
            "Location: eu-west",
            "Run: 20261121T095800Z-demo-shop-1",
            "First failed: 2026-11-21T09:58:00.000Z",
            "checkout: failed in 96 ms",
            "Screenshot: http://127.0.0.1:9464/artifacts/",
        ] {
            assert!(text.contains(needle), "{needle:?} in\n{text}");
        }
        assert!(sample(Event::Resolved).title().starts_with("[RESOLVED] "));
        assert!(sample(Event::Test).plain_text().contains("test alert"));
    }
}
