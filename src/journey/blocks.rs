//! Lists of actions: a step's, and the nested `do:` of the blocks `frame` (inside an iframe),
//! `window` (in a popup) and `if_present` (only when an element shows). A block runs its
//! actions in its own browsing context and makes the one before current again, also when an
//! action inside fails.

use super::actions::{self, settle, ActionEnv, Done};
use super::model::{Action, Locator, WindowBlock, WindowClose};
use super::outcome::{classify, Failure, Fault, ReasonClass, SkippedAction};
use super::page;
use fantoccini::error::CmdError;
use fantoccini::wd::WindowHandle;
use fantoccini::Client;
use std::time::Duration;
use tokio::time::Instant;

/// A failure, with the action whose failure still needs [`actions::after_failure`]: a step's
/// own action is diagnosed after the step's clock stopped (the runner does it); one inside a
/// block at once, while its frame or window is still current.
pub type Failed<'a> = (Failure, Option<&'a Action>);

/// Runs a block's `actions` in order; the first failure ends the list.
async fn run_actions(env: &mut ActionEnv<'_>, actions: &[Action]) -> Result<(), Failure> {
    for action in actions {
        match run_one(env, action).await {
            Ok(()) => {}
            Err((failure, Some(action))) => {
                return Err(match env.client {
                    Some(client) => {
                        actions::after_failure(client, action, failure, env.redactor).await
                    }
                    None => failure,
                })
            }
            Err((failure, None)) => return Err(failure),
        }
    }
    Ok(())
}

/// Runs one action or block. A skipped optional action is noted in `env.skipped`; after an
/// action that may load a page, the page is checked for an HTTP error.
pub async fn run_one<'a>(env: &mut ActionEnv<'_>, action: &'a Action) -> Result<(), Failed<'a>> {
    let doing = action.describe();
    let whole = |failure| (failure, None);
    match action {
        Action::Frame {
            target,
            actions,
            timeout,
        } => {
            return Box::pin(frame(env, target, actions, *timeout, &doing))
                .await
                .map_err(whole)
        }
        Action::Window(block) => return Box::pin(window(env, block, &doing)).await.map_err(whole),
        Action::IfPresent {
            target,
            wait,
            actions,
        } => {
            let wait = (*wait).min(env.deadline.saturating_duration_since(Instant::now()));
            return match actions::shows(env, target, wait, &doing).await {
                Ok(()) => Box::pin(run_actions(env, actions)).await.map_err(whole),
                // `shows` yields `ElementMissing` only for its own wait: the element never showed.
                Err(failure) if failure.class == ReasonClass::ElementMissing => {
                    env.skipped.push(SkippedAction {
                        action: doing,
                        reason: failure.reason,
                    });
                    Ok(())
                }
                Err(failure) => Err(whole(failure)),
            };
        }
        _ => {}
    }
    let done = actions::perform(env, action)
        .await
        .map_err(|failure| (failure, Some(action)))?;
    match done {
        Done::Skipped(reason) => {
            let action = action.inner().describe();
            env.skipped.push(SkippedAction { action, reason });
        }
        Done::Performed => {
            if let (true, Some(client)) = (action.may_navigate(), env.client) {
                page::check_navigation(client, &doing, env.recorder.take_arrival())
                    .await
                    .map_err(whole)?;
            }
        }
    }
    Ok(())
}

fn is_no_such_window(e: &CmdError) -> bool {
    matches!(e, CmdError::Standard(wd) if wd.error == fantoccini::error::ErrorStatus::NoSuchWindow)
}

/// Says where a failure inside a block happened: `in frame `iframe#card`: fill ...`.
fn inside(mut failure: Failure, place: &str) -> Failure {
    failure.reason = format!("in {place}: {}", failure.reason);
    failure
}

/// True once the current document has loaded; a frame given a `src` must also have left
/// the `about:blank` it starts with.
const DOCUMENT_READY: &str = "return document.readyState === 'complete' && \
    (!arguments[0] || location.href !== 'about:blank');";

/// Waits until the current browsing context's document is ready.
async fn document_ready(
    env: &ActionEnv<'_>,
    client: &Client,
    needs_src: bool,
    deadline: Instant,
    doing: &str,
) -> Result<(), Failure> {
    settle!(
        env,
        doing,
        deadline,
        match client
            .execute(DOCUMENT_READY, vec![serde_json::Value::Bool(needs_src)])
            .await
        {
            Ok(serde_json::Value::Bool(true)) => Ok(()),
            Ok(_) => Err(()),
            Err(e) => return Err(classify(&e, doing)),
        },
        |()| Failure::shop(
            ReasonClass::Timeout,
            format!("{doing}: its document did not finish loading"),
        )
    )
}

