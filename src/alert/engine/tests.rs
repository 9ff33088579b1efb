//! The engine's decisions with paused time: thresholds, repeats, recovery, maintenance windows,
//! `error` runs, filters, the queue bound, and a restart from the state file. No worker runs
//! here, so what the engine queued stays in the queues to be looked at.

use super::*;
use crate::alert::outbox::MAX_QUEUE;
use crate::alert::sink::{alertmanager, webhook};
use crate::alert::{Filter, MaintenanceWindow, Policy, SinkConfig, SinkSettings};
use crate::journey::outcome::{ReasonClass, StepOutcome, StepReport};
use crate::metrics::MetricsConfig;

const HOUR: Duration = Duration::from_secs(3600);

struct Fixture {
    alerting: Alerting,
    metrics: Arc<Metrics>,
    _dir: tempfile::TempDir,
    state_file: PathBuf,
}

fn sink(name: &str, settings: SinkSettings, filter: Filter) -> SinkConfig {
    SinkConfig {
        name: name.to_string(),
        filter,
        kind: settings,
    }
}

/// A webhook and an Alertmanager sink (nothing listens: the workers are not started).
fn sinks() -> Vec<SinkConfig> {
    let url = url::Url::parse("http://127.0.0.1:9/").unwrap();
    vec![
        sink(
            "hook",
            SinkSettings::Webhook(webhook::Settings {
                url: url.clone(),
                secret: None,
                headers: vec![],
            }),
            Filter::default(),
        ),
        sink(
            "am",
            SinkSettings::Alertmanager(alertmanager::Settings { url }),
            Filter::default(),
        ),
    ]
}

fn config(policy: Policy, sinks: Vec<SinkConfig>, state_file: &Path) -> AlertingConfig {
    AlertingConfig {
        defaults: policy,
        journeys: Default::default(),
        probes: Default::default(),
        maintenance: vec![],
        depends_on: Default::default(),
        sinks,
        state_file: state_file.to_path_buf(),
        external_url: None,
    }
}

fn policy(failure: u32, recovery: u32) -> Policy {
    Policy {
        failure_threshold: failure,
        recovery_threshold: recovery,
        slow_threshold: 2,
        repeat: 4 * HOUR,
        ..Policy::default()
    }
}

impl Fixture {
    fn new(config: AlertingConfig) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let state_file = dir.path().join("alerts.json");
        let config = AlertingConfig {
            state_file: state_file.clone(),
            ..config
        };
        Fixture::with_state(config, dir, state_file)
    }

    fn with_state(config: AlertingConfig, dir: tempfile::TempDir, state_file: PathBuf) -> Fixture {
        let metrics = Arc::new(Metrics::new(MetricsConfig::default(), None));
        let alerting = Alerting::new(metrics.clone());
        configure(&alerting, config);
        Fixture {
            alerting,
            metrics,
            _dir: dir,
            state_file,
        }
    }

    fn pending(&self, sink: &str) -> Vec<(Event, String)> {
        self.alerting
            .pending(sink)
            .into_iter()
            .map(|n| (n.event, n.key))
            .collect()
    }
}

fn configure(alerting: &Alerting, config: AlertingConfig) {
    let http = reqwest::Client::new();
    let sinks = config
        .sinks
        .iter()
        .map(|s| Arc::new(Sink::build(s, &http).unwrap()))
        .collect();
    alerting.configure(Setup {
        config: Some(config),
        sinks,
        redactor: Redactor::default(),
        location: Some("eu-west".into()),
        monitor_url: Some("http://127.0.0.1:9464".into()),
        artifacts_dir: PathBuf::from("/var/lib/shopwatch/artifacts"),
        journeys: vec!["shop".into()],
        probes: vec![],
    });
}

fn step(name: &str, outcome: StepOutcome) -> StepReport {
    let failed = outcome == StepOutcome::Failed;
    StepReport {
        duration_ms: (outcome != StepOutcome::Skipped).then_some(1200.0),
        slow_ms: Some(1000.0),
        reason: failed.then(|| "click `#pay`: no element matches".to_string()),
        reason_class: failed.then_some(ReasonClass::ElementMissing),
        artifacts: if failed {
            vec![PathBuf::from(format!(
                "/var/lib/shopwatch/artifacts/shop/r1/attempt-1/{name}.png"
            ))]
        } else {
            vec![]
        },
        ..StepReport::new(name, outcome)
    }
}

