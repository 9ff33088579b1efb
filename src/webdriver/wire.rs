//! Every WebDriver command a session sends, named and timed where it goes over the wire: the
//! session's HTTP connector hands out connections that note when a request starts (its first
//! bytes written) and when its answer last arrived (its last bytes read). fantoccini sends one
//! command at a time per session, so each request runs from its first write to the last read
//! before the next request. What an action spent outside these commands is shopwatch's own.

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use serde::Serialize;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A command that went over the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The WebDriver specification's name for it ("Element Click").
    pub name: &'static str,
    pub started: Instant,
    /// From its first byte written to the last byte of the answer read.
    pub took: Duration,
}

/// The commands of one session, in the order sent; shared by its connections.
#[derive(Debug, Clone, Default)]
pub struct Wire(Arc<Mutex<Log>>);

#[derive(Debug, Default)]
struct Log {
    done: Vec<Sent>,
    /// The request being sent or answered, and when its answer last arrived.
    open: Option<(Sent, Option<Instant>)>,
}

impl Log {
    fn close_open(&mut self) {
        if let Some((mut sent, Some(last_read))) = self.open.take() {
            sent.took = last_read.saturating_duration_since(sent.started);
            self.done.push(sent);
        }
    }
}

impl Wire {
    /// The commands answered since the last call (a command whose answer is still coming
    /// stays for the next).
    pub fn take(&self) -> Vec<Sent> {
        let mut log = self.lock();
        let answered = log.open.as_ref().is_some_and(|(_, read)| read.is_some());
        if answered {
            log.close_open();
        }
        std::mem::take(&mut log.done)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes of a request go out: the first after an answer starts a new command.
    fn wrote(&self, first_bytes: &[u8]) {
        let mut log = self.lock();
        match &log.open {
            Some((_, None)) => return,
            Some((_, Some(_))) => log.close_open(),
            None => {}
        }
        log.open = Some((
            Sent {
                name: command_name(first_bytes),
                started: Instant::now(),
                took: Duration::ZERO,
            },
            None,
        ));
    }

    /// Bytes of an answer arrived.
    fn read(&self) {
        if let Some((_, last_read)) = &mut self.lock().open {
            *last_read = Some(Instant::now());
        }
    }

    /// A connector that times every request through it into this log.
    pub fn connector<C>(&self, inner: C) -> TimedConnector<C> {
        TimedConnector {
            inner,
            wire: self.clone(),
        }
    }
}

/// The session's HTTP connector, with connections that time the requests over them.
#[derive(Debug, Clone)]
pub struct TimedConnector<C> {
    inner: C,
    wire: Wire,
}

impl<C> tower_service::Service<Uri> for TimedConnector<C>
where
    C: tower_service::Service<Uri>,
    C::Future: Send + 'static,
    C::Response: 'static,
{
    type Response = TimedIo<C::Response>;
    type Error = C::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let wire = self.wire.clone();
        Box::pin(async move {
            let io = connecting.await?;
            Ok(TimedIo { io, wire })
        })
    }
}

/// One connection to the driver.
#[derive(Debug)]
pub struct TimedIo<T> {
    io: T,
    wire: Wire,
}

impl<T: Read + Unpin> Read for TimedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.wire.read();
        }
        polled
    }
}

impl<T: Write + Unpin> Write for TimedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.wire.wrote(buf);
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
        self.wire.wrote(first);
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<T: Connection> Connection for TimedIo<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

