//! Several locations: two real `shopwatch run` instances (`location: a` and `location: b`),
//! each watching its own demo shop in Chromium, scraped by one real Prometheus that loads the
//! rules `shopwatch rules` prints, with the README's set-up as written. Prometheus itself
//! evaluates ShopwatchFailingInManyLocations: quiet while one location fails, firing once both
//! do, resolved when one passes again.

mod util;

use std::time::{Duration, Instant};
use util::monitor::{write, Monitor};
use util::prometheus::Prometheus;
use util::{repo_path, require_browser, start_shop, Fault, RunningShop};

const JOURNEY: &str = "journey: shop-home
base_url: http://127.0.0.1:8088
every: 10s
timeout: 1m
browser: chrome
steps:
  - step: home
    do:
      - open: /
      - wait_for: \".product-card\"
";

/// The README's Prometheus configuration for several monitors (after
/// `<!-- locations-prometheus -->`), its two targets replaced by `targets`.
fn readme_prometheus_config(targets: [&str; 2]) -> String {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let block = readme
        .split("<!-- locations-prometheus -->")
        .nth(1)
        .and_then(|rest| rest.split("```yaml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a ```yaml block after <!-- locations-prometheus -->");
    let mut config = block.to_string();
    for (written, actual) in ["shopwatch-a.example:9464", "shopwatch-b.example:9464"]
        .iter()
        .zip(targets)
    {
        assert!(config.contains(written), "{written} in:\n{block}");
        config = config.replace(written, actual);
    }
    assert!(config.contains("shopwatch-rules.yml"), "{block}");
    // Seconds instead of the README's 15 s, so the test sees rule changes soon.
    assert!(config.contains("scrape_interval: 15s"), "{block}");
    config
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
}

/// A monitor at `location` running the journey against `shop`; its scrape target.
fn monitor_at(location: &str, shop: &RunningShop) -> (Monitor, String, std::path::PathBuf) {
    monitor_with(location, shop, "")
}

/// As [`monitor_at`], with `extra` configuration appended.
fn monitor_with(
    location: &str,
    shop: &RunningShop,
    extra: &str,
) -> (Monitor, String, std::path::PathBuf) {
    let work = tempfile::Builder::new()
        .prefix("shopwatch-location-")
        .tempdir()
        .unwrap();
    let journey = write(work.path(), "shop-home.yaml", JOURNEY);
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\nlocation: {location}\njourneys:\n  - file: {}\n    base_url: {}\n{extra}",
            journey.display(),
            shop.url()
        ),
    );
    let mut monitor = Monitor::start(&config, work);
    let target = monitor
        .metrics_url()
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();
    (monitor, target, config)
}

/// The alerts named `name` that Prometheus has firing now, as (journey, location, state).
async fn firing(prometheus: &Prometheus, name: &str) -> Vec<serde_json::Value> {
    prometheus
        .alerts()
        .await
        .into_iter()
        .filter(|a| a["labels"]["alertname"] == name && a["state"] == "firing")
        .collect()
}

/// `shopwatch rules --locations 2 --config <config>`, as the README makes them.
fn rules_for(config: &std::path::Path) -> String {
    let rules = std::process::Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .args(["rules", "--locations", "2", "--config"])
        .arg(config)
        .output()
        .expect("shopwatch rules");
    assert!(rules.status.success(), "{rules:?}");
    let rules = String::from_utf8(rules.stdout).unwrap();
    assert!(rules.contains("ShopwatchFailingInManyLocations"), "{rules}");
    rules
}

