//! The README keeps its promises: every metric name the code exports and every configuration
//! key it accepts is documented there.

use std::path::Path;

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative))
        .unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

/// The string values of `pub const NAME: &str = "...";` items in `source` (also when rustfmt
/// put the value on the next line).
fn const_strings(source: &str) -> Vec<String> {
    let joined = source.replace("=\n    \"", "= \"");
    joined
        .lines()
        .filter(|l| l.starts_with("pub const ") && l.contains(": &str = \""))
        .filter_map(|l| l.split('"').nth(1))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_metric_name_is_in_the_readme() {
    let readme = read("README.md");
    let names: Vec<String> = const_strings(&read("src/metrics/mod.rs"))
        .into_iter()
        .filter(|n| n.starts_with("shopwatch_") || n.starts_with("probe_"))
        .collect();
    assert!(names.len() >= 30, "metric names found: {names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !readme.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics missing from the README: {missing:?}"
    );
}

#[test]
fn every_configuration_key_is_in_the_readme() {
    let readme = read("README.md");
    let keys = [
        "listen",
        "location",
        "webdriver.url",
        "webdriver.max_sessions",
        "journeys",
        "artifacts.dir",
        "artifacts.max_age",
        "artifacts.max_size",
        "metrics.window",
        "metrics.step_buckets",
        "metrics.journey_buckets",
        "probes",
        "alerting",
        "alerting.failure_threshold",
        "alerting.slow_threshold",
        "alerting.recovery_threshold",
        "alerting.repeat",
        "alerting.warn_days",
        "alerting.critical_days",
        "alerting.state_file",
        "alerting.external_url",
        "alerting.journeys",
        "alerting.probes",
        "alerting.maintenance",
        "alerting.sinks",
    ];
    for key in keys {
        assert!(
            readme.contains(&format!("| `{key}` |")),
            "`{key}` is not in the README's configuration reference"
        );
    }
    // And the code accepts exactly these: a file using all of them validates.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("journeys")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("journeys/demo-shop.yaml"),
        dir.path().join("journeys/demo-shop.yaml"),
    )
    .unwrap();
    let config = dir.path().join("shopwatch.yaml");
    let alerting = r##"alerting:
  failure_threshold: 2
  slow_threshold: 3
  recovery_threshold: 2
  repeat: 4h
  warn_days: 14
  critical_days: 3
  state_file: state/alerts.json
  external_url: https://monitor.example.com
  journeys: {demo-checkout: {failure_threshold: 1, repeat: 1h}}
  probes: {home: {warn_days: 30, critical_days: 7}}
  maintenance:
    - {cron: "0 2 * * SUN", duration: 2h, journeys: [demo-checkout], probes: [home]}
  sinks:
    - alertmanager: {url: "http://127.0.0.1:9093"}
    - webhook:
        name: pager
        url: "https://hooks.example.com/shopwatch"
        secret: {secret: env:WEBHOOK_SECRET, default: s3cret}
        headers: {X-Team: shop}
        severity: critical
        alerts: [JourneyStepFailed, ProbeFailed]
        journeys: [demo-checkout]
        probes: [home]
    - slack: {url: {secret: env:SLACK_WEBHOOK_URL}, channel: "#shop-alerts"}
    - email:
        smtp: smtps://smtp.example.com
        tls: implicit
        username: shopwatch
        password: {secret: file:/run/secrets/smtp}
        ca_file: ca.pem
        from: Shopwatch <shopwatch@example.com>
        to: [oncall@example.com]
"##;
    std::fs::write(
        &config,
        format!("listen: 127.0.0.1:9464\nlocation: here\nwebdriver: {{url: 'http://127.0.0.1:4444', max_sessions: 2}}\njourneys: ['journeys/*.yaml']\nartifacts: {{dir: a, max_age: 1d, max_size: 10MB}}\nmetrics: {{window: 30m, step_buckets: [1, 2], journey_buckets: [5, 10]}}\nprobes:\n  - http: {{name: home, url: 'http://127.0.0.1:8088/', every: 15s}}\n{alerting}"),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .arg("validate")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
