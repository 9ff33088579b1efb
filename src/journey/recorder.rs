//! What the page reported while a step ran: its failed requests (fetch, XHR and documents
//! answered with HTTP >= 400 or not at all) and its console errors, for the step's report
//! and a failed step's reason.
//!
//! One script, the same in Firefox and Chromium, is put into each page the first time the
//! step looks at it (after every action and at every poll of a wait) and read out each time.
//! It wraps `fetch`, `XMLHttpRequest` and `console.error` and listens for uncaught errors
//! and rejections from then on; for what happened before (the requests of the page's own
//! load) it reads Resource Timing, which has each request's `responseStatus` in both
//! browsers but not its method, and Navigation Timing for the document. The same request
//! seen both ways is reported once, with its method.
//!
//! Measured with Firefox ESR 153 and Chromium 156: Resource Timing has `responseStatus` for
//! fetch and XHR in both, during the load and after; a network error is an entry with status 0
//! in Chromium and no entry at all in Firefox (the wrappers see it); a request still waiting
//! is in neither (the wrappers know it). One read takes about 4-5 ms, as much as a `find`.
//! WebDriver BiDi would see the load too, but needs a second (websocket) protocol beside
//! fantoccini's and changes every session; not worth it for the methods of load-time calls.

use super::outcome::{clip, FailedRequest, RequestKind};
use super::page::Arrival;
use super::secrets::Redactor;
use crate::report::format_ms;
use fantoccini::Client;
use serde::Deserialize;
use std::sync::Mutex;
use std::time::Duration;

/// At most this many of each are kept per step (the page keeps at most 50 between reads).
pub const MAX_PER_STEP: usize = 20;
/// How many failed requests a failed step's reason names (the most recent).
const IN_REASON: usize = 3;
/// A failed step names the requests that have waited longer than this for an answer; a
/// request that has only just started explains nothing.
const PENDING_AFTER_MS: f64 = 1000.0;

/// Installs the recorder in the page unless it is there, and hands over what it saw since
/// the last read: `{origin, requests, console, pending}`.
const RECORD_BODY: &str = r#"
const MAX = 50;
let rec = window.__shopwatchRecorder;
if (!rec) {
  rec = window.__shopwatchRecorder = { requests: [], console: [], inflight: new Map(), next: 0 };
  const push = (list, item) => { if (list.length < MAX) list.push(item); };
  const abs = u => { try { return new URL(String(u), location.href).href; } catch (e) { return String(u); } };
  const text = v => {
    try {
      // Not `instanceof Error`: in Firefox the page's Error is not this script's.
      if (v && typeof v === 'object' && typeof v.message === 'string') return (v.name || 'Error') + ': ' + v.message;
      return typeof v === 'string' ? v : JSON.stringify(v);
    } catch (e) { return String(v); }
  };
  const failed = (info, status) => push(rec.requests, { method: info.method, url: info.url, kind: info.kind, status: status || null });
  const fetch = window.fetch;
  if (fetch) {
    window.fetch = function (input, init) {
      const info = {
        method: String((init && init.method) || (input && input.method) || 'GET').toUpperCase(),
        url: abs(input && input.url ? input.url : input), kind: 'fetch', start: performance.now() };
      const id = rec.next++;
      rec.inflight.set(id, info);
      // `window`, not `this`: in Firefox, `this` here is not the page's window.
      const answer = fetch.apply(window, arguments);
      answer.then(res => { rec.inflight.delete(id); if (res.status >= 400) failed(info, res.status); },
                  err => { rec.inflight.delete(id); if (!err || err.name !== 'AbortError') failed(info, 0); });
      return answer;
    };
  }
  const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__shopwatch = { method: String(method).toUpperCase(), url: abs(url), kind: 'xhr' };
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    const info = this.__shopwatch;
    if (info) {
      const id = rec.next++;
      info.start = performance.now();
      rec.inflight.set(id, info);
      let aborted = false;
      this.addEventListener('abort', () => { aborted = true; });
      this.addEventListener('loadend', () => {
        rec.inflight.delete(id);
        if (!aborted && (this.status >= 400 || this.status === 0)) failed(info, this.status);
      });
    }
    return send.apply(this, arguments);
  };
  const error = console.error;
  console.error = function () {
    push(rec.console, 'console.error: ' + Array.from(arguments).map(text).join(' '));
    return error.apply(console, arguments);
  };
  window.addEventListener('error', e => push(rec.console, 'uncaught ' + (e.error ? text(e.error) : e.message)));
  window.addEventListener('unhandledrejection', e => push(rec.console, 'unhandled rejection: ' + text(e.reason)));
  // Timing entries of what came before the wrappers (the page's own load), and after.
  const kinds = { fetch: 'fetch', xmlhttprequest: 'xhr', navigation: 'document', iframe: 'document' };
  rec.timing = entries => {
    for (const e of entries) {
      const kind = kinds[e.initiatorType || e.entryType];
      if (!kind || typeof e.responseStatus !== 'number') continue;
      // 0: a network error, or a document of another origin, whose status is not shown.
      if (e.responseStatus >= 400 || (e.responseStatus === 0 && kind !== 'document')) {
        push(rec.requests, { method: null, url: e.name, kind, status: e.responseStatus || null });
      }
    }
  };
  try { performance.setResourceTimingBufferSize(1000); } catch (e) {}
  rec.observer = new PerformanceObserver(list => rec.timing(list.getEntries()));
  for (const type of ['navigation', 'resource']) {
    try { rec.observer.observe({ type, buffered: true }); } catch (e) {}
  }
}
rec.timing(rec.observer.takeRecords());
const now = performance.now();
const pending = Array.from(rec.inflight.values()).map(i => ({ method: i.method, url: i.url, kind: i.kind, ms: now - i.start }));
return { origin: location.origin, requests: rec.requests.splice(0), console: rec.console.splice(0), pending,
         arrival: arrival() };
