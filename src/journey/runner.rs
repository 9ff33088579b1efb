//! Running a journey: attempts (each in a fresh browser session), steps in order with their
//! timeouts, `always` steps after a failure, artifacts of failed steps, and the outcome.

use super::actions::{self, ActionEnv};
use super::blocks;
use super::cut;
use super::model::{Action, Browser, Journey, Step};
use super::outcome::*;
use super::page::{self, Screenshots};
use super::recorder::Recorder;
use super::secrets::Redactor;
use crate::artifacts;
use crate::webdriver::wire::WireSummary;
use crate::webdriver::{DriverPool, Endpoint, Session, SessionOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Beyond a step's timeout, how long a WebDriver command may still run before the step is cut
/// (the driver's own page-load timeout, set to end by the deadline, normally fires first). A
/// cut step's browser then gets [`cut::GRACE`] to answer again, for the artifacts, before its
/// session counts as stuck and is killed.
const BACKSTOP: Duration = Duration::from_secs(1);
/// Bound on reading the page and saving artifacts after a failure.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(10);

/// What happened, as it happens: for live output.
pub enum RunEvent<'a> {
    AttemptStarted {
        attempt: u32,
    },
    /// The run starts something that takes time; it lasts until the next `Busy` or
    /// `StepFinished`.
    Busy {
        attempt: u32,
        activity: Activity<'a>,
    },
    StepFinished {
        attempt: u32,
        step: &'a StepReport,
    },
    AttemptFinished {
        attempt: u32,
        outcome: Outcome,
        retrying: bool,
    },
}

/// What a run is busy with, for a live display of what runs now and for how long.
pub enum Activity<'a> {
    /// Starting a browser session (the driver included).
    StartingSession(Browser),
    /// An action of a step.
    Action { step: &'a str, action: &'a Action },
    /// Saving a failed step's screenshot, HTML and log (after the grace a cut step gets).
    SavingArtifacts { step: &'a str },
    /// Closing the browser session (and its driver).
    ClosingSession,
}

/// Runs journeys against one WebDriver endpoint.
pub struct Runner {
    pub endpoint: Endpoint,
    pub http: reqwest::Client,
    /// Failed-step artifacts go under `<dir>/<journey>/<run id>/attempt-<n>/` (the journey's
    /// name made a safe path component: [`artifacts::safe_name`]).
    pub artifacts_dir: Option<PathBuf>,
    pub cancel: CancellationToken,
    /// Local drivers kept between sessions (unused with a remote endpoint).
    drivers: Arc<DriverPool>,
}

impl Runner {
    pub fn new(
        endpoint: Endpoint,
        artifacts_dir: Option<PathBuf>,
        cancel: CancellationToken,
        drivers: Arc<DriverPool>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("shopwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Runner {
            endpoint,
            http,
            artifacts_dir,
            cancel,
            drivers,
        }
    }