async fn wait_until<F, Fut>(what: &str, within: Duration, logs: &[&Monitor], mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}\nlog a:\n{}\nlog b:\n{}",
            logs[0].log(),
            logs[1].log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_in_many_locations_fires_when_both_fail_not_when_one_does() {
    require_browser("chrome");
    // Two browsers at once: both slots.
    let _slots = util::browser_slots(2).await;
    let shop_a = start_shop().await;
    let shop_b = start_shop().await;
    let (monitor_a, target_a, config_a) = monitor_at("a", &shop_a);
    let (monitor_b, target_b, _) = monitor_at("b", &shop_b);
    let monitors = [&monitor_a, &monitor_b];

    // The rules, as the README says to make them.
    let rules = rules_for(&config_a);
    let prometheus = Prometheus::start_with_files(
        &readme_prometheus_config([&target_a, &target_b]),
        &[("shopwatch-rules.yml", &rules)],
    )
    .await;
    let groups = prometheus.api("/api/v1/rules", &[]).await.expect("rules");
    assert!(
        groups["groups"].as_array().is_some_and(|g| !g.is_empty()),
        "Prometheus loaded no rules: {groups}\n{}",
        prometheus.log()
    );

    let passed = |location: &'static str, value: f64| {
        let prometheus = &prometheus;
        move || async move {
            prometheus
                .query(&format!(
                    r#"shopwatch_journey_last_run_passed{{job="shopwatch", journey="shop-home", location="{location}"}}"#
                ))
                .await
                .first()
                .is_some_and(|(_, v)| *v == value)
        }
    };
    let within = Duration::from_secs(90);
    wait_until("a passes", within, &monitors, passed("a", 1.0)).await;
    wait_until("b passes", within, &monitors, passed("b", 1.0)).await;

    // Location a's shop breaks: a fails, b passes. The step alert fires for a alone; the
    // many-locations alert does not.
    shop_a.set_faults(vec![Fault::Status {
        path_prefix: "/".to_string(),
        code: 503,
    }]);
    wait_until(
        "ShopwatchJourneyStepFailing for location a",
        within,
        &monitors,
        || async {
            firing(&prometheus, "ShopwatchJourneyStepFailing")
                .await
                .iter()
                .any(|a| a["labels"]["location"] == "a")
        },
    )
    .await;
    // Two more runs of each, failing in a, passing in b, evaluated every second.
    let runs = |location: &str| {
        format!(r#"sum(shopwatch_journey_runs_total{{job="shopwatch", location="{location}"}})"#)
    };
    let before = [
        prometheus.query(&runs("a")).await[0].1,
        prometheus.query(&runs("b")).await[0].1,
    ];
    wait_until("two more runs in a and b", within, &monitors, || async {
        prometheus.query(&runs("a")).await[0].1 >= before[0] + 2.0
            && prometheus.query(&runs("b")).await[0].1 >= before[1] + 2.0
    })
    .await;
    assert!(passed("b", 1.0)().await, "b kept passing");
    assert!(passed("a", 0.0)().await, "a kept failing");
    let ever = prometheus
        .query(r#"ALERTS{alertname="ShopwatchFailingInManyLocations"}"#)
        .await;
    assert!(ever.is_empty(), "fired with one location failing: {ever:?}");
    let seen = prometheus
        .query(r#"count_over_time(ALERTS{alertname="ShopwatchFailingInManyLocations"}[10m])"#)
        .await;
    assert!(seen.is_empty(), "pending or firing at some point: {seen:?}");

    // Location b's shop breaks too: both fail, the alert fires, counting two locations.
    shop_b.set_faults(vec![Fault::Status {
        path_prefix: "/".to_string(),
        code: 503,
    }]);
    wait_until(
        "ShopwatchFailingInManyLocations",
        within,
        &monitors,
        || async {
            !firing(&prometheus, "ShopwatchFailingInManyLocations")
                .await
                .is_empty()
        },
    )
    .await;
    let alert = &firing(&prometheus, "ShopwatchFailingInManyLocations").await[0];
    assert_eq!(alert["labels"]["journey"], "shop-home", "{alert}");
    assert_eq!(alert["labels"]["severity"], "critical", "{alert}");
    assert_eq!(
        alert["value"].as_str().map(|v| v.parse::<f64>().ok()),
        Some(Some(2.0))
    );
    let summary = alert["annotations"]["summary"].as_str().unwrap_or("");
    assert!(summary.contains("2 of 2 locations"), "{alert}");

    // Location a's shop is mended: one location fails, the alert resolves.
    shop_a.set_faults(Vec::new());
    wait_until(
        "ShopwatchFailingInManyLocations resolved",
        within,
        &monitors,
        || async {
            firing(&prometheus, "ShopwatchFailingInManyLocations")
                .await
                .is_empty()
        },
    )
    .await;
    assert!(passed("a", 1.0)().await);
    monitor_a.stop();
    monitor_b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitors_failing_everywhere_is_not_the_shop_failing_in_many_locations() {
    // Both monitors' WebDriver endpoint is down (a shared Selenium Grid gone): every run is
    // the monitors' `error`, no run passes, and no browser opens.
    let shop = start_shop().await;
    let dead = util::monitor::free_port();
    let webdriver = format!("webdriver:\n  url: http://127.0.0.1:{dead}\n");
    let (monitor_a, target_a, config_a) = monitor_with("a", &shop, &webdriver);
    let (monitor_b, target_b, _) = monitor_with("b", &shop, &webdriver);
    let monitors = [&monitor_a, &monitor_b];
    let prometheus = Prometheus::start_with_files(
        &readme_prometheus_config([&target_a, &target_b]),
        &[("shopwatch-rules.yml", &rules_for(&config_a))],
    )
    .await;
    let errors = r#"shopwatch_journey_runs_total{job="shopwatch", journey="shop-home", outcome="error"} >= 2"#;
    wait_until(
        "two error runs in each location",
        Duration::from_secs(90),
        &monitors,
        || async { prometheus.query(errors).await.len() == 2 },
    )
    .await;
    let not_passed = prometheus
        .query(r#"shopwatch_journey_last_run_passed{job="shopwatch", journey="shop-home"} == 0"#)
        .await;
    assert_eq!(not_passed.len(), 2, "{not_passed:?}");
    // The monitors' alert fires; the shop's stay quiet.
    wait_until(
        "ShopwatchMonitorErrors",
        Duration::from_secs(30),
        &monitors,
        || async {
            let alerts = firing(&prometheus, "ShopwatchMonitorErrors").await;
            ["a", "b"]
                .iter()
                .all(|l| alerts.iter().any(|a| a["labels"]["location"] == *l))
        },
    )
    .await;
    for shop_alert in [
        "ShopwatchFailingInManyLocations",
        "ShopwatchJourneyStepFailing",
    ] {
        let seen = prometheus
            .query(&format!(
                r#"count_over_time(ALERTS{{alertname="{shop_alert}"}}[10m])"#
            ))
            .await;
        assert!(seen.is_empty(), "{shop_alert} for monitor errors: {seen:?}");
    }
    monitor_a.stop();
    monitor_b.stop();
}
