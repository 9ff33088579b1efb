//! What a run produced: outcomes, per-step results and reasons. A failed check is data here,
//! not an error.

use crate::secret::redact::Redactor;
use fantoccini::error::{CmdError, ErrorStatus};
use serde::Serialize;
use std::path::PathBuf;

/// The outcome of a run or attempt, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step passed within its `slow` budget.
    Ok,
    /// Every step passed, some over their `slow` budget.
    Degraded,
    /// Passed only on a retry.
    Flaky,
    /// The shop failed: assertion, missing element, HTTP error, unreachable, step timeout.
    Failed,
    /// The monitor failed: WebDriver unreachable, session not created, browser crashed.
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Degraded => "degraded",
            Outcome::Flaky => "flaky",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
        }
    }

    pub fn passed(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Degraded | Outcome::Flaky)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Ok,
    /// Passed, over its `slow` budget.
    Slow,
    Failed,
    Error,
    /// Not run: an earlier step failed (or, for an `always` step, what it needs never came).
    Skipped,
}

impl StepOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Ok => "ok",
            StepOutcome::Slow => "slow",
            StepOutcome::Failed => "failed",
            StepOutcome::Error => "error",
            StepOutcome::Skipped => "skipped",
        }
    }
}

/// Who is at fault when a step does not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    Shop,
    Monitor,
}

/// A few stable classes of failure, for metrics and alert routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonClass {
    ElementMissing,
    Assertion,
    /// The page showed one of the journey's `fail_on` error elements.
    PageError,
    /// A dialog (`alert`, `confirm`, `prompt`) opened that no action expected, or the one a
    /// `dialog` action waited for never opened.
    Dialog,
    HttpStatus,
    Unreachable,
    Timeout,
    Script,
    Webdriver,
    BrowserCrashed,
    /// The monitor cannot write its artifacts (screenshots).
    Artifacts,
    /// The monitor's machine is out of file descriptors, memory, ports or network.
    Resources,
    /// A bug in shopwatch: the run panicked.
    Panic,
    Cancelled,
}

impl ReasonClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonClass::ElementMissing => "element_missing",
            ReasonClass::Assertion => "assertion",
            ReasonClass::PageError => "page_error",
            ReasonClass::Dialog => "dialog",
            ReasonClass::HttpStatus => "http_status",
            ReasonClass::Unreachable => "unreachable",
            ReasonClass::Timeout => "timeout",
            ReasonClass::Script => "script",
            ReasonClass::Webdriver => "webdriver",
            ReasonClass::BrowserCrashed => "browser_crashed",
            ReasonClass::Artifacts => "artifacts",
            ReasonClass::Resources => "resources",
            ReasonClass::Panic => "panic",
            ReasonClass::Cancelled => "cancelled",
        }
    }
}

/// Why a step did not pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub fault: Fault,
    pub class: ReasonClass,
    /// The failing action, its target, and what the page showed.
    pub reason: String,
}

impl Failure {
    pub fn shop(class: ReasonClass, reason: impl Into<String>) -> Self {
        Failure {
            fault: Fault::Shop,
            class,
            reason: reason.into(),
        }
    }

