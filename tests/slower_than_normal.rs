//! "Slower than normal" in the real `shopwatch run`, against the demo shop: four weeks of a
//! journey's runs are written into the history before the monitor starts (its cart takes
//! 50 ms at this hour of the week); the shop's cart then gets slower, still well under the
//! step's `slow` budget, and `JourneyStepSlowerThanNormal` fires with both numbers, then
//! resolves when the cart is fast again. A journey without that history says nothing.

mod util;

use shopwatch::history::config::{HistoryConfig, Target};
use shopwatch::history::write::{write_run, RunRecord, StepRecord};
use shopwatch::history::{self};
use shopwatch::journey::outcome::{Outcome, StepOutcome};
use std::path::Path;
use std::time::Duration;
use util::alerting::WebhookReceiver;
use util::monitor::{promtool_check_metrics, write, Monitor};
use util::{start_shop, Fault};

const HOUR: i64 = 3_600_000;
const WEEK: i64 = 7 * 24 * HOUR;

/// An HTTP-only journey (no browser) whose one step reads the cart, every 10 s.
fn journey(dir: &Path, name: &str, shop_url: &str) -> std::path::PathBuf {
    write(
        dir,
        &format!("{name}.yaml"),
        &format!(
            "journey: {name}\nbase_url: {shop_url}\nevery: 10s\ndefaults: {{slow: 5s}}\nsteps:\n  - step: cart\n    do:\n      - http: {{ url: /cart, expect_status: 200 }}\n"
        ),
    )
}

/// Four weeks of `journey`'s runs around this hour of the week (the hour before and after too,
/// so a run at the turn of the hour still has its normal), its cart taking 50 ms.
async fn prepare_history(state: &Path, journey: &str) {
    let config = HistoryConfig {
        target: Target::Sqlite(state.join("history.db")),
        max_age: Duration::from_secs(90 * 86_400),
        state_dir: state.to_path_buf(),
    };
    let mut db = history::open(&config, None).await.unwrap();
    let now = history::now_ms();
    for week in 1..=4 {
        for hour in -1..=1 {
            for minute in [5, 25, 45] {
                let at = history::hour_of(now) - week * WEEK + hour * HOUR + minute * 60_000;
                write_run(&mut db, &passed_run(journey, at, 50.0))
                    .await
                    .unwrap();
            }
        }
    }
}

fn passed_run(journey: &str, at_ms: i64, cart_ms: f64) -> RunRecord {
    RunRecord {
        id: history::unique_id(),
        run_id: format!("r{at_ms}"),
        journey: journey.into(),
        location: String::new(),
        browser: "none".into(),
        started_ms: at_ms,
        duration_ms: cart_ms,
        outcome: Outcome::Ok,
        attempts: 1,
        failed_step: None,
        reason_class: None,
        reason: None,
        artifacts_dir: None,
        steps: vec![StepRecord {
            name: "cart".into(),
            outcome: StepOutcome::Ok,
            duration_ms: Some(cart_ms),
            reason_class: None,
            reason: None,
            failed_requests: None,
            console_errors: None,
            artifacts: vec![],
        }],
    }
}

fn gauge(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_slower_than_its_normal_fires_under_its_budget_and_resolves() {
    let shop = start_shop().await;
    let hook = WebhookReceiver::start().await;
    let keep = tempfile::tempdir().unwrap();
    let state = keep.path().join("state");
    prepare_history(&state, "cart-check").await;
    let known = journey(keep.path(), "cart-check", &shop.url());
    let new = journey(keep.path(), "new-shop", &shop.url());
    // The defaults watch every journey over 3 runs; cart-check acts on each run.
    let config = write(
        keep.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\nstate_dir: '{}'\njourneys: ['{}', '{}']\nalerting:\n  recovery_threshold: 1\n  state_file: state/alerts.json\n  slower_than_normal: {{factor: 2, runs: 3}}\n  journeys:\n    cart-check: {{slower_than_normal: {{runs: 1}}}}\n  sinks:\n    - webhook: {{url: \"{}/hook\"}}\n",
            state.display(),
            known.display(),
            new.display(),
            hook.url
        ),
    );
    let mut monitor = Monitor::start(&config, tempfile::tempdir().unwrap());
    let metrics = monitor.metrics_url();

    // Healthy: the cart answers in a few ms, under twice its normal of 50 ms.
    let flag = "shopwatch_step_slower_than_normal{journey=\"cart-check\",step=\"cart\"}";
    let text = monitor
        .wait_for_text(&metrics, &format!("{flag} 0"), Duration::from_secs(40))
        .await;
    let normal = gauge(
        &text,
        "shopwatch_step_normal_seconds{journey=\"cart-check\",step=\"cart\"}",
    )
    .expect("the normal is exported");
    assert!((0.045..0.055).contains(&normal), "normal {normal} s");
    promtool_check_metrics(&text);
    // The new journey has run too, but has no history: no normal, no flag.
    let text = monitor
        .wait_for_text(
            &metrics,
            "shopwatch_journey_last_run_passed{journey=\"new-shop\"} 1",
            Duration::from_secs(40),
        )
        .await;
    for family in [
        "shopwatch_step_normal_seconds",
        "shopwatch_step_slower_than_normal",
    ] {
        assert!(
            !text.contains(&format!("{family}{{journey=\"new-shop\"")),
            "{text}"
        );
    }
    assert!(hook.received().is_empty(), "nothing fires while normal");

    // The cart gets slow: 400 ms, 8 times its normal, far under its 5 s budget.
    shop.set_faults(vec![Fault::Delay {
        path_prefix: "/cart".into(),
        ms: 400,
    }]);
    let received = hook.wait_for(1, Duration::from_secs(40)).await;
    let firing = received[0].json();
    assert_eq!(firing["event"], "firing", "{firing}");
    assert_eq!(firing["alert"], "JourneyStepSlowerThanNormal", "{firing}");
    assert_eq!(firing["severity"], "warning");
    assert_eq!(firing["journey"], "cart-check");
    assert_eq!(firing["step"], "cart");
    let reason = firing["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("it took 0.4") && reason.contains("x its normal of 0.05s"),
        "{reason}"
    );
    monitor
        .wait_for_text(&metrics, &format!("{flag} 1"), Duration::from_secs(20))
        .await;

    // Fast again: resolved. Meanwhile nothing about the step's budget, nor the new journey.
    shop.clear_faults();
    let received = hook.wait_for(2, Duration::from_secs(40)).await;
    let resolved = received[1].json();
    assert_eq!(resolved["event"], "resolved", "{resolved}");
    assert_eq!(resolved["alert"], "JourneyStepSlowerThanNormal");
    for notification in hook.received() {
        let body = notification.json();
        assert_eq!(body["journey"], "cart-check", "{body}");
        assert_eq!(body["alert"], "JourneyStepSlowerThanNormal", "{body}");
    }
    let text = monitor
        .wait_for_text(&metrics, &format!("{flag} 0"), Duration::from_secs(20))
        .await;
    promtool_check_metrics(&text);
    monitor.stop();
}