async fn frame(
    env: &mut ActionEnv<'_>,
    target: &Locator,
    actions: &[Action],
    timeout: Option<Duration>,
    doing: &str,
) -> Result<(), Failure> {
    let client = env.client()?;
    let deadline = env.deadline_for(timeout);
    let element = actions::find_until(env, target, deadline, doing).await?;
    let tag = element
        .tag_name()
        .await
        .map_err(|e| classify(&e, doing))?
        .to_ascii_lowercase();
    if tag != "iframe" && tag != "frame" {
        return Err(Failure::shop(
            ReasonClass::Assertion,
            format!("{doing}: it is a <{tag}>, not an <iframe>"),
        ));
    }
    let src = element.attr("src").await.map_err(|e| classify(&e, doing))?;
    let needs_src = src.is_some_and(|s| !s.is_empty() && s != "about:blank");
    element
        .enter_frame()
        .await
        .map_err(|e| classify(&e, doing))?;
    env.frames.push(target.clone());
    let result = match document_ready(env, client, needs_src, deadline, doing).await {
        Ok(()) => run_actions(env, actions).await,
        Err(failure) => Err(failure),
    };
    env.frames.pop();
    let result = result.map_err(|f| inside(f, &format!("frame {target}")));
    // A monitor fault poisons the session: send it nothing more.
    if result.as_ref().is_err_and(|f| f.fault == Fault::Monitor) {
        return result;
    }
    let back = client.enter_parent_frame().await;
    match (result, back) {
        (Ok(()), Err(e)) => Err(classify(&e, doing)),
        (result, _) => result,
    }
}

/// What a window search saw, for its failure.
enum Seen {
    NoOtherWindow,
    Urls(Vec<String>),
}

async fn window(env: &mut ActionEnv<'_>, block: &WindowBlock, doing: &str) -> Result<(), Failure> {
    let client = env.client()?;
    let fail = |e: CmdError| classify(&e, doing);
    let home = client.window().await.map_err(fail)?;
    let rendered = match block.url.as_ref().and_then(|u| u.template()) {
        Some(t) => Some(env.render(t)?),
        None => None,
    };
    let deadline = env.deadline_for(block.timeout);
    let popup = settle!(
        env,
        doing,
        deadline,
        {
            let others: Vec<WindowHandle> = client
                .windows()
                .await
                .map_err(fail)?
                .into_iter()
                .filter(|h| *h != home)
                .collect();
            match &block.url {
                // The newest: drivers list windows in the order they opened.
                None => others.last().cloned().ok_or(Seen::NoOtherWindow),
                Some(expect) => {
                    let rendered = rendered.as_deref().unwrap_or_default();
                    let mut urls = Vec::new();
                    let mut found = None;
                    for handle in others.iter().rev() {
                        // A window closing meanwhile (the last popup) is no candidate.
                        let url = match client.switch_to_window(handle.clone()).await {
                            Ok(()) => client.current_url().await,
                            Err(e) => Err(e),
                        };
                        let url = match url {
                            Ok(url) => url,
                            Err(e) if is_no_such_window(&e) => continue,
                            Err(e) => return Err(fail(e)),
                        };
                        if expect.check(rendered, url.as_str()) {
                            found = Some(handle.clone());
                            break;
                        }
                        urls.push(url.to_string());
                    }
                    client.switch_to_window(home.clone()).await.map_err(fail)?;
                    match found {
                        Some(handle) => Ok(handle),
                        None if others.is_empty() => Err(Seen::NoOtherWindow),
                        None => Err(Seen::Urls(urls)),
                    }
                }
            }
        },
        |seen| Failure::shop(
            ReasonClass::ElementMissing,
            match seen {
                Seen::NoOtherWindow => format!("{doing}: no other window opened"),
                Seen::Urls(urls) => format!(
                    "{doing}: no window has that URL; the other windows are at {}",
                    urls.join(", ")
                ),
            }
        )
    )?;
    client.switch_to_window(popup.clone()).await.map_err(fail)?;
    let url = client
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let result = match document_ready(env, client, block.url.is_none(), deadline, doing).await {
        Ok(()) => run_actions(env, &block.actions).await,
        Err(failure) => Err(failure),
    };
    let result = match result {
        Ok(()) => end_window(env, client, &popup, block.close, doing).await,
        Err(failure) if failure.fault == Fault::Monitor => return Err(failure),
        Err(failure) => {
            // The popup is where it failed: keep a picture of it before going back.
            if let Ok(path) = env.screenshots.take(client, "window").await {
                env.artifacts.push(path);
            }
            let current = client.current_url().await.map(|u| u.to_string());
            Err(inside(
                failure,
                &format!("window {}", current.unwrap_or(url)),
            ))
        }
    };
    let back = client.switch_to_window(home).await;
    match (result, back) {
        (Ok(()), Err(e)) => Err(fail(e)),
        (result, _) => result,
    }
}

/// Ends a window after its actions, as its `close` says.
async fn end_window(
    env: &ActionEnv<'_>,
    client: &Client,
    popup: &WindowHandle,
    close: WindowClose,
    doing: &str,
) -> Result<(), Failure> {
    let fail = |e: CmdError| classify(&e, doing);
    match close {
        WindowClose::Never => Ok(()),
        WindowClose::AfterDo => client.close_window().await.map_err(fail),
        WindowClose::ByPage => settle!(
            env,
            doing,
            env.deadline,
            {
                let open = client.windows().await.map_err(fail)?;
                if open.contains(popup) {
                    Err(())
                } else {
                    Ok(())
                }
            },
            |()| Failure::shop(
                ReasonClass::Timeout,
                format!(
                    "{doing}: the window did not close after its actions \
                     (give `close: after_do` to close it, or `close: never` to leave it open)"
                ),
            )
        ),
    }
}
