//! Soak: the shipped demo journey every 10 s on each browser (Firefox and Chromium at once,
//! `max_sessions: 2`) plus an HTTP probe, against a healthy demo shop, for `--minutes` (default
//! 60), with alerts to a local webhook at `failure_threshold: 1`. The shop is never broken, so
//! every notification is a false alert.
//!
//! Every minute it samples the monitor's RSS, open descriptors and threads (from /proc) and
//! the processes running under its TMPDIR (drivers and browsers); at the end it reads the runs
//! by outcome from /metrics, stops the monitor with SIGTERM and looks for anything left.
//! Run: `cargo bench --bench soak -- --minutes 60`. Not part of CI: it takes an hour.

use axum::routing::post;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here.
    }
    let minutes: u64 = args
        .iter()
        .position(|a| a == "--minutes")
        .and_then(|i| args.get(i + 1))
        .and_then(|m| m.parse().ok())
        .unwrap_or(60);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let shop = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        demo_shop::start(listener, demo_shop::ShopConfig::default())
            .await
            .expect("demo shop")
    });
    let received = Arc::new(Mutex::new(Vec::<String>::new()));
    let hook_port = runtime.block_on(webhook(received.clone()));

    let dir = tempfile::tempdir().expect("temp dir");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let demo = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("journeys/demo-shop.yaml"),
    )
    .expect("demo journey");
    for browser in ["firefox", "chrome"] {
        let text = demo
            .replace(
                "journey: demo-checkout",
                &format!("journey: demo-checkout-{browser}"),
            )
            .replace("\nevery: 1m\n", "\nevery: 10s\n")
            .replace("\nbrowser: firefox\n", &format!("\nbrowser: {browser}\n"))
            .replace("http://127.0.0.1:8088", &format!("http://{}", shop.addr));
        std::fs::write(dir.path().join(format!("{browser}.yaml")), text).unwrap();
    }
    let port = free_port();
    let config = dir.path().join("shopwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}
location: soak
webdriver: {{max_sessions: 2}}
journeys: [firefox.yaml, chrome.yaml]
probes:
  - http: {{name: shop-home, url: 'http://{shop}/', every: 10s}}
alerting:
  failure_threshold: 1
  state_file: state/alerts.json
  sinks:
    - webhook: {{url: 'http://127.0.0.1:{hook_port}/hook'}}
",
            shop = shop.addr
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .args(["run", "--config"])
        .arg(&config)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start shopwatch");
    let pid = child.id();
    println!(
        "soak: {minutes} min, demo journey every 10 s in Firefox and Chromium, probe every 10 s"
    );
    println!("minute   RSS MB   fds  threads  driver+browser processes");
    let started = Instant::now();
    let mut samples = Vec::new();
    for minute in 0..=minutes {
        let until = started + Duration::from_secs(60 * minute);
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        let sample = (
            minute,
            rss_mb(pid),
            fds(pid),
            threads(pid),
            processes_under(&tmp).len(),
        );
        println!(
            "{:6} {:8.1} {:5} {:8} {:8}",
            sample.0, sample.1, sample.2, sample.3, sample.4
        );
        samples.push(sample);
    }
    let metrics = scrape(port);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    std::thread::sleep(Duration::from_secs(2));
    let left = processes_under(&tmp);
    let left_dirs = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().count())
        .unwrap_or(0);

    println!("\nruns by outcome:");
    for line in metrics.lines().filter(|l| {
        (l.starts_with("shopwatch_journey_runs_total")
            || l.starts_with("shopwatch_probe_runs_total"))
            && !l.ends_with(" 0")
    }) {
        println!("  {line}");
    }
    for line in metrics
        .lines()
        .filter(|l| {
            l.starts_with("shopwatch_step_failures_total")
                || l.starts_with("shopwatch_skipped_runs_total")
        })
        .filter(|l| !l.ends_with(" 0"))
    {
        println!("  {line}");
    }
    let first = samples.get(1).or(samples.first()).copied().unwrap();
    let last = *samples.last().unwrap();
    let max_rss = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    println!(
        "\nRSS {:.1} MB after 1 min, {:.1} MB at the end (max {max_rss:.1}); fds {} -> {}; threads {} -> {}",
        first.1, last.1, first.2, last.2, first.3, last.3
    );
    let notifications = received.lock().unwrap().len();
    println!("false alerts (notifications received): {notifications}");
    for body in received.lock().unwrap().iter().take(5) {
        println!("  {}", body.chars().take(300).collect::<String>());
    }
    println!(
        "left after SIGTERM: {} processes, {left_dirs} entries in TMPDIR",
        left.len()
    );
}

/// A webhook receiver on a free port that keeps every body.
async fn webhook(received: Arc<Mutex<Vec<String>>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: String| {
            count.fetch_add(1, Ordering::Relaxed);
            received.lock().unwrap().push(body);
            async { "ok" }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn status_field(pid: u32, field: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_string())
}

fn rss_mb(pid: u32) -> f64 {
    status_field(pid, "VmRSS:")
        .and_then(|v| v.trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn threads(pid: u32) -> usize {
    status_field(pid, "Threads:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Processes whose TMPDIR is `tmp` or under it: the drivers and browsers of the monitor.
fn processes_under(tmp: &Path) -> Vec<PathBuf> {
    let tmp = tmp.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let ours = environ.split(|b| *b == 0).any(|var| {
            String::from_utf8_lossy(var)
                .strip_prefix("TMPDIR=")
                .is_some_and(|dir| dir.starts_with(&tmp))
        });
        if ours {
            found.push(entry.path());
        }
    }
    found
}

fn scrape(port: u16) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}
