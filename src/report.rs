//! Writing runs out: live console lines, JSON (one object per run) and JUnit XML.

use crate::journey::outcome::{Outcome, RunReport, StepOutcome, StepReport};
use quick_xml::escape::escape;
use std::fmt::Write as _;

/// One console line for a finished step.
pub fn step_line(step: &StepReport) -> String {
    let duration = step
        .duration_ms
        .map(format_ms)
        .unwrap_or_else(|| "-".to_string());
    let mark = match step.outcome {
        StepOutcome::Ok => "ok   ",
        StepOutcome::Slow => "SLOW ",
        StepOutcome::Failed => "FAIL ",
        StepOutcome::Error => "ERROR",
        StepOutcome::Skipped => "skip ",
    };
    let mut line = format!("  {mark} {:<24} {:>9}", step.name, duration);
    if step.always {
        line.push_str("  (always)");
    }
    if step.outcome == StepOutcome::Slow {
        if let Some(slow) = step.slow_ms {
            line.push_str(&format!("  over its slow budget of {}", format_ms(slow)));
        }
    }
    for skipped in &step.skipped_actions {
        line.push_str(&format!(
            "\n        skipped (optional): {}: {}",
            skipped.action, skipped.reason
        ));
    }
    if let Some(reason) = &step.reason {
        line.push_str(&format!("\n        {reason}"));
    }
    for note in page_notes(step) {
        line.push_str(&format!("\n        {note}"));
    }
    for path in &step.artifacts {
        line.push_str(&format!("\n        artifact: {}", path.display()));
    }
    line
}

/// `check --profile`: under a step, what its commands cost, then each action with its time
/// and the commands it sent in order (a run of the same command as one entry).
pub fn profile_lines(step: &StepReport) -> String {
    let Some(total) = &step.webdriver else {
        return "        (no browser commands)".to_string();
    };
    let mut lines = vec![format!(
        "        {} WebDriver commands, {} in the driver",
        total.commands,
        format_ms(total.ms)
    )];
    for action in &step.actions {
        let mut runs: Vec<(&str, usize, f64)> = Vec::new();
        for command in &action.commands {
            match runs.last_mut() {
                Some((name, count, ms)) if *name == command.command => {
                    *count += 1;
                    *ms += command.ms;
                }
                _ => runs.push((command.command, 1, command.ms)),
            }
        }
        let commands: Vec<String> = runs
            .iter()
            .map(|(name, count, ms)| match count {
                1 => format!("{name} {}", format_ms(*ms)),
                n => format!("{name} x{n} {}", format_ms(*ms)),
            })
            .collect();
        lines.push(format!(
            "        {:<40} {:>9}  {} in {} commands: {}",
            action.action,
            format_ms(action.ms),
            format_ms(action.driver_ms()),
            action.commands.len(),
            commands.join(", ")
        ));
    }
    lines.join("\n")
}

/// What the page reported during a step, beyond its reason: the failed requests of a step
/// that passed anyway (a failed step's reason names them), and the first console errors.
fn page_notes(step: &StepReport) -> Vec<String> {
    const SHOWN: usize = 3;
    let mut notes = Vec::new();
    if step.reason.is_none() && !step.failed_requests.is_empty() {
        let requests: Vec<String> = step.failed_requests.iter().map(|r| r.to_string()).collect();
        notes.push(format!("failed requests: {}", requests.join(", ")));
    }
    notes.extend(
        step.console_errors
            .iter()
            .take(SHOWN)
            .map(|e| format!("console error: {e}")),
    );
    if step.console_errors.len() > SHOWN {
        notes.push(format!(
            "({} more console errors in the JSON report)",
            step.console_errors.len() - SHOWN
        ));
    }
    notes
}

/// The closing line of a run.
pub fn summary_line(run: &RunReport) -> String {
    let label = match run.outcome {
        Outcome::Ok => "OK",
        Outcome::Degraded => "DEGRADED (warning: slow steps)",
        Outcome::Flaky => "FLAKY (warning: passed on a retry)",
        Outcome::Failed => "FAILED",
        Outcome::Error => "ERROR (the monitor failed, not the shop)",
    };
    let attempts = if run.attempts == 1 {
        "1 attempt".to_string()
    } else {
        format!("{} attempts", run.attempts)
    };
    let mut line = format!(
        "{label}: {} in {} ({attempts})",
        run.journey,
        format_ms(run.duration_ms)
    );
    if let Some(step) = run.first_failure() {
        line.push_str(&format!("; first failure in step `{}`", step.name));
    } else if let Some(error) = &run.error {
        line.push_str(&format!("; {error}"));
    }
    line
}

