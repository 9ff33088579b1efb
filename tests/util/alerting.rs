//! Real peers for alerting tests, each on 127.0.0.1 only and killed on drop: a real
//! Alertmanager (the Debian binary), a real SMTP server (Debian's aiosmtpd) and an HTTP server
//! recording webhook deliveries. Plus [`hmac_sha256_hex`] to check webhook signatures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::monitor::{free_port, write};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const AMTOOL: &str = "/usr/bin/amtool";
/// Debian's Python, which has python3-aiosmtpd (the `python3` on PATH may be another one).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// A real Alertmanager (0.25, Debian's `prometheus-alertmanager`) on 127.0.0.1, clustering
/// off, with a temp config and storage dir. Its only receiver, `null`, sends nothing: tests
/// read what it holds through its API or `amtool`.
///
/// What Alertmanager 0.25 does with a resolved alert (one posted with `endsAt` in the past),
/// found by trying it:
/// - `GET /api/v2/alerts` no longer lists it, at once (the API filters out every alert whose
///   `endsAt` has passed), whatever the query: the default, `active=false`, or all four flags
///   true. `/api/v2/alerts/groups` and `amtool alert query` (with or without `-a`) drop it too.
///   It is never listed with some "resolved" state: the v2 `status.state` enum is only
///   `unprocessed`, `active` or `suppressed`, and the API computes it on each read, so a just
///   posted alert already reads `active` (`suppressed` when silenced or inhibited).
/// - A resolved alert Alertmanager never saw firing is accepted (200) and never listed.
/// - Re-firing the same labels lists it again, `active`; but when the new `startsAt` is before
///   the resolved alert's `endsAt` the two are merged and the old `startsAt` is kept.
/// - An alert posted without `endsAt` gets `endsAt` = now + `resolve_timeout` (5m).
///
/// So "the monitor resolved it" shows as "it is gone from [`Alertmanager::alerts`]";
/// [`Alertmanager::active_alerts`] keeps the `active` ones with `endsAt` still ahead.
pub struct Alertmanager {
    /// Base URL, e.g. `http://127.0.0.1:PORT`.
    pub url: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Alertmanager {
    pub async fn start() -> Alertmanager {
        assert!(
            Path::new(ALERTMANAGER).is_file(),
            "Alertmanager is not installed: run `bash scripts/test` (it installs the Debian package prometheus-alertmanager)"
        );
        let dir = tempfile::Builder::new()
            .prefix("shopwatch-alertmanager-")
            .tempdir()
            .expect("temp dir");
        let config = write(
            dir.path(),
            "alertmanager.yml",
            "route:\n  receiver: \"null\"\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: \"null\"\n",
        );
        let port = free_port();
        let child = Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Empty: no cluster listener (it would bind 0.0.0.0:9094).
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("alertmanager.log")).expect("log"))
            .spawn()
            .expect("start Alertmanager");
        let mut alertmanager = Alertmanager {
            url: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = reqwest::get(format!("{}/-/ready", alertmanager.url)).await {
                if response.status().is_success() {
                    break;
                }
            }
            if let Ok(Some(status)) = alertmanager.child.try_wait() {
                panic!(
                    "Alertmanager exited ({status}) before it was ready:\n{}",
                    alertmanager.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "Alertmanager not ready in 30 s:\n{}",
                alertmanager.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        alertmanager
    }

    /// `GET /api/v2/alerts` with the default filter (active, silenced, inhibited and
    /// unprocessed alike). Resolved alerts are not in it: see [`Alertmanager`].
    pub async fn alerts(&self) -> Vec<serde_json::Value> {
        let url = format!("{}/api/v2/alerts", self.url);
        let response = reqwest::get(&url)
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status();
        let body = response.text().await.expect("body");
        assert!(status.is_success(), "GET {url}: {status}: {body}");
        match serde_json::from_str(&body) {
            Ok(serde_json::Value::Array(alerts)) => alerts,
            _ => panic!("GET {url}: not a JSON array: {body}"),
        }
    }

    /// The alerts with `status.state` `active` and `endsAt` in the future.
    pub async fn active_alerts(&self) -> Vec<serde_json::Value> {
        let now = chrono::Utc::now();
        self.alerts()
            .await
            .into_iter()
            .filter(|alert| alert["status"]["state"] == "active")
            .filter(|alert| {
                alert["endsAt"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .is_none_or(|ends| ends > now)
            })
            .collect()
    }

    /// `amtool --alertmanager.url=<url> alert query -o json <args>`: its stdout.
    pub fn amtool_query(&self, args: &[&str]) -> String {
        let output = Command::new(AMTOOL)
            .arg(format!("--alertmanager.url={}", self.url))
            .args(["alert", "query", "-o", "json"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("amtool is not installed: run `bash scripts/test` (it installs the Debian package prometheus-alertmanager)");
        assert!(
            output.status.success(),
            "amtool alert query {args:?}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).to_string()
    }

    /// Polls [`Alertmanager::alerts`] every 300 ms until `done` holds; those alerts.
    pub async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + within;
        loop {
            let alerts = self.alerts().await;
            if done(&alerts) {
                return alerts;
            }
            assert!(
                Instant::now() < deadline,
                "Alertmanager: never {what} in {within:?}; last alerts: {}",
                serde_json::to_string_pretty(&alerts).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until an alert named `alertname` is listed; that alert.
    pub async fn wait_for_alert(&self, alertname: &str, within: Duration) -> serde_json::Value {
        let named = |a: &&serde_json::Value| a["labels"]["alertname"] == alertname;
        let alerts = self
            .wait_for(alertname, within, |alerts| alerts.iter().any(|a| named(&a)))
            .await;
        alerts.iter().find(named).cloned().expect("found above")
    }

    /// Alertmanager's own log (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run by Debian's Python: an aiosmtpd server on 127.0.0.1:<port> writing each message to
/// `<mail dir>/<n>.eml` (envelope first as `X-Envelope-*` lines, then the raw message).
/// Arguments: mail dir, port, and optionally user and password (then AUTH is required).
const SMTP_SCRIPT: &str = r#"
import itertools, logging, os, sys, threading, warnings
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# AUTH without TLS is what these tests want: no warning about it on every connection.
warnings.simplefilter("ignore")
logging.getLogger("mail.log").setLevel(logging.ERROR)

mail_dir, port = sys.argv[1], int(sys.argv[2])
credentials = (sys.argv[3].encode(), sys.argv[4].encode()) if len(sys.argv) > 4 else None
numbers = itertools.count(1)
lock = threading.Lock()


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with lock:
            n = next(numbers)
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, bytes):
            content = content.decode("utf-8", errors="replace")
        head = "X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (
            envelope.mail_from,
            ", ".join(envelope.rcpt_tos),
        )
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            head += "X-Authenticated-As: %s\r\n" % session.auth_data.login.decode(
                "utf-8", errors="replace"
            )
        partial = os.path.join(mail_dir, ".%d.partial" % n)
        with open(partial, "w", encoding="utf-8", newline="") as f:
            f.write(head + content)
        os.rename(partial, os.path.join(mail_dir, "%d.eml" % n))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        credentials is not None
        and isinstance(auth_data, LoginPassword)
        and (auth_data.login, auth_data.password) == credentials
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


options = {"server_hostname": "shopwatch-test-smtp"}
if credentials is not None:
    options.update(
        authenticator=authenticator, auth_require_tls=False, auth_required=True
    )
controller = Controller(Handler(), hostname="127.0.0.1", port=port, **options)
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

/// A real SMTP server (Debian's aiosmtpd, run by `/usr/bin/python3`) on 127.0.0.1 that keeps
/// every message it accepts. Each message reads as `X-Envelope-From: <from>`,
/// `X-Envelope-To: <to>, <to>`, with AUTH `X-Authenticated-As: <user>`, then the raw message
/// as sent (CRLF line ends), decoded as UTF-8 with invalid bytes replaced.
pub struct SmtpServer {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Accepts any message, no AUTH offered.
    pub async fn start() -> SmtpServer {
        SmtpServer::launch(None).await
    }

    /// AUTH (PLAIN and LOGIN, over plain TCP) required: only `user` with `password` may send;
    /// wrong credentials get 535, a message without AUTH 530.
    pub async fn start_with_auth(user: &str, password: &str) -> SmtpServer {
        SmtpServer::launch(Some((user, password))).await
    }

    async fn launch(credentials: Option<(&str, &str)>) -> SmtpServer {
        let python_has_aiosmtpd = Command::new(SYSTEM_PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        assert!(
            python_has_aiosmtpd,
            "{SYSTEM_PYTHON} cannot import aiosmtpd: run `bash scripts/test` (it installs python3-aiosmtpd)"
        );
        let dir = tempfile::Builder::new()
            .prefix("shopwatch-smtp-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("mail")).expect("mail dir");
        let script = write(dir.path(), "smtp_server.py", SMTP_SCRIPT);
        let port = free_port();
        let mut command = Command::new(SYSTEM_PYTHON);
        command
            .arg(&script)
            .arg(dir.path().join("mail"))
            .arg(port.to_string());
        if let Some((user, password)) = credentials {
            command.args([user, password]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("smtp.out")).expect("out"))
            .stderr(std::fs::File::create(dir.path().join("smtp.log")).expect("log"))
            .spawn()
            .expect("start the SMTP server");
        let mut server = SmtpServer { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = std::fs::read_to_string(server.dir.path().join("smtp.out"));
            if out.is_ok_and(|out| out.lines().any(|l| l == "ready")) {
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "the SMTP server exited ({status}) before it was ready:\n{}",
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP server not ready in 30 s:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// Every message received so far, in order of arrival.
    pub fn messages(&self) -> Vec<String> {
        let mut numbered: Vec<(u64, PathBuf)> = std::fs::read_dir(self.dir.path().join("mail"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().to_string();
                let n = name.strip_suffix(".eml")?.parse().ok()?;
                Some((n, entry.path()))
            })
            .collect();
        numbered.sort();
        numbered
            .into_iter()
            .map(|(_, path)| std::fs::read_to_string(path).expect("read message"))
            .collect()
    }

    /// Waits until at least `n` messages have arrived; all of them.
    pub async fn wait_for_messages(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "SMTP: {} message(s) of {n} in {within:?}: {messages:#?}\nserver log:\n{}",
                messages.len(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's stderr (aiosmtpd logs warnings there).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("smtp.log")).unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP request a [`WebhookReceiver`] got.
#[derive(Clone)]
pub struct Received {
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// Names in lowercase, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status it was answered with: 200, or 503 while [`WebhookReceiver::fail_next`] held.
    pub status: u16,
}

/// With the body as text, for readable failure messages.
impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Received")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("status", &self.status)
            .finish()
    }
}

impl Received {
    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body of {} {} is not JSON ({e}): {}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct WebhookState {
    received: Mutex<Vec<Received>>,
    fail_next: AtomicUsize,
}

/// A real HTTP server on 127.0.0.1 recording every request (any method, any path), answering
/// 200 `ok` (or 503 while [`WebhookReceiver::fail_next`] holds). Dropping it stops it: the
/// port is closed and kept-alive connections are shut down.
pub struct WebhookReceiver {
    /// Base URL, e.g. `http://127.0.0.1:PORT`.
    pub url: String,
    pub port: u16,
    state: Arc<WebhookState>,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    /// On a free port.
    pub async fn start() -> WebhookReceiver {
        WebhookReceiver::start_on(0).await
    }

    /// On `port` (a sink that was down and comes back up on the port the monitor knows).
    pub async fn start_on(port: u16) -> WebhookReceiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(WebhookState {
            received: Mutex::new(Vec::new()),
            fail_next: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let stop = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
            }
        });
        WebhookReceiver {
            url: format!("http://127.0.0.1:{port}"),
            port,
            state,
            stop,
            task,
        }
    }

    /// The next `n` requests are answered 503 (and still recorded).
    pub fn fail_next(&self, n: usize) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every request so far, in order of arrival.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests have come; all of them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "webhook: {} request(s) of {n} in {within:?}: {received:#?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn record(
    axum::extract::State(state): axum::extract::State<Arc<WebhookState>>,
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: axum::body::Bytes,
) -> (http::StatusCode, &'static str) {
    let fail = state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if fail {
        http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        http::StatusCode::OK
    };
    state.received.lock().unwrap().push(Received {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).to_string(),
                )
            })
            .collect(),
        body: body.to_vec(),
        status: status.as_u16(),
    });
    if fail {
        (status, "unavailable (fail_next)")
    } else {
        (status, "ok")
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        // Cancelling first tells kept-alive connections to close; aborting drops the listener
        // now even if the runtime is not polling the server task.
        self.stop.cancel();
        self.task.abort();
    }
}

/// HMAC-SHA256 of `data` under `key`, as lowercase hex (to check webhook signatures).
pub fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, data)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