/// The specification's name of the command a request starts with (`POST
/// /session/{id}/element/{id}/click HTTP/1.1` is "Element Click").
pub fn command_name(request: &[u8]) -> &'static str {
    let line = request.split(|b| *b == b'\r').next().unwrap_or_default();
    let line = std::str::from_utf8(line).unwrap_or_default();
    let mut words = line.split(' ');
    let (method, path) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or("/"),
    );
    let path = path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    // A Grid's URL may have a prefix (`/wd/hub`).
    let from = parts
        .iter()
        .position(|p| *p == "session" || *p == "status")
        .unwrap_or(parts.len());
    let rest = match &parts[from..] {
        ["session"] if method == "POST" => return "New Session",
        ["status"] => return "Status",
        ["session", _, rest @ ..] => rest,
        _ => return "other command",
    };
    match (method, rest) {
        ("DELETE", []) => "Delete Session",
        ("POST", ["url"]) => "Navigate To",
        ("GET", ["url"]) => "Get Current URL",
        ("POST", ["back"]) => "Back",
        ("POST", ["forward"]) => "Forward",
        ("POST", ["refresh"]) => "Refresh",
        ("GET", ["title"]) => "Get Title",
        ("GET", ["source"]) => "Get Page Source",
        ("POST", ["timeouts"]) => "Set Timeouts",
        ("GET", ["timeouts"]) => "Get Timeouts",
        ("GET", ["window"]) => "Get Window Handle",
        ("POST", ["window"]) => "Switch To Window",
        ("DELETE", ["window"]) => "Close Window",
        ("GET", ["window", "handles"]) => "Get Window Handles",
        ("POST", ["window", "new"]) => "New Window",
        ("GET", ["window", "rect"]) => "Get Window Rect",
        ("POST", ["window", "rect"]) => "Set Window Rect",
        ("POST", ["window", _]) => "Window State",
        ("POST", ["frame"]) => "Switch To Frame",
        ("POST", ["frame", "parent"]) => "Switch To Parent Frame",
        ("POST", ["element"]) => "Find Element",
        ("POST", ["elements"]) => "Find Elements",
        ("GET", ["element", "active"]) => "Get Active Element",
        ("POST", ["element", _, "element"]) => "Find Element From Element",
        ("POST", ["element", _, "elements"]) => "Find Elements From Element",
        ("GET", ["element", _, "shadow"]) => "Get Element Shadow Root",
        ("POST", ["shadow", _, "element"]) => "Find Element From Shadow Root",
        ("POST", ["shadow", _, "elements"]) => "Find Elements From Shadow Root",
        ("POST", ["element", _, "click"]) => "Element Click",
        ("POST", ["element", _, "clear"]) => "Element Clear",
        ("POST", ["element", _, "value"]) => "Element Send Keys",
        ("GET", ["element", _, "text"]) => "Get Element Text",
        ("GET", ["element", _, "name"]) => "Get Element Tag Name",
        ("GET", ["element", _, "rect"]) => "Get Element Rect",
        ("GET", ["element", _, "selected"]) => "Is Element Selected",
        ("GET", ["element", _, "enabled"]) => "Is Element Enabled",
        ("GET", ["element", _, "displayed"]) => "Is Element Displayed",
        ("GET", ["element", _, "attribute", _]) => "Get Element Attribute",
        ("GET", ["element", _, "property", _]) => "Get Element Property",
        ("GET", ["element", _, "css", _]) => "Get Element CSS Value",
        ("GET", ["element", _, "screenshot"]) => "Take Element Screenshot",
        ("POST", ["execute", "sync"]) => "Execute Script",
        ("POST", ["execute", "async"]) => "Execute Async Script",
        ("POST", ["actions"]) => "Perform Actions",
        ("DELETE", ["actions"]) => "Release Actions",
        ("GET", ["screenshot"]) => "Take Screenshot",
        ("GET", ["alert", "text"]) => "Get Alert Text",
        ("POST", ["alert", "text"]) => "Send Alert Text",
        ("POST", ["alert", "accept"]) => "Accept Alert",
        ("POST", ["alert", "dismiss"]) => "Dismiss Alert",
        ("GET", ["cookie", ..]) => "Get Cookies",
        ("POST", ["cookie"]) => "Add Cookie",
        ("DELETE", ["cookie", ..]) => "Delete Cookies",
        ("POST", ["print"]) => "Print Page",
        _ => "other command",
    }
}

/// What a step's commands cost, summed: the JSON report's `webdriver` of a step.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WireSummary {
    /// Round trips to the driver.
    pub commands: u32,
    /// Time spent in them (the driver's and the browser's time, and the wire's).
    pub ms: f64,
    /// Per command name, the costliest first.
    pub by_command: Vec<CommandTotal>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandTotal {
    pub command: &'static str,
    pub count: u32,
    pub ms: f64,
}

impl WireSummary {
    /// Counts one command that took `ms`.
    pub fn add(&mut self, command: &'static str, ms: f64) {
        self.commands += 1;
        self.ms += ms;
        match self.by_command.iter_mut().find(|t| t.command == command) {
            Some(total) => {
                total.count += 1;
                total.ms += ms;
            }
            None => self.by_command.push(CommandTotal {
                command,
                count: 1,
                ms,
            }),
        }
        self.by_command.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_named_as_the_specification_names_them() {
        let named = |line: &str| command_name(format!("{line} HTTP/1.1\r\nhost: x\r\n").as_bytes());
        assert_eq!(named("POST /session"), "New Session");
        assert_eq!(named("DELETE /session/5f2a"), "Delete Session");
        assert_eq!(named("POST /session/5f2a/url"), "Navigate To");
        assert_eq!(
            named("POST /session/5f2a/element/e-1/click"),
            "Element Click"
        );
        assert_eq!(
            named("POST /session/5f2a/element/e-1/value"),
            "Element Send Keys"
        );
        assert_eq!(named("POST /session/5f2a/execute/sync"), "Execute Script");
        assert_eq!(
            named("GET /session/5f2a/element/e-1/attribute/value"),
            "Get Element Attribute"
        );
        assert_eq!(
            named("POST /session/5f2a/frame/parent"),
            "Switch To Parent Frame"
        );
        assert_eq!(named("POST /wd/hub/session/5f2a/url"), "Navigate To");
        assert_eq!(named("GET /session/5f2a/unknown"), "other command");
        assert_eq!(command_name(b"\xff\xfe"), "other command");
    }

    #[test]
    fn a_command_runs_from_its_first_write_to_its_last_read() {
        let wire = Wire::default();
        wire.wrote(b"POST /session/1/element HTTP/1.1\r\n");
        wire.wrote(b"{\"using\":\"css selector\"}");
        assert!(wire.take().is_empty(), "not answered yet");
        wire.read();
        wire.read();
        wire.wrote(b"POST /session/1/element/e/click HTTP/1.1\r\n");
        wire.read();
        let sent = wire.take();
        let names: Vec<&str> = sent.iter().map(|s| s.name).collect();
        assert_eq!(names, ["Find Element", "Element Click"]);
        assert!(wire.take().is_empty());
    }

    #[test]
    fn a_summary_counts_and_sums_per_command_costliest_first() {
        let mut summary = WireSummary::default();
        summary.add("Find Element", 2.0);
        summary.add("Element Send Keys", 60.0);
        summary.add("Find Element", 3.0);
        assert_eq!(summary.commands, 3);
        assert_eq!(summary.ms, 65.0);
        assert_eq!(summary.by_command[0].command, "Element Send Keys");
        assert_eq!(summary.by_command[1].count, 2);
    }
}
