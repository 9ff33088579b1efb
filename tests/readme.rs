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
    // The keys, read from the structs that parse them: a key added to the code and not to the
    // README fails here.
    use shopwatch::yaml::fields::struct_fields;
    let nested: [(&str, &[&str]); 6] = [
        (
            "webdriver",
            struct_fields::<shopwatch::config::monitor::WebDriverFile>(),
        ),
        (
            "artifacts",
            struct_fields::<shopwatch::artifacts::config::ArtifactsFile>(),
        ),
        (
            "metrics",
            struct_fields::<shopwatch::metrics::config::MetricsFile>(),
        ),
        (
            "alerting",
            struct_fields::<shopwatch::alert::config::AlertingFile>(),
        ),
        (
            "history",
            struct_fields::<shopwatch::history::config::HistoryFile>(),
        ),
        ("ui", struct_fields::<shopwatch::ui::config::UiFile>()),
    ];
    let mut keys: Vec<String> = Vec::new();
    for key in struct_fields::<shopwatch::config::monitor::MonitorFile>() {
        match nested.iter().find(|(name, _)| name == key) {
            // `alerting` has a row of its own too; the others only their keys.
            Some((_, fields)) => {
                if *key == "alerting" {
                    keys.push(key.to_string());
                }
                keys.extend(fields.iter().map(|f| format!("{key}.{f}")));
            }
            None => keys.push(key.to_string()),
        }
    }
    assert!(keys.len() >= 25, "{keys:?}");
    for key in &keys {
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
        format!("listen: 127.0.0.1:9464\nlocation: here\nwebdriver: {{url: 'http://127.0.0.1:4444', max_sessions: 2}}\njourneys: ['journeys/*.yaml']\nartifacts: {{dir: a, max_age: 1d, max_size: 10MB}}\nmetrics: {{window: 30m, step_buckets: [1, 2], journey_buckets: [5, 10]}}\nprobes:\n  - http: {{name: home, url: 'http://127.0.0.1:8088/', every: 15s}}\nstatus_pages:\n  - {{name: shop, title: Shop status, journeys: [demo-checkout], probes: [home], show_reasons: false}}\n{alerting}"),
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

/// The README's section about one probe or sink kind: from its heading (`**`kind`**` or one
/// that shows `- kind: {...}`) to the next such heading.
fn kind_section<'a>(readme: &'a str, kind: &str) -> Option<&'a str> {
    let starts = [format!("\n**`{kind}`**"), format!("(`- {kind}: {{...}}`)")];
    let start = starts
        .iter()
        .filter_map(|s| readme.find(s.as_str()))
        .min()?;
    let rest = &readme[start + 1..];
    let end = rest[1..].find("\n**").map_or(rest.len(), |i| i + 1);
    Some(&rest[..end])
}

#[test]
fn every_probe_and_sink_setting_is_in_its_readme_table() {
    let readme = read("README.md");
    let mut kinds: Vec<(&str, Vec<&str>)> = shopwatch::probe::kind_keys()
        .into_iter()
        .map(|(kind, keys)| (kind, keys.to_vec()))
        .collect();
    kinds.extend(shopwatch::alert::sink::kind_keys());
    assert!(kinds.len() >= 13, "{kinds:?}");
    let mut missing = Vec::new();
    for (kind, keys) in &kinds {
        let Some(section) = kind_section(&readme, kind) else {
            missing.push(format!("the section of `{kind}`"));
            continue;
        };
        for key in keys {
            if !section.contains(&format!("| `{key}` |")) {
                missing.push(format!("`{kind}`: `{key}`"));
            }
        }
    }
    assert!(missing.is_empty(), "not in the README: {missing:?}");
}

/// The README's tables of a journey's top-level keys and of a step's keys hold every key the
/// journey file takes.
#[test]
fn every_journey_and_step_key_is_in_the_readme() {
    use shopwatch::yaml::fields::struct_fields;
    let readme = read("README.md");
    let section = |heading: &str| -> String {
        let start = readme
            .find(heading)
            .unwrap_or_else(|| panic!("the README has `{heading}`"));
        let rest = &readme[start + heading.len()..];
        rest[..rest.find("\n### ").unwrap_or(rest.len())].to_string()
    };
    let mut missing = Vec::new();
    for (heading, keys) in [
        (
            "### Top level",
            struct_fields::<shopwatch::journey::file::JourneyFile>(),
        ),
        (
            "### Steps",
            struct_fields::<shopwatch::journey::file::StepFile>(),
        ),
    ] {
        assert!(keys.len() >= 5, "{keys:?}");
        let table = section(heading);
        missing.extend(
            keys.iter()
                .filter(|key| !table.contains(&format!("| `{key}` |")))
                .map(|key| format!("{heading}: `{key}`")),
        );
    }
    assert!(missing.is_empty(), "not in the README: {missing:?}");
}

/// The README's part under `heading`, up to the next heading of the same or a higher level.
fn readme_section(readme: &str, heading: &str) -> String {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("the README has `{heading}`"));
    let rest = &readme[start + heading.len() + 2..];
    rest[..rest.find("\n### ").unwrap_or(rest.len())].to_string()
}

/// Every action has a row in the action table, and the keys of `dialog`, of optional actions
/// and of `defaults` are documented where those are explained.
#[test]
fn every_action_and_action_key_is_in_the_readme() {
    use shopwatch::journey::file::{DefaultsFile, DialogRaw, ACTION_NAMES};
    use shopwatch::yaml::fields::struct_fields;
    let readme = read("README.md");
    let mut missing = Vec::new();
    let actions = readme_section(&readme, "### Actions");
    let rows: Vec<&str> = actions.lines().filter(|l| l.starts_with("| `")).collect();
    for name in ACTION_NAMES {
        let first_cell = |row: &&str| {
            row.split(" | ")
                .next()
                .unwrap_or("")
                .contains(&format!("`{name}`"))
        };
        if !rows.iter().any(first_cell) {
            missing.push(format!("action `{name}`"));
        }
    }
    let dialog = rows
        .iter()
        .find(|row| row.starts_with("| `dialog` |"))
        .copied()
        .unwrap_or("");
    // The keys in the row's forms, as whole words (`text` is not `context`).
    let has_word = |text: &str, word: &str| {
        text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|w| w == word)
    };
    let dialog_keys = struct_fields::<DialogRaw>();
    assert!(dialog_keys.len() >= 5, "{dialog_keys:?}");
    for key in dialog_keys {
        if !has_word(dialog, key) {
            missing.push(format!("dialog key `{key}`"));
        }
    }
    let optional = readme_section(&readme, "### Optional actions");
    for key in ["optional", "optional_wait"] {
        if !optional.contains(&format!("| `{key}` |")) {
            missing.push(format!("optional action key `{key}`"));
        }
    }
    let top = readme_section(&readme, "### Top level");
    let defaults = top
        .lines()
        .find(|l| l.starts_with("| `defaults` |"))
        .unwrap_or("");
    let default_keys = struct_fields::<DefaultsFile>();
    assert!(default_keys.len() >= 3, "{default_keys:?}");
    for key in default_keys {
        if !defaults.contains(&format!("`{key}`")) {
            missing.push(format!("defaults key `{key}`"));
        }
    }
    assert!(missing.is_empty(), "not in the README: {missing:?}");
}
