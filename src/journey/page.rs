//! Reading the page shopwatch is on: HTTP status of the last navigation, browser error pages,
//! visible error messages; and capturing artifacts (masked screenshots, redacted HTML, console).

use super::model::Locator;
use super::outcome::{Failure, ReasonClass};
use super::recorder::Recorded;
use super::secrets::Redactor;
use crate::artifacts;
use fantoccini::error::CmdError;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Client;
use serde::Deserialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the browser is, and how the page it shows was answered.
#[derive(Debug, Deserialize)]
pub struct PageState {
    pub url: String,
    /// `responseStatus` of the Navigation Timing entry: WebDriver does not report HTTP status.
    pub status: Option<u16>,
    pub title: String,
    /// Visible error-like messages (`[role=alert]`, `.error`, `[class*=error]`...).
    pub messages: Vec<String>,
    /// The browser's own error page text (Chromium: `ERR_CONNECTION_REFUSED`...).
    pub net_error: Option<String>,
}

const PAGE_STATE_SCRIPT: &str = r#"
const nav = performance.getEntriesByType('navigation')[0];
const status = nav && nav.responseStatus ? nav.responseStatus : null;
const messages = [];
for (const el of document.querySelectorAll('[role=alert], .error, .alert, [class*=error], [class*=declined]')) {
  const text = (el.innerText || '').trim();
  if (text && el.offsetParent !== null && !messages.includes(text) && messages.length < 3) messages.push(text.slice(0, 200));
}
let netError = null;
if (location.protocol === 'chrome-error:' || location.href.startsWith('about:neterror')) {
  const body = document.body ? document.body.innerText : '';
  const code = body.match(/ERR_[A-Z_]+/);
  netError = code ? code[0] : (location.href.match(/e=([a-zA-Z]+)/) || [null, 'error page'])[1];
}
return { url: location.href, status, title: document.title, messages, net_error: netError };
"#;

pub async fn state(client: &Client) -> Result<PageState, CmdError> {
    let value = client.execute(PAGE_STATE_SCRIPT, vec![]).await?;
    serde_json::from_value(value).map_err(CmdError::Json)
}

/// After a navigation: the shop failed if the browser shows its error page or the page was
/// answered with an HTTP error status.
pub async fn check_navigation(client: &Client, doing: &str) -> Result<(), Failure> {
    let state = match state(client).await {
        Ok(state) => state,
        // The action opened a dialog (a `confirm` on a button): nothing has loaded yet, and
        // the next action answers it (`dialog`) or fails naming it.
        Err(e) if super::actions::is_dialog_open(&e) => return Ok(()),
        Err(e) => return Err(super::outcome::classify(&e, doing)),
    };
    if let Some(error) = &state.net_error {
        return Err(Failure::shop(
            ReasonClass::Unreachable,
            format!("{doing}: the browser could not load the page: {error}"),
        ));
    }
    if let Some(status) = state.status.filter(|s| *s >= 400) {
        return Err(Failure::shop(
            ReasonClass::HttpStatus,
            format!("{doing}: the page answered HTTP {status} at {}", state.url),
        ));
    }
    Ok(())
}

/// What the page showed, for a failure reason: URL, status, title, error messages.
pub async fn describe(client: &Client, redactor: &Redactor) -> Option<String> {
    let state = state(client).await.ok()?;
    let mut text = format!("page {}", state.url);
    match state.status {
        Some(status) => text.push_str(&format!(" (HTTP {status}, title \"{}\")", state.title)),
        None => text.push_str(&format!(" (title \"{}\")", state.title)),
    }
    if !state.messages.is_empty() {
        let messages: Vec<String> = state
            .messages
            .iter()
            .map(|m| format!("\"{}\"", super::outcome::clip(m, redactor)))
            .collect();
        text.push_str(&format!("; it shows {}", messages.join(", ")));
    }
    Some(text)
}

/// Blacks out masked elements, password fields and any element showing a secret, by drawing
/// opaque boxes over them; returns how many boxes it drew.
const MASK_SCRIPT: &str = r#"
const [selectors, xpaths, secrets] = arguments;
const els = new Set(document.querySelectorAll('input[type=password]'));
for (const s of selectors) { try { document.querySelectorAll(s).forEach(e => els.add(e)); } catch (e) {} }
for (const x of xpaths) {
  try {
    const r = document.evaluate(x, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    for (let i = 0; i < r.snapshotLength; i++) els.add(r.snapshotItem(i));
  } catch (e) {}
}
if (secrets.length) {
  for (const input of document.querySelectorAll('input, textarea')) {
    if (secrets.some(s => input.value.includes(s))) els.add(input);
  }
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (secrets.some(s => node.nodeValue.includes(s)) && node.parentElement) els.add(node.parentElement);
  }
}
let drawn = 0;
for (const el of els) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  const box = document.createElement('div');
  box.setAttribute('data-shopwatch-mask', '');
  box.style.cssText = `position:fixed;left:${r.left - 2}px;top:${r.top - 2}px;width:${r.width + 4}px;height:${r.height + 4}px;background:#000;z-index:2147483647;pointer-events:none`;
  document.documentElement.appendChild(box);
  drawn++;
}
return drawn;
"#;

const UNMASK_SCRIPT: &str =
    "document.querySelectorAll('[data-shopwatch-mask]').forEach(e => e.remove());";