"#;

static RECORD_SCRIPT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{}\n{RECORD_BODY}", super::page::ARRIVAL_JS));

/// An async script: waits until the page changes (a DOM mutation) or `arguments[0]` ms pass,
/// whichever is first, then reads as [`RECORD_SCRIPT`] does. A wait looks again as soon as
/// the page changed, not at the next tick of a fixed poll.
static WAIT_AND_RECORD_SCRIPT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        r#"{}
function record() {{ {RECORD_BODY} }}
const done = arguments[arguments.length - 1];
let finished = false;
const finish = () => {{
  if (finished) return;
  finished = true;
  observer.disconnect();
  clearTimeout(timer);
  done(record());
}};
const observer = new MutationObserver(finish);
observer.observe(document, {{ subtree: true, childList: true, attributes: true, characterData: true }});
const timer = setTimeout(finish, arguments[0]);
"#,
        super::page::ARRIVAL_JS
    )
});

/// What became of [`Recorder::wait_and_read`].
#[derive(Debug, PartialEq, Eq)]
pub enum Waited {
    /// The page changed or the time passed; what it saw is read.
    Read,
    /// A dialog is open: nothing on the page can change until it is answered.
    DialogOpen,
    /// The page could not be read (it is being replaced, or left the window).
    Unread,
}

#[derive(Debug, Deserialize)]
struct Read {
    origin: String,
    requests: Vec<Seen>,
    console: Vec<String>,
    pending: Vec<Pending>,
    arrival: Option<Arrival>,
}

/// A failed request as the page script saw it: `method` is null when it comes from Resource
/// Timing, `status` null for a network error.
#[derive(Debug, Deserialize)]
struct Seen {
    method: Option<String>,
    url: String,
    kind: RequestKind,
    status: Option<u16>,
}

#[derive(Debug, Clone, Deserialize)]
struct Pending {
    method: String,
    url: String,
    kind: RequestKind,
    ms: f64,
}

/// One step's record. Shared by the step's actions (`&self`: the waits hold only shared
/// borrows of their environment); the lock is never held across an await.
#[derive(Default)]
pub struct Recorder {
    log: Mutex<Log>,
    /// How the page was answered, as the last read saw it (none if that read failed).
    arrival: Mutex<Option<Arrival>>,
    /// Read by [`Recorder::read_when`] since [`Recorder::take_fresh`] last asked.
    fresh: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Log {
    requests: Vec<Entry>,
    console: Vec<String>,
    /// Requests still waiting for an answer at the last read.
    pending: Vec<(String, Pending)>,
}

struct Entry {
    /// The full URL, to tell one request from another; never written out.
    url: String,
    request: FailedRequest,
    /// Seen both by the wrappers and in Resource Timing already.
    merged: bool,
}

impl Recorder {
    /// Reads what the page saw since the last read (installing the recorder first in a new
    /// page). A page that cannot be read right now (it is being replaced, a dialog is open)
    /// is read next time; nothing here fails the step.
    pub async fn read(&self, client: &Client, redactor: &Redactor) {
        *self.arrival.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if let Ok(value) = client.execute(&RECORD_SCRIPT, vec![]).await {
            self.absorb(value, redactor);
        }
    }

