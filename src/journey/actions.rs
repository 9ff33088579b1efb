//! Executing one action in the browser (or, for `http` and `sleep`, without it). Waits look
//! again whenever the page changes, until the step's deadline, instead of sleeping a fixed
//! time.

use super::actionability::{self, act_on, miss, Usage};
use super::locate;
use super::model::*;
use super::outcome::{classify, clip, Failure, Fault, ReasonClass};
use super::page;
use super::recorder::{Recorder, Waited};
use super::secrets::Redactor;
use crate::error_chain::error_chain;
use crate::webdriver::Browser;
use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::Client;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

/// How often waits look again.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// Evaluates `$look` (a `Result<T, Seen>`; `?` or `return` in it ends the action) until it is
/// `Ok` or `$deadline` passes; then fails with `$fail(seen)` of the last look. Between looks it
/// waits for the page to change, at most [`POLL`] (see [`wait_for_change`]); a dialog nobody
/// asked for, or a `fail_on` element the page shows, ends it at once. Every wait of an action
/// is this one loop (`@expecting_dialog`: the wait of `dialog`, for which an open dialog is no
/// surprise). A macro, not a function over an async closure: the look borrows the page and the
/// action's values, which async closures cannot yet do in a task that must be `Send`.
macro_rules! settle {
    (@expecting_dialog $expecting:expr, $env:expr, $doing:expr, $deadline:expr, $look:expr, $fail:expr) => {{
        let deadline = $deadline;
        loop {
            let seen = match $look {
                Ok(found) => break Ok(found),
                Err(seen) => seen,
            };
            // The shop said what went wrong: no need to wait for the timeout to say less.
            if let Some(failure) = $crate::journey::actions::page_error($env, &$doing).await {
                break Err(failure);
            }
            let left = deadline.saturating_duration_since(::tokio::time::Instant::now());
            if left.is_zero() {
                break Err(($fail)(seen));
            }
            let wait = left.min($crate::journey::actions::POLL);
            if let Err(failure) =
                $crate::journey::actions::wait_for_change($env, &$doing, $expecting, wait).await
            {
                break Err(failure);
            }
        }
    }};
    ($env:expr, $doing:expr, $deadline:expr, $look:expr, $fail:expr) => {
        settle!(@expecting_dialog false, $env, $doing, $deadline, $look, $fail)
    };
}
pub(crate) use settle;

/// Between two looks of a wait: until the page changes (a DOM mutation, seen by a script in
/// the page) or `wait` passes, reading what the page reported meanwhile (the page may be a new
/// one by now: it is watched from here on). Where no script can wait (the page is being
/// replaced, or the wait is for a dialog) it sleeps. A dialog nobody asked for fails it: it
/// blocks the page, and every look would fail until the deadline.
pub(crate) async fn wait_for_change(
    env: &ActionEnv<'_>,
    doing: &str,
    expecting_dialog: bool,
    wait: Duration,
) -> Result<(), Failure> {
    let until = Instant::now() + wait;
    let Some(client) = env.client.filter(|_| !expecting_dialog) else {
        tokio::time::sleep_until(until).await;
        return Ok(());
    };
    match env.recorder.wait_and_read(client, env.redactor, wait).await {
        Waited::Read => Ok(()),
        Waited::DialogOpen => match unexpected_dialog(env, doing).await {
            Some(failure) => Err(failure),
            None => Ok(()),
        },
        Waited::Unread => {
            tokio::time::sleep_until(until).await;
            Ok(())
        }
    }
}

/// The open dialog's text, as the failure of `doing`: with `unhandledPromptBehavior: ignore`
/// (see `webdriver::session`) a dialog stays open and every page command fails until it is
/// answered.
pub(crate) async fn unexpected_dialog(env: &ActionEnv<'_>, doing: &str) -> Option<Failure> {
    let text = env.client?.get_alert_text().await.ok()?;
    Some(unexpected_dialog_failure(doing, &text, env.redactor))
}

fn unexpected_dialog_failure(doing: &str, text: &str, redactor: &Redactor) -> Failure {
    Failure::shop(
        ReasonClass::Dialog,
        format!(
            "{doing}: an unexpected dialog is open: \"{}\" (answer it with `dialog: accept` or `dialog: dismiss`)",
            clip(text, redactor)
        ),
    )
}

/// Bound on asking whether a dialog is open after a failure (it answers in milliseconds).
const DIALOG_CHECK: Duration = Duration::from_secs(2);

