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
    std::fs::write(
        &config,
        "listen: 127.0.0.1:9464\nlocation: here\nwebdriver: {url: 'http://127.0.0.1:4444', max_sessions: 2}\njourneys: ['journeys/*.yaml']\nartifacts: {dir: a, max_age: 1d, max_size: 10MB}\nmetrics: {window: 30m, step_buckets: [1, 2], journey_buckets: [5, 10]}\nprobes:\n  - http: {name: home, url: 'http://127.0.0.1:8088/', every: 15s}\n",
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