    /// The script [`Recorder::read_when`] runs: the page is read once the JavaScript
    /// expression `condition` holds, and the expression `extra` is evaluated then too, for its
    /// caller. Built once by its user: neither is passed as an argument to evaluate, which a
    /// shop's Content-Security-Policy may forbid.
    pub fn script_when(condition: &str, extra: &str) -> String {
        format!(
            "if (!({condition})) return false;\n{}\nconst extra = ({extra});\n\
             const read = (function () {{ {RECORD_BODY} }})();\nread.extra = extra;\nreturn read;",
            super::page::ARRIVAL_JS
        )
    }

    /// Reads as [`Recorder::read`] does, in the same round trip, once the condition of
    /// `script` (from [`Recorder::script_when`]) holds: then the value of its `extra`, None
    /// before; an error is the driver's.
    pub async fn read_when(
        &self,
        client: &Client,
        redactor: &Redactor,
        script: &str,
    ) -> Result<Option<serde_json::Value>, fantoccini::error::CmdError> {
        match client.execute(script, vec![]).await? {
            serde_json::Value::Object(mut read) => {
                let extra = read.remove("extra").unwrap_or_default();
                *self.arrival.lock().unwrap_or_else(|e| e.into_inner()) = None;
                self.absorb(serde_json::Value::Object(read), redactor);
                self.fresh.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(Some(extra))
            }
            // `false`, or `null`: the script ran while the page was being replaced.
            _ => Ok(None),
        }
    }

