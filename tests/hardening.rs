//! The monitor under abuse: a panic inside a run, a flood of idle connections under a tight
//! open-files limit. Each test reproduces a way the monitor once failed the shop or itself.

mod util;

use std::time::{Duration, Instant};
use util::alerting::WebhookReceiver;
use util::monitor::{get_text, write, Monitor};
use util::start_shop;

/// A panic in a run (a deliberate one, at the start of a step) makes that run an `error`, the
/// journey keeps its schedule and runs again, and `/healthz` says the monitor is degraded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_run_is_an_error_and_the_journey_keeps_its_schedule() {
    let shop = start_shop().await;
    let work = tempfile::tempdir().unwrap();
    write(
        work.path(),
        "panicky.yaml",
        &format!(
            "journey: panicky
base_url: {}
every: 10s
steps:
  - step: home
    do:
      - http: {{ url: / }}
",
            shop.url()
        ),
    );
    let config = write(
        work.path(),
        "shopwatch.yaml",
        "listen: 127.0.0.1:0\njourneys: [panicky.yaml]\n",
    );
    let mut monitor = Monitor::start_with_env(
        &config,
        work,
        &[("SHOPWATCH_TEST_PANIC_AT", "panicky/home")],
    );
    let metrics = monitor.metrics_url();
    // Two `error` runs: the journey ran again after the first panic.
    let text = monitor
        .wait_for_text(
            &metrics,
            r#"shopwatch_journey_runs_total{journey="panicky",outcome="error"} 2"#,
            Duration::from_secs(60),
        )
        .await;
    assert!(
        text.contains(r#"shopwatch_monitor_errors_total{kind="panic"} 2"#),
        "{text}"
    );
    let health: serde_json::Value =
        serde_json::from_str(&get_text(&metrics.replace("/metrics", "/healthz")).await).unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["panics"], 2, "{health}");
    assert!(
        health["reasons"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("2 panic(s) caught, the last in journey panicky")),
        "{health}"
    );
    let last = health["last_panic"].as_str().unwrap_or_default();
    assert!(
        last.contains("journey panicky") && last.contains("deliberate panic"),
        "{health}"
    );
    let log = monitor.stop();
    assert!(
        log.contains("error in") && log.contains("internal error: shopwatch panicked"),
        "{log}"
    );
}

/// A run that panics with its session open on a remote WebDriver (here a geckodriver the test
/// starts, which serves one session at a time, as a Grid node with one slot does): the session
/// is deleted anyway (fantoccini deletes it when the last handle to it is dropped, which the
/// unwinding does), so the next run gets one and reaches the same step (panicking there again)
/// instead of being refused a session until the endpoint's own timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_panics_does_not_leave_its_remote_session_open() {
    util::require_browser("firefox");
    let _slot = util::browser_slot().await;
    let shop = start_shop().await;
    let work = tempfile::tempdir().unwrap();
    let driver_tmp = tempfile::tempdir().unwrap();
    let driver_port = util::monitor::free_port();
    let mut driver = std::process::Command::new("geckodriver")
        .args(["--host", "127.0.0.1", "--port", &driver_port.to_string()])
        .env("TMPDIR", driver_tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start geckodriver");
    write(
        work.path(),
        "remote.yaml",
        &format!(
            "journey: remote-panicky
base_url: {}
every: 10s
steps:
  - step: home
    do:
      - open: /
  - step: second
    do:
      - open: /cart
",
            shop.url()
        ),
    );
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\nwebdriver: {{url: \"http://127.0.0.1:{driver_port}\"}}\njourneys: [remote.yaml]\n"
        ),
    );
    let mut monitor = Monitor::start_with_env(
        &config,
        work,
        &[("SHOPWATCH_TEST_PANIC_AT", "remote-panicky/second")],
    );
    let metrics = monitor.metrics_url();
    // Two panics at `second`: the second run had a session too.
    let text = monitor
        .wait_for_text(
            &metrics,
            r#"shopwatch_monitor_errors_total{kind="panic"} 2"#,
            Duration::from_secs(90),
        )
        .await;
    assert!(
        !text.contains(r#"kind="webdriver"} 1"#),
        "no run was refused a session:\n{text}"
    );
    // And the endpoint is free again after each.
    let status_url = format!("http://127.0.0.1:{driver_port}/status");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status: serde_json::Value = reqwest::get(&status_url)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["value"]["ready"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "geckodriver still holds a session: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    monitor.stop();
    driver.kill().expect("kill geckodriver");
    let _ = driver.wait();
    util::kill_processes_under(driver_tmp.path());
}

/// 120 idle connections to the monitor's listener while it may have only 64 open files: the
/// listener keeps within its share, `/metrics` still answers, and the shop's probe stays `ok`
/// (once, the probe failed with "too many open files" and paged the shop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_under_a_tight_fd_limit_neither_block_metrics_nor_page_the_shop() {
    let shop = start_shop().await;
    let hook = WebhookReceiver::start().await;
    let work = tempfile::tempdir().unwrap();
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0
probes:
  - http: {{name: shop-home, url: \"{}/\", every: 10s, timeout: 5s}}
alerting:
  failure_threshold: 1
  state_file: state/alerts.json
  sinks:
    - webhook: {{url: \"{}\"}}
",
            shop.url(),
            hook.url
        ),
    );
    let mut monitor = Monitor::start_with_fd_limit(&config, work, 64);
    let metrics = monitor.metrics_url();
    let addr = metrics
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();
    monitor
        .wait_for_text(
            &metrics,
            r#"shopwatch_probe_runs_total{probe="shop-home",kind="http",outcome="ok"} 1"#,
            Duration::from_secs(60),
        )
        .await;

    let mut idle = Vec::new();
    for _ in 0..120 {
        idle.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    // Two more probe runs while the connections are held; each must pass, and /metrics must
    // answer in time (a fresh client, as Prometheus would connect).
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = client
            .get(&metrics)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "/metrics did not answer under the flood: {e}\n{}",
                    monitor.log()
                )
            })
            .text()
            .await
            .unwrap();
        if text
            .contains(r#"shopwatch_probe_runs_total{probe="shop-home",kind="http",outcome="ok"} 3"#)
        {
            for outcome in ["failed", "error"] {
                let series = format!(
                    r#"shopwatch_probe_runs_total{{probe="shop-home",kind="http",outcome="{outcome}"}} 0"#
                );
                assert!(text.contains(&series), "{series} missing:\n{text}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no third probe run:\n{text}\n{}",
            monitor.log()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    drop(idle);
    assert!(hook.received().is_empty(), "paged: {:?}", hook.received());
    monitor.stop();
}