/// A failure's text in JUnit: the reason, then the notes (console errors) a line each.
fn with_notes(reason: &str, notes: &[String]) -> String {
    std::iter::once(reason.to_string())
        .chain(notes.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn format_ms(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// JUnit XML: one testsuite per journey run, one testcase per step.
pub fn junit(runs: &[RunReport]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"shopwatch\">\n",
    );
    for run in runs {
        let count = |o: StepOutcome| run.steps.iter().filter(|s| s.outcome == o).count();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{}\">",
            escape(run.journey.as_str()),
            run.steps.len(),
            count(StepOutcome::Failed),
            count(StepOutcome::Error),
            count(StepOutcome::Skipped),
            run.duration_ms / 1000.0,
            escape(run.started_at.as_str()),
        );
        let _ = writeln!(
            xml,
            "    <properties><property name=\"outcome\" value=\"{}\"/><property name=\"attempts\" value=\"{}\"/><property name=\"browser\" value=\"{}\"/></properties>",
            run.outcome.as_str(),
            run.attempts,
            run.browser
        );
        for step in &run.steps {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(run.journey.as_str()),
                escape(step.name.as_str()),
                step.duration_ms.unwrap_or(0.0) / 1000.0
            );
            let reason = step.reason.as_deref().unwrap_or("");
            // A passing step's notes: over its budget, optional actions that were skipped.
            let mut notes: Vec<String> = Vec::new();
            if step.outcome == StepOutcome::Slow {
                notes.push("slow: over its budget".to_string());
            }
            notes.extend(
                step.skipped_actions
                    .iter()
                    .map(|s| format!("skipped (optional): {}: {}", s.action, s.reason)),
            );
            notes.extend(page_notes(step));
            match step.outcome {
                StepOutcome::Ok | StepOutcome::Slow if notes.is_empty() => xml.push_str("/>\n"),
                StepOutcome::Ok | StepOutcome::Slow => {
                    let _ = writeln!(
                        xml,
                        "><system-out>{}</system-out></testcase>",
                        escape(notes.join("\n").as_str())
                    );
                }
                StepOutcome::Failed => {
                    let _ = writeln!(
                        xml,
                        "><failure message=\"{}\">{}</failure></testcase>",
                        escape(reason),
                        escape(with_notes(reason, &notes).as_str())
                    );
                }
                StepOutcome::Error => {
                    let _ = writeln!(
                        xml,
                        "><error message=\"{}\">{}</error></testcase>",
                        escape(reason),
                        escape(with_notes(reason, &notes).as_str())
                    );
                }
                StepOutcome::Skipped => {
                    let _ = writeln!(xml, "><skipped message=\"{}\"/></testcase>", escape(reason));
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journey::outcome::{FailedRequest, RequestKind, SkippedAction};

    fn run_with(step: StepReport) -> RunReport {
        RunReport {
            journey: "shop".to_string(),
            file: "shop.yaml".into(),
            run_id: "r1".to_string(),
            browser: "firefox",
            outcome: Outcome::Ok,
            attempts: 1,
            started_at: "2026-01-01T00:00:00.000Z".to_string(),
            duration_ms: 1000.0,
            session_start_ms: None,
            steps: vec![step],
            previous_attempts: Vec::new(),
            error: None,
            error_class: None,
            artifacts_dir: None,
            artifact_errors: 0,
        }
    }

    #[test]
    fn skipped_optional_actions_are_in_the_console_and_junit() {
        let step = StepReport {
            duration_ms: Some(2100.0),
            skipped_actions: vec![SkippedAction {
                action: "click `#cookie-accept`".to_string(),
                reason: "no element matches `#cookie-accept` within 2s".to_string(),
            }],
            ..StepReport::new("home", StepOutcome::Ok)
        };
        let line = step_line(&step);
        assert!(
            line.contains("\n        skipped (optional): click `#cookie-accept`: no element matches `#cookie-accept` within 2s"),
            "{line}"
        );
        let xml = junit(&[run_with(step.clone())]);
        assert!(
            xml.contains("<system-out>skipped (optional): click `#cookie-accept`: no element matches `#cookie-accept` within 2s</system-out>"),
            "{xml}"
        );
        let plain = StepReport {
            skipped_actions: Vec::new(),
            ..step
        };
        assert!(junit(&[run_with(plain)]).contains("name=\"home\" time=\"2.100\"/>"));
    }

    #[test]
    fn the_page_s_failed_requests_and_console_errors_are_in_the_console_and_junit() {
        let failed = StepReport {
            duration_ms: Some(5000.0),
            reason: Some(
                "wait_for `.quote`: timed out; failed requests: 500 POST /api/shipping-quote"
                    .to_string(),
            ),
            failed_requests: vec![FailedRequest {
                method: Some("POST".to_string()),
                url: "/api/shipping-quote".to_string(),
                kind: RequestKind::Fetch,
                status: Some(500),
                error: None,
            }],
            console_errors: vec!["console.error: quote failed".to_string()],
            ..StepReport::new("quote", StepOutcome::Failed)
        };
        let line = step_line(&failed);
        assert!(
            line.ends_with("failed requests: 500 POST /api/shipping-quote\n        console error: console.error: quote failed"),
            "{line}"
        );
        let xml = junit(&[run_with(failed.clone())]);
        assert!(
            xml.contains("<failure message=\"wait_for `.quote`: timed out; failed requests: 500 POST /api/shipping-quote\">wait_for `.quote`: timed out; failed requests: 500 POST /api/shipping-quote\nconsole error: console.error: quote failed</failure>"),
            "{xml}"
        );
        let passed = StepReport {
            outcome: StepOutcome::Ok,
            reason: None,
            console_errors: Vec::new(),
            ..failed
        };
        assert!(
            step_line(&passed).ends_with("\n        failed requests: 500 POST /api/shipping-quote"),
            "{}",
            step_line(&passed)
        );
        assert!(junit(&[run_with(passed)])
            .contains("<system-out>failed requests: 500 POST /api/shipping-quote</system-out>"));
    }
}