/// Takes screenshots into one directory with masking applied, and writes the other artifacts
/// beside them.
pub struct Screenshots<'a> {
    /// The attempt's directory.
    pub dir: &'a Path,
    /// The run's directory around it, created (and marked as shopwatch's) with the first file;
    /// None when there is no artifacts directory and `dir` is a scratch directory.
    pub run_dir: Option<&'a Path>,
    /// Failed steps' artifact files that could not be written.
    pub write_failures: AtomicU32,
    pub mask: &'a [Locator],
    pub secrets: Vec<String>,
}

impl Screenshots<'_> {
    /// Creates the attempt's directory (and the run's) if needed.
    fn create_dir(&self) -> std::io::Result<()> {
        match self.run_dir {
            Some(run) => artifacts::write::create_attempt_dir(run, self.dir),
            None => std::fs::create_dir_all(self.dir),
        }
    }

    /// Writes `<dir>/<file>` whole or not at all.
    fn write(&self, file: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        let path = self.dir.join(file);
        self.create_dir()
            .and_then(|()| artifacts::write::write_atomic(&path, bytes))
            .map(|()| path.clone())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Writes one artifact of a failed step; a file that cannot be written is logged and
    /// counted, and changes nothing about the step.
    fn save(&self, file: &str, bytes: &[u8]) -> Option<PathBuf> {
        self.write(file, bytes)
            .inspect_err(|e| self.write_failed(e))
            .ok()
    }

    fn write_failed(&self, message: &str) {
        self.write_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("artifacts: {message}");
    }

    /// Saves `<dir>/<name>.png`, masked.
    /// A WebDriver failure is classified like any action's; a file that cannot be written is
    /// the monitor's fault (`artifacts`), never the shop's.
    pub async fn take(&self, client: &Client, name: &str) -> Result<PathBuf, Failure> {
        let doing = format!("screenshot {name}");
        let fail = |e: CmdError| super::outcome::classify(&e, &doing);
        let mut css = Vec::new();
        let mut xpaths = Vec::new();
        for locator in self.mask {
            match locator {
                Locator::Css(s) => css.push(s.clone()),
                Locator::XPath(x) => xpaths.push(x.clone()),
                Locator::LinkText(t) => {
                    xpaths.push(format!("//a[normalize-space(.)={}]", xpath_literal(t)))
                }
            }
        }
        let masked = client
            .execute(
                MASK_SCRIPT,
                vec![json!(css), json!(xpaths), json!(self.secrets)],
            )
            .await
            .map_err(fail)?;
        tracing::debug!("screenshot {name}: masked {masked} element(s)");
        let png = client.screenshot().await;
        let _ = client.execute(UNMASK_SCRIPT, vec![]).await;
        let png = png.map_err(fail)?;
        self.write(&format!("{}.png", artifacts::safe_name(name)), &png)
            .map_err(|e| Failure::monitor(ReasonClass::Artifacts, format!("{doing}: {e}")))
    }
}

fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// Chromium's console log (legacy endpoint that chromedriver still serves; geckodriver has none).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(r#"{"type":"browser"}"#.to_string()),
        )
    }
}

async fn console_log(client: &Client) -> Option<Vec<String>> {
    let entries = client.issue_cmd(BrowserLog).await.ok()?;
    Some(
        entries
            .as_array()?
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["level"].as_str().unwrap_or("?"),
                    e["message"].as_str().unwrap_or_default()
                )
            })
            .collect(),
    )
}

/// Saves what a failed step left on screen: masked screenshot, redacted HTML, and in
/// `<step>.txt` its URL, failed requests, console errors and the console log where the
/// driver gives it. Returns the paths written; a file that cannot be
/// written is logged and counted in `screenshots.write_failures`, and the step stays failed
/// for its own reason.
pub async fn capture_failure(
    client: &Client,
    screenshots: &Screenshots<'_>,
    redactor: &Redactor,
    step: &str,
    recorded: &Recorded,
) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    // No screenshot can be taken while a dialog is open; the step's reason has its text.
    let _ = client.dismiss_alert().await;
    if let Err(e) = screenshots.create_dir() {
        screenshots.write_failed(&format!("cannot create {}: {e}", screenshots.dir.display()));
        return paths;
    }
    let file = artifacts::safe_name(step);
    match screenshots.take(client, step).await {
        Ok(path) => paths.push(path),
        Err(e) if e.class == ReasonClass::Artifacts => screenshots.write_failed(&e.reason),
        Err(e) => tracing::warn!("screenshot of failed step {step}: {}", e.reason),
    }
    if let Ok(html) = client.source().await {
        paths.extend(screenshots.save(&format!("{file}.html"), redactor.redact(&html).as_bytes()));
    }
    let mut page = String::new();
    if let Ok(state) = state(client).await {
        page.push_str(&format!("url: {}\ntitle: {}\n", state.url, state.title));
        if let Some(status) = state.status {
            page.push_str(&format!("http_status: {status}\n"));
        }
    }
    page.push_str(&recorded.as_text());
    if let Some(lines) = console_log(client).await {
        page.push_str("console:\n");
        for line in lines {
            page.push_str(&format!("  {line}\n"));
        }
    }
    if !page.is_empty() {
        paths.extend(screenshots.save(&format!("{file}.txt"), redactor.redact(&page).as_bytes()));
    }
    paths
}
