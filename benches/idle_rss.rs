//! Idle memory of the monitor: `shopwatch run` (release build) with 100 journeys configured,
//! none due during the measurement, plus two probes; RSS read from /proc after it settled and
//! after /metrics was scraped.
//!
//! Method: 100 copies of the shipped demo journey (6 steps each) with distinct names and a daily
//! `cron` time twelve hours away, so nothing runs; the monitor starts, the bench waits 3 s, reads
//! VmRSS and VmHWM, scrapes /metrics 10 times and reads them again.
//! Run: `cargo bench --bench idle_rss`. Target: idle RSS < 30 MB.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const JOURNEYS: usize = 100;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here.
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("journeys/demo-shop.yaml"),
    )
    .expect("demo journey");
    let hour = (chrono_hour() + 12) % 24;
    let mut list = String::new();
    for i in 0..JOURNEYS {
        let text = demo
            .replace(
                "journey: demo-checkout",
                &format!("journey: checkout-{i:03}"),
            )
            .replace("\nevery: 1m\n", &format!("\ncron: \"0 {hour} * * *\"\n"));
        let name = format!("journey-{i:03}.yaml");
        std::fs::write(dir.path().join(&name), text).expect("write journey");
        list.push_str(&format!("  - {name}\n"));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("shopwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nlocation: bench\njourneys:\n{list}probes:\n  - http: {{name: home, url: 'http://127.0.0.1:9/', every: 1h}}\n  - tls: {{name: cert, target: '127.0.0.1:9', server_name: localhost, every: 1h}}\n"
        ),
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start shopwatch");
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(3));
    let (rss, hwm) = memory(pid);
    let mut bytes = 0;
    for _ in 0..10 {
        bytes = scrape(port);
    }
    let (rss_after, hwm_after) = memory(pid);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    println!("shopwatch run, {JOURNEYS} journeys (6 steps each) and 2 probes configured, idle:");
    println!(
        "  RSS after start:        {:6.1} MB (peak {:.1} MB)",
        mb(rss),
        mb(hwm)
    );
    println!(
        "  RSS after 10 scrapes:   {:6.1} MB (peak {:.1} MB); /metrics is {} bytes",
        mb(rss_after),
        mb(hwm_after),
        bytes
    );
    println!(
        "  target < 30 MB: {}",
        if rss_after < 30 * 1024 * 1024 {
            "met"
        } else {
            "NOT met"
        }
    );
}

fn chrono_hour() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (secs / 3600) % 24
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// VmRSS and VmHWM of `pid`, bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// GET /metrics over a plain socket; the body size.
fn scrape(port: u16) -> usize {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    let text = String::from_utf8_lossy(&response);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "scrape: {}",
        &text[..text.len().min(200)]
    );
    body.len()
}