fn run(outcome: Outcome, steps: Vec<StepReport>) -> RunReport {
    RunReport {
        journey: "shop".into(),
        file: PathBuf::from("shop.yaml"),
        run_id: "r1".into(),
        browser: "firefox",
        outcome,
        attempts: 1,
        started_at: "2026-11-21T10:00:00.000Z".into(),
        duration_ms: 3000.0,
        session_start_ms: None,
        steps,
        previous_attempts: vec![],
        error: (outcome == Outcome::Error)
            .then(|| "WebDriver at http://127.0.0.1:4444 is unreachable".into()),
        error_class: None,
        artifacts_dir: None,
        artifact_errors: 0,
    }
}

fn ok_run() -> RunReport {
    run(
        Outcome::Ok,
        vec![
            step("browse", StepOutcome::Ok),
            step("pay", StepOutcome::Ok),
        ],
    )
}

fn pay_failed() -> RunReport {
    run(
        Outcome::Failed,
        vec![
            step("browse", StepOutcome::Ok),
            step("pay", StepOutcome::Failed),
        ],
    )
}

fn error_run() -> RunReport {
    run(
        Outcome::Error,
        vec![
            step("browse", StepOutcome::Error),
            step("pay", StepOutcome::Skipped),
        ],
    )
}

const PAY_FAILED: &str = "JourneyStepFailed{journey=shop,step=pay}";
const UNHEALTHY: &str = "MonitorUnhealthy{journey=shop}";

#[tokio::test(start_paused = true)]
async fn fires_after_the_threshold_with_what_on_call_needs() {
    let f = Fixture::new(config(policy(2, 1), sinks(), Path::new("")));
    f.alerting.observe_run(&pay_failed());
    assert!(
        f.pending("hook").is_empty(),
        "one failure is under the threshold of 2"
    );
    tokio::time::advance(Duration::from_secs(60)).await;
    f.alerting.observe_run(&pay_failed());
    assert_eq!(f.pending("hook"), [(Event::Firing, PAY_FAILED.to_string())]);
    assert_eq!(f.pending("am"), [(Event::Firing, PAY_FAILED.to_string())]);

    let n = &f.alerting.pending("hook")[0];
    assert_eq!(n.alert, "JourneyStepFailed");
    assert_eq!(n.severity, "critical");
    assert_eq!(n.journey.as_deref(), Some("shop"));
    assert_eq!(n.step.as_deref(), Some("pay"));
    assert_eq!(n.location.as_deref(), Some("eu-west"));
    assert_eq!(n.outcome, "failed");
    assert_eq!(
        n.reason.as_deref(),
        Some("click `#pay`: no element matches")
    );
    assert_eq!(n.reason_class.as_deref(), Some("element_missing"));
    assert_eq!(n.run_id.as_deref(), Some("r1"));
    assert_eq!(n.failed_runs, 2);
    assert_eq!(n.steps.len(), 2);
    assert_eq!(
        n.screenshot_url.as_deref(),
        Some("http://127.0.0.1:9464/artifacts/shop/r1/attempt-1/pay.png")
    );
    // The first failed run was a minute before the alert fired.
    let first = chrono::DateTime::parse_from_rfc3339(&n.first_failed_at).unwrap();
    let last = chrono::DateTime::parse_from_rfc3339(&n.last_failed_at).unwrap();
    assert_eq!((last - first).num_seconds(), 60);
    assert_eq!(f.alerting.firing(), [PAY_FAILED]);
    assert!(f.metrics.render().contains(
        "shopwatch_alerts_firing{alertname=\"JourneyStepFailed\",severity=\"critical\"} 1"
    ));
}

