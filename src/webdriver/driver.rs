//! Local WebDriver processes (geckodriver, chromedriver) that shopwatch starts and owns.
//!
//! Each driver runs in its own process group with its own TMPDIR, so the browser it starts and
//! every temp profile can be found and removed: drivers leak browsers when killed (see
//! shared/BROWSERS.md). The temp dir names its owner, and a guard process ends everything in it
//! if shopwatch itself is killed (see `guard` and `reaper`). The port is read from the driver's
//! own output (`--port 0`); picking a free port ourselves races with other drivers.

use super::Browser;
use super::{guard, reaper};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long a driver may take to print its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a driver gets after SIGTERM before its whole group is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot start {program}: {source} (is it installed and on PATH?)")]
    Spawn {
        program: &'static str,
        source: std::io::Error,
    },
    #[error("{program} did not report its port within {}s; its last output: {output}", START_TIMEOUT.as_secs())]
    NoPort {
        program: &'static str,
        output: String,
    },
    #[error("cannot make a temp dir for {program}: {source}")]
    TempDir {
        program: &'static str,
        source: std::io::Error,
    },
}

/// A running driver process. Dropping it kills the whole process group and removes its temp dir.
pub struct LocalDriver {
    pub browser: Browser,
    child: Child,
    pgid: i32,
    url: String,
    temp: Option<tempfile::TempDir>,
    /// Sessions created through it so far (each gets its own browser profile).
    pub sessions: u32,
}

impl LocalDriver {
    pub fn program_for(browser: Browser) -> &'static str {
        match browser {
            Browser::Firefox => "geckodriver",
            Browser::Chrome => "chromedriver",
        }
    }

    /// Starts the driver for `browser` from PATH on a loopback port it chooses itself.
    pub async fn start(browser: Browser) -> Result<LocalDriver, DriverError> {
        let program = Self::program_for(browser);
        // Before anything exists that could leak.
        guard::ensure_running();
        let temp = tempfile::Builder::new()
            .prefix(reaper::DIR_PREFIX)
            .tempdir_in(reaper::root())
            .map_err(|source| DriverError::TempDir { program, source })?;
        reaper::claim(temp.path()).map_err(|source| DriverError::TempDir { program, source })?;
        let mut command = Command::new(program);
        match browser {
            // --websocket-port 0: the default 9222 collides between parallel drivers.
            Browser::Firefox => command.args([
                "--port",
                "0",
                "--host",
                "127.0.0.1",
                "--websocket-port",
                "0",
                "--log",
                "info",
            ]),
            Browser::Chrome => command.args(["--port=0", "--allowed-ips=127.0.0.1"]),
        };
        command
            .env("TMPDIR", temp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|source| DriverError::Spawn { program, source })?;
        let pgid = child.id().map(|id| id as i32).unwrap_or(0);

        let (lines_tx, mut lines_rx) = mpsc::unbounded_channel::<String>();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = lines_tx.clone();
            // Keeps draining after the port is found so the driver never blocks on a full pipe.
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::trace!(target: "shopwatch::driver", "{program}: {line}");
                    let _ = tx.send(line);
                }
            });
        }
        drop(lines_tx);

        let mut driver = LocalDriver {
            browser,
            child,
            pgid,
            url: String::new(),
            temp: Some(temp),
            sessions: 0,
        };
        let mut seen = Vec::new();
        let found = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines_rx.recv().await {
                if let Some(port) = parse_port(&line) {
                    return Some(port);
                }
                seen.push(line);
            }
            None
        })
        .await;
        match found {
            Ok(Some(port)) => {
                driver.url = format!("http://127.0.0.1:{port}");
                tracing::debug!("started {program} at {}", driver.url);
                // Keep draining the channel so the reader tasks never stall.
                tokio::spawn(async move { while lines_rx.recv().await.is_some() {} });
                Ok(driver)
            }
            _ => {
                let output = seen
                    .iter()
                    .rev()
                    .take(5)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" | ");
                driver.stop().await;
                Err(DriverError::NoPort { program, output })
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A fresh browser profile directory for the next session, inside the driver's temp dir
    /// (so the reaper finds what runs from it).
    pub fn next_profile_dir(&mut self) -> Option<std::path::PathBuf> {
        self.sessions += 1;
        let dir = self.temp.as_ref()?.path();
        Some(dir.join(format!("profile-{}", self.sessions)))
    }

    /// Whether the process still runs (it may have crashed, or been killed, while idle).
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM the driver, give it a few seconds, then SIGKILL its whole process group (the
    /// browser included), anything else under its TMPDIR, and remove its temp dir.
    pub async fn stop(mut self) {
        if self.pgid > 0 {
            signal_group(self.pgid, libc::SIGTERM);
            let _ = tokio::time::timeout(STOP_GRACE, self.child.wait()).await;
            signal_group(self.pgid, libc::SIGKILL);
            let _ = self.child.wait().await;
            self.pgid = 0;
        }
        if let Some(temp) = self.temp.take() {
            // Scanning /proc and removing a profile are blocking file work.
            let _ = tokio::task::spawn_blocking(move || remove_temp_dir(temp)).await;
        }
    }
}

/// Kills what still runs with the driver's TMPDIR (a browser's crash handler starts its own
/// session, out of the group), then removes the dir.
fn remove_temp_dir(temp: tempfile::TempDir) {
    let path = temp.path().to_path_buf();
    reaper::kill_under(&path);
    if let Err(e) = temp.close() {
        // A browser may still be writing; one retry after the group is dead.
        tracing::debug!("removing {}: {e}", path.display());
        let _ = std::fs::remove_dir_all(&path);
    }
}

impl Drop for LocalDriver {
    fn drop(&mut self) {
        if self.pgid > 0 {
            signal_group(self.pgid, libc::SIGKILL);
        }
        if let Some(temp) = self.temp.take() {
            remove_temp_dir(temp);
        }
    }
}

fn signal_group(pgid: i32, signal: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group we created; no memory involved.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// geckodriver: "Listening on 127.0.0.1:PORT"; chromedriver: "... started successfully on port N."
fn parse_port(line: &str) -> Option<u16> {
    if let Some(rest) = line.split("Listening on ").nth(1) {
        return rest.trim().rsplit(':').next()?.trim().parse().ok();
    }
    if let Some(rest) = line.split("started successfully on port ").nth(1) {
        return rest.trim().trim_end_matches('.').parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse_port;

    #[test]
    fn reads_ports_from_driver_output() {
        assert_eq!(
            parse_port("1700000000000\tgeckodriver\tINFO\tListening on 127.0.0.1:41234"),
            Some(41234)
        );
        assert_eq!(
            parse_port("ChromeDriver was started successfully on port 39999."),
            Some(39999)
        );
        assert_eq!(parse_port("Starting ChromeDriver 156"), None);
    }
}