    /// Runs `journey` once (with its retries). `values` holds its resolved variables; the
    /// redactor every secret among them.
    pub async fn run(
        &self,
        journey: &Journey,
        values: &HashMap<String, String>,
        redactor: &Redactor,
        on_event: &mut (dyn FnMut(RunEvent<'_>) + Send),
    ) -> RunReport {
        let started = Instant::now();
        let now = chrono::Utc::now();
        let run_id = artifacts::run_id(now);
        let run_dir = self
            .artifacts_dir
            .as_ref()
            .map(|dir| dir.join(artifacts::safe_name(&journey.name)).join(&run_id));
        let mut values = values.clone();
        values.insert("run_id".to_string(), run_id.clone());
        values.insert(
            "base_url".to_string(),
            journey.base_url.as_str().trim_end_matches('/').to_string(),
        );

        let mut attempts = Vec::new();
        let total = journey.retries + 1;
        for number in 1..=total {
            on_event(RunEvent::AttemptStarted { attempt: number });
            let attempt_dir = run_dir
                .as_ref()
                .map(|d| d.join(format!("attempt-{number}")));
            let report = self
                .attempt(
                    journey,
                    number,
                    run_dir.as_deref().zip(attempt_dir.as_deref()),
                    values.clone(),
                    redactor,
                    on_event,
                )
                .await;
            let retrying =
                !report.outcome.passed() && number < total && !self.cancel.is_cancelled();
            on_event(RunEvent::AttemptFinished {
                attempt: number,
                outcome: report.outcome,
                retrying,
            });
            attempts.push(report);
            if !retrying {
                break;
            }
        }
        let artifact_errors = attempts.iter().map(|a| a.artifact_errors).sum();
        let last = attempts.pop().expect("at least one attempt ran");
        let outcome = if last.outcome.passed() && !attempts.is_empty() {
            Outcome::Flaky
        } else {
            last.outcome
        };
        RunReport {
            journey: journey.name.clone(),
            file: journey.file.clone(),
            run_id,
            browser: journey.browser.name(),
            outcome,
            attempts: attempts.len() as u32 + 1,
            started_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_ms: millis(started.elapsed()),
            session_start_ms: last.session_start_ms,
            steps: last.steps,
            previous_attempts: attempts,
            error_class: last.error.is_some().then_some(ReasonClass::Webdriver),
            error: last.error,
            artifacts_dir: run_dir.filter(|d| d.exists()),
            artifact_errors,
        }
    }

    async fn attempt(
        &self,
        journey: &Journey,
        number: u32,
        // The run's artifacts directory and this attempt's inside it.
        dirs: Option<(&Path, &Path)>,
        mut values: HashMap<String, String>,
        redactor: &Redactor,
        on_event: &mut (dyn FnMut(RunEvent<'_>) + Send),
    ) -> AttemptReport {
        let options = SessionOptions {
            browser: journey.browser,
            endpoint: &self.endpoint,
            extra_capabilities: &journey.capabilities,
            viewport: journey.viewport,
            drivers: &self.drivers,
            page_load_timeout: journey
                .steps
                .first()
                .map(|s| s.timeout)
                .unwrap_or(Duration::from_secs(15)),
        };
        let mut session: Option<Session> = None;
        let mut session_start_ms = None;
        let mut error = None;
        let mut first_failure: Option<Fault> = None;
        let mut steps = Vec::new();
        let journey_deadline = Instant::now() + journey.timeout;
        let scratch = std::env::temp_dir();
        let screenshots = Screenshots {
            dir: dirs.map_or(scratch.as_path(), |(_, attempt)| attempt),
            run_dir: dirs.map(|(run, _)| run),
            write_failures: AtomicU32::new(0),
            mask: &journey.mask,
            secrets: values
                .values()
                .filter(|v| redactor.redact(v) != **v)
                .cloned()
                .collect(),
        };

        for step in &journey.steps {
            let skip_reason = if self.cancel.is_cancelled() {
                Some("cancelled".to_string())
            } else if first_failure.is_some() && !step.always {
                Some("an earlier step failed".to_string())
            } else if first_failure.is_some() {
                missing_values(step, &values)
            } else {
                None
            };
            if let Some(reason) = skip_reason {
                steps.push(skipped(step, reason));
                on_event(RunEvent::StepFinished {
                    attempt: number,
                    step: steps.last().expect("just pushed"),
                });
                continue;
            }

            let needs_browser = step.actions.iter().any(Action::needs_browser);
            if needs_browser && session.as_ref().is_none_or(Session::is_poisoned) {
                if let Some(old) = session.take() {
                    on_event(RunEvent::Busy {
                        attempt: number,
                        activity: Activity::ClosingSession,
                    });
                    old.close().await;
                }
                on_event(RunEvent::Busy {
                    attempt: number,
                    activity: Activity::StartingSession(journey.browser),
                });
                match Session::start(&options).await {
                    Ok(started) => {
                        session_start_ms.get_or_insert(millis(started.start_time));
                        session = Some(started);
                    }
                    Err(e) => {
                        let reason = redactor.redact(&e.to_string());
                        error.get_or_insert(reason.clone());
                        first_failure.get_or_insert(Fault::Monitor);
                        steps.push(StepReport {
                            outcome: StepOutcome::Error,
                            reason: Some(reason),
                            reason_class: Some(ReasonClass::Webdriver),
                            ..skipped(step, String::new())
                        });
                        on_event(RunEvent::StepFinished {
                            attempt: number,
                            step: steps.last().expect("just pushed"),
                        });
                        continue;
                    }
                }
            }

            #[cfg(debug_assertions)]
            test_panic_hook(&journey.name, &step.name);
            // A main step also ends when the journey's time is up; cleanup gets its own time.
            let remaining = journey_deadline.saturating_duration_since(Instant::now());
            let (limit, by_journey) = if !step.always && remaining < step.timeout {
                (remaining, true)
            } else {
                (step.timeout, false)
            };
            let limit_text = if by_journey {
                format!(
                    "the journey timeout ({})",
                    humantime::format_duration(journey.timeout)
                )
            } else {
                format!(
                    "the step timeout ({})",
                    humantime::format_duration(step.timeout)
                )
            };
            let session_ref = if needs_browser {
                session.as_mut()
            } else {
                None
            };
            let report = self
                .step(
                    step,
                    session_ref,
                    &journey.base_url,
                    limit,
                    &limit_text,
                    &mut values,
                    &screenshots,
                    redactor,
                    &mut |activity| {
                        on_event(RunEvent::Busy {
                            attempt: number,
                            activity,
                        })
                    },
                )
                .await;
            if let (Some(fault), StepOutcome::Failed | StepOutcome::Error) =
                (report_fault(&report), report.outcome)
            {
                first_failure.get_or_insert(fault);
            }
            steps.push(report);
            on_event(RunEvent::StepFinished {
                attempt: number,
                step: steps.last().expect("just pushed"),
            });
        }
        if let Some(session) = session {
            on_event(RunEvent::Busy {
                attempt: number,
                activity: Activity::ClosingSession,
            });
            session.close().await;
        }

        let outcome = match first_failure {
            Some(Fault::Shop) => Outcome::Failed,
            Some(Fault::Monitor) => Outcome::Error,
            None if steps.iter().any(|s| s.outcome == StepOutcome::Slow) => Outcome::Degraded,
            None => Outcome::Ok,
        };
        AttemptReport {
            attempt: number,
            outcome,
            session_start_ms,
            error,
            steps,
            artifact_errors: screenshots.write_failures.load(Ordering::Relaxed),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn step(
        &self,
        step: &Step,
        mut session: Option<&mut Session>,
        base_url: &url::Url,
        limit: Duration,
        limit_text: &str,
        values: &mut HashMap<String, String>,
        screenshots: &Screenshots<'_>,
        redactor: &Redactor,
        busy: &mut (dyn FnMut(Activity<'_>) + Send),
    ) -> StepReport {
        if let Some(session) = session.as_deref_mut() {
            // The driver's own page-load timeout fires first and leaves the session usable.
            session.set_page_load_timeout(limit).await;
        }
        // The action running, and since when: what a cut step was doing.
        let current = std::sync::Mutex::new((0, Instant::now()));
        let recorder = Recorder::default();
        let mut artifacts = Vec::new();
        let mut skipped_actions = Vec::new();
        let mut published = Vec::new();
        let started = Instant::now();
        let deadline = started + limit;
        let shared = session.as_deref();
        let client = shared.map(|s| &s.client);
        // What each action sent; outside `work`, which a stuck step drops.
        let profile = Profile::start(shared.map(|s| &s.wire), &step.name);
        let work = async {
            let mut env = ActionEnv {
                client,
                browser: shared.map(|s| s.browser),
                base_url,
                values,
                http: &self.http,
                deadline,
                screenshots,
                artifacts: &mut artifacts,
                redactor,
                recorder: &recorder,
                fail_on: &step.fail_on,
                skipped: &mut skipped_actions,
                published: &mut published,
                frames: Vec::new(),
            };
            for (i, action) in step.actions.iter().enumerate() {
                let action_started = Instant::now();
                *current.lock().unwrap_or_else(|e| e.into_inner()) = (i, action_started);
                busy(Activity::Action {
                    step: &step.name,
                    action,
                });
                if let (true, Some(session)) = (action.may_navigate(), shared) {
                    // A page load the driver ends by the deadline leaves the session usable;
                    // within the backstop, so that the driver's answer comes first.
                    session
                        .end_page_loads_by(deadline.into_std(), BACKSTOP / 2)
                        .await;
                }
                let done = blocks::run_one(&mut env, action).await;
                profile.action(action, action_started.elapsed());
                done?;
            }
            Ok::<(), (Failure, Option<&Action>)>(())
        };
        let mut stuck = false;
        let result = tokio::select! {
            result = tokio::time::timeout(limit + BACKSTOP, work) => match result {
                Ok(result) => result,
                Err(_) => {
                    stuck = true;
                    let (i, since) = *current.lock().unwrap_or_else(|e| e.into_inner());
                    let action = &step.actions[i];
                    Err((Failure::shop(
                        ReasonClass::Timeout,
                        cut::still_running(&action.describe(), cut::command(action), since.elapsed()),
                    ), None))
                }
            },
            _ = self.cancel.cancelled() => Err((Failure::monitor(ReasonClass::Cancelled, "cancelled"), None)),
        };
        let elapsed = started.elapsed();
        let (webdriver, action_profiles) = profile.finish();
        // A failed action's diagnosis (an open dialog, the missing part of a shadow path) is
        // not the step's time, and not cut by its backstop.
        let result = match (result, client) {
            (Err((failure, Some(action))), Some(client)) => {
                let diagnosed = actions::after_failure(client, action, failure.clone(), redactor);
                Err(tokio::time::timeout(CAPTURE_TIMEOUT, diagnosed)
                    .await
                    .unwrap_or(failure))
            }
            (Err((failure, _)), _) => Err(failure),
            (Ok(()), _) => Ok(()),
        };
        let mut report = StepReport {
            duration_ms: Some(millis(elapsed)),
            slow_ms: step.slow.map(millis),
            always: step.always,
            webdriver,
            actions: action_profiles,
            values: published,
            ..StepReport::new(&step.name, StepOutcome::Ok)
        };
        match result {
            Ok(()) => {
                if step.slow.is_some_and(|slow| elapsed > slow) {
                    report.outcome = StepOutcome::Slow;
                }
            }
            Err(mut failure) => {
                let timed_out = failure.class == ReasonClass::Timeout;
                if timed_out && !failure.reason.contains(limit_text) {
                    failure.reason = format!("{} ({limit_text} ran out)", failure.reason);
                }
                if let Some(session) = session.as_deref_mut() {
                    // Cut inside a command: the browser gets a grace to end it and answer, for
                    // the artifacts; one that does not answer is stuck.
                    let answers = || async {
                        tokio::select! {
                            answered = cut::answers_again(&session.client) => answered,
                            _ = self.cancel.cancelled() => false,
                        }
                    };
                    if failure.fault == Fault::Monitor || (stuck && !answers().await) {
                        session.poison();
                    }
                    if stuck && session.is_poisoned() {
                        failure.reason = format!(
                            "{}; the browser did not answer for {} s more, so its session was ended without artifacts",
                            failure.reason,
                            cut::GRACE.as_secs()
                        );
                    }
                }
                match session.as_deref_mut().filter(|s| !s.is_poisoned()) {
                    Some(session) if failure.fault == Fault::Shop => {
                        busy(Activity::SavingArtifacts { step: &step.name });
                        let capture = async {
                            recorder.read(&session.client, redactor).await;
                            let recorded = recorder.recorded(true, redactor);
                            if let Some(page) = page::describe(&session.client, redactor).await {
                                failure.reason = format!("{}; {page}", failure.reason);
                            }
                            failure.reason.push_str(&recorded.reason_suffix());
                            page::capture_failure(
                                &session.client,
                                screenshots,
                                redactor,
                                &step.name,
                                &recorded,
                            )
                            .await
                        };
                        match tokio::time::timeout(CAPTURE_TIMEOUT, capture).await {
                            Ok(paths) => artifacts.extend(paths),
                            Err(_) => session.poison(),
                        }
                    }
                    _ => {}
                }
                // A step cut inside a `frame` or `window` block left that context current:
                // the next (`always`) step starts in the journey's window and top document.
                if let Some(session) = session.filter(|s| !s.is_poisoned()) {
                    if tokio::time::timeout(CAPTURE_TIMEOUT, session.back_home())
                        .await
                        .is_err()
                    {
                        session.poison();
                    }
                }
                report.outcome = match failure.fault {
                    Fault::Shop => StepOutcome::Failed,
                    Fault::Monitor => StepOutcome::Error,
                };
                report.reason = Some(redactor.redact(&failure.reason));
                report.reason_class = Some(failure.class);
            }
        }
        let recorded = recorder.recorded(
            matches!(report.outcome, StepOutcome::Failed | StepOutcome::Error),
            redactor,
        );
        report.failed_requests = recorded.requests;
        report.console_errors = recorded.console_errors;
        report.artifacts = artifacts;
        report.skipped_actions = skipped_actions;
        report
    }
}

/// The WebDriver commands of a step's actions, read off the session's wire after each action
/// (and logged at debug level).
struct Profile<'a> {
    wire: Option<&'a crate::webdriver::wire::Wire>,
    step: &'a str,
    actions: std::sync::Mutex<Vec<ActionProfile>>,
}

impl<'a> Profile<'a> {
    /// Starts after what earlier steps sent (their artifacts, the step's timeouts).
    fn start(wire: Option<&'a crate::webdriver::wire::Wire>, step: &'a str) -> Self {
        if let Some(wire) = wire {
            wire.take();
        }
        Profile {
            wire,
            step,
            actions: Default::default(),
        }
    }

    fn action(&self, action: &Action, took: Duration) {
        let Some(wire) = self.wire else { return };
        let action = action.describe();
        let commands = wire
            .take()
            .into_iter()
            .map(|sent| {
                let ms = millis(sent.took);
                tracing::debug!(step = self.step, action = %action, command = sent.name, ms, "webdriver command");
                CommandTime {
                    command: sent.name,
                    ms,
                }
            })
            .collect();
        self.actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ActionProfile {
                action,
                ms: millis(took),
                commands,
            });
    }

    /// The step's sum, and each action's commands.
    fn finish(self) -> (Option<WireSummary>, Vec<ActionProfile>) {
        let actions = self.actions.into_inner().unwrap_or_else(|e| e.into_inner());
        if self.wire.is_none() {
            return (None, actions);
        }
        let mut summary = WireSummary::default();
        for command in actions.iter().flat_map(|a| &a.commands) {
            summary.add(command.command, command.ms);
        }
        (Some(summary), actions)
    }
}

/// The report of a run that panicked (a bug in shopwatch): a monitor `error`, no steps.
pub fn panicked_run(journey: &Journey, started: std::time::SystemTime, message: &str) -> RunReport {
    let at = chrono::DateTime::<chrono::Utc>::from(started);
    RunReport {
        journey: journey.name.clone(),
        file: journey.file.clone(),
        run_id: artifacts::run_id(at),
        browser: journey.browser.name(),
        outcome: Outcome::Error,
        attempts: 1,
        started_at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        duration_ms: millis(started.elapsed().unwrap_or_default()),
        session_start_ms: None,
        steps: Vec::new(),
        previous_attempts: Vec::new(),
        error: Some(format!("internal error: shopwatch panicked: {message}")),
        error_class: Some(ReasonClass::Panic),
        artifact_errors: 0,
        artifacts_dir: None,
    }
}

/// A deliberate panic at `journey/step`, named by `SHOPWATCH_TEST_PANIC_AT`, so the tests can
/// prove the daemon survives one. Debug builds only.
#[cfg(debug_assertions)]
fn test_panic_hook(journey: &str, step: &str) {
    if std::env::var("SHOPWATCH_TEST_PANIC_AT").is_ok_and(|at| at == format!("{journey}/{step}")) {
        panic!("deliberate panic at {journey}/{step} (SHOPWATCH_TEST_PANIC_AT)");
    }
}

fn report_fault(report: &StepReport) -> Option<Fault> {
    match report.outcome {
        StepOutcome::Failed => Some(Fault::Shop),
        StepOutcome::Error => Some(Fault::Monitor),
        _ => None,
    }
}

/// An `always` step after a failure is skipped when it needs a value the failed run never
/// stored (a cleanup for an order that was never placed).
fn missing_values(step: &Step, values: &HashMap<String, String>) -> Option<String> {
    let missing: Vec<String> = step
        .actions
        .iter()
        .flat_map(Action::vars_used)
        .filter(|name| !values.contains_key(*name))
        .map(|name| format!("`${{{name}}}`"))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "needs {}, which the failed run did not store",
            missing.join(", ")
        )
    })
}

fn skipped(step: &Step, reason: String) -> StepReport {
    StepReport {
        slow_ms: step.slow.map(millis),
        reason: (!reason.is_empty()).then_some(reason),
        always: step.always,
        ..StepReport::new(&step.name, StepOutcome::Skipped)
    }
}
