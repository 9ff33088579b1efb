//! Observations: what a run report or a probe result says about each alert (a [`Signal`] per
//! alert it concerns, with the thresholds of its policy and what it showed). Pure: no clock, no
//! state, no IO; the engine feeds them to the trackers.
//!
//! An `error` outcome (the monitor's fault) feeds only `MonitorUnhealthy`.

use super::normal::StepVerdict;
use super::notification::StepTiming;
use super::state::Signal;
use super::{AlertName, AlertingConfig, Severity, Subject};
use crate::journey::outcome::{Outcome, RunReport, StepOutcome};
use crate::probe::{ProbeConfig, ProbeResult};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What one observation showed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Detail {
    pub summary: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub reason_class: Option<String>,
    pub run_id: Option<String>,
    pub at_ms: i64,
    pub steps: Vec<StepTiming>,
    /// The failing step's screenshot, relative to the artifacts directory.
    pub screenshot: Option<String>,
}

/// One signal for one alert.
pub struct Observation {
    pub name: AlertName,
    pub severity: Severity,
    pub subject: Subject,
    pub step: Option<String>,
    pub signal: Signal,
    pub threshold: u32,
    pub recovery: u32,
    pub detail: Detail,
}

impl Observation {
    pub fn key(&self) -> String {
        alert_key(
            self.name,
            &self.subject,
            self.step.as_deref(),
            self.severity,
        )
    }
}

/// `JourneyStepFailed{journey=demo-shop,step=checkout}`; `CertificateExpiring` also names its
/// severity (warning and critical are two alerts, as in Prometheus rules).
pub fn alert_key(
    name: AlertName,
    subject: &Subject,
    step: Option<&str>,
    severity: Severity,
) -> String {
    let mut key = match subject {
        Subject::Journey(j) => format!("{}{{journey={j}", name.as_str()),
        Subject::Probe(p) => format!("{}{{probe={p}", name.as_str()),
    };
    if let Some(step) = step {
        key.push_str(&format!(",step={step}"));
    }
    if name.severities().len() > 1 {
        key.push_str(&format!(",severity={}", severity.as_str()));
    }
    key.push('}');
    key
}

/// The signals a run gives: `MonitorUnhealthy` from every run; the step alerts only from runs
/// that are not `error` (the monitor's fault says nothing about the shop);
/// `JourneyStepSlowerThanNormal` from the steps `verdicts` judged (a step without enough
/// history says nothing).
pub fn run_observations(
    report: &RunReport,
    verdicts: &[StepVerdict],
    config: &AlertingConfig,
    artifacts_dir: &Path,
    now: i64,
) -> Vec<Observation> {
    let policy = config.journey_policy(&report.journey);
    let subject = Subject::Journey(report.journey.clone());
    let steps: Vec<StepTiming> = report
        .steps
        .iter()
        .map(|s| StepTiming {
            name: s.name.clone(),
            outcome: s.outcome.as_str().to_string(),
            duration_ms: s.duration_ms,
        })
        .collect();
    let base = Detail {
        summary: String::new(),
        outcome: report.outcome.as_str().to_string(),
        reason: None,
        reason_class: None,
        run_id: Some(report.run_id.clone()),
        at_ms: now,
        steps,
        screenshot: None,
    };
    let observe =
        |name: AlertName, step: Option<&str>, signal, threshold, detail: Detail| Observation {
            name,
            severity: name.severities()[0],
            subject: subject.clone(),
            step: step.map(str::to_string),
            signal,
            threshold,
            recovery: policy.recovery_threshold,
            detail,
        };

    let mut observations = Vec::new();
    let error = report.outcome == Outcome::Error;
    let error_reason = report
        .error
        .clone()
        .or_else(|| report.first_failure().and_then(|s| s.reason.clone()));
    observations.push(observe(
        AlertName::MonitorUnhealthy,
        None,
        if error { Signal::Bad } else { Signal::Good },
        policy.failure_threshold,
        Detail {
            summary: format!(
                "{}: the monitor could not run the journey: {}",
                report.journey,
                error_reason.as_deref().unwrap_or("error")
            ),
            reason: error_reason.clone(),
            reason_class: report
                .first_failure()
                .and_then(|s| s.reason_class)
                .map(|c| c.as_str().to_string()),
            ..base.clone()
        },
    ));
    if error {
        return observations;
    }
    for step in &report.steps {
        let (failed, slow) = match step.outcome {
            StepOutcome::Failed => (Some(Signal::Bad), None),
            StepOutcome::Ok => (Some(Signal::Good), Some(Signal::Good)),
            StepOutcome::Slow => (Some(Signal::Good), Some(Signal::Bad)),
            StepOutcome::Error | StepOutcome::Skipped => (None, None),
        };
        let screenshot = step
            .artifacts
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "png"))
            .and_then(|p| p.strip_prefix(artifacts_dir).ok())
            .map(|p| p.to_string_lossy().replace('\\', "/"));
        if let Some(signal) = failed {
            let reason = step.reason.clone();
            observations.push(observe(
                AlertName::JourneyStepFailed,
                Some(&step.name),
                signal,
                policy.failure_threshold,
                Detail {
                    summary: format!(
                        "{}: step {} failed: {}",
                        report.journey,
                        step.name,
                        reason.as_deref().unwrap_or("no reason given")
                    ),
                    reason,
                    reason_class: step.reason_class.map(|c| c.as_str().to_string()),
                    screenshot: screenshot.clone(),
                    ..base.clone()
                },
            ));
        }
        if let Some(signal) = slow {
            let took = step.duration_ms.unwrap_or_default() / 1000.0;
            let budget = step.slow_ms.unwrap_or_default() / 1000.0;
            let reason = format!("took {took:.2}s, over its slow budget of {budget:.2}s");
            observations.push(observe(
                AlertName::JourneyStepSlow,
                Some(&step.name),
                signal,
                policy.slow_threshold,
                Detail {
                    summary: format!("{}: step {} is slow: {reason}", report.journey, step.name),
                    reason: Some(reason),
                    ..base.clone()
                },
            ));
        }
    }
    for verdict in verdicts {
        let Some(slower) = verdict.slower() else {
            continue;
        };
        let reason = verdict.describe();
        observations.push(observe(
            AlertName::JourneyStepSlowerThanNormal,
            Some(&verdict.step),
            if slower { Signal::Bad } else { Signal::Good },
            // The median of the last runs already lets an odd run pass.
            1,
            Detail {
                summary: format!(
                    "{}: step {} is slower than normal: {reason}",
                    report.journey, verdict.step
                ),
                reason: Some(reason),
                ..base.clone()
            },
        ));
    }
    observations
}

