//! What `contrib/` ships, checked by the tools that read it: the systemd unit by
//! `systemd-analyze` (syntax, the program, and its sandbox's exposure score) and by what
//! shopwatch itself expects of its supervisor; the example Alertmanager configuration by
//! `amtool` (valid, and routing each kind of alert where it says).

mod util;

use std::path::Path;
use std::process::Command;
use util::repo_path;

fn unit_text() -> String {
    std::fs::read_to_string(repo_path("contrib/shopwatch.service")).expect("the unit file")
}

/// The values of `key=` in the unit, in order.
fn unit_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
        .collect()
}

fn one_value(text: &str, key: &str) -> String {
    let values = unit_values(text, key);
    assert_eq!(values.len(), 1, "one `{key}=` in the unit: {values:?}");
    values[0].clone()
}

fn systemd_analyze(args: &[&str], unit: &Path) -> std::process::Output {
    Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .expect("systemd-analyze runs: run `bash scripts/install-deps` (it installs the Debian package `systemd`)")
}

/// `systemd-analyze verify` finds nothing to say (a misspelt key or a bad value is a warning
/// on stderr, so stderr must be empty), and the sandbox scores "OK" or better (at most 4.0 of
/// 10) in `systemd-analyze security`. The unit runs a copy pointing at the binary just built:
/// verify checks that the program exists.
#[test]
fn systemd_analyze_accepts_the_unit_and_its_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("shopwatch.service");
    let text = unit_text();
    assert!(
        text.contains("ExecStart=/usr/local/bin/shopwatch "),
        "{text}"
    );
    std::fs::write(
        &unit,
        text.replace(
            "ExecStart=/usr/local/bin/shopwatch ",
            &format!("ExecStart={} ", env!("CARGO_BIN_EXE_shopwatch")),
        ),
    )
    .unwrap();
    let verify = systemd_analyze(&["verify", "--man=no"], &unit);
    assert!(
        verify.status.success() && verify.stdout.is_empty() && verify.stderr.is_empty(),
        "systemd-analyze verify: {verify:?}"
    );
    let security = systemd_analyze(&["security", "--offline=yes", "--no-pager"], &unit);
    assert!(security.status.success(), "{security:?}");
    let out = String::from_utf8_lossy(&security.stdout);
    let score: f64 = out
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for shopwatch.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{out}"));
    assert!(score <= 4.0, "exposure {score} (at most 4.0):\n{out}");
}

/// What shopwatch needs of its supervisor: SIGTERM to shopwatch alone (it closes its browsers
/// and drivers itself) with time for its grace periods, SIGHUP to reload, no restart loop on
/// a bad configuration, its own unprivileged user, a private TMPDIR.
#[test]
fn the_unit_stops_reloads_and_restarts_as_shopwatch_expects() {
    let text = unit_text();
    assert_eq!(one_value(&text, "KillMode"), "mixed");
    assert_eq!(one_value(&text, "KillSignal"), "SIGTERM");
    let stop = humantime::parse_duration(&one_value(&text, "TimeoutStopSec")).unwrap();
    // 30 s for running journeys, 15 s to cancel them, 10 s to send queued alerts.
    let needed = shopwatch::daemon::SHUTDOWN_GRACE + std::time::Duration::from_secs(15 + 10);
    assert!(
        stop > needed,
        "TimeoutStopSec {stop:?} leaves no time past {needed:?}"
    );
    assert_eq!(one_value(&text, "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(
        one_value(&text, "RestartPreventExitStatus"),
        shopwatch::cli::exit::INVALID.to_string()
    );
    let user = one_value(&text, "User");
    assert!(!user.is_empty() && user != "root", "{user}");
    assert_eq!(one_value(&text, "PrivateTmp"), "yes");
    assert_eq!(one_value(&text, "NoNewPrivileges"), "yes");
    assert_eq!(one_value(&text, "CapabilityBoundingSet"), "");
    // The browsers' JITs write and run code; their sandboxes make namespaces.
    for breaks_browsers in ["MemoryDenyWriteExecute", "RestrictNamespaces", "ProcSubset"] {
        assert!(
            unit_values(&text, breaks_browsers).is_empty(),
            "{breaks_browsers} would break the browsers or the process metrics"
        );
    }
    let exec = one_value(&text, "ExecStart");
    assert!(
        exec.ends_with(" run --config /etc/shopwatch/shopwatch.yaml"),
        "{exec}"
    );
}

fn amtool(args: &[&str]) -> std::process::Output {
    Command::new("amtool")
        .args(args)
        .output()
        .expect("amtool runs: run `bash scripts/install-deps` (it installs the Debian package `prometheus-alertmanager`)")
}

/// `amtool check-config` accepts the example, with its time interval and every receiver.
#[test]
fn amtool_accepts_the_example_alertmanager_configuration() {
    let file = repo_path("contrib/alertmanager.yml");
    let checked = amtool(&["check-config", file.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{checked:?}");
    assert!(
        out.contains("SUCCESS")
            && out.contains(" - 5 receivers")
            && out.contains(" - 2 inhibit rules"),
        "{out}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("- name: office-hours"), "{text}");
}

/// Where each kind of shopwatch alert goes, by `amtool config routes test` (which matches
/// labels; the time intervals then decide which of the receivers sends at a given hour).
#[test]
fn the_example_routes_each_alert_by_severity() {
    let file = repo_path("contrib/alertmanager.yml");
    let config = format!("--config.file={}", file.display());
    for (labels, receivers) in [
        // Critical: email in office hours, SMS and push out of hours, escalation if not
        // acknowledged.
        (
            &[
                "alertname=JourneyStepFailed",
                "severity=critical",
                "journey=checkout",
                "step=pay",
            ][..],
            "oncall-email,oncall-sms-and-push,escalation",
        ),
        (
            &[
                "alertname=CertificateInvalid",
                "severity=critical",
                "probe=shop-cert",
            ][..],
            "oncall-email,oncall-sms-and-push,escalation",
        ),
        (
            &[
                "alertname=JourneyStepSlow",
                "severity=warning",
                "journey=checkout",
            ][..],
            "shop-team-email",
        ),
        (
            &[
                "alertname=CertificateExpiring",
                "severity=warning",
                "probe=shop-cert",
            ][..],
            "shop-team-email",
        ),
        // The monitor's faults are a warning, but not the shop team's.
        (
            &[
                "alertname=MonitorUnhealthy",
                "severity=warning",
                "journey=checkout",
            ][..],
            "monitor-owners",
        ),
        (
            &["alertname=ShopwatchTest", "test=true"][..],
            "monitor-owners",
        ),
    ] {
        let mut args = vec!["config", "routes", "test", config.as_str()];
        let verify = format!("--verify.receivers={receivers}");
        args.push(&verify);
        args.extend(labels);
        let tested = amtool(&args);
        let out = String::from_utf8_lossy(&tested.stdout);
        assert!(
            tested.status.success() && out.trim() == receivers,
            "{labels:?} goes to {out:?}, not {receivers}: {tested:?}"
        );
    }
}