    pub fn monitor(class: ReasonClass, reason: impl Into<String>) -> Self {
        Failure {
            fault: Fault::Monitor,
            class,
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub name: String,
    pub outcome: StepOutcome,
    /// Time from the first action's start until the last action's post-condition held (or the
    /// failure); absent for skipped steps.
    pub duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_class: Option<ReasonClass>,
    pub always: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<PathBuf>,
    /// Optional actions and `if_present` blocks that did not apply (their element did not
    /// show), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_actions: Vec<SkippedAction>,
    /// The page's fetch, XHR and document requests that failed during the step (at most 20,
    /// the most recent); for a failed step also those waiting over a second for an answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_requests: Vec<FailedRequest>,
    /// The page's `console.error` calls, uncaught errors and unhandled rejections during the
    /// step (at most 20, the most recent), redacted and clipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub console_errors: Vec<String>,
    /// The WebDriver commands the step's actions sent, summed (absent without a browser).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webdriver: Option<crate::webdriver::wire::WireSummary>,
    /// Each action's time and commands: what `check --profile` shows (in the JSON report only
    /// with `--profile`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionProfile>,
    /// Numbers the step read and published (`metric:` on `store_text`, `store_attr`, `http`
    /// `store`), in the order read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<StepValue>,
}

impl StepReport {
    /// A step named `name` with `outcome` and nothing else: no time, reason or findings.
    pub fn new(name: &str, outcome: StepOutcome) -> StepReport {
        StepReport {
            name: name.to_string(),
            outcome,
            duration_ms: None,
            slow_ms: None,
            reason: None,
            reason_class: None,
            always: false,
            artifacts: Vec::new(),
            skipped_actions: Vec::new(),
            failed_requests: Vec::new(),
            console_errors: Vec::new(),
            webdriver: None,
            actions: Vec::new(),
            values: Vec::new(),
        }
    }
}

/// A number a step read from the page or an API and published as a metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepValue {
    /// The `metric:` name, the `name` label of `shopwatch_journey_value`.
    pub metric: String,
    pub value: f64,
}

/// One action of a step: how long it took, and the WebDriver commands it sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionProfile {
    /// The action and its target, as reasons name them.
    pub action: String,
    pub ms: f64,
    pub commands: Vec<CommandTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandTime {
    pub command: &'static str,
    pub ms: f64,
}

impl ActionProfile {
    /// The time spent in the driver's commands; the rest of `ms` is shopwatch's own (and its
    /// waits between polls).
    pub fn driver_ms(&self) -> f64 {
        self.commands.iter().map(|c| c.ms).sum()
    }
}

/// A request of the page that failed: answered with HTTP >= 400, not at all (a network
/// error), or, when its step failed, not yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedRequest {
    /// Absent for a request made before shopwatch could watch the page (during its load):
    /// Resource Timing, where it was seen, has no method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path on the page's own origin, origin and path elsewhere; no query or fragment.
    pub url: String,
    pub kind: RequestKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Without a status: `network error`, or `no answer after 4.80 s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Fetch,
    Xhr,
    /// The page itself or a frame's.
    Document,
}

/// `500 POST /api/x`; `POST /api/x: network error`.
impl std::fmt::Display for FailedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(status) = self.status {
            write!(f, "{status} ")?;
        }
        if let Some(method) = &self.method {
            write!(f, "{method} ")?;
        }
        write!(f, "{}", self.url)?;
        if let Some(error) = &self.error {
            write!(f, ": {error}")?;
        }
        Ok(())
    }
}

/// An `optional: true` action or `if_present` block that was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedAction {
    /// The action and its target, as reasons name them.
    pub action: String,
    /// Why: what was looked for, and for how long.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttemptReport {
    pub attempt: u32,
    pub outcome: Outcome,
    /// Time to start the browser session, driver included.
    pub session_start_ms: Option<f64>,
    /// A monitor fault outside any step (driver or session start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub steps: Vec<StepReport>,
    /// Artifact files of failed steps that could not be written (a full disk): a monitor
    /// fault that changes nothing about the outcome.
    #[serde(skip_serializing_if = "is_zero")]
    pub artifact_errors: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub journey: String,
    pub file: PathBuf,
    pub run_id: String,
    pub browser: &'static str,
    pub outcome: Outcome,
    pub attempts: u32,
    pub started_at: String,
    pub duration_ms: f64,
    /// Time the last attempt took to start its browser session (driver included); absent when
    /// it needed no browser or the session never started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_start_ms: Option<f64>,
    /// The steps of the last attempt.
    pub steps: Vec<StepReport>,
    /// Earlier attempts, when `retries` made more than one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub previous_attempts: Vec<AttemptReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The class of `error`: `webdriver` (no session), `panic` (a bug in shopwatch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ReasonClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifacts_dir: Option<PathBuf>,
    /// Artifact files of failed steps that could not be written, over all attempts.
    #[serde(skip_serializing_if = "is_zero")]
    pub artifact_errors: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RunReport {
    /// Leaves the per-step sums, without each action's commands (the `--profile` detail).
    pub fn drop_action_profiles(&mut self) {
        let attempts = self.previous_attempts.iter_mut().map(|a| &mut a.steps);
        for steps in std::iter::once(&mut self.steps).chain(attempts) {
            for step in steps {
                step.actions.clear();
            }
        }
    }

    /// The first step that did not pass, if any.
    pub fn first_failure(&self) -> Option<&StepReport> {
        self.steps
            .iter()
            .find(|s| matches!(s.outcome, StepOutcome::Failed | StepOutcome::Error))
    }
}

pub fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}
/// Maps a WebDriver error to a failure: the shop's fault or the monitor's.
pub fn classify(error: &CmdError, doing: &str) -> Failure {
    use ReasonClass::*;
    let reason = |what: &str| format!("{doing}: {what}");
    match error {
        CmdError::WaitTimeout => Failure::shop(Timeout, reason("timed out")),
        CmdError::Lost(e) => Failure::monitor(
            Webdriver,
            reason(&format!("lost the WebDriver connection: {e}")),
        ),
        CmdError::Failed(e) => {
            Failure::monitor(Webdriver, reason(&format!("WebDriver did not answer: {e}")))
        }
        CmdError::FailedC(e) => {
            Failure::monitor(Webdriver, reason(&format!("WebDriver did not answer: {e}")))
        }
        CmdError::Standard(wd) => {
            let message = first_line(&wd.message);
            let lower = message.to_lowercase();
            match wd.error {
                ErrorStatus::InvalidSessionId
                | ErrorStatus::NoSuchWindow
                | ErrorStatus::SessionNotCreated => Failure::monitor(
                    BrowserCrashed,
                    reason(&format!("the browser session is gone: {message}")),
                ),
                ErrorStatus::NoSuchElement | ErrorStatus::StaleElementReference => Failure::shop(
                    ElementMissing,
                    reason(&format!("element not found ({message})")),
                ),
                ErrorStatus::ElementNotInteractable
                | ErrorStatus::ElementClickIntercepted
                | ErrorStatus::InvalidElementState => Failure::shop(
                    ElementMissing,
                    reason(&format!("element cannot be used: {message}")),
                ),
                ErrorStatus::Timeout => Failure::shop(
                    Timeout,
                    reason(&format!("page did not load in time ({message})")),
                ),
                ErrorStatus::InsecureCertificate => Failure::shop(
                    Unreachable,
                    reason(&format!(
                        "the shop's TLS certificate is not trusted: {message}"
                    )),
                ),
                ErrorStatus::JavascriptError | ErrorStatus::ScriptTimeout => {
                    Failure::shop(Script, reason(&format!("script failed: {message}")))
                }
                ErrorStatus::UnexpectedAlertOpen => Failure::shop(
                    Assertion,
                    reason(&format!("an unexpected dialog is open: {message}")),
                ),
                ErrorStatus::InvalidSelector => {
                    Failure::shop(Assertion, reason(&format!("invalid selector: {message}")))
                }
                _ if lower.contains("neterror")
                    || lower.contains("reached error page")
                    || lower.contains("err_") =>
                {
                    Failure::shop(
                        Unreachable,
                        reason(&format!(
                            "the browser could not load the page: {}",
                            net_error_name(&message)
                        )),
                    )
                }
                _ if lower.contains("crash")
                    || lower.contains("not reachable")
                    || lower.contains("disconnected")
                    || lower.contains("session deleted")
                    || lower.contains("browsing context has been discarded") =>
                {
                    Failure::monitor(
                        BrowserCrashed,
                        reason(&format!("the browser crashed or went away: {message}")),
                    )
                }
                _ => Failure::monitor(Webdriver, reason(&format!("WebDriver error: {message}"))),
            }
        }
        other => Failure::monitor(
            Webdriver,
            reason(&format!(
                "WebDriver error: {}",
                first_line(&other.to_string())
            )),
        ),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

/// Page or response text for a reason: secrets redacted (before clipping, which could cut one
/// in half), whitespace collapsed, at most 200 characters.
pub fn clip(text: &str, redactor: &Redactor) -> String {
    let text = redactor.redact(text);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text
    }
}

/// `about:neterror?e=connectionFailure&u=...` -> `connectionFailure`; Chromium codes as they are.
pub fn net_error_name(message: &str) -> String {
    if let Some(code) = message.split("e=").nth(1) {
        return code.split(['&', ' ']).next().unwrap_or(code).to_string();
    }
    if let Some(start) = message.find("ERR_") {
        return message[start..]
            .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .next()
            .unwrap_or("")
            .to_string();
    }
    message.to_string()
}
