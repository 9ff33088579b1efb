//! Reading the page shopwatch is on: HTTP status of the last navigation, browser error pages,
//! visible error messages; and capturing artifacts (masked screenshots, redacted HTML, console).

use super::model::Locator;
use super::outcome::{Failure, ReasonClass};
use super::recorder::Recorded;
use super::secrets::Redactor;
use crate::artifacts;
use fantoccini::error::{CmdError, ErrorStatus};
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

/// How the current document was answered: what a navigation is checked on.
#[derive(Debug, Clone, Deserialize)]
pub struct Arrival {
    pub url: String,
    /// `responseStatus` of the Navigation Timing entry: WebDriver does not report HTTP status.
    pub status: Option<u16>,
    /// The browser's own error page text (Chromium: `ERR_CONNECTION_REFUSED`...).
    pub net_error: Option<String>,
}

/// A script function `arrival()` giving an [`Arrival`]; the recorder's read returns one too,
/// so that checking a navigation costs no command of its own.
pub(super) const ARRIVAL_JS: &str = r#"
function arrival() {
  const nav = performance.getEntriesByType('navigation')[0];
  const status = nav && nav.responseStatus ? nav.responseStatus : null;
  let netError = null;
  if (location.protocol === 'chrome-error:' || location.href.startsWith('about:neterror')) {
    const body = document.body ? document.body.innerText : '';
    const code = body.match(/ERR_[A-Z_]+/);
    netError = code ? code[0] : (location.href.match(/e=([a-zA-Z]+)/) || [null, 'error page'])[1];
  }
  return { url: location.href, status, net_error: netError };
}
"#;

static PAGE_STATE_SCRIPT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        r#"{ARRIVAL_JS}
const messages = [];
for (const el of document.querySelectorAll('[role=alert], .error, .alert, [class*=error], [class*=declined]')) {{
  const text = (el.innerText || '').trim();
  if (text && el.offsetParent !== null && !messages.includes(text) && messages.length < 3) messages.push(text.slice(0, 200));
}}
return {{ ...arrival(), title: document.title, messages }};
"#
    )
});

pub async fn state(client: &Client) -> Result<PageState, CmdError> {
    let value = client.execute(&PAGE_STATE_SCRIPT, vec![]).await?;
    serde_json::from_value(value).map_err(CmdError::Json)
}