    /// Whether [`Recorder::read_when`] read the page since the last ask (then a read right
    /// after would find nothing new).
    pub fn take_fresh(&self) -> bool {
        self.fresh.swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits up to `wait` for the page to change, then reads it (see [`Recorder::read`]).
    pub async fn wait_and_read(
        &self,
        client: &Client,
        redactor: &Redactor,
        wait: Duration,
    ) -> Waited {
        *self.arrival.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let ms = serde_json::Value::from(wait.as_millis() as u64);
        match client
            .execute_async(&WAIT_AND_RECORD_SCRIPT, vec![ms])
            .await
        {
            Ok(value) => {
                self.absorb(value, redactor);
                Waited::Read
            }
            Err(e) if super::actions::is_dialog_open(&e) => Waited::DialogOpen,
            Err(_) => Waited::Unread,
        }
    }

    fn absorb(&self, value: serde_json::Value, redactor: &Redactor) {
        let Ok(read) = serde_json::from_value::<Read>(value) else {
            return;
        };
        *self.arrival.lock().unwrap_or_else(|e| e.into_inner()) = read.arrival;
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        for seen in read.requests {
            log.add_request(seen, &read.origin, redactor);
        }
        for line in read.console {
            if log.console.len() == MAX_PER_STEP {
                log.console.remove(0);
            }
            log.console.push(clip(&line, redactor));
        }
        log.pending = read
            .pending
            .into_iter()
            .map(|p| (read.origin.clone(), p))
            .collect();
    }

    /// How the page was answered at the last read, if it could be read.
    pub fn take_arrival(&self) -> Option<Arrival> {
        self.arrival
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// What the step recorded so far: its failed requests and console errors; for a failed
    /// step also the requests that had waited over a second for an answer at the last read.
    pub fn recorded(&self, failed: bool, redactor: &Redactor) -> Recorded {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let mut requests: Vec<FailedRequest> =
            log.requests.iter().map(|r| r.request.clone()).collect();
        if failed {
            for (origin, p) in log.pending.iter().filter(|(_, p)| p.ms > PENDING_AFTER_MS) {
                requests.push(FailedRequest {
                    method: Some(p.method.clone()),
                    url: shown_url(&p.url, origin, redactor),
                    kind: p.kind,
                    status: None,
                    error: Some(format!("no answer after {}", format_ms(p.ms))),
                });
            }
        }
        let overflow = requests.len().saturating_sub(MAX_PER_STEP);
        requests.drain(..overflow);
        Recorded {
            requests,
            console_errors: log.console.clone(),
        }
    }
}

/// A step's failed requests and console errors, as its report holds them.
#[derive(Debug, Default)]
pub struct Recorded {
    pub requests: Vec<FailedRequest>,
    pub console_errors: Vec<String>,
}

impl Recorded {
    /// The end of a failed step's reason: `; failed requests: 500 POST /api/x, ...` (the
    /// most recent few), or nothing.
    pub fn reason_suffix(&self) -> String {
        reason_suffix(&self.requests)
    }

    /// For a failed step's `<step>.txt` artifact.
    pub fn as_text(&self) -> String {
        let mut text = String::new();
        for (title, lines) in [
            (
                "failed requests",
                self.requests
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>(),
            ),
            ("console errors", self.console_errors.clone()),
        ] {
            if !lines.is_empty() {
                text.push_str(&format!("{title}:\n"));
                for line in lines {
                    text.push_str(&format!("  {line}\n"));
                }
            }
        }
        text
    }
}

impl Log {
    fn add_request(&mut self, seen: Seen, origin: &str, redactor: &Redactor) {
        // The wrappers and Resource Timing both saw it: keep the one with the method.
        if let Some(twin) = self.requests.iter_mut().find(|r| {
            !r.merged
                && r.url == seen.url
                && r.request.kind == seen.kind
                && r.request.status == seen.status
                && r.request.method.is_some() != seen.method.is_some()
        }) {
            twin.merged = true;
            if seen.method.is_some() {
                twin.request.method = seen.method;
            }
            return;
        }
        if self.requests.len() == MAX_PER_STEP {
            self.requests.remove(0);
        }
        self.requests.push(Entry {
            request: FailedRequest {
                method: seen.method,
                url: shown_url(&seen.url, origin, redactor),
                kind: seen.kind,
                status: seen.status,
                error: seen.status.is_none().then(|| "network error".to_string()),
            },
            url: seen.url,
            merged: false,
        });
    }
}

fn reason_suffix(requests: &[FailedRequest]) -> String {
    if requests.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = requests
        .iter()
        .rev()
        .take(IN_REASON)
        .rev()
        .map(FailedRequest::to_string)
        .collect();
    let more = match requests.len().saturating_sub(IN_REASON) {
        0 => String::new(),
        n => format!(" (and {n} earlier)"),
    };
    format!("; failed requests: {}{more}", shown.join(", "))
}

/// A request's URL as reports show it: the path on the page's own origin, origin and path
/// elsewhere; never the query or fragment (where tokens go); secrets redacted, clipped.
fn shown_url(url: &str, page_origin: &str, redactor: &Redactor) -> String {
    let shown = match url::Url::parse(url) {
        Ok(parsed) => {
            let origin = parsed.origin().ascii_serialization();
            if origin == page_origin {
                parsed.path().to_string()
            } else {
                format!("{origin}{}", parsed.path())
            }
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_string(),
    };
    clip(&shown, redactor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(method: Option<&str>, url: &str, status: Option<u16>) -> Seen {
        Seen {
            method: method.map(str::to_string),
            url: url.to_string(),
            kind: RequestKind::Fetch,
            status,
        }
    }

    #[test]
    fn one_request_seen_twice_is_reported_once_with_its_method() {
        let redactor = Redactor::default();
        let origin = "http://127.0.0.1:8088";
        let mut log = Log::default();
        let url = "http://127.0.0.1:8088/api/shipping-quote?token=abc";
        log.add_request(seen(Some("POST"), url, Some(500)), origin, &redactor);
        log.add_request(seen(None, url, Some(500)), origin, &redactor);
        // Resource Timing first (the page's load), the wrapper after: the method is kept too.
        log.add_request(
            seen(None, "http://127.0.0.1:8088/api/cart", Some(503)),
            origin,
            &redactor,
        );
        log.add_request(
            seen(Some("GET"), "http://127.0.0.1:8088/api/cart", Some(503)),
            origin,
            &redactor,
        );
        // A second, separate failure of the same call counts again.
        log.add_request(seen(Some("POST"), url, Some(500)), origin, &redactor);
        log.add_request(
            seen(None, "http://other.test:9/pay", None),
            origin,
            &redactor,
        );
        let shown: Vec<String> = log.requests.iter().map(|r| r.request.to_string()).collect();
        assert_eq!(
            shown,
            [
                "500 POST /api/shipping-quote",
                "503 GET /api/cart",
                "500 POST /api/shipping-quote",
                "http://other.test:9/pay: network error",
            ]
        );
        let requests: Vec<FailedRequest> = log.requests.into_iter().map(|r| r.request).collect();
        assert_eq!(
            reason_suffix(&requests),
            "; failed requests: 503 GET /api/cart, 500 POST /api/shipping-quote, http://other.test:9/pay: network error (and 1 earlier)"
        );
        assert_eq!(reason_suffix(&[]), "");
    }

    #[test]
    fn urls_lose_their_query_and_secrets() {
        let mut redactor = Redactor::default();
        redactor.add("s3cret-token");
        let origin = "http://shop.test";
        assert_eq!(
            shown_url(
                "http://shop.test/api/carts/s3cret-token/x?key=1#f",
                origin,
                &redactor
            ),
            "/api/carts/[redacted]/x"
        );
        assert_eq!(
            shown_url("https://pay.test/v1/charge?card=4111", origin, &redactor),
            "https://pay.test/v1/charge"
        );
    }
}
