//! A heartbeat's count against its normal, in the real `shopwatch run`: four weeks of the
//! order export's counts (1,000 at this hour of the week) are written into the history before
//! the monitor starts; a ping's count near that passes, one far under or over it fails with
//! both numbers, and a heartbeat without that history passes saying so.

mod util;

use shopwatch::history::config::{HistoryConfig, Target};
use shopwatch::history::write::{write_value, ValueRecord};
use shopwatch::history::{self};
use std::path::Path;
use std::time::{Duration, Instant};
use util::monitor::{get_text, write, Monitor};

const TOKEN: &str = "hb-token-0c9d8e7f6a5b4c3d";
const HOUR: i64 = 3_600_000;
const WEEK: i64 = 7 * 24 * HOUR;

async fn prepare_history(state: &Path) {
    let config = HistoryConfig {
        target: Target::Sqlite(state.join("history.db")),
        max_age: Duration::from_secs(90 * 86_400),
        state_dir: state.to_path_buf(),
    };
    let mut db = history::open(&config, None).await.unwrap();
    let now = history::now_ms();
    for week in 1..=4 {
        for hour in -1..=1 {
            let record = ValueRecord {
                series: "order-export".into(),
                at_ms: history::hour_of(now) - week * WEEK + hour * HOUR + 30 * 60_000,
                value: 1000.0,
            };
            write_value(&mut db, &record).await.unwrap();
        }
    }
    // The price import pinged just before the start (with a count), but has no history.
    std::fs::write(
        state.join("heartbeats.json"),
        format!(r#"{{"price-import": {{"last_ok_ms": {now}, "count": 10.0}}}}"#),
    )
    .unwrap();
}

async fn ping(base: &str, path: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{path}");
}

async fn wait_line(metrics: &str, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = get_text(metrics).await;
        if text.lines().any(|l| l == line) {
            return;
        }
        assert!(Instant::now() < deadline, "no `{line}` in 20 s:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_log(monitor: &Monitor, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !monitor.log().contains(text) {
        assert!(
            Instant::now() < deadline,
            "no log line with {text:?} in 20 s:\n{}",
            monitor.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_far_off_its_normal_fails_the_heartbeat() {
    let keep = tempfile::tempdir().unwrap();
    let state = keep.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    prepare_history(&state).await;
    let config = write(
        keep.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0
state_dir: '{}'
ui: {{auth: none}}
probes:
  - heartbeat: {{name: order-export, every: 1h, check_every: 1s, above: 100, below: 50, token: {{secret: 'env:HB_TOKEN'}}}}
  - heartbeat: {{name: price-import, every: 1h, check_every: 1s, below: 50, token: {{secret: 'env:HB_TOKEN'}}}}
",
            state.display()
        ),
    );
    let mut monitor = Monitor::start_with_env(
        &config,
        tempfile::tempdir().unwrap(),
        &[("HB_TOKEN", TOKEN)],
    );
    let metrics = monitor.metrics_url();
    let base = metrics.trim_end_matches("/metrics").to_string();

    // Near its normal of 1,000: passes.
    ping(&base, "/heartbeat/order-export?count=1040").await;
    wait_line(
        &metrics,
        "shopwatch_heartbeat_count{probe=\"order-export\"} 1040",
    )
    .await;
    wait_line(&metrics, "probe_success{probe=\"order-export\"} 1").await;
    // Far under it (the export lost most orders), then far over it: fails, with both numbers.
    ping(&base, "/heartbeat/order-export?count=80").await;
    wait_line(&metrics, "probe_success{probe=\"order-export\"} 0").await;
    wait_log(
        &monitor,
        "the last ping's count is 80, 92% under its normal of 1000 (more than 50% under fails; the median of the same hour of the week over 4 weeks)",
    )
    .await;
    ping(&base, "/heartbeat/order-export?count=5000").await;
    wait_log(
        &monitor,
        "the last ping's count is 5000, 400% over its normal of 1000",
    )
    .await;
    ping(&base, "/heartbeat/order-export?count=990").await;
    wait_line(&metrics, "probe_success{probe=\"order-export\"} 1").await;

    // No history for the price import: it passes, saying why it cannot judge yet.
    wait_line(&metrics, "probe_success{probe=\"price-import\"} 1").await;
    let price: serde_json::Value =
        serde_json::from_str(&get_text(&format!("{base}/api/v1/probes/price-import")).await)
            .unwrap();
    let changes = price["changes"].as_array().unwrap();
    assert_eq!(
        changes.last().unwrap()["reason"],
        "the last ping's count is 10; not enough history yet: 0 of the same hour in the last 4 weeks with data, 2 needed",
        "{price}"
    );
    assert!(!monitor.log().contains(TOKEN));
    monitor.stop();
}
