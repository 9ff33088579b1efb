//! Shared by the integration tests: start the demo shop in-process, run the real `shopwatch`
//! binary against real browsers, and prove nothing was left behind.

#![allow(dead_code, unused_imports, unused_macros)]

pub mod alerting;
pub mod dovecot;
pub mod monitor;
pub mod nsd;
pub mod postgres;
pub mod prometheus;
pub mod steps;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub use demo_shop::{Fault, RunningShop, ShopConfig, TrafficFault, XmlFault};

/// Browser sessions are hundreds of MB and CPU-heavy: at most this many run at once on the
/// machine (`SHOPWATCH_TEST_BROWSERS` to change it), across every test binary, since
/// scripts/run-test-binaries runs several browser binaries side by side.
const BROWSERS_AT_ONCE: usize = 2;

/// Browser slots held: lock files under the system temp dir, so the kernel frees them when
/// their holder ends, however it ends.
pub struct BrowserSlots(Vec<std::fs::File>);

/// One browser slot, for tests that start browsers other than through [`Run`].
pub async fn browser_slot() -> BrowserSlots {
    browser_slots(1).await
}

/// `count` browser slots at once, for tests that run that many browsers side by side (taking
/// them one by one could deadlock with another binary holding the rest).
pub async fn browser_slots(count: usize) -> BrowserSlots {
    tokio::task::spawn_blocking(move || take_browser_slots(count))
        .await
        .expect("browser slot thread")
}

