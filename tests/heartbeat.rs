//! Heartbeats in the real `shopwatch run`: a job pings `/heartbeat/<name>` over HTTP (as curl in
//! a crontab would), and the heartbeat probe passes, fails on a fail ping, a count under `min`,
//! or a ping that is late, and keeps what it heard across a restart. Wrong tokens are refused
//! and counted, and no token is ever in the log or the metrics.

mod util;

use std::time::Duration;
use util::monitor::{get_text, write, Monitor};

const TOKEN: &str = "hb-token-5f1e9a2c7d3b4e60";

fn config(dir: &std::path::Path, state: &std::path::Path) -> std::path::PathBuf {
    write(
        dir,
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0
state_dir: '{}'
probes:
  - heartbeat:
      name: order-export
      every: 3s
      grace: 1s
      check_every: 1s
      min: 1
      token: {{secret: 'env:ORDER_EXPORT_TOKEN'}}
",
            state.display()
        ),
    )
}

async fn ping(base: &str, path: &str, token: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Waits until `/metrics` has `line`.
async fn wait_for(monitor: &Monitor, metrics: &str, line: &str) -> String {
    monitor
        .wait_for_text(metrics, line, Duration::from_secs(15))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_pass_and_fail_the_heartbeat_and_survive_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let file = config(work.path(), state.path());
    let mut monitor = Monitor::start_with_env(&file, work, &[("ORDER_EXPORT_TOKEN", TOKEN)]);
    let metrics = monitor.metrics_url();
    let base = metrics.trim_end_matches("/metrics").to_string();

    assert_eq!(
        ping(&base, "/heartbeat/order-export?count=12", TOKEN).await,
        (200, "ok\n".into())
    );
    let text = wait_for(
        &monitor,
        &metrics,
        "shopwatch_heartbeat_count{probe=\"order-export\"} 12",
    )
    .await;
    assert!(
        text.contains("probe_success{probe=\"order-export\"} 1"),
        "{text}"
    );

    // Wrong and missing tokens: 401, counted; an unknown heartbeat: 404.
    let wrong = "not-the-heartbeat-token-123";
    let (status, body) = ping(&base, "/heartbeat/order-export", wrong).await;
    assert_eq!(status, 401);
    assert!(!body.contains(wrong) && !body.contains(TOKEN));
    let anonymous = reqwest::get(format!("{base}/heartbeat/order-export"))
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(ping(&base, "/heartbeat/nightly-backup", TOKEN).await.0, 404);
    assert_eq!(
        ping(&base, "/heartbeat/order-export?count=many", TOKEN)
            .await
            .0,
        400
    );
    wait_for(
        &monitor,
        &metrics,
        "shopwatch_heartbeat_rejected_pings{probe=\"order-export\"} 2",
    )
    .await;

    // The job says it failed; then it runs again, but exports nothing (under min 1).
    assert_eq!(
        ping(&base, "/heartbeat/order-export/fail", TOKEN).await.0,
        200
    );
    wait_for(
        &monitor,
        &metrics,
        "probe_success{probe=\"order-export\"} 0",
    )
    .await;
    ping(&base, "/heartbeat/order-export?count=40", TOKEN).await;
    wait_for(
        &monitor,
        &metrics,
        "probe_success{probe=\"order-export\"} 1",
    )
    .await;
    ping(&base, "/heartbeat/order-export?count=0", TOKEN).await;
    wait_for(
        &monitor,
        &metrics,
        "probe_success{probe=\"order-export\"} 0",
    )
    .await;
    // A good ping again, then none: late after every + grace (3 s + 1 s).
    ping(&base, "/heartbeat/order-export?count=7", TOKEN).await;
    let text = wait_for(
        &monitor,
        &metrics,
        "probe_success{probe=\"order-export\"} 1",
    )
    .await;
    let last_ping = text
        .lines()
        .find(|l| {
            l.starts_with("shopwatch_heartbeat_last_ping_timestamp_seconds{probe=\"order-export\"}")
        })
        .expect("the last ping's time")
        .to_string();
    wait_for(
        &monitor,
        &metrics,
        "probe_success{probe=\"order-export\"} 0",
    )
    .await;
    let log = monitor.stop();
    assert!(log.contains("late: the last ping was"), "{log}");
    assert!(log.contains("the job reported a failure at"), "{log}");
    assert!(
        log.contains("the last ping's count 0 is under min 1"),
        "{log}"
    );
    for secret in [TOKEN, wrong] {
        assert!(!log.contains(secret), "{log}");
        assert!(!text.contains(secret));
    }

    // Restarted with the same state_dir: the last ping is remembered (and still late).
    let work = tempfile::tempdir().unwrap();
    let file = config(work.path(), state.path());
    let mut monitor = Monitor::start_with_env(&file, work, &[("ORDER_EXPORT_TOKEN", TOKEN)]);
    let metrics = monitor.metrics_url();
    let text = wait_for(&monitor, &metrics, &last_ping).await;
    assert!(
        text.contains("probe_success{probe=\"order-export\"} 0"),
        "{text}"
    );
    assert!(get_text(&metrics)
        .await
        .contains("shopwatch_heartbeat_count{probe=\"order-export\"} 7"));
    monitor.stop();
}