/// After a failed action: a dialog left open is dismissed, so that the page can be read and
/// captured; when the action was not `dialog`, the dialog is what failed it (whatever the
/// driver said, e.g. "unexpected alert open"), and the failure says so with its text.
pub async fn after_failure(
    client: &Client,
    action: &Action,
    failure: Failure,
    redactor: &Redactor,
) -> Failure {
    // A crashed browser or a machine out of resources gets nothing more. A WebDriver error may
    // still be a dialog's doing: chromedriver has answered a command that an alert interrupted
    // with a bare `null` instead of "unexpected alert open" (the check is bounded).
    if failure.fault == Fault::Monitor && failure.class != ReasonClass::Webdriver {
        return failure;
    }
    let Ok(Ok(text)) = tokio::time::timeout(DIALOG_CHECK, client.get_alert_text()).await else {
        return with_missing_part(client, action, failure).await;
    };
    let _ = client.dismiss_alert().await;
    if matches!(action, Action::Dialog { .. }) || failure.class == ReasonClass::Dialog {
        return failure;
    }
    unexpected_dialog_failure(&action.describe(), &text, redactor)
}

/// A shadow path that found nothing: the reason says which of its parts is missing.
async fn with_missing_part(client: &Client, action: &Action, mut failure: Failure) -> Failure {
    let Some(locator) = action.locator() else {
        return failure;
    };
    if !matches!(
        failure.class,
        ReasonClass::ElementMissing | ReasonClass::Assertion
    ) {
        return failure;
    }
    if let Ok(Some(part)) =
        tokio::time::timeout(DIALOG_CHECK, locate::missing_part(client, locator)).await
    {
        failure.reason = format!("{} ({part})", failure.reason);
    }
    failure
}

/// The first `fail_on` element the page shows, as the failure of `doing` with its text.
pub(crate) async fn page_error(env: &ActionEnv<'_>, doing: &str) -> Option<Failure> {
    let client = env.client.filter(|_| !env.fail_on.is_empty())?;
    for locator in env.fail_on {
        let Ok(elements) = locate::find_all(client, locator).await else {
            continue;
        };
        for element in elements {
            if !element.is_displayed().await.unwrap_or(false) {
                continue;
            }
            let text = element.text().await.unwrap_or_default();
            return Some(Failure::shop(
                ReasonClass::PageError,
                format!(
                    "{doing}: the page shows an error ({locator}): \"{}\"",
                    clip(&text, env.redactor)
                ),
            ));
        }
    }
    None
}

/// A command the driver's page-load timeout ended (set to end by the step's deadline): what
/// was still running and for how long; any other error as [`classify`] says.
fn page_load_failure(e: &CmdError, doing: &str, command: &str, started: Instant) -> Failure {
    match e {
        CmdError::Standard(wd) if wd.error == ErrorStatus::Timeout => Failure::shop(
            ReasonClass::Timeout,
            super::cut::still_running(doing, command, started.elapsed()),
        ),
        _ => classify(e, doing),
    }
}

/// Whether a command failed because a dialog is open.
pub fn is_dialog_open(e: &CmdError) -> bool {
    matches!(e, CmdError::Standard(wd) if wd.error == ErrorStatus::UnexpectedAlertOpen)
}

/// Marks the page before input that may make it leave (`press`, a pointer click): the mark
/// says whether it stayed, is leaving, or submitted a form. A form's submission starts its
/// page load a task later, after the driver has answered (chromedriver waits for a link's
/// load or a script's, not a form's), so a submission that no script prevented counts as
/// leaving for up to a second, until its load starts (or never does: a download).
pub(super) const PRESS_MARK_PAGE: &str = "window.__shopwatchPress = 'stayed'; \
    if (!window.__shopwatchMarked) { window.__shopwatchMarked = true; \
    window.addEventListener('beforeunload', function () { window.__shopwatchPress = 'leaving'; }); \
    window.addEventListener('submit', function (e) { \
      var by = e.submitter, form = e.target; \
      var target = (by && by.getAttribute('formtarget')) || form.target; \
      var method = ((by && by.getAttribute('formmethod')) || form.method || '').toLowerCase(); \
      if (e.defaultPrevented || method === 'dialog' || (target && target !== '_self' && target !== window.name)) return; \
      if (window.__shopwatchPress === 'stayed') { \
        window.__shopwatchPress = 'submitted'; window.__shopwatchSubmitted = performance.now(); } \
    }); }";

/// The page marked with [`PRESS_MARK_PAGE`] stayed, or a new page (without the mark) has
/// loaded.
pub(super) const SETTLED: &str = "window.__shopwatchPress === 'stayed' || \
     (window.__shopwatchPress === 'submitted' && performance.now() - window.__shopwatchSubmitted > 1000) || \
     (window.__shopwatchPress === undefined && document.readyState === 'complete')";

