//! `shopwatch rules`: the real binary's rule file passes `promtool check rules`, and
//! `promtool test rules` shows every alert firing on series shaped like shopwatch's metrics
//! and staying quiet on healthy ones (tests/fixtures/rules/*_test.yaml); `--config` gives
//! per-journey thresholds; bad configurations and flags exit 2 with a clear error.
//!
//! promtool is required, not optional: `bash scripts/test` installs it (Debian package
//! `prometheus`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURES: &str = "tests/fixtures/rules";

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn shopwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .args(args)
        .output()
        .expect("run shopwatch")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `shopwatch rules ARGS`, which must succeed; its stdout.
fn rules(args: &[&str]) -> String {
    let mut all = vec!["rules"];
    all.extend_from_slice(args);
    let out = shopwatch(&all);
    assert!(
        out.status.success(),
        "shopwatch {all:?} exited with {:?}:\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr of shopwatch {all:?}:\n{}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// promtool ARGS in `dir`; fails the test with a message saying how to get promtool when it
/// is missing.
fn promtool(dir: &Path, args: &[&str]) -> Output {
    match Command::new("promtool").args(args).current_dir(dir).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "promtool is not installed: `bash scripts/test` installs it (Debian package `prometheus`)"
        ),
        Err(e) => panic!("cannot run promtool: {e}"),
    }
}

/// `promtool check rules` finds nothing wrong with `yaml`, lint included (promtool 2.x exits
/// 0 on lint findings such as duplicate rules, so its output is checked too).
fn check_rules(yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), yaml).unwrap();
    let out = promtool(dir.path(), &["check", "rules", "rules.yaml"]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success() && said.contains("SUCCESS") && !said.contains("FAILED"),
        "promtool check rules:\n{said}\non:\n{yaml}"
    );
}

/// `promtool test rules` on `fixture` (tests/fixtures/rules/), with `yaml` as its rules.yaml.
fn test_rules(yaml: &str, fixture: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), yaml).unwrap();
    std::fs::copy(repo_path(FIXTURES).join(fixture), dir.path().join(fixture)).unwrap();
    let out = promtool(dir.path(), &["test", "rules", fixture]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success() && said.contains("SUCCESS"),
        "promtool test rules {fixture}:\n{said}\nrules.yaml:\n{yaml}"
    );
}

/// A monitor configuration in a temporary directory naming three copies of the shipped
/// journey: `fast-checkout` every 1m, `slow-checkout` every 10m, and `fast-search` every 1m
/// (sharing fast-checkout's rules).
fn three_journeys() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(repo_path("journeys/demo-shop.yaml")).unwrap();
    for (file, name, every) in [
        ("fast.yaml", "fast-checkout", "1m"),
        ("slow.yaml", "slow-checkout", "10m"),
        ("search.yaml", "fast-search", "1m"),
    ] {
        assert!(demo.contains("\njourney: demo-checkout\n") && demo.contains("\nevery: 1m\n"));
        let journey = demo
            .replace(
                "\njourney: demo-checkout\n",
                &format!("\njourney: {name}\n"),
            )
            .replace("\nevery: 1m\n", &format!("\nevery: {every}\n"));
        std::fs::write(dir.path().join(file), journey).unwrap();
    }
    std::fs::write(
        dir.path().join("shopwatch.yaml"),
        "location: eu\njourneys:\n  - fast.yaml\n  - slow.yaml\n  - search.yaml\n",
    )
    .unwrap();
    dir
}

/// The rules named `alert` in a rule file.
fn alerts<'a>(file: &'a serde_json::Value, alert: &str) -> Vec<&'a serde_json::Value> {
    file["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules"))
        .filter(|r| r["alert"].as_str() == Some(alert))
        .collect()
}