/// The signals a probe run gives. `error` feeds only `MonitorUnhealthy`. A tls probe whose
/// handshake completed says whether the chain is valid (`CertificateInvalid`) rather than
/// failing as a probe; any probe with a verified chain says how soon it expires.
pub fn probe_observations(
    probe: &ProbeConfig,
    result: &ProbeResult,
    config: &AlertingConfig,
    now: i64,
) -> Vec<Observation> {
    let policy = config.probe_policy(probe.name());
    let subject = Subject::Probe(probe.name().to_string());
    let reason = result.reason.clone();
    let detail = |summary: String, reason: Option<String>| Detail {
        summary,
        outcome: result.outcome.as_str().to_string(),
        reason,
        reason_class: None,
        run_id: None,
        at_ms: now,
        steps: Vec::new(),
        screenshot: None,
    };
    let observe = |name: AlertName,
                   severity: Severity,
                   signal,
                   threshold: u32,
                   recovery: u32,
                   detail: Detail| Observation {
        name,
        severity,
        subject: subject.clone(),
        step: None,
        signal,
        threshold,
        recovery,
        detail,
    };
    let name = probe.name();
    let mut observations = Vec::new();
    let error = result.outcome == Outcome::Error;
    observations.push(observe(
        AlertName::MonitorUnhealthy,
        Severity::Warning,
        if error { Signal::Bad } else { Signal::Good },
        policy.failure_threshold,
        policy.recovery_threshold,
        detail(
            format!(
                "probe {name}: the monitor could not run it: {}",
                reason.as_deref().unwrap_or("error")
            ),
            reason.clone(),
        ),
    ));
    if error {
        return observations;
    }
    let tls = result.metrics.tls.as_ref();
    let handshake_judged = matches!(probe, ProbeConfig::Tls(_)) && tls.is_some();
    let failed = result.outcome == Outcome::Failed;
    if handshake_judged {
        let verified = tls.is_some_and(|t| t.verified);
        observations.push(observe(
            AlertName::CertificateInvalid,
            Severity::Critical,
            if verified { Signal::Good } else { Signal::Bad },
            1,
            1,
            detail(
                format!(
                    "probe {name}: the certificate is not valid: {}",
                    reason.as_deref().unwrap_or("it does not verify")
                ),
                reason.clone(),
            ),
        ));
    }
    // A tls probe that reached the server is not "down" even when its certificate is bad.
    observations.push(observe(
        AlertName::ProbeFailed,
        Severity::Critical,
        if failed && !handshake_judged {
            Signal::Bad
        } else {
            Signal::Good
        },
        policy.failure_threshold,
        policy.recovery_threshold,
        detail(
            format!(
                "probe {name} failed: {}",
                reason.as_deref().unwrap_or("no reason given")
            ),
            reason.clone(),
        ),
    ));
    if let Some(expiry) = tls.filter(|t| t.verified).and_then(|t| t.last_chain_expiry) {
        let left_days = (expiry * 1000 - now) as f64 / 86_400_000.0;
        let when = chrono::DateTime::from_timestamp(expiry, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        let why = format!("the certificate chain expires in {left_days:.1} days ({when})");
        for (severity, days) in [
            (Severity::Warning, policy.warn_days),
            (Severity::Critical, policy.critical_days),
        ] {
            observations.push(observe(
                AlertName::CertificateExpiring,
                severity,
                if left_days < days as f64 {
                    Signal::Bad
                } else {
                    Signal::Good
                },
                1,
                1,
                detail(format!("probe {name}: {why}"), Some(why.clone())),
            ));
        }
    }
    observations
}