/// After a navigation: the shop failed if the browser shows its error page or the page was
/// answered with an HTTP error status.
/// `seen`: how the page was answered, as the recorder read it right after the action; without
/// it the page is asked.
pub async fn check_navigation(
    client: &Client,
    doing: &str,
    seen: Option<Arrival>,
) -> Result<(), Failure> {
    let asked = match seen {
        Some(seen) => Ok(seen),
        None => state(client).await.map(|s| Arrival {
            url: s.url,
            status: s.status,
            net_error: s.net_error,
        }),
    };
    let state = match asked {
        Ok(state) => state,
        // The action opened a dialog (a `confirm` on a button): nothing has loaded yet, and
        // the next action answers it (`dialog`) or fails naming it.
        Err(e) if super::actions::is_dialog_open(&e) => return Ok(()),
        // The action closed its window (the last click in a 3-D Secure popup): nothing to check.
        Err(CmdError::Standard(wd)) if wd.error == ErrorStatus::NoSuchWindow => return Ok(()),
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

/// Blacks out masked elements, password fields and any element showing a secret (in the page
/// and in its open shadow roots), by drawing opaque boxes over them; returns how many boxes it
/// drew.
const MASK_SCRIPT: &str = r#"
const [selectors, xpaths, secrets, shadowPaths] = arguments;
// The document and every open shadow root in it: a web component's fields are masked too.
const roots = [document];
for (let i = 0; i < roots.length; i++) {
  for (const el of roots[i].querySelectorAll('*')) if (el.shadowRoot) roots.push(el.shadowRoot);
}
const els = new Set(roots.flatMap(r => [...r.querySelectorAll('input[type=password]')]));
for (const s of selectors) { try { document.querySelectorAll(s).forEach(e => els.add(e)); } catch (e) {} }
for (const parts of shadowPaths) {
  try {
    let found = [...document.querySelectorAll(parts[0])];
    for (const part of parts.slice(1)) found = found.flatMap(h => h.shadowRoot ? [...h.shadowRoot.querySelectorAll(part)] : []);
    found.forEach(e => els.add(e));
  } catch (e) {}
}
for (const x of xpaths) {
  try {
    const r = document.evaluate(x, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    for (let i = 0; i < r.snapshotLength; i++) els.add(r.snapshotItem(i));
  } catch (e) {}
}
if (secrets.length) {
  for (const root of roots) {
    for (const input of root.querySelectorAll('input, textarea')) {
      if (secrets.some(s => input.value.includes(s))) els.add(input);
    }
    const start = root === document ? (document.body || document.documentElement) : root;
    const walker = document.createTreeWalker(start, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (secrets.some(s => node.nodeValue.includes(s)) && node.parentElement) els.add(node.parentElement);
    }
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
        let mut shadow_paths = Vec::new();
        for locator in self.mask {
            match locator {
                Locator::Css(s) => css.push(s.clone()),
                Locator::Shadow(parts) => shadow_paths.push(parts.clone()),
                Locator::XPath(x) => xpaths.push(x.clone()),
                Locator::LinkText(t) => {
                    xpaths.push(format!("//a[normalize-space(.)={}]", xpath_literal(t)))
                }
            }
        }
        // The picture shows every frame: mask them all, from the top document down.
        to_top_frame(client).await.map_err(fail)?;
        let args = vec![
            json!(css),
            json!(xpaths),
            json!(self.secrets),
            json!(shadow_paths),
        ];
        let masked = in_every_frame(client, MASK_SCRIPT, &args, 0)
            .await
            .map_err(fail)?;
        tracing::debug!("screenshot {name}: masked {masked} element(s)");
        let png = client.screenshot().await;
        let _ = in_every_frame(client, UNMASK_SCRIPT, &[], 0).await;
        let png = png.map_err(fail)?;
        self.write(&format!("{}.png", artifacts::safe_name(name)), &png)
            .map_err(|e| Failure::monitor(ReasonClass::Artifacts, format!("{doing}: {e}")))
    }
}

/// How deep masking follows frames inside frames.
const MAX_FRAME_DEPTH: usize = 4;
/// At most this many frames of one document are masked (a page of ad frames is not a checkout).
const MAX_FRAMES: u64 = 32;

/// Runs `script` in the current document and in every frame below it, returning to the
/// current one; sums what the script returns (a count). A frame that cannot be entered (it
/// went away meanwhile) is left out.
async fn in_every_frame(
    client: &Client,
    script: &str,
    args: &[serde_json::Value],
    depth: usize,
) -> Result<u64, CmdError> {
    let mut total = client
        .execute(script, args.to_vec())
        .await?
        .as_u64()
        .unwrap_or(0);
    if depth >= MAX_FRAME_DEPTH {
        return Ok(total);
    }
    let frames = client
        .execute("return window.frames.length;", vec![])
        .await?
        .as_u64()
        .unwrap_or(0);
    for index in 0..frames.min(MAX_FRAMES) {
        if client.enter_frame(index as u16).await.is_err() {
            continue;
        }
        total += Box::pin(in_every_frame(client, script, args, depth + 1))
            .await
            .unwrap_or(0);
        client.enter_parent_frame().await?;
    }
    Ok(total)
}

/// W3C Switch To Frame with `id: null`: the window's top document (fantoccini has only the
/// parent frame and frame indexes).
#[derive(Debug)]
struct TopFrame;

impl WebDriverCompatibleCommand for TopFrame {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/frame", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"id":null}"#.to_string()))
    }
}

/// Navigate To an absolute URL. fantoccini's `goto` first asks for the current URL (to resolve
/// a relative one): a round trip each `open` does not need, as its URL is already absolute.
#[derive(Debug)]
struct Navigate(String);

impl WebDriverCompatibleCommand for Navigate {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/url", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({ "url": self.0 }).to_string();
        (http::Method::POST, Some(body))
    }
}

/// Loads `url` (absolute) in the current window, as `open` does.
pub async fn navigate(client: &Client, url: &url::Url) -> Result<(), CmdError> {
    client
        .issue_cmd(Navigate(url.to_string()))
        .await
        .map(|_| ())
}

/// Makes the window's top document current.
pub async fn to_top_frame(client: &Client) -> Result<(), CmdError> {
    client.issue_cmd(TopFrame).await.map(|_| ())
}

/// From the top document, enters `frames` (outermost first) again.
pub async fn enter_frames(client: &Client, frames: &[Locator]) -> Result<(), CmdError> {
    to_top_frame(client).await?;
    for frame in frames {
        super::locate::find(client, frame)
            .await?
            .enter_frame()
            .await?;
    }
    Ok(())
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