#[test]
fn default_rules_pass_promtool_check() {
    let yaml = rules(&[]);
    check_rules(&yaml);
    // Every rule has a severity, a summary and a description, and selects only our job.
    let file: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    let all: Vec<_> = file["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    assert!(all.len() >= 11, "{yaml}");
    for rule in all {
        let name = rule["alert"].as_str().expect("alert");
        let severity = rule["labels"]["severity"].as_str();
        assert!(matches!(severity, Some("warning" | "critical")), "{name}");
        assert!(rule["annotations"]["summary"].as_str().is_some(), "{name}");
        assert!(
            rule["annotations"]["description"].as_str().is_some(),
            "{name}"
        );
        assert!(
            rule["expr"]
                .as_str()
                .unwrap()
                .contains(r#"job="shopwatch""#),
            "{name}"
        );
    }
}

#[test]
fn rules_with_every_flag_pass_promtool_check() {
    let dir = three_journeys();
    let config = dir.path().join("shopwatch.yaml");
    let yaml = rules(&[
        "--config",
        config.to_str().unwrap(),
        "--for",
        "5m",
        "--locations",
        "3",
        "--job",
        "shop\"watch",
        "--no-runs-after",
        "1h",
    ]);
    check_rules(&yaml);
    let file: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    for name in [
        "ShopwatchJourneyStepFailing",
        "ShopwatchFailingInManyLocations",
    ] {
        assert_eq!(alerts(&file, name)[0]["for"].as_str(), Some("5m"), "{name}");
    }
    // One count per cohort of journeys (their failure windows differ), each from 3.
    let many = alerts(&file, "ShopwatchFailingInManyLocations")[0]["expr"]
        .as_str()
        .unwrap();
    assert!(many.contains(") >= 3") && !many.contains(">= 2"), "{many}");
    // The job name is a PromQL string, escaped.
    let no_runs = alerts(&file, "ShopwatchNoRuns")[0]["expr"]
        .as_str()
        .unwrap();
    assert!(no_runs.contains(r#"{job="shop\"watch", "#), "{no_runs}");
    assert!(no_runs.contains("> 3600"), "{no_runs}");
}

#[test]
fn every_alert_fires_on_series_like_ours_and_not_on_healthy_ones() {
    test_rules(&rules(&[]), "default_test.yaml");
}

#[test]
fn config_gives_each_journey_its_own_no_runs_threshold() {
    let dir = three_journeys();
    let config = dir.path().join("shopwatch.yaml");
    let yaml = rules(&["--config", config.to_str().unwrap()]);
    check_rules(&yaml);
    let file: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    let no_runs = alerts(&file, "ShopwatchNoRuns");
    assert_eq!(no_runs.len(), 1, "one rule, so promtool sees no duplicates");
    let expr = no_runs[0]["expr"].as_str().unwrap();
    // 3 × every: 3m and 30m (journeys with the same `every` share a branch); 15m
    // (--no-runs-after) for journeys the configuration lacks.
    for branch in [
        r#"shopwatch_journey_last_run_timestamp_seconds{job="shopwatch", journey=~"fast-checkout|fast-search"} > 180"#,
        r#"shopwatch_journey_last_run_timestamp_seconds{job="shopwatch", journey="slow-checkout"} > 1800"#,
        r#"shopwatch_journey_last_run_timestamp_seconds{job="shopwatch", journey!="fast-checkout", journey!="slow-checkout", journey!="fast-search"} > 900"#,
    ] {
        assert!(expr.contains(branch), "no `{branch}` in:\n{expr}");
    }
    let description = no_runs[0]["annotations"]["description"].as_str().unwrap();
    assert!(description.contains("3m = 3 intervals: each runs every 1m"));
    assert!(description.contains("30m = 3 intervals: it runs every 10m"));
    // And they work: promtool shows each threshold firing on its journey.
    test_rules(&yaml, "config_test.yaml");
}

#[test]
fn a_bad_configuration_exits_2_with_the_located_error() {
    let dir = three_journeys();
    // An error in the configuration itself.
    let config = dir.path().join("shopwatch.yaml");
    std::fs::write(&config, "journeys:\n  - fast.yaml\nlistn: 127.0.0.1:9464\n").unwrap();
    let out = shopwatch(&["rules", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "no rules on stdout: {}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3:1: unknown key `listn`", config.display())),
        "{stderr}"
    );
    // An error in a journey it names, reported in that file.
    let journey = dir.path().join("slow.yaml");
    let source = std::fs::read_to_string(&journey).unwrap();
    std::fs::write(
        &journey,
        source.replace("\nevery: 10m\n", "\nevery: soon\n"),
    )
    .unwrap();
    std::fs::write(&config, "journeys:\n  - slow.yaml\n").unwrap();
    let out = shopwatch(&["rules", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let line = source
        .lines()
        .position(|l| l == "every: 10m")
        .expect("every line")
        + 1;
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:{line}:8: `soon` is not a duration",
            journey.display()
        )),
        "{stderr}"
    );
    // A file that is not there.
    let missing = dir.path().join("missing.yaml");
    let out = shopwatch(&["rules", "--config", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(&format!(
            "{}:1:1: cannot read configuration file",
            missing.display()
        )),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_flags_exit_2_with_a_clear_error() {
    for (args, says) in [
        (&["--locations", "0"][..], "must be at least 1"),
        (&["--locations", "many"][..], "expected a whole number"),
        (&["--for", "nonsense"][..], "expected a duration such as 2m"),
        (&["--no-runs-after", "5s"][..], "must be at least 30s"),
        (&["--job", ""][..], "--job"),
    ] {
        let mut all = vec!["rules"];
        all.extend_from_slice(args);
        let out = shopwatch(&all);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{all:?}: {}", text(&out.stdout));
        assert!(
            stderr.contains(&format!("invalid value '{}' for '{}", args[1], args[0]))
                || stderr.contains(&format!("a value is required for '{}", args[0])),
            "{all:?}: {stderr}"
        );
        assert!(stderr.contains(says), "{all:?}: {stderr}");
    }
}