/// Reads the page once it has [`SETTLED`].
static READ_SETTLED_PAGE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| Recorder::script_when(SETTLED, "null"));

/// After input the driver does not wait on (keys, pointer actions) in a page marked with
/// [`PRESS_MARK_PAGE`]: waits until the page stayed, or the page it started to load has loaded.
/// The look that ends the wait also reads what the page recorded ([`perform`] then need not).
pub(super) async fn page_settled(env: &ActionEnv<'_>, doing: &str) -> Result<(), Failure> {
    settled_read(env, doing, &READ_SETTLED_PAGE).await.map(drop)
}

/// [`page_settled`] with `script` (from [`Recorder::script_when`] with [`SETTLED`]): the value
/// of its extra expression, null when the input opened a dialog.
pub(super) async fn settled_read(
    env: &ActionEnv<'_>,
    doing: &str,
    script: &str,
) -> Result<serde_json::Value, Failure> {
    let client = env.client()?;
    settle!(
        env,
        doing,
        env.deadline,
        match env.recorder.read_when(client, env.redactor, script).await {
            Ok(Some(extra)) => Ok(extra),
            Ok(None) => Err(()),
            // The input opened a dialog: the page stays until it is answered.
            Err(e) if is_dialog_open(&e) => Ok(serde_json::Value::Null),
            Err(e) => return Err(classify(&e, doing)),
        },
        |()| Failure::shop(
            ReasonClass::Timeout,
            format!("{doing}: the page it started to load did not finish loading"),
        )
    )
}

/// What an action can use and change.
pub struct ActionEnv<'a> {
    pub client: Option<&'a Client>,
    /// The session's browser, when there is a session.
    pub browser: Option<Browser>,
    pub base_url: &'a url::Url,
    pub values: &'a mut HashMap<String, String>,
    pub http: &'a reqwest::Client,
    /// When the step's time is up; waits end here.
    pub deadline: Instant,
    /// Where named screenshots go, and what to black out first.
    pub screenshots: &'a page::Screenshots<'a>,
    pub artifacts: &'a mut Vec<PathBuf>,
    /// Page and response text is redacted before it is clipped, so no secret is cut in half.
    pub redactor: &'a Redactor,
    /// The page's failed requests and console errors during the step, read after every
    /// action and at every poll.
    pub recorder: &'a Recorder,
    /// The shop's error elements (`fail_on`): one shown during a wait fails the action at once.
    pub fail_on: &'a [Locator],
    /// Optional actions and `if_present` blocks that did not apply.
    pub skipped: &'a mut Vec<super::outcome::SkippedAction>,
    /// The numbers the step's actions published (`metric:`), in order.
    pub published: &'a mut Vec<super::outcome::StepValue>,
    /// The `frame` blocks the current action is inside, outermost first.
    pub frames: Vec<Locator>,
}

impl<'a> ActionEnv<'a> {
    /// Publishes the number in `text` when the action has a `metric:`; outside its limits the
    /// value is still published (dashboards show it) and the step fails.
    fn publish(
        &mut self,
        publish: Option<&Publish>,
        text: &str,
        doing: &str,
    ) -> Result<(), Failure> {
        let Some(publish) = publish else {
            return Ok(());
        };
        let text = self.redactor.redact(text);
        match publish.read(&text, doing) {
            Ok(value) => {
                self.published.push(value);
                Ok(())
            }
            Err((value, failure)) => {
                self.published.extend(value);
                Err(failure)
            }
        }
    }

    pub(super) fn client(&self) -> Result<&'a Client, Failure> {
        self.client.ok_or_else(|| {
            Failure::monitor(ReasonClass::Webdriver, "no browser session for this action")
        })
    }

    pub(super) fn render(&self, template: &super::template::Template) -> Result<String, Failure> {
        template
            .render(self.values)
            .map_err(|e| Failure::shop(ReasonClass::Assertion, e))
    }

    fn url(&self, template: &super::template::Template) -> Result<url::Url, Failure> {
        let rendered = self.render(template)?;
        self.base_url.join(&rendered).map_err(|e| {
            Failure::shop(
                ReasonClass::Assertion,
                format!("`{template}` is not a URL: {e}"),
            )
        })
    }

    pub(super) fn deadline_for(&self, timeout: Option<Duration>) -> Instant {
        match timeout {
            Some(t) => self.deadline.min(Instant::now() + t),
            None => self.deadline,
        }
    }
}

/// What became of an action that did not fail.
#[derive(Debug)]
pub enum Done {
    /// Its post-condition holds.
    Performed,
    /// An optional action whose element did not show: why.
    Skipped(String),
}

