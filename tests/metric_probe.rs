//! The metric probe in the real `shopwatch run`: registrations read from the demo shop's
//! `/api/stats` (JSON) and numbers from a real Prometheus, against four weeks of history
//! written into the store before the monitor starts (40 an hour at this hour of the week).
//! The shop's `traffic` fault raises them tenfold or cuts them to none: the probe fails above
//! and below its normal with both numbers, stays quiet when normal, stays quiet under
//! `min_volume`, and passes saying "not enough history yet" for a series it has none of.

mod util;

use shopwatch::history::config::{HistoryConfig, Target};
use shopwatch::history::write::{write_value, ValueRecord};
use shopwatch::history::{self};
use std::path::Path;
use std::time::{Duration, Instant};
use util::monitor::{get_text, promtool_check_metrics, write, Monitor};
use util::prometheus::Prometheus;
use util::{start_shop, Fault, TrafficFault};

const HOUR: i64 = 3_600_000;
const WEEK: i64 = 7 * 24 * HOUR;

/// Four weeks of `series` at 40 around this hour of the week (the hours beside it too, so a
/// run at the turn of the hour still has its normal).
async fn prepare_history(state: &Path, series: &[&str]) {
    let config = HistoryConfig {
        target: Target::Sqlite(state.join("history.db")),
        max_age: Duration::from_secs(90 * 86_400),
        state_dir: state.to_path_buf(),
    };
    let mut db = history::open(&config, None).await.unwrap();
    let now = history::now_ms();
    for name in series {
        for week in 1..=4 {
            for hour in -1..=1 {
                for (minute, value) in [(10, 38.0), (40, 42.0)] {
                    let at = history::hour_of(now) - week * WEEK + hour * HOUR + minute * 60_000;
                    let record = ValueRecord {
                        series: name.to_string(),
                        at_ms: at,
                        value,
                    };
                    write_value(&mut db, &record).await.unwrap();
                }
            }
        }
    }
}

/// Waits until `/metrics` has `line` (a whole series and value).
async fn wait_line(metrics: &str, line: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let text = get_text(metrics).await;
        if text.lines().any(|l| l == line) {
            return text;
        }
        assert!(Instant::now() < deadline, "no `{line}` in 40 s:\n{text}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until the monitor's log has a line with `text`.
async fn wait_log(monitor: &Monitor, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(line) = monitor.log().lines().find(|l| l.contains(text)) {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {text:?} in 40 s:\n{}",
            monitor.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_far_from_their_normal_fail_and_the_rest_pass() {
    let shop = start_shop().await;
    let prometheus = Prometheus::start_with_config("global: {scrape_interval: 1m}\n").await;
    let keep = tempfile::tempdir().unwrap();
    let state = keep.path().join("state");
    prepare_history(&state, &["registrations", "quiet-night", "orders", "surge"]).await;
    let stats = format!("{}/api/stats", shop.url());
    let config = write(
        keep.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0
state_dir: '{state}'
ui: {{auth: none}}
probes:
  - metric: {{name: registrations, url: '{stats}', pointer: /last_hour/registrations, every: 10s, above: 100, below: 50}}
  - metric: {{name: quiet-night, url: '{stats}', pointer: /last_hour/registrations, every: 10s, below: 50, min_volume: 50}}
  - metric: {{name: fresh, url: '{stats}', pointer: /last_hour/registrations, every: 10s, above: 100, below: 50}}
  - metric: {{name: orders, prometheus: '{prom}', query: 'vector(40)', every: 10s, above: 100, below: 50}}
  - metric: {{name: surge, prometheus: '{prom}', query: 'vector(400)', every: 10s, above: 100}}
",
            state = state.display(),
            prom = prometheus.url
        ),
    );
    let mut monitor = Monitor::start(&config, tempfile::tempdir().unwrap());
    let metrics = monitor.metrics_url();
    let base = metrics.trim_end_matches("/metrics").to_string();

    // Normal traffic: 40 against a normal of 40.
    for probe in ["registrations", "quiet-night", "fresh", "orders"] {
        wait_line(&metrics, &format!("probe_success{{probe=\"{probe}\"}} 1")).await;
    }
    let text = wait_line(
        &metrics,
        "shopwatch_probe_metric_normal{probe=\"registrations\"} 40",
    )
    .await;
    assert!(
        text.contains("shopwatch_probe_metric_value{probe=\"registrations\"} 40"),
        "{text}"
    );
    assert!(
        text.contains("shopwatch_probe_metric_normal{probe=\"orders\"} 40"),
        "{text}"
    );
    // No history for `fresh`: no normal, and it passes saying so.
    assert!(
        text.contains("shopwatch_probe_metric_value{probe=\"fresh\"} 40")
            && !text.contains("shopwatch_probe_metric_normal{probe=\"fresh\"}"),
        "{text}"
    );
    let fresh: serde_json::Value =
        serde_json::from_str(&get_text(&format!("{base}/api/v1/probes/fresh")).await).unwrap();
    assert_eq!(
        fresh["changes"][0]["reason"],
        "fresh is 40; not enough history yet: 0 of the same hour in the last 4 weeks with data, 2 needed",
        "{fresh}"
    );
    // From Prometheus: 400 against a normal of 40.
    wait_line(&metrics, "probe_success{probe=\"surge\"} 0").await;
    wait_log(
        &monitor,
        "surge is 400, 900% over its normal of 40 (more than 100% over fails; the median of the same hour of the week over 4 weeks)",
    )
    .await;
    promtool_check_metrics(&text);

    // A bot attack: ten times the registrations.
    shop.set_faults(vec![Fault::Traffic(TrafficFault::Surge)]);
    wait_line(&metrics, "probe_success{probe=\"registrations\"} 0").await;
    wait_log(&monitor, "registrations is 400, 900% over its normal of 40").await;
    // `quiet-night` watches only `below`; `fresh` has nothing to compare with.
    let text = get_text(&metrics).await;
    assert!(
        text.contains("probe_success{probe=\"quiet-night\"} 1")
            && text.contains("probe_success{probe=\"fresh\"} 1"),
        "{text}"
    );

    // The form breaks: none at all. `quiet-night`'s min_volume of 50 is more than 0 and 40:
    // too little to judge.
    shop.set_faults(vec![Fault::Traffic(TrafficFault::Drop)]);
    wait_log(&monitor, "registrations is 0, 100% under its normal of 40").await;
    wait_line(
        &metrics,
        "shopwatch_probe_metric_value{probe=\"quiet-night\"} 0",
    )
    .await;
    let text = get_text(&metrics).await;
    assert!(
        text.contains("probe_success{probe=\"quiet-night\"} 1")
            && text.contains("probe_success{probe=\"registrations\"} 0"),
        "{text}"
    );

    // Back to normal.
    shop.clear_faults();
    let text = wait_line(&metrics, "probe_success{probe=\"registrations\"} 1").await;
    promtool_check_metrics(&text);
    assert!(
        !monitor.log().contains("quiet-night is"),
        "quiet-night never failed:\n{}",
        monitor.log()
    );
    monitor.stop();
}
