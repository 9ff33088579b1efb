//! Operations basics with the real binary: logs fit for a journal or a log shipper (no colour
//! codes off a terminal or with `NO_COLOR`, JSON lines with `--log-format json`, secrets
//! redacted in both), and the endpoints a supervisor or load balancer asks.

mod util;

use std::process::Command;
use std::time::Duration;
use util::monitor::{free_port, write, Monitor};

/// A journey with no browser whose one request fails, its URL holding a secret: the monitor
/// logs the failure (with the URL) every 10 s.
fn failing_journey_with_a_secret(dir: &std::path::Path) -> std::path::PathBuf {
    let closed = free_port();
    write(
        dir,
        "leaky.yaml",
        &format!(
            "journey: leaky\nbase_url: http://127.0.0.1:{closed}\nevery: 10s\nvars:\n  token: {{secret: env:OPS_TOKEN}}\nsteps:\n  - step: call\n    do:\n      - http: {{url: \"http://127.0.0.1:{closed}/orders/${{token}}\"}}\n"
        ),
    )
}

fn monitor_config(work: &tempfile::TempDir) -> std::path::PathBuf {
    let journey = failing_journey_with_a_secret(work.path());
    write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\njourneys: [{}]\nartifacts: {{dir: {}}}\n",
            journey.display(),
            work.path().join("artifacts").display()
        ),
    )
}

const TOKEN: &str = "tok-8f3a9c2e71";

/// stderr is a pipe here (as under systemd or in a container): plain text, no escape codes,
/// and the secret redacted.
#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let work = tempfile::tempdir().unwrap();
    let config = monitor_config(&work);
    let mut monitor = Monitor::start_with_env(
        &config,
        tempfile::tempdir().unwrap(),
        &[("OPS_TOKEN", TOKEN)],
    );
    let line = monitor.wait_for_log("failed at step `call`", Duration::from_secs(90));
    let log = monitor.stop();
    assert!(!log.contains('\x1b'), "no escape codes: {log:?}");
    assert!(
        line.contains(" WARN ") && line.contains("journey=leaky") && line.contains("[redacted]"),
        "{line}"
    );
    assert!(!log.contains(TOKEN), "{log}");
}

/// `--log-format json`: every line is one JSON object with the event's fields at the top
/// level; the secret is redacted there too.
#[test]
fn json_logs_are_one_object_per_line_with_the_fields_on_top() {
    let work = tempfile::tempdir().unwrap();
    let config = monitor_config(&work);
    let mut monitor = Monitor::start_with_args(
        &config,
        tempfile::tempdir().unwrap(),
        &[("OPS_TOKEN", TOKEN)],
        &["--log-format", "json"],
    );
    monitor.wait_for_log("failed at step `call`", Duration::from_secs(90));
    let log = monitor.stop();
    assert!(!log.contains(TOKEN), "{log}");
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    let started = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("metrics on http://127.0.0.1:"))
        })
        .expect("the start line");
    assert_eq!(started["level"], "INFO", "{started}");
    assert_eq!(started["target"], "shopwatch::daemon", "{started}");
    assert!(started["timestamp"].is_string(), "{started}");
    let failed = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("failed at step"))
        })
        .expect("the failed run");
    assert_eq!(failed["level"], "WARN", "{failed}");
    assert_eq!(failed["journey"], "leaky", "{failed}");
    assert!(failed["run_id"].is_string(), "{failed}");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("/orders/[redacted]"),
        "{failed}"
    );
    assert_eq!(events.last().unwrap()["message"], "stopped");
}

/// What `shopwatch validate` logs at debug level (the open files limit), written on a real
/// pseudo-terminal (util-linux `script`).
fn log_on_a_terminal(env: &[(&str, &str)]) -> String {
    let work = tempfile::tempdir().unwrap();
    let journey = failing_journey_with_a_secret(work.path());
    let command_line = format!(
        "'{}' validate '{}'",
        env!("CARGO_BIN_EXE_shopwatch"),
        journey.display()
    );
    let output = Command::new("script")
        .args(["--quiet", "--flush", "--return", "--command", &command_line])
        .arg("/dev/null")
        .env("TERM", "xterm-256color")
        .env("SHOPWATCH_LOG", "debug")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("util-linux `script` runs (it gives the command a real pseudo-terminal)");
    assert!(output.status.success(), "{output:?}");
    let screen = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(screen.contains("open files limit"), "{screen:?}");
    screen
}

#[test]
fn logs_on_a_terminal_are_coloured_unless_no_color_is_set() {
    let coloured = log_on_a_terminal(&[]);
    assert!(
        coloured.contains("\x1b["),
        "colour on a terminal: {coloured:?}"
    );
    let plain = log_on_a_terminal(&[("NO_COLOR", "1")]);
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
    assert!(
        plain.contains("DEBUG shopwatch: open files limit"),
        "{plain:?}"
    );
}

/// A bad `--log-format` is a usage error naming the choices.
#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .args(["--log-format", "xml", "validate", "x.yaml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value 'xml'")
            && stderr.contains("text")
            && stderr.contains("json"),
        "{stderr}"
    );
}
