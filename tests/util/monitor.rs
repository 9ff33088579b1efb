//! The real `shopwatch run` binary as a long-running child, and small helpers the tests that
//! drive it share: `use util::monitor::{Monitor, write, free_port, get_text}`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `shopwatch run` child with its stderr collected, its own TMPDIR (to find the browsers and
/// drivers it started), stopped with SIGKILL if a test panics before stopping it.
pub struct Monitor {
    child: Child,
    log: Arc<Mutex<String>>,
    /// The child's TMPDIR (`<work>/tmp`): what it starts is found by it.
    pub tmp: PathBuf,
    _work: tempfile::TempDir,
}

impl Monitor {
    /// Starts `shopwatch run --config <config>` with TMPDIR under `work`.
    pub fn start(config: &Path, work: tempfile::TempDir) -> Monitor {
        Monitor::spawn(config, work, None, &[])
    }

    /// As [`Monitor::start`], in the working directory `dir` when given.
    pub fn start_in(config: &Path, work: tempfile::TempDir, dir: Option<&Path>) -> Monitor {
        Monitor::spawn(config, work, dir, &[])
    }

    /// As [`Monitor::start`], with extra environment variables for the child (a webhook
    /// secret, an SMTP password, ...).
    pub fn start_with_env(
        config: &Path,
        work: tempfile::TempDir,
        envs: &[(&str, &str)],
    ) -> Monitor {
        Monitor::spawn(config, work, None, envs)
    }

    /// As [`Monitor::start`], with at most `files` open files (soft and hard limit, so the
    /// monitor cannot raise it), as a service under a tight `ulimit -n`.
    pub fn start_with_fd_limit(config: &Path, work: tempfile::TempDir, files: u64) -> Monitor {
        Monitor::spawn_with(config, work, None, &[], Some(files), &[])
    }

    /// As [`Monitor::start_with_env`], with `args` before `run` (`--log-format json`).
    pub fn start_with_args(
        config: &Path,
        work: tempfile::TempDir,
        envs: &[(&str, &str)],
        args: &[&str],
    ) -> Monitor {
        Monitor::spawn_with(config, work, None, envs, None, args)
    }

    fn spawn(
        config: &Path,
        work: tempfile::TempDir,
        dir: Option<&Path>,
        envs: &[(&str, &str)],
    ) -> Monitor {
        Monitor::spawn_with(config, work, dir, envs, None, &[])
    }

    fn spawn_with(
        config: &Path,
        work: tempfile::TempDir,
        dir: Option<&Path>,
        envs: &[(&str, &str)],
        fd_limit: Option<u64>,
        args: &[&str],
    ) -> Monitor {
        let tmp = work.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp dir");
        let mut command = Command::new(env!("CARGO_BIN_EXE_shopwatch"));
        command
            .args(args)
            .arg("run")
            .arg("--config")
            .arg(config)
            .env("TMPDIR", &tmp)
            .env("SHOPWATCH_LOG", "shopwatch=debug,warn")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        if let Some(files) = fd_limit {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit {
                rlim_cur: files,
                rlim_max: files,
            };
            // SAFETY: setrlimit between fork and exec touches only the child's own limits.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command.spawn().expect("spawn shopwatch run");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Monitor {
            child,
            log,
            tmp,
            _work: work,
        }
    }

    /// Its process id (to compare with what `/proc/<pid>` says).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log has a line containing `text`; returns that line.
    pub fn wait_for_log(&mut self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(text)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "shopwatch exited ({status}) before logging {text:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {text:?} within {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls `url` (its `/metrics`, `/healthz`) until the body contains `text`; the body.
    pub async fn wait_for_text(&self, url: &str, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let body = get_text(url).await;
            if body.contains(text) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{url} has no {text:?} within {within:?}:\n{body}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until a browser session is open (a run is under way), by its metrics.
    pub async fn wait_for_open_session(&self, metrics_url: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !get_text(metrics_url)
            .await
            .contains(r#"shopwatch_browser_sessions{state="active"} 1"#)
        {
            assert!(
                Instant::now() < deadline,
                "no session opened:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The metrics URL the monitor announced (it may have bound port 0).
    pub fn metrics_url(&mut self) -> String {
        let line = self.wait_for_log("metrics on http://", Duration::from_secs(30));
        let url = line
            .split("metrics on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("URL in the start line");
        url.to_string()
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the pid of our own child.
        let sent = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(sent, 0, "kill({signal})");
    }

    /// Waits for the monitor to exit; its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "shopwatch did not exit within {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it with SIGTERM and asserts a clean exit with no browser or driver left.
    pub fn stop(mut self) -> String {
        self.signal(libc::SIGTERM);
        let code = self.wait_exit(Duration::from_secs(60));
        assert_eq!(code, 0, "exit code after SIGTERM:\n{}", self.log());
        self.assert_nothing_left();
        // It stopped on its own: its guard must have found nothing to clean up after it.
        let log = self.log();
        assert!(!log.contains(super::GUARD_CLEANED_UP), "{log}");
        log
    }

    pub fn assert_nothing_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut left = super::processes_under(&self.tmp);
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            left = super::processes_under(&self.tmp);
        }
        assert!(left.is_empty(), "left behind: {left:#?}\n{}", self.log());
        let drivers: Vec<String> = std::fs::read_dir(&self.tmp)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|name| name.starts_with("shopwatch-driver-"))
            .collect();
        assert!(drivers.is_empty(), "driver temp dirs left: {drivers:?}");
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `shopwatch run` of one probe (`- kind: {...}`, a line under `probes:`) in a directory of its
/// own: the monitor, its /metrics URL, and the first exposition with `line` (within 20 s).
pub async fn run_probe(probe: &str, line: &str) -> (Monitor, String, String) {
    let work = tempfile::tempdir().expect("temp dir");
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!("listen: 127.0.0.1:0\nprobes:\n  {probe}\n"),
    );
    let mut monitor = Monitor::start(&config, work);
    let metrics = monitor.metrics_url();
    let text = monitor
        .wait_for_text(&metrics, line, Duration::from_secs(20))
        .await;
    (monitor, metrics, text)
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub async fn get_text(url: &str) -> String {
    reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .text()
        .await
        .expect("body")
}

/// `promtool check metrics` reports nothing on `exposition`.
pub fn promtool_check_metrics(exposition: &str) {
    use std::io::Write;
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is not installed: run `bash scripts/test` (Debian package `prometheus`)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics:\n{said}\non:\n{exposition}"
    );
}