#[tokio::test(start_paused = true)]
async fn repeats_every_repeat_and_refreshes_alertmanager_every_minute() {
    let f = Fixture::new(config(policy(1, 1), sinks(), Path::new("")));
    f.alerting.observe_run(&pay_failed());
    tokio::time::advance(Duration::from_secs(59)).await;
    f.alerting.evaluate();
    assert_eq!(f.pending("am").len(), 1, "no refresh before a minute");
    tokio::time::advance(Duration::from_secs(1)).await;
    f.alerting.evaluate();
    assert_eq!(
        f.pending("am")[1].0,
        Event::Repeat,
        "Alertmanager every minute"
    );
    assert_eq!(f.pending("hook").len(), 1, "the webhook waits for `repeat`");

    tokio::time::advance(4 * HOUR - Duration::from_secs(61)).await;
    f.alerting.evaluate();
    assert_eq!(f.pending("hook").len(), 1, "not before 4h");
    tokio::time::advance(Duration::from_secs(1)).await;
    f.alerting.evaluate();
    assert_eq!(
        f.pending("hook"),
        [
            (Event::Firing, PAY_FAILED.to_string()),
            (Event::Repeat, PAY_FAILED.to_string())
        ]
    );
    // Still failing runs do not send anything by themselves.
    f.alerting.observe_run(&pay_failed());
    assert_eq!(f.pending("hook").len(), 2);
}

#[tokio::test(start_paused = true)]
async fn resolves_after_recovery_good_runs_to_the_sinks_that_got_the_firing() {
    let mut sinks = sinks();
    // This one only takes warnings: it never hears of the failure, so not of its end either.
    sinks.push(sink(
        "warnings",
        SinkSettings::Webhook(webhook::Settings {
            url: url::Url::parse("http://127.0.0.1:9/").unwrap(),
            secret: None,
            headers: vec![],
        }),
        Filter {
            severity: vec![Severity::Warning],
            ..Filter::default()
        },
    ));
    let f = Fixture::new(config(policy(1, 2), sinks, Path::new("")));
    f.alerting.observe_run(&pay_failed());
    tokio::time::advance(Duration::from_secs(30)).await;
    f.alerting.observe_run(&ok_run());
    assert_eq!(
        f.pending("hook").len(),
        1,
        "one good run is under the recovery of 2"
    );
    f.alerting.observe_run(&pay_failed());
    f.alerting.observe_run(&ok_run());
    assert_eq!(
        f.pending("hook").len(),
        1,
        "a failure in between starts recovery over"
    );
    tokio::time::advance(Duration::from_secs(30)).await;
    f.alerting.observe_run(&ok_run());
    assert_eq!(
        f.pending("hook"),
        [
            (Event::Firing, PAY_FAILED.to_string()),
            (Event::Resolved, PAY_FAILED.to_string())
        ]
    );
    let resolved = &f.alerting.pending("hook")[1];
    assert_eq!(resolved.status, "resolved");
    assert!(resolved.resolved_at.is_some());
    assert!(resolved
        .summary
        .starts_with("resolved: shop: step pay failed"));
    assert_eq!(f.pending("am").last().unwrap().0, Event::Resolved);
    assert!(f.pending("warnings").is_empty());
    assert!(f.alerting.firing().is_empty());
}