/// Runs `action` (see `perform_unread`), then reads what the page reported meanwhile, unless
/// the action's last look read it already (a click, check, custom list's option or keys that
/// waited for the page to settle).
pub async fn perform(env: &mut ActionEnv<'_>, action: &Action) -> Result<Done, Failure> {
    env.recorder.take_fresh();
    let done = perform_unread(env, action).await;
    let read_last = matches!(
        action.inner(),
        Action::Click(_)
            | Action::Check(_)
            | Action::Uncheck(_)
            | Action::Select { .. }
            | Action::Press { .. }
    ) && env.recorder.take_fresh();
    if let (Ok(_), Some(client), false) = (&done, env.client, read_last) {
        env.recorder.read(client, env.redactor).await;
    }
    done
}

/// Runs `action`: an optional one only when its element shows within its wait.
async fn perform_unread(env: &mut ActionEnv<'_>, action: &Action) -> Result<Done, Failure> {
    let Action::Optional {
        action: inner,
        wait,
    } = action
    else {
        return act(env, action).await.map(|()| Done::Performed);
    };
    let Some(target) = inner.target() else {
        return act(env, inner).await.map(|()| Done::Performed);
    };
    // Its own short wait, never more than what is left of the step.
    let wait = (*wait).min(env.deadline.saturating_duration_since(Instant::now()));
    match shows(env, target, wait, &action.describe()).await {
        Ok(()) => act(env, inner).await.map(|()| Done::Performed),
        // The only `ElementMissing` that `shows` yields is its own: the element never showed.
        Err(failure) if failure.class == ReasonClass::ElementMissing => {
            let failure = match env.client {
                Some(client) => with_missing_part(client, action, failure).await,
                None => failure,
            };
            Ok(Done::Skipped(failure.reason))
        }
        Err(failure) => Err(failure),
    }
}

/// Waits up to `wait` until an element matching `target` is displayed.
pub(super) async fn shows(
    env: &ActionEnv<'_>,
    target: &Locator,
    wait: Duration,
    doing: &str,
) -> Result<(), Failure> {
    let client = env.client()?;
    let deadline = Instant::now() + wait;
    let wait = humantime::format_duration(Duration::from_millis(wait.as_millis() as u64));
    settle!(
        env,
        doing,
        deadline,
        {
            let elements = locate::find_all(client, target)
                .await
                .map_err(|e| classify(&e, doing))?;
            let mut shown = false;
            for element in &elements {
                if element.is_displayed().await.unwrap_or(false) {
                    shown = true;
                    break;
                }
            }
            if shown {
                Ok(())
            } else {
                Err(elements.len())
            }
        },
        |count: usize| Failure::shop(
            ReasonClass::ElementMissing,
            match count {
                0 => format!("no element matches {target} within {wait}"),
                n => format!("{n} element(s) match {target}, none visible within {wait}"),
            }
        )
    )
}

/// `text` typed as key actions, a press and a release per character; `None` when it holds
/// what only Send Keys types as intended (special keys of the private use area, control
/// characters, characters beyond the basic plane).
fn key_presses(text: &str) -> Option<KeyActions> {
    let typable =
        |c: char| !c.is_control() && (c < '\u{E000}' || ('\u{F900}'..='\u{FFFF}').contains(&c));
    if text.is_empty() || !text.chars().all(typable) {
        return None;
    }
    let mut keys = KeyActions::new("keyboard".to_string());
    for value in text.chars() {
        keys = keys
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
    }
    Some(keys)
}