fn take_browser_slots(count: usize) -> BrowserSlots {
    use std::os::fd::AsRawFd;
    let total = std::env::var("SHOPWATCH_TEST_BROWSERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(BROWSERS_AT_ONCE)
        .max(count);
    // SAFETY: getuid(2) has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("shopwatch-test-browsers-{uid}"));
    std::fs::create_dir_all(&dir).expect("browser slot dir");
    let open = |name: String| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(name))
            .expect("browser slot file")
    };
    // SAFETY: flock(2) on a file descriptor this closure's caller owns.
    let lock = |file: &std::fs::File, mode| unsafe { libc::flock(file.as_raw_fd(), mode) == 0 };
    // A turnstile: one waiter at a time gathers its slots, so a test that needs two is not
    // starved by tests that keep taking one.
    let turnstile = open("turnstile".to_string());
    assert!(lock(&turnstile, libc::LOCK_EX), "browser slot turnstile");
    let mut held: Vec<(usize, std::fs::File)> = Vec::new();
    while held.len() < count {
        for slot in 0..total {
            if held.len() == count || held.iter().any(|(taken, _)| *taken == slot) {
                continue;
            }
            let file = open(format!("slot-{slot}"));
            if lock(&file, libc::LOCK_EX | libc::LOCK_NB) {
                held.push((slot, file));
            }
        }
        if held.len() < count {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    drop(turnstile);
    BrowserSlots(held.into_iter().map(|(_, file)| file).collect())
}

pub const BROWSERS: [&str; 2] = ["firefox", "chrome"];

pub async fn start_shop() -> RunningShop {
    start_shop_with(ShopConfig::default()).await
}

pub async fn start_shop_with(config: ShopConfig) -> RunningShop {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    demo_shop::start(listener, config)
        .await
        .expect("start demo shop")
}

/// Starts `shop`'s HTTPS listener on 127.0.0.1 with a self-signed certificate for `localhost`
/// (rcgen's, valid until 4096-01-01); its address.
pub async fn start_self_signed_tls(shop: &mut RunningShop) -> std::net::SocketAddr {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    shop.start_tls(
        listener,
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
    )
    .await
    .expect("TLS listener")
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A driver started outside shopwatch (as a Selenium container or Grid would be), for tests
/// that pass it as `--webdriver` (after their `require_browser`).
pub async fn start_outside_driver(
    browser: shopwatch::journey::model::Browser,
) -> shopwatch::webdriver::driver::LocalDriver {
    shopwatch::webdriver::driver::LocalDriver::start(browser)
        .await
        .unwrap_or_else(|e| panic!("start the {browser:?} driver: {e}"))
}

/// Fails loudly when a browser or driver this suite needs is missing: a browser test that
/// cannot run must not pass.
pub fn require_browser(browser: &str) {
    let needed: &[&str] = match browser {
        "firefox" => &["geckodriver", "firefox-esr"],
        _ => &["chromedriver", "chromium"],
    };
    for program in needed {
        let found = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
            .unwrap_or(false);
        assert!(
            found,
            "{program} is not on PATH: run `bash scripts/test` (it installs browsers and drivers)"
        );
    }
}

/// What one `shopwatch` invocation did.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// `--json` objects, one per run.
    pub runs: Vec<serde_json::Value>,
    pub elapsed: Duration,
    /// Keeps the artifacts and TMPDIR alive for assertions.
    pub work: tempfile::TempDir,
}

impl Outcome {
    pub fn run(&self) -> &serde_json::Value {
        assert_eq!(
            self.runs.len(),
            1,
            "expected one run; stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        &self.runs[0]
    }

    pub fn step(&self, name: &str) -> &serde_json::Value {
        self.run()["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no step {name} in {}", self.run()))
    }

    pub fn artifacts_dir(&self) -> PathBuf {
        self.work.path().join("artifacts")
    }

    pub fn describe(&self) -> String {
        format!(
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs while the child is alive, given its pid and TMPDIR (to watch or signal it).
pub type WhileRunning = Box<dyn FnOnce(u32, &Path) + Send + 'static>;

pub struct Run<'a> {
    pub args: Vec<String>,
    /// Holds a journey file written for this run.
    journey_dir: Option<tempfile::TempDir>,
    /// Puts a plain file where the artifacts dir would go, so nothing can be written there.
    pub block_artifacts: bool,
    pub env: Vec<(&'a str, String)>,
    /// Called with the child's pid once it runs (to signal it).
    pub while_running: Option<WhileRunning>,
}

impl<'a> Run<'a> {
    pub fn new(args: &[&str]) -> Self {
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            journey_dir: None,
            block_artifacts: false,
            env: Vec::new(),
            while_running: None,
        }
    }

    /// `shopwatch check` of a journey given as YAML, against `base_url` in `browser`.
    pub fn journey(yaml: &str, base_url: &str, browser: &str) -> Self {
        let (dir, file) = journey_file(yaml);
        let mut run = Run::new(&[
            "check",
            file.to_str().expect("UTF-8 temp path"),
            "--base-url",
            base_url,
            "--browser",
            browser,
        ]);
        run.journey_dir = Some(dir);
        run
    }

    pub fn env(mut self, key: &'a str, value: impl Into<String>) -> Self {
        self.env.push((key, value.into()));
        self
    }

    /// Runs `shopwatch` with `--json --artifacts <tmp>/artifacts`, TMPDIR in its own temp dir,
    /// then asserts that no process started under that TMPDIR is left and no driver temp dir.
    pub async fn go(self) -> Outcome {
        let _slot = browser_slot().await;
        let work = tempfile::Builder::new()
            .prefix("shopwatch-test-")
            .tempdir()
            .expect("temp dir");
        let tmp = work.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp dir");
        if self.block_artifacts {
            std::fs::write(work.path().join("artifacts"), "not a directory").expect("block");
        }
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_shopwatch"));
        command
            .args(&self.args)
            .arg("--json")
            .arg("--artifacts")
            .arg(work.path().join("artifacts"))
            .env("TMPDIR", &tmp)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let child = command.spawn().expect("spawn shopwatch");
        if let Some(hook) = self.while_running {
            let pid = child.id().expect("pid");
            let tmp = tmp.clone();
            tokio::task::spawn_blocking(move || hook(pid, &tmp))
                .await
                .expect("hook");
        }
        let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
            .await
            .expect("shopwatch finished within 3 minutes")
            .expect("wait for shopwatch");
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        let runs = stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
            .collect();
        let outcome = Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout,
            stderr,
            runs,
            elapsed,
            work,
        };
        assert_nothing_left(&tmp, &outcome);
        outcome
    }
}

/// Kills (SIGKILL) every process [`processes_under`] `tmp` finds: the browsers a driver the
/// test started left behind.
pub fn kill_processes_under(tmp: &Path) {
    for process in processes_under(tmp) {
        if let Some(pid) = process
            .split(':')
            .next()
            .and_then(|p| p.parse::<i32>().ok())
        {
            // SAFETY: kill(2) on a process the test's own driver started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Live (non-zombie) processes whose environment has TMPDIR=`tmp`: drivers and browsers.
pub fn processes_under(tmp: &Path) -> Vec<String> {
    let needle = format!("TMPDIR={}", tmp.display());
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let matches = environ.split(|b| *b == 0).any(|var| {
            var.starts_with(needle.as_bytes())
                && (var.len() == needle.len() || var[needle.len()] == b'/')
        });
        if !matches {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .map(|rest| rest.trim_start().starts_with('Z'))
            .unwrap_or(false);
        if !zombie {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

fn assert_nothing_left(tmp: &Path, outcome: &Outcome) {
    // Reaping can lag the parent's exit by a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left = processes_under(tmp);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = processes_under(tmp);
    }
    assert!(
        left.is_empty(),
        "processes left behind: {left:#?}\n{}",
        outcome.describe()
    );
    let dirs: Vec<_> = std::fs::read_dir(tmp)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    let drivers: Vec<_> = dirs
        .iter()
        .filter(|d| d.starts_with("shopwatch-driver-"))
        .collect();
    assert!(
        drivers.is_empty(),
        "driver temp dirs left behind: {drivers:?}\n{}",
        outcome.describe()
    );
    // The run ended on its own: its guard must have found nothing to clean up after it.
    assert!(
        !outcome.stderr.contains(GUARD_CLEANED_UP),
        "shopwatch left its browsers to its guard\n{}",
        outcome.describe()
    );
}

/// What shopwatch's guard logs when it had to end a dead shopwatch's drivers and browsers.
pub const GUARD_CLEANED_UP: &str = "shopwatch ended without stopping its browsers";

/// Writes a journey file into a temp dir (kept alive by the returned handle).
pub fn journey_file(yaml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("journey.yaml");
    std::fs::write(&path, yaml).expect("write journey");
    (dir, path)
}

/// The shipped demo journey run against `shop` in `browser`.
pub fn demo_journey_args(shop: &RunningShop, browser: &str) -> Vec<String> {
    vec![
        "check".to_string(),
        repo_path("journeys/demo-shop.yaml").display().to_string(),
        "--base-url".to_string(),
        shop.url(),
        "--browser".to_string(),
        browser.to_string(),
    ]
}

pub fn args(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// Every file below `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