#[tokio::test(start_paused = true)]
async fn error_runs_raise_monitor_unhealthy_only() {
    let f = Fixture::new(config(policy(1, 1), sinks(), Path::new("")));
    f.alerting.observe_run(&pay_failed());
    // The WebDriver goes away: the shop alert neither resolves nor is joined by others.
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(60)).await;
        f.alerting.observe_run(&error_run());
    }
    assert_eq!(f.alerting.firing(), [PAY_FAILED, UNHEALTHY]);
    assert_eq!(
        f.pending("hook"),
        [
            (Event::Firing, PAY_FAILED.to_string()),
            (Event::Firing, UNHEALTHY.to_string())
        ]
    );
    let unhealthy = &f.alerting.pending("hook")[1];
    assert_eq!(unhealthy.severity, "warning");
    assert!(unhealthy.reason.as_deref().unwrap().contains("unreachable"));
    // Back: the monitor recovers; the shop is judged again.
    f.alerting.observe_run(&ok_run());
    let events: Vec<(Event, String)> = f.pending("hook").into_iter().skip(2).collect();
    assert_eq!(
        events,
        [
            (Event::Resolved, UNHEALTHY.to_string()),
            (Event::Resolved, PAY_FAILED.to_string())
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn only_error_runs_from_the_start_never_touch_shop_alerts() {
    let f = Fixture::new(config(policy(1, 1), sinks(), Path::new("")));
    f.alerting.observe_run(&error_run());
    assert_eq!(f.alerting.firing(), [UNHEALTHY]);
}

#[tokio::test(start_paused = true)]
async fn slow_steps_fire_after_slow_threshold_and_go_where_warnings_go() {
    let mut sinks = sinks();
    sinks[0].filter.severity = vec![Severity::Critical];
    let f = Fixture::new(config(policy(1, 1), sinks, Path::new("")));
    let slow = || {
        run(
            Outcome::Degraded,
            vec![
                step("browse", StepOutcome::Slow),
                step("pay", StepOutcome::Ok),
            ],
        )
    };
    f.alerting.observe_run(&slow());
    assert!(f.alerting.firing().is_empty(), "slow_threshold is 2");
    f.alerting.observe_run(&slow());
    let key = "JourneyStepSlow{journey=shop,step=browse}";
    assert_eq!(f.alerting.firing(), [key]);
    assert!(
        f.pending("hook").is_empty(),
        "the critical-only webhook skips warnings"
    );
    assert_eq!(f.pending("am"), [(Event::Firing, key.to_string())]);
    assert!(f.alerting.pending("am")[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("over its slow budget of 1.00s"));
}

#[tokio::test(start_paused = true)]
async fn maintenance_holds_alerts_back_until_the_window_ends() {
    let now = chrono::Utc::now();
    // A window that opened a minute ago and lasts an hour (cron at this minute, in UTC).
    let opened = now - chrono::Duration::minutes(1);
    let cron = format!("0 {} {} * * *", opened.format("%M"), opened.format("%H"));
    let mut config = config(policy(1, 1), sinks(), Path::new(""));
    config.maintenance = vec![MaintenanceWindow {
        cron: Box::new(crate::calendar::Cron::parse_utc(&cron).unwrap()),
        duration: HOUR,
        journeys: vec![],
        probes: vec![],
    }];
    let f = Fixture::new(config);
    f.alerting.observe_run(&pay_failed());
    assert_eq!(f.alerting.firing(), [PAY_FAILED], "runs and state go on");
    assert!(f.pending("hook").is_empty(), "silenced");
    assert!(f.pending("am").is_empty(), "Alertmanager too");
    tokio::time::advance(Duration::from_secs(58 * 60)).await;
    f.alerting.evaluate();
    assert!(f.pending("hook").is_empty(), "still in the window");
    tokio::time::advance(Duration::from_secs(2 * 60)).await;
    f.alerting.evaluate();
    assert_eq!(f.pending("hook"), [(Event::Firing, PAY_FAILED.to_string())]);

    // Failing and recovering inside a window sends nothing at all.
    let mut config2 = self::config(policy(1, 1), sinks(), Path::new(""));
    config2.maintenance = vec![MaintenanceWindow {
        cron: Box::new(crate::calendar::Cron::parse_utc(&cron).unwrap()),
        duration: HOUR,
        journeys: vec!["shop".into()],
        probes: vec![],
    }];
    let g = Fixture::new(config2);
    g.alerting.observe_run(&pay_failed());
    g.alerting.observe_run(&ok_run());
    assert!(g.pending("hook").is_empty() && g.pending("am").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_restart_neither_fires_twice_nor_loses_the_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("alerts.json");
    let before = Fixture::with_state(
        config(policy(1, 1), sinks(), &state_file),
        tempfile::tempdir().unwrap(),
        state_file.clone(),
    );
    before.alerting.observe_run(&pay_failed());
    let queued = before.alerting.pending("hook");
    assert_eq!(queued.len(), 1);
    drop(before);

    let after = Fixture::with_state(config(policy(1, 1), sinks(), &state_file), dir, state_file);
    // The undelivered firing is still queued, once; a still failing run adds nothing.
    assert_eq!(after.alerting.pending("hook"), queued);
    after.alerting.observe_run(&pay_failed());
    assert_eq!(after.alerting.pending("hook").len(), 1);
    assert_eq!(after.alerting.firing(), [PAY_FAILED]);
    after.alerting.observe_run(&ok_run());
    let events = after.pending("hook");
    assert_eq!(events[1], (Event::Resolved, PAY_FAILED.to_string()));
    // Ids go on from the state: no id is used twice.
    let ids: Vec<String> = after
        .alerting
        .pending("hook")
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_ne!(ids[0], ids[1]);
    assert!(after.state_file.exists());
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_state_file_is_moved_aside_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("alerts.json");
    std::fs::write(&state_file, "{ not json").unwrap();
    let f = Fixture::with_state(
        config(policy(1, 1), sinks(), &state_file),
        dir,
        state_file.clone(),
    );
    assert!(f.alerting.firing().is_empty());
    let aside = state_file.with_extension("unreadable");
    assert_eq!(std::fs::read_to_string(aside).unwrap(), "{ not json");
}

#[tokio::test(start_paused = true)]
async fn a_state_file_that_is_not_utf8_is_moved_aside_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("alerts.json");
    let garbage = [0xff, 0xfe, b'{', 0x80];
    std::fs::write(&state_file, garbage).unwrap();
    let f = Fixture::with_state(
        config(policy(1, 1), sinks(), &state_file),
        dir,
        state_file.clone(),
    );
    f.alerting.observe_run(&pay_failed());
    let aside = state_file.with_extension("unreadable");
    assert_eq!(std::fs::read(aside).unwrap(), garbage);
}

#[tokio::test(start_paused = true)]
async fn notification_ids_stay_unique_past_the_end_of_the_counter() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("alerts.json");
    let before = Fixture::with_state(
        config(policy(1, 1), sinks(), &state_file),
        tempfile::tempdir().unwrap(),
        state_file.clone(),
    );
    before.alerting.observe_run(&pay_failed());
    let first = before.alerting.pending("hook")[0].id.clone();
    drop(before);
    // The counter at its end, as a long-lived (or hand-edited) state file may have it.
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    state["seq"] = serde_json::json!(u64::MAX);
    std::fs::write(&state_file, serde_json::to_vec(&state).unwrap()).unwrap();

    let after = Fixture::with_state(config(policy(1, 1), sinks(), &state_file), dir, state_file);
    after.alerting.observe_run(&ok_run());
    let ids: Vec<String> = after
        .alerting
        .pending("hook")
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids[0], first);
    assert_ne!(ids[1], first);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_drops_the_oldest_and_counts_it() {
    let f = Fixture::new(config(policy(1, 1), sinks(), Path::new("")));
    let steps = (0..=MAX_QUEUE)
        .map(|i| step(&format!("s{i}"), StepOutcome::Failed))
        .collect();
    f.alerting.observe_run(&run(Outcome::Failed, steps));
    let pending = f.alerting.pending("hook");
    assert_eq!(pending.len(), MAX_QUEUE);
    // Queued in key order, so `s0` was the oldest, and dropped.
    assert!(pending.iter().all(|n| n.step.as_deref() != Some("s0")));
    assert!(f
        .metrics
        .render()
        .contains("shopwatch_notifications_total{sink=\"hook\",result=\"dropped\"} 1"));
    assert!(f.metrics.render().contains(&format!(
        "shopwatch_notification_queue_length{{sink=\"hook\"}} {MAX_QUEUE}"
    )));
}

#[tokio::test(start_paused = true)]
async fn a_step_gone_from_the_journey_resolves_its_alert() {
    let f = Fixture::new(config(policy(1, 1), sinks(), Path::new("")));
    f.alerting.observe_run(&pay_failed());
    f.alerting
        .observe_run(&run(Outcome::Ok, vec![step("browse", StepOutcome::Ok)]));
    assert!(f.alerting.firing().is_empty());
    let resolved = f.alerting.pending("hook").pop().unwrap();
    assert_eq!(resolved.event, Event::Resolved);
    assert!(resolved.summary.contains("no longer in the journey"));
}

fn probes() -> Vec<ProbeConfig> {
    crate::probe::parse_probes(
        Path::new("probes.yaml"),
        "probes:\n  - tls: {name: cert, target: \"127.0.0.1:8443\", every: 1h}\n  - http: {name: home, url: \"http://127.0.0.1:8088/\", every: 15s}\n",
    )
    .unwrap()
}

fn probe_fixture() -> Fixture {
    probe_fixture_with(|_| {})
}

/// [`probe_fixture`] with the journey `shop` too, its configuration changed by `change`.
fn probe_fixture_with(change: impl FnOnce(&mut AlertingConfig)) -> Fixture {
    let f = Fixture::new(config(policy(1, 1), sinks(), Path::new("")));
    let mut config = config(policy(1, 1), sinks(), &f.state_file);
    change(&mut config);
    config.probes.insert(
        "cert".into(),
        Policy {
            warn_days: 30,
            critical_days: 7,
            ..policy(1, 1)
        },
    );
    let http = reqwest::Client::new();
    let sinks = config
        .sinks
        .iter()
        .map(|s| Arc::new(Sink::build(s, &http).unwrap()))
        .collect();
    f.alerting.configure(Setup {
        config: Some(config),
        sinks,
        journeys: vec!["shop".into()],
        probes: vec!["cert".into(), "home".into()],
        ..Setup::default()
    });
    f
}

/// A tls result whose chain expires in `days` (verified or not).
fn tls_result(outcome: Outcome, days: i64, verified: bool) -> ProbeResult {
    let expiry = chrono::Utc::now().timestamp() + days * 86_400;
    ProbeResult {
        outcome,
        duration: Duration::from_millis(20),
        reason: (!verified).then(|| "certificate chain does not verify: UnknownIssuer".into()),
        metrics: crate::probe::ProbeMetrics {
            tls: Some(crate::probe::TlsInfo {
                version: "TLS 1.3".into(),
                certs: vec![],
                earliest_expiry: expiry,
                last_chain_expiry: verified.then_some(expiry),
                verified,
            }),
            ..Default::default()
        },
    }
}

#[tokio::test(start_paused = true)]
async fn certificates_warn_then_turn_critical_by_the_probe_s_own_days() {
    let f = probe_fixture();
    let cert = &probes()[0];
    f.alerting
        .observe_probe(cert, &tls_result(Outcome::Ok, 40, true));
    assert!(f.alerting.firing().is_empty());
    f.alerting
        .observe_probe(cert, &tls_result(Outcome::Degraded, 20, true));
    let warning = "CertificateExpiring{probe=cert,severity=warning}";
    let critical = "CertificateExpiring{probe=cert,severity=critical}";
    assert_eq!(
        f.alerting.firing(),
        [warning],
        "under warn_days 30, over critical_days 7"
    );
    f.alerting
        .observe_probe(cert, &tls_result(Outcome::Degraded, 5, true));
    assert_eq!(f.alerting.firing(), [critical, warning]);
    let n = f.alerting.pending("hook").pop().unwrap();
    assert_eq!(n.severity, "critical");
    assert!(n.reason.unwrap().contains("expires in 5.0 days"));
    // Renewed: both resolve.
    f.alerting
        .observe_probe(cert, &tls_result(Outcome::Ok, 90, true));
    assert!(f.alerting.firing().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_unverifiable_chain_is_certificate_invalid_not_probe_failed() {
    let f = probe_fixture();
    let cert = &probes()[0];
    f.alerting
        .observe_probe(cert, &tls_result(Outcome::Failed, 90, false));
    assert_eq!(f.alerting.firing(), ["CertificateInvalid{probe=cert}"]);
}

#[tokio::test(start_paused = true)]
async fn probes_fail_and_monitor_faults_stay_the_monitor_s() {
    let f = probe_fixture();
    let home = &probes()[1];
    let result = |outcome, reason: &str| ProbeResult {
        outcome,
        duration: Duration::from_millis(20),
        reason: Some(reason.to_string()),
        metrics: Default::default(),
    };
    f.alerting
        .observe_probe(home, &result(Outcome::Failed, "connection refused"));
    assert_eq!(f.alerting.firing(), ["ProbeFailed{probe=home}"]);
    // The monitor cannot probe (an unreadable ca_file): that neither resolves the shop's alert
    // nor adds one about the shop.
    f.alerting
        .observe_probe(home, &result(Outcome::Error, "cannot read ca_file"));
    assert_eq!(
        f.alerting.firing(),
        ["MonitorUnhealthy{probe=home}", "ProbeFailed{probe=home}"]
    );
    let n = f.alerting.pending("hook").pop().unwrap();
    assert_eq!(n.alert, "MonitorUnhealthy");
    assert_eq!(n.probe.as_deref(), Some("home"));
}

#[tokio::test(start_paused = true)]
async fn good_runs_with_nothing_to_remember_do_not_write_the_state_file() {
    let f = Fixture::new(config(policy(2, 1), sinks(), Path::new("")));
    std::fs::remove_file(&f.state_file).unwrap();
    f.alerting.observe_run(&ok_run());
    assert!(!f.state_file.exists(), "a healthy run changes nothing");
    f.alerting.observe_run(&pay_failed());
    assert!(
        f.state_file.exists(),
        "a streak begins: kept across a restart"
    );
}

#[test]
fn an_endless_state_file_is_not_read_whole_nor_moved_aside() {
    let started = std::time::Instant::now();
    let state = State::load(Path::new("/dev/zero"));
    assert!(state.alerts.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(Path::new("/dev/zero").exists());
    assert!(!Path::new("/dev/zero.unreadable").exists());
}

fn home_result(outcome: Outcome) -> ProbeResult {
    ProbeResult {
        outcome,
        duration: Duration::from_millis(20),
        reason: (outcome == Outcome::Failed).then(|| "connection refused".to_string()),
        metrics: Default::default(),
    }
}

/// `shop` depends on the probe `home`, `cert` on `home` too.
fn with_dependencies(config: &mut AlertingConfig) {
    let home = Subject::Probe("home".into());
    config
        .depends_on
        .insert(Subject::Journey("shop".into()), vec![home.clone()]);
    config
        .depends_on
        .insert(Subject::Probe("cert".into()), vec![home]);
}

#[tokio::test(start_paused = true)]
async fn a_journey_failing_with_its_dependency_is_folded_into_it_and_never_sent_alone() {
    let f = probe_fixture_with(with_dependencies);
    let home = &probes()[1];
    f.alerting
        .observe_probe(home, &home_result(Outcome::Failed));
    f.alerting.observe_run(&pay_failed());
    // Both fire; only the dependency's alert is sent, naming what it takes down with it.
    assert_eq!(f.alerting.firing(), [PAY_FAILED, "ProbeFailed{probe=home}"]);
    assert_eq!(
        f.pending("hook"),
        [(Event::Firing, "ProbeFailed{probe=home}".to_string())]
    );
    let text = f.metrics.render();
    assert!(text.contains(
        "shopwatch_alerts_folded{alertname=\"JourneyStepFailed\",severity=\"critical\"} 1"
    ));
    assert!(text.contains(
        "shopwatch_alerts_firing{alertname=\"JourneyStepFailed\",severity=\"critical\"} 1"
    ));
    // Its repeat lists the journey's alert as affected; the journey's is still not sent.
    tokio::time::advance(4 * HOUR).await;
    f.alerting.evaluate();
    let pending = f.alerting.pending("hook");
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert_eq!(pending[1].event, Event::Repeat);
    assert_eq!(pending[1].affected, [PAY_FAILED]);
    // Both recover: the journey's alert was never sent, so no resolve of it either.
    f.alerting.observe_probe(home, &home_result(Outcome::Ok));
    f.alerting.observe_run(&ok_run());
    assert!(f.alerting.firing().is_empty());
    assert_eq!(
        f.pending("hook").last().unwrap(),
        &(Event::Resolved, "ProbeFailed{probe=home}".to_string())
    );
    assert!(!f.pending("hook").iter().any(|(_, key)| key == PAY_FAILED));
}

#[tokio::test(start_paused = true)]
async fn a_folded_alert_still_firing_when_its_dependency_works_again_is_sent_then() {
    let f = probe_fixture_with(with_dependencies);
    let (cert, home) = (&probes()[0], &probes()[1]);
    // The dependency's last run failed (its alert need not fire yet for the fold).
    f.alerting
        .observe_probe(home, &home_result(Outcome::Failed));
    f.alerting
        .observe_probe(cert, &tls_result(Outcome::Failed, 90, false));
    f.alerting.observe_run(&pay_failed());
    let keys: Vec<String> = f.pending("hook").into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys, ["ProbeFailed{probe=home}"]);
    // home works again: each folded alert waits for a run of its own, which may pass now.
    f.alerting.observe_probe(home, &home_result(Outcome::Ok));
    assert_eq!(f.pending("hook").len(), 2, "home's resolve only");
    // The journey still fails on its next run: its alert goes out now, on its own.
    f.alerting.observe_run(&pay_failed());
    let events = f.pending("hook");
    assert_eq!(events[2], (Event::Firing, PAY_FAILED.to_string()));
    assert!(!events
        .iter()
        .any(|(_, k)| k == "CertificateInvalid{probe=cert}"));
    f.alerting
        .observe_probe(cert, &tls_result(Outcome::Failed, 90, false));
    assert_eq!(
        f.pending("hook")[3],
        (Event::Firing, "CertificateInvalid{probe=cert}".to_string())
    );
    // The monitor's own faults are never folded.
    f.alerting
        .observe_probe(home, &home_result(Outcome::Failed));
    f.alerting.observe_run(&error_run());
    assert!(f
        .pending("hook")
        .contains(&(Event::Firing, UNHEALTHY.to_string())));
}