/// Runs one action (an optional one as if it were not); Ok means its post-condition holds.
async fn act(env: &mut ActionEnv<'_>, action: &Action) -> Result<(), Failure> {
    let doing = action.describe();
    let started = Instant::now();
    let fail = |e: CmdError| classify(&e, &doing);
    match action {
        Action::Open(url) => {
            let url = env.url(url)?;
            page::navigate(env.client()?, &url)
                .await
                .map_err(|e| page_load_failure(&e, &doing, "the page load", started))
        }
        Action::Click(target) => {
            let (env, doing) = (&*env, doing.as_str());
            act_on(env, target, doing, Usage::Click, |element, seen| async move {
                actionability::click(env, &element, &seen, doing).await
            })
            .await
        }
        Action::Fill { target, value } => {
            let value = env.render(value)?;
            let chrome = env.browser == Some(Browser::Chrome);
            act_on(env, target, &doing, Usage::Fill, |element, seen| {
                let (value, doing) = (&value, &doing);
                async move {
                    // A person types into an empty field without clearing it first.
                    if !seen.empty {
                        element.clear().await.map_err(|e| miss(e, doing))?;
                    } else if chrome {
                        if let Some(keys) = key_presses(value) {
                            // `LOOK` focused the field. chromedriver's Send Keys costs about
                            // 35 ms a field before its first key; key actions, 5 ms (see
                            // BENCHMARKS.md): the same key events, in one command either way.
                            let client = element.clone().client();
                            return client
                                .perform_actions(keys)
                                .await
                                .map_err(|e| miss(e, doing));
                        }
                    }
                    element.send_keys(value).await.map_err(|e| miss(e, doing))
                }
            })
            .await
        }
        Action::Select { target, by } => actionability::select(env, target, by, &doing).await,
        Action::Check(target) | Action::Uncheck(target) => {
            let want = matches!(action, Action::Check(_));
            let said = doing.as_str();
            let env_now = &*env;
            act_on(
                env_now,
                target,
                said,
                Usage::Click,
                |element, seen| async move {
                    let checked = match seen.checked {
                        Some(checked) => checked,
                        None => element.is_selected().await.map_err(|e| miss(e, said))?,
                    };
                    if checked != want {
                        actionability::click(env_now, &element, &seen, said).await?;
                    }
                    Ok(())
                },
            )
            .await?;
            // A click does not always change the state (a selected radio button cannot be
            // unselected, a script may undo it): look again, finding the box anew in case the
            // click re-rendered the page.
            let client = env.client()?;
            settle!(
                env,
                doing,
                env.deadline,
                match checked_now(client, target).await {
                    Ok(Some(state)) if state == want => Ok(()),
                    Ok(Some(_)) => Err(true),
                    Ok(None) => Err(false),
                    Err(e) => return Err(fail(e)),
                },
                |present| Failure::shop(
                    ReasonClass::Assertion,
                    match (present, want) {
                        (true, true) => format!("{doing}: it is still unchecked"),
                        (true, false) => format!("{doing}: it is still checked"),
                        (false, _) =>
                            format!("{doing}: no element matches {target} after the click"),
                    },
                )
            )
        }
        Action::Press { target, keys } => {
            let client = env.client()?;
            let element = match target {
                Some(target) => find(env, target, &doing).await?,
                None => client.active_element().await.map_err(fail)?,
            };
            // geckodriver returns from Send Keys before a navigation the keys start (Enter in
            // a form), unlike chromedriver; the page would then be checked while it unloads.
            // A page that starts to leave is waited for until the next one has loaded.
            client
                .execute(PRESS_MARK_PAGE, vec![])
                .await
                .map_err(fail)?;
            for chord in keys {
                element.send_keys(chord).await.map_err(|e| {
                    page_load_failure(&e, &doing, "the page load it started", started)
                })?;
            }
            page_settled(env, &doing).await
        }
        Action::Hover(target) => {
            let element = find(env, target, &doing).await?;
            let mouse = MouseActions::new("mouse".to_string()).then(PointerAction::MoveToElement {
                element,
                duration: None,
                x: 0.0,
                y: 0.0,
            });
            env.client()?.perform_actions(mouse).await.map_err(fail)
        }
        Action::WaitFor {
            target,
            visible,
            text,
            timeout,
        } => {
            let text = text.as_ref().map(|t| env.render(t)).transpose()?;
            let deadline = env.deadline_for(*timeout);
            wait_for(env, target, *visible, text.as_deref(), deadline, &doing).await
        }
        Action::WaitUrl { expect, timeout } => {
            let rendered = render_match(env, expect)?;
            let client = env.client()?;
            settle!(
                env,
                doing,
                env.deadline_for(*timeout),
                {
                    let url = client.current_url().await.map_err(fail)?;
                    expect
                        .check(&rendered, url.as_str())
                        .then_some(())
                        .ok_or(url)
                },
                |url| Failure::shop(
                    ReasonClass::Timeout,
                    format!("{doing}: timed out; the URL is {url}"),
                )
            )
        }
        // Assertions are web-first: the page may still be changing (a navigation, scripts), so
        // they look again until the step's deadline before failing.
        Action::AssertText { target, expect } => {
            let rendered = render_match(env, expect)?;
            let client = env.client()?;
            settle!(
                env,
                doing,
                env.deadline,
                match locate::find(client, target).await {
                    Ok(element) => {
                        let text = element.text().await.map_err(fail)?;
                        expect
                            .check(&rendered, &text)
                            .then_some(())
                            .ok_or(Some(text))
                    }
                    Err(_) => Err(None),
                },
                |last: Option<String>| Failure::shop(
                    ReasonClass::Assertion,
                    match last {
                        Some(text) =>
                            format!("{doing}: the text was \"{}\"", clip(&text, env.redactor)),
                        None => format!("{doing}: element not found"),
                    },
                )
            )
        }
        Action::AssertUrl(expect) => {
            let rendered = render_match(env, expect)?;
            let client = env.client()?;
            settle!(
                env,
                doing,
                env.deadline,
                {
                    let url = client.current_url().await.map_err(fail)?;
                    expect
                        .check(&rendered, url.as_str())
                        .then_some(())
                        .ok_or(url)
                },
                |url| Failure::shop(ReasonClass::Assertion, format!("{doing}: the URL is {url}"))
            )
        }
        Action::AssertTitle(expect) => {
            let rendered = render_match(env, expect)?;
            let client = env.client()?;
            settle!(
                env,
                doing,
                env.deadline,
                {
                    let title = client.title().await.map_err(fail)?;
                    expect.check(&rendered, &title).then_some(()).ok_or(title)
                },
                |title: String| Failure::shop(
                    ReasonClass::Assertion,
                    format!("{doing}: the title is \"{}\"", clip(&title, env.redactor)),
                )
            )
        }
        Action::AssertVisible(target) => {
            wait_for(env, target, true, None, env.deadline, &doing).await
        }
        Action::AssertAbsent(target) => {
            let client = env.client()?;
            settle!(
                env,
                doing,
                env.deadline,
                {
                    let elements = locate::find_all(client, target).await.map_err(fail)?;
                    match elements.first() {
                        None => Ok(()),
                        Some(element) => {
                            Err((elements.len(), element.text().await.unwrap_or_default()))
                        }
                    }
                },
                |(count, text): (usize, String)| Failure::shop(
                    ReasonClass::Assertion,
                    format!(
                        "{doing}: found {count} element(s), showing \"{}\"",
                        clip(&text, env.redactor)
                    ),
                )
            )
        }
        Action::AssertCount { target, min, max } => {
            let client = env.client()?;
            settle!(
                env,
                doing,
                env.deadline,
                {
                    let count = locate::find_all(client, target).await.map_err(fail)?.len();
                    (*min..=*max).contains(&count).then_some(()).ok_or(count)
                },
                |count| {
                    let wanted = if min == max {
                        format!("{min}")
                    } else if *max == usize::MAX {
                        format!("at least {min}")
                    } else {
                        format!("{min} to {max}")
                    };
                    Failure::shop(
                        ReasonClass::Assertion,
                        format!("{doing}: found {count} element(s), wanted {wanted}"),
                    )
                }
            )
        }
        Action::StoreText {
            target,
            name,
            publish,
        } => {
            let element = find(env, target, &doing).await?;
            let text = element.text().await.map_err(fail)?;
            let text = text.trim().to_string();
            env.publish(publish.as_ref(), &text, &doing)?;
            env.values.insert(name.clone(), text);
            Ok(())
        }
        Action::StoreAttr {
            target,
            attr,
            name,
            publish,
        } => {
            let element = find(env, target, &doing).await?;
            match element.attr(attr).await.map_err(fail)? {
                Some(value) => {
                    env.publish(publish.as_ref(), &value, &doing)?;
                    env.values.insert(name.clone(), value);
                    Ok(())
                }
                None => Err(Failure::shop(
                    ReasonClass::Assertion,
                    format!("{doing}: the element has no `{attr}` attribute"),
                )),
            }
        }
        Action::Execute {
            script,
            args,
            store,
        } => {
            let args = args
                .iter()
                .map(|a| env.render(a).map(serde_json::Value::String))
                .collect::<Result<Vec<_>, _>>()?;
            let result = env.client()?.execute(script, args).await.map_err(fail)?;
            if let Some(name) = store {
                let value = match result {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                env.values.insert(name.clone(), value);
            }
            Ok(())
        }
        Action::Screenshot(name) => {
            let client = env.client()?;
            let taken = env.screenshots.take(client, name).await;
            // The picture is of the whole window, taken from its top document: go back
            // into the frames the action is in.
            page::enter_frames(client, &env.frames)
                .await
                .map_err(fail)?;
            env.artifacts.push(taken?);
            Ok(())
        }
        Action::AssertWindows(want) => {
            let client = env.client()?;
            settle!(
                env,
                doing,
                env.deadline,
                {
                    let open = client.windows().await.map_err(fail)?.len();
                    (open == *want).then_some(()).ok_or(open)
                },
                |open| Failure::shop(
                    ReasonClass::Assertion,
                    format!("{doing}: {open} window(s) are open"),
                )
            )
        }
        // Blocks are run by `blocks::run_one`, which never hands them here.
        Action::Frame { .. } | Action::Window(_) | Action::IfPresent { .. } => {
            Err(Failure::monitor(
                ReasonClass::Webdriver,
                format!("{doing}: a block reached `act`"),
            ))
        }
        Action::Http(request) => http(env, request, &doing).await,
        Action::Dialog {
            accept,
            text,
            type_text,
            timeout,
        } => {
            let rendered = text.as_ref().map(|t| render_match(env, t)).transpose()?;
            let typed = type_text.as_ref().map(|t| env.render(t)).transpose()?;
            let client = env.client()?;
            let shown = settle!(
                @expecting_dialog true,
                env,
                doing,
                env.deadline_for(*timeout),
                match client.get_alert_text().await {
                    Ok(shown) => Ok(shown),
                    Err(e) if e.is_no_such_alert() => Err(()),
                    Err(e) => return Err(fail(e)),
                },
                |()| Failure::shop(ReasonClass::Dialog, format!("{doing}: no dialog opened"))
            )?;
            // A dialog's text does not change: a wrong one fails at once.
            if let (Some(expect), Some(rendered)) = (text, &rendered) {
                if !expect.check(rendered, &shown) {
                    return Err(Failure::shop(
                        ReasonClass::Assertion,
                        format!(
                            "{doing}: the dialog says \"{}\"",
                            clip(&shown, env.redactor)
                        ),
                    ));
                }
            }
            if let Some(typed) = typed {
                client.send_alert_text(&typed).await.map_err(|e| match &e {
                    CmdError::Standard(wd) => Failure::shop(
                        ReasonClass::Assertion,
                        format!(
                            "{doing}: cannot type into this dialog (only a prompt takes text): {}",
                            wd.message.lines().next().unwrap_or_default()
                        ),
                    ),
                    _ => fail(e),
                })?;
            }
            let answered = if *accept {
                client.accept_alert().await
            } else {
                client.dismiss_alert().await
            };
            answered.map_err(fail)
        }
        Action::Optional { action, .. } => Box::pin(act(env, action)).await,
        Action::Sleep(duration) => {
            let until = (Instant::now() + *duration).min(env.deadline);
            tokio::time::sleep_until(until).await;
            if Instant::now() >= env.deadline && until < Instant::now() + *duration {
                return Err(Failure::shop(
                    ReasonClass::Timeout,
                    format!("{doing}: the step timeout ends first"),
                ));
            }
            Ok(())
        }
    }
}

/// Whether the element `target` matches is checked (selected, for an option), as Is Element
/// Selected says; None while nothing matches. A CSS selector is looked up in the same script.
async fn checked_now(client: &Client, target: &Locator) -> Result<Option<bool>, CmdError> {
    const CHECKED: &str = "var el = document.querySelector(arguments[0]); \
        return el ? (typeof el.checked === 'boolean' ? el.checked : el.selected === true) : null;";
    if let Locator::Css(css) = target {
        let state = client.execute(CHECKED, vec![css.as_str().into()]).await?;
        return Ok(state.as_bool());
    }
    match locate::find(client, target).await {
        Ok(element) => match element.is_selected().await {
            Ok(state) => Ok(Some(state)),
            Err(e) if e.is_stale_element_reference() => Ok(None),
            Err(e) => Err(e),
        },
        Err(e) if e.is_no_such_element() => Ok(None),
        Err(e) => Err(e),
    }
}

fn render_match(env: &ActionEnv<'_>, expect: &TextMatch) -> Result<String, Failure> {
    match expect.template() {
        Some(t) => env.render(t),
        None => Ok(String::new()),
    }
}

/// Waits until `target` is present (auto-wait before acting on it) and returns it.
pub(super) async fn find(
    env: &ActionEnv<'_>,
    target: &Locator,
    doing: &str,
) -> Result<Element, Failure> {
    find_until(env, target, env.deadline, doing).await
}

/// [`find`], waiting only until `deadline`.
pub(super) async fn find_until(
    env: &ActionEnv<'_>,
    target: &Locator,
    deadline: Instant,
    doing: &str,
) -> Result<Element, Failure> {
    let client = env.client()?;
    settle!(
        env,
        doing,
        deadline,
        match locate::find(client, target).await {
            Ok(element) => Ok(element),
            Err(e) if e.is_no_such_element() => Err(()),
            Err(e) => return Err(classify(&e, doing)),
        },
        |()| Failure::shop(
            ReasonClass::ElementMissing,
            format!("{doing}: no element matches {target}"),
        )
    )
}

async fn wait_for(
    env: &ActionEnv<'_>,
    target: &Locator,
    visible: bool,
    text: Option<&str>,
    deadline: Instant,
    doing: &str,
) -> Result<(), Failure> {
    let (client, redactor) = (env.client()?, env.redactor);
    settle!(
        env,
        doing,
        deadline,
        {
            let elements = locate::find_all(client, target)
                .await
                .map_err(|e| classify(&e, doing))?;
            let mut texts = Vec::new();
            let mut found = false;
            for element in &elements {
                let shown = !visible || element.is_displayed().await.unwrap_or(false);
                let matches_text = match text {
                    None => true,
                    Some(want) => {
                        let actual = element.text().await.unwrap_or_default();
                        let ok = actual.contains(want);
                        texts.push(actual);
                        ok
                    }
                };
                if shown && matches_text {
                    found = true;
                    break;
                }
            }
            match (found, elements.len(), texts.first()) {
                (true, _, _) => Ok(()),
                (false, 0, _) => Err((
                    ReasonClass::ElementMissing,
                    "no element matched".to_string(),
                )),
                (false, n, Some(t)) => Err((
                    ReasonClass::Assertion,
                    format!("{n} element(s) matched, text \"{}\"", clip(t, redactor)),
                )),
                (false, n, None) => Err((
                    ReasonClass::Assertion,
                    format!("{n} element(s) matched, none visible"),
                )),
            }
        },
        |(class, seen): (ReasonClass, String)| Failure::shop(
            class,
            format!("{doing}: timed out; {seen}")
        )
    )
}

async fn http(env: &mut ActionEnv<'_>, request: &HttpRequest, doing: &str) -> Result<(), Failure> {
    let url = env.url(&request.url)?;
    let mut builder = env.http.request(request.method.clone(), url);
    for (name, value) in &request.headers {
        builder = builder.header(name, env.render(value)?);
    }
    if let Some(body) = &request.body {
        builder = builder.body(env.render(body)?);
    }
    if let Some(json) = &request.json {
        builder = builder.json(&render_json(json, env)?);
    }
    let deadline = env.deadline_for(request.timeout);
    let remaining = deadline.saturating_duration_since(Instant::now());
    let response = builder.timeout(remaining).send().await.map_err(|e| {
        if let Some(cause) = crate::resources::local_cause(&e) {
            return Failure::monitor(ReasonClass::Resources, format!("{doing}: {cause}"));
        }
        let class = if e.is_timeout() {
            ReasonClass::Timeout
        } else {
            ReasonClass::Unreachable
        };
        Failure::shop(class, format!("{doing}: {}", error_chain(&e)))
    })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let expected = if request.expect_status.is_empty() {
        (200..400).contains(&status)
    } else {
        request.expect_status.contains(&status)
    };
    if !expected {
        return Err(Failure::shop(
            ReasonClass::HttpStatus,
            format!(
                "{doing}: answered HTTP {status}: {}",
                clip(&body, env.redactor)
            ),
        ));
    }
    if !request.store.is_empty() {
        let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
            Failure::shop(
                ReasonClass::Assertion,
                format!(
                    "{doing}: the response is not JSON ({e}): {}",
                    clip(&body, env.redactor)
                ),
            )
        })?;
        for HttpStore {
            name,
            path,
            publish,
        } in &request.store
        {
            let value = path.iter().try_fold(&json, |node, key| match node {
                serde_json::Value::Array(items) => {
                    key.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                serde_json::Value::Object(map) => map.get(key),
                _ => None,
            });
            let value = match value {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => {
                    return Err(Failure::shop(
                        ReasonClass::Assertion,
                        format!("{doing}: the response has no `{}`", path.join(".")),
                    ))
                }
            };
            env.publish(publish.as_ref(), &value, doing)?;
            env.values.insert(name.clone(), value);
        }
    }
    Ok(())
}

/// Renders `${var}` in every string of a JSON body.
fn render_json(
    value: &serde_json::Value,
    env: &ActionEnv<'_>,
) -> Result<serde_json::Value, Failure> {
    Ok(match value {
        serde_json::Value::String(s) => {
            let template = super::template::Template::parse(s)
                .map_err(|e| Failure::shop(ReasonClass::Assertion, e))?;
            serde_json::Value::String(env.render(&template)?)
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|v| render_json(v, env))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_json(v, env)?)))
                .collect::<Result<_, Failure>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_typed_as_key_actions_and_special_keys_are_left_to_send_keys() {
        // The presses, counted in the actions' debug form (fantoccini shows no other).
        let typed =
            |text: &str| key_presses(text).map(|keys| format!("{keys:?}").matches("Down").count());
        // A press (and a release) per character.
        assert_eq!(typed("Zoë O'Neil@x.de"), Some(15));
        assert_eq!(typed("ＡＢ"), Some(2));
        assert_eq!(typed(""), None);
        // Enter (a W3C special key), a tab and a newline, an emoji beyond the basic plane.
        for text in ["go\u{E007}", "a\tb", "a\nb", "tea 🍵"] {
            assert_eq!(typed(text), None, "{text:?}");
        }
    }
}
