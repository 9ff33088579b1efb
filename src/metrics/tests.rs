//! Tests of the metrics, driving `now` explicitly.

use super::*;
use crate::journey::outcome::{AttemptReport, ReasonClass, StepReport};
use crate::probe::{CertInfo, HttpProbe, Phase, ProbeMetrics, TlsInfo, TlsProbe};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn step(name: &str, outcome: StepOutcome, ms: f64) -> StepReport {
    let failed = matches!(outcome, StepOutcome::Failed | StepOutcome::Error);
    StepReport {
        duration_ms: (outcome != StepOutcome::Skipped).then_some(ms),
        reason: failed.then(|| "it broke".to_owned()),
        ..StepReport::new(name, outcome)
    }
}

fn failed_step(name: &str, outcome: StepOutcome, class: Option<ReasonClass>) -> StepReport {
    StepReport {
        reason_class: class,
        ..step(name, outcome, 1500.0)
    }
}

fn run(journey: &str, outcome: Outcome, duration_ms: f64, steps: Vec<StepReport>) -> RunReport {
    RunReport {
        journey: journey.to_owned(),
        file: PathBuf::from("journeys/checkout.yaml"),
        run_id: "r1".to_owned(),
        browser: "firefox",
        outcome,
        attempts: 1,
        started_at: "2025-03-01T12:00:00.000Z".to_owned(),
        duration_ms,
        session_start_ms: Some(800.0),
        steps,
        previous_attempts: Vec::new(),
        error: None,
        error_class: None,
        artifacts_dir: None,
        artifact_errors: 0,
    }
}

fn passed(journey: &str, steps: &[(&str, f64)]) -> RunReport {
    let steps: Vec<_> = steps
        .iter()
        .map(|(name, ms)| step(name, StepOutcome::Ok, *ms))
        .collect();
    let total = steps.iter().filter_map(|s| s.duration_ms).sum();
    run(journey, Outcome::Ok, total, steps)
}

fn http_probe(name: &str) -> ProbeConfig {
    ProbeConfig::Http(Box::new(HttpProbe {
        name: name.to_owned(),
        url: "https://shop.example/health".parse().unwrap(),
        every: Duration::from_secs(30),
        method: ::http::Method::GET,
        headers: Default::default(),
        expect_status: Vec::new(),
        body_contains: None,
        body_matches: None,
        follow_redirects: true,
        slow: None,
        timeout: Duration::from_secs(10),
        trust: crate::probe::Trust::Roots(None),
    }))
}

fn tls_probe(name: &str) -> ProbeConfig {
    ProbeConfig::Tls(Box::new(TlsProbe {
        name: name.to_owned(),
        host: url::Host::Domain("shop.example".to_owned()),
        port: 443,
        server_name: "shop.example".to_owned(),
        every: Duration::from_secs(3600),
        timeout: Duration::from_secs(10),
        trust: crate::probe::Trust::Roots(None),
        warn_days: Some(14),
    }))
}

fn cert(subject: &str, issuer: &str, not_after: i64) -> CertInfo {
    CertInfo {
        subject: subject.to_owned(),
        issuer: issuer.to_owned(),
        not_before: 1_700_000_000,
        not_after,
        names: vec!["shop.example".to_owned()],
    }
}

fn tls_info(certs: Vec<CertInfo>) -> TlsInfo {
    TlsInfo {
        version: "TLS 1.3".to_owned(),
        earliest_expiry: certs.iter().map(|c| c.not_after).min().unwrap_or(0),
        last_chain_expiry: Some(1_800_000_000),
        verified: true,
        certs,
    }
}

fn http_ok() -> ProbeResult {
    ProbeResult {
        outcome: Outcome::Ok,
        duration: Duration::from_millis(120),
        reason: None,
        metrics: ProbeMetrics {
            http_status: Some(200),
            phases: vec![
                (Phase::Resolve, Duration::from_millis(2)),
                (Phase::Connect, Duration::from_millis(10)),
                (Phase::Tls, Duration::from_millis(30)),
                (Phase::Processing, Duration::from_millis(70)),
                (Phase::Transfer, Duration::from_millis(8)),
            ],
            redirects: 1,
            body_bytes: Some(5120),
            tls: Some(tls_info(vec![
                cert("CN=shop.example", "CN=R3, O=Let's Encrypt", 1_780_000_000),
                cert("CN=R3, O=Let's Encrypt", "CN=ISRG Root X1", 1_790_000_000),
            ])),
            ..ProbeMetrics::default()
        },
    }
}

fn http_refused() -> ProbeResult {
    ProbeResult {
        outcome: Outcome::Failed,
        duration: Duration::from_millis(3),
        reason: Some("connection refused".to_owned()),
        metrics: ProbeMetrics {
            phases: vec![
                (Phase::Resolve, Duration::from_millis(1)),
                (Phase::Connect, Duration::from_millis(2)),
            ],
            ..Default::default()
        },
    }
}

fn tls_ok() -> ProbeResult {
    ProbeResult {
        outcome: Outcome::Degraded,
        duration: Duration::from_millis(45),
        reason: Some("expires in 10 days".to_owned()),
        metrics: ProbeMetrics {
            phases: vec![
                (Phase::Resolve, Duration::from_millis(1)),
                (Phase::Connect, Duration::from_millis(9)),
                (Phase::Tls, Duration::from_millis(35)),
            ],
            tls: Some(TlsInfo {
                last_chain_expiry: None,
                verified: false,
                ..tls_info(vec![cert(
                    "CN=shop.example, O=\"Shop\\Co\"",
                    "CN=Self",
                    1_760_000_000,
                )])
            }),
            ..Default::default()
        },
    }
}

/// The value of the sample `series` (name and labels exactly as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

/// The number of samples of family `name` (with any suffix).
fn samples(text: &str, name: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.starts_with(name))
        .count()
}

fn config(window: Duration) -> MetricsConfig {
    MetricsConfig {
        window,
        ..Default::default()
    }
}

/// A realistic state: journeys with passed, failed and errored runs, probes of both kinds.
fn realistic(location: Option<&str>) -> (Metrics, Instant) {
    let m = Metrics::new(MetricsConfig::default(), location.map(str::to_owned));
    let now = Instant::now();
    m.set_configured(&["checkout", "login", "search"], &["home", "api", "cert"]);
    for i in 0..20 {
        let t = now + Duration::from_secs(60 * i);
        m.record_run_at(
            &passed(
                "checkout",
                &[
                    ("open home", 300.0 + i as f64),
                    ("add to cart", 650.0),
                    ("pay", 2100.0 + 10.0 * i as f64),
                ],
            ),
            t,
        );
    }
    m.record_run_at(
        &run(
            "checkout",
            Outcome::Failed,
            4000.0,
            vec![
                step("open home", StepOutcome::Ok, 320.0),
                failed_step(
                    "add to cart",
                    StepOutcome::Failed,
                    Some(ReasonClass::ElementMissing),
                ),
                step("pay", StepOutcome::Skipped, 0.0),
            ],
        ),
        now,
    );
    m.record_run_at(
        &run(
            "login",
            Outcome::Error,
            900.0,
            vec![failed_step(
                "log in",
                StepOutcome::Error,
                Some(ReasonClass::BrowserCrashed),
            )],
        ),
        now,
    );
    m.record_run_at(
        &run(
            "login",
            Outcome::Degraded,
            1200.0,
            vec![step("log in", StepOutcome::Slow, 1200.0)],
        ),
        now,
    );
    m.record_schedule_lag("checkout", Duration::from_millis(250));
    m.record_skipped("login", SkipReason::Overlap);
    m.record_monitor_error("config_reload");
    m.set_artifacts(12, 3_400_000);
    m.set_sessions(2, 1);
    m.set_reload_result_at(true, 1_740_000_000.0);
    m.set_reload_result_at(false, 1_740_000_100.0);
    m.record_probe(&http_probe("home"), &http_ok());
    m.record_probe(&http_probe("api"), &http_refused());
    m.record_probe(&tls_probe("cert"), &tls_ok());
    (m, now)
}

#[test]
fn promtool_accepts_the_output() {
    let (m, now) = realistic(Some("eu-west"));
    let text = m.render_at(now + Duration::from_secs(1200));
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => panic!(
            "promtool is needed for this test (`promtool check metrics`) and cannot be run: {e}; \
             install it (Prometheus) on the PATH"
        ),
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.is_empty(),
        "promtool check metrics: {}\n{said}\n--- input:\n{text}",
        output.status
    );
    // The realistic state has every family.
    for name in [
        STEP_DURATION,
        STEP_DURATION_WINDOW,
        JOURNEY_DURATION,
        JOURNEY_DURATION_WINDOW,
        JOURNEY_RUNS,
        STEP_FAILURES,
        JOURNEY_LAST_SUCCESS,
        JOURNEY_LAST_RUN_PASSED,
        JOURNEY_LAST_RUN,
        SCHEDULE_LAG,
        SKIPPED_RUNS,
        SESSION_START,
        MONITOR_ERRORS,
        ARTIFACTS_FILES,
        ARTIFACTS_BYTES,
        BROWSER_SESSIONS,
        CONFIG_RELOAD_SUCCESSFUL,
        CONFIG_RELOAD_SUCCESS_TIMESTAMP,
        BUILD_INFO,
        PROBE_SUCCESS,
        PROBE_DURATION,
        PROBE_DNS_LOOKUP,
        PROBE_HTTP_STATUS,
        PROBE_HTTP_DURATION,
        PROBE_HTTP_REDIRECTS,
        PROBE_HTTP_SSL,
        PROBE_HTTP_BODY_LENGTH,
        PROBE_SSL_EARLIEST_EXPIRY,
        PROBE_SSL_LAST_CHAIN_EXPIRY,
        PROBE_TLS_VERSION,
        PROBE_RUNS,
        PROBE_TLS_CHAIN_VERIFIED,
        PROBE_CERT_EXPIRY,
        PROCESS_CPU,
        PROCESS_RESIDENT_MEMORY,
        PROCESS_VIRTUAL_MEMORY,
        PROCESS_OPEN_FDS,
        PROCESS_MAX_FDS,
        PROCESS_START_TIME,
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} missing:\n{text}"
        );
    }
}

#[test]
fn every_series_has_the_location_label() {
    let (m, now) = realistic(Some("eu-west"));
    let text = m.render_at(now);
    let series: Vec<_> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(series.len() > 100);
    for line in series {
        assert!(line.contains("location=\"eu-west\""), "{line}");
    }
    let (m, now) = realistic(None);
    assert!(!m.render_at(now).contains("location="));
}

#[test]
fn quantiles_of_known_data_are_exact() {
    let m = Metrics::new(MetricsConfig::default(), None);
    let now = Instant::now();
    for ms in 1..=1000 {
        m.record_run_at(&passed("j", &[("s", ms as f64)]), now);
    }
    let text = m.render_at(now);
    let q = |q: &str| {
        sample(
            &text,
            &format!("{STEP_DURATION_WINDOW}{{journey=\"j\",step=\"s\",quantile=\"{q}\"}}"),
        )
    };
    assert_eq!(q("0.5"), Some(0.5));
    assert_eq!(q("0.9"), Some(0.9));
    assert_eq!(q("0.99"), Some(0.99));
    assert_eq!(q("0.999"), Some(0.999));
    assert_eq!(q("1"), Some(1.0));
    let count = sample(
        &text,
        &format!("{STEP_DURATION_WINDOW}_count{{journey=\"j\",step=\"s\"}}"),
    );
    assert_eq!(count, Some(1000.0));
    let sum = sample(
        &text,
        &format!("{STEP_DURATION_WINDOW}_sum{{journey=\"j\",step=\"s\"}}"),
    );
    assert!((sum.unwrap() - 500.5).abs() < 1e-9, "{sum:?}");
}

#[test]
fn values_leave_the_window_but_stay_in_count_sum_and_buckets() {
    // A 60 s window: six slices of 10 s.
    let m = Metrics::new(config(Duration::from_secs(60)), None);
    let t0 = Instant::now();
    m.record_run_at(&passed("j", &[("s", 2000.0)]), t0);
    m.record_run_at(&passed("j", &[("s", 300.0)]), t0 + Duration::from_secs(30));

    let median = format!("{STEP_DURATION_WINDOW}{{journey=\"j\",step=\"s\",quantile=\"0.5\"}}");
    let max = format!("{STEP_DURATION_WINDOW}{{journey=\"j\",step=\"s\",quantile=\"1\"}}");
    let count = format!("{STEP_DURATION_WINDOW}_count{{journey=\"j\",step=\"s\"}}");
    let hist_count = format!("{STEP_DURATION}_count{{journey=\"j\",step=\"s\"}}");
    let sum = format!("{STEP_DURATION}_sum{{journey=\"j\",step=\"s\"}}");
    let bucket =
        |le: &str| format!("{STEP_DURATION}_bucket{{journey=\"j\",step=\"s\",le=\"{le}\"}}");

    let text = m.render_at(t0 + Duration::from_secs(45));
    assert_eq!(sample(&text, &median), Some(0.3));
    assert_eq!(sample(&text, &max), Some(2.0));

    // The first value is out of the window, the second still in.
    let text = m.render_at(t0 + Duration::from_secs(60));
    assert_eq!(sample(&text, &median), Some(0.3));
    assert_eq!(sample(&text, &max), Some(0.3));
    assert_eq!(sample(&text, &count), Some(2.0));

    // Both out: no quantile samples, all-time values unchanged.
    let text = m.render_at(t0 + Duration::from_secs(90));
    assert_eq!(sample(&text, &median), None);
    assert_eq!(sample(&text, &max), None);
    assert_eq!(sample(&text, &count), Some(2.0));
    assert_eq!(sample(&text, &hist_count), Some(2.0));
    assert_eq!(sample(&text, &sum), Some(2.3));
    assert_eq!(sample(&text, &bucket("0.5")), Some(1.0));
    assert_eq!(sample(&text, &bucket("2.5")), Some(2.0));

    // A new value after the gap.
    m.record_run_at(&passed("j", &[("s", 700.0)]), t0 + Duration::from_secs(95));
    let text = m.render_at(t0 + Duration::from_secs(95));
    assert_eq!(sample(&text, &max), Some(0.7));
    assert_eq!(sample(&text, &count), Some(3.0));
}

#[test]
fn buckets_are_cumulative_and_exact_at_a_bound() {
    let m = Metrics::new(MetricsConfig::default(), None);
    let now = Instant::now();
    for ms in [100.0, 250.0, 250.001, 99.999, 40_000.0] {
        m.record_run_at(&passed("j", &[("s", ms)]), now);
    }
    let text = m.render_at(now);
    let bucket = |le: &str| {
        sample(
            &text,
            &format!("{STEP_DURATION}_bucket{{journey=\"j\",step=\"s\",le=\"{le}\"}}"),
        )
    };
    assert_eq!(
        bucket("0.1"),
        Some(2.0),
        "a value equal to a bound is in it"
    );
    assert_eq!(bucket("0.25"), Some(3.0));
    assert_eq!(bucket("0.5"), Some(4.0));
    assert_eq!(bucket("1"), Some(4.0));
    assert_eq!(bucket("30"), Some(4.0));
    assert_eq!(bucket("+Inf"), Some(5.0));
    assert_eq!(
        samples(&text, &format!("{STEP_DURATION}_bucket")),
        9,
        "8 bounds and +Inf"
    );
    // Journey durations (passed runs) against the journey buckets.
    let journey = |le: &str| {
        sample(
            &text,
            &format!("{JOURNEY_DURATION}_bucket{{journey=\"j\",le=\"{le}\"}}"),
        )
    };
    assert_eq!(journey("1"), Some(4.0));
    assert_eq!(journey("60"), Some(5.0));
    // Session start (800 ms each run) in its fixed buckets.
    let session = |le: &str| {
        sample(
            &text,
            &format!("{SESSION_START}_bucket{{journey=\"j\",le=\"{le}\"}}"),
        )
    };
    assert_eq!(session("0.5"), Some(0.0));
    assert_eq!(session("1"), Some(5.0));
}

#[test]
fn set_configured_precreates_runs_and_forgets_removed() {
    let m = Metrics::new(MetricsConfig::default(), None);
    let now = Instant::now();
    m.set_configured(&["a", "b"], &["p1", "p2"]);
    let text = m.render_at(now);
    for journey in ["a", "b"] {
        for outcome in ["ok", "degraded", "flaky", "failed", "error"] {
            let series = format!("{JOURNEY_RUNS}{{journey=\"{journey}\",outcome=\"{outcome}\"}}");
            assert_eq!(sample(&text, &series), Some(0.0), "{series}");
        }
        for reason in ["overlap", "shutdown"] {
            let series = format!("{SKIPPED_RUNS}{{journey=\"{journey}\",reason=\"{reason}\"}}");
            assert_eq!(sample(&text, &series), Some(0.0), "{series}");
        }
    }
    // Absent before the first run.
    assert_eq!(samples(&text, JOURNEY_LAST_RUN_PASSED), 0);
    assert_eq!(samples(&text, JOURNEY_LAST_SUCCESS), 0);

    m.record_run_at(&passed("a", &[("s", 100.0)]), now);
    m.record_run_at(&passed("b", &[("t", 100.0)]), now);
    m.record_schedule_lag("b", Duration::from_secs(2));
    m.record_probe(&http_probe("p1"), &http_ok());
    m.record_probe(&tls_probe("p2"), &tls_ok());
    let text = m.render_at(now);
    assert!(text.contains("journey=\"b\""));
    assert!(text.contains("probe=\"p2\""));
    assert_eq!(
        sample(
            &text,
            &format!("{JOURNEY_LAST_RUN_PASSED}{{journey=\"a\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &format!("{JOURNEY_LAST_SUCCESS}{{journey=\"a\"}}")),
        Some(1_740_830_400.1)
    );

    // Reload: b and p2 removed, c added.
    m.set_configured(&["a", "c"], &["p1"]);
    let text = m.render_at(now);
    assert!(!text.contains("journey=\"b\""), "{text}");
    assert!(!text.contains("probe=\"p2\""), "{text}");
    assert!(text.contains("journey=\"a\",step=\"s\""));
    assert!(text.contains("probe=\"p1\""));
    assert_eq!(
        sample(
            &text,
            &format!("{JOURNEY_RUNS}{{journey=\"c\",outcome=\"ok\"}}")
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("{JOURNEY_RUNS}{{journey=\"a\",outcome=\"ok\"}}")
        ),
        Some(1.0)
    );

    // A run of a removed journey still going during the reload does not bring it back.
    m.record_run_at(&passed("b", &[("t", 100.0)]), now);
    m.record_skipped("b", SkipReason::Shutdown);
    m.record_probe(&tls_probe("p2"), &tls_ok());
    let text = m.render_at(now);
    assert!(!text.contains("journey=\"b\""), "{text}");
    assert!(!text.contains("probe=\"p2\""), "{text}");
}

/// A run that passed on its retry: the first attempt's failure is counted where it happened,
/// and the passed run's last attempt counts no failure.
#[test]
fn failures_of_earlier_attempts_are_counted_apart() {
    let m = Metrics::new(MetricsConfig::default(), None);
    let now = Instant::now();
    let mut flaky = passed("j", &[("open", 200.0), ("cart", 300.0)]);
    flaky.outcome = Outcome::Flaky;
    flaky.attempts = 2;
    flaky.previous_attempts = vec![AttemptReport {
        attempt: 1,
        outcome: Outcome::Failed,
        session_start_ms: Some(700.0),
        error: None,
        steps: vec![
            step("open", StepOutcome::Ok, 200.0),
            failed_step("cart", StepOutcome::Failed, Some(ReasonClass::Timeout)),
        ],
        artifact_errors: 0,
    }];
    m.record_run_at(&flaky, now);
    let text = m.render_at(now);
    assert_eq!(
        sample(
            &text,
            &format!("{ATTEMPT_FAILURES}{{journey=\"j\",step=\"cart\",reason=\"timeout\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains(&format!("{STEP_FAILURES}{{journey=\"j\"")),
        "{text}"
    );
}

#[test]
fn failed_steps_count_as_failures_not_durations() {
    let m = Metrics::new(MetricsConfig::default(), None);
    let now = Instant::now();
    m.record_run_at(
        &run(
            "j",
            Outcome::Failed,
            3000.0,
            vec![
                step("open", StepOutcome::Ok, 200.0),
                failed_step("cart", StepOutcome::Failed, Some(ReasonClass::Assertion)),
                step("pay", StepOutcome::Skipped, 0.0),
                failed_step("cleanup", StepOutcome::Failed, None),
            ],
        ),
        now,
    );
    let text = m.render_at(now);
    assert!(text.contains("step=\"open\""));
    assert_eq!(
        samples(&text, STEP_DURATION),
        11,
        "only open's histogram: {text}"
    );
    assert!(!text.contains(&format!(
        "{STEP_DURATION}_count{{journey=\"j\",step=\"cart\""
    )));
    assert!(!text.contains("step=\"pay\""));
    assert_eq!(
        sample(
            &text,
            &format!("{STEP_FAILURES}{{journey=\"j\",step=\"cart\",reason=\"assertion\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("{STEP_FAILURES}{{journey=\"j\",step=\"cleanup\",reason=\"unknown\"}}")
        ),
        Some(1.0)
    );
    // A failed run: no journey duration, but the run counts and the last run did not pass.
    assert_eq!(
        sample(&text, &format!("{JOURNEY_DURATION}_count{{journey=\"j\"}}")),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("{JOURNEY_RUNS}{{journey=\"j\",outcome=\"failed\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("{JOURNEY_LAST_RUN_PASSED}{{journey=\"j\"}}")
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, &format!("{JOURNEY_LAST_RUN}{{journey=\"j\"}}")),
        Some(1_740_830_403.0)
    );
    assert_eq!(samples(&text, JOURNEY_LAST_SUCCESS), 0);
    assert!(!text.contains("shopwatch_monitor_errors_total{kind=\"assertion\"}"));
}

#[test]
fn error_runs_count_monitor_errors() {
    let m = Metrics::new(MetricsConfig::default(), None);
    let now = Instant::now();
    let mut no_session = run("j", Outcome::Error, 5.0, Vec::new());
    no_session.error = Some("session not created".to_owned());
    no_session.session_start_ms = None;
    m.record_run_at(&no_session, now);
    m.record_run_at(
        &run(
            "j",
            Outcome::Error,
            5.0,
            vec![
                step("open", StepOutcome::Ok, 200.0),
                failed_step(
                    "cart",
                    StepOutcome::Error,
                    Some(ReasonClass::BrowserCrashed),
                ),
            ],
        ),
        now,
    );
    m.record_monitor_error("webdriver");
    let text = m.render_at(now);
    let errors = |kind: &str| sample(&text, &format!("{MONITOR_ERRORS}{{kind=\"{kind}\"}}"));
    assert_eq!(errors("webdriver"), Some(2.0));
    assert_eq!(errors("browser_crashed"), Some(1.0));
    assert_eq!(errors("session"), Some(0.0), "known kinds exist at 0");
    assert_eq!(
        sample(
            &text,
            &format!("{STEP_FAILURES}{{journey=\"j\",step=\"cart\",reason=\"browser_crashed\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &format!("{SESSION_START}_count{{journey=\"j\"}}")),
        Some(1.0)
    );
}

#[test]
fn quantile_cache_is_used_and_invalidated_on_record_and_expiry() {
    let m = Metrics::new(config(Duration::from_secs(60)), None);
    let now = Instant::now();
    let cached = || m.state().journeys["j"].steps["s"].window.is_cached();
    let max = format!("{STEP_DURATION_WINDOW}{{journey=\"j\",step=\"s\",quantile=\"1\"}}");

    m.record_run_at(&passed("j", &[("s", 100.0)]), now);
    assert!(!cached());
    assert_eq!(sample(&m.render_at(now), &max), Some(0.1));
    assert!(cached());
    // Unchanged: the cache stays.
    m.render_at(now + Duration::from_secs(5));
    assert!(cached());
    m.record_run_at(&passed("j", &[("s", 900.0)]), now + Duration::from_secs(30));
    assert!(!cached());
    assert_eq!(
        sample(&m.render_at(now + Duration::from_secs(30)), &max),
        Some(0.9)
    );
    assert!(cached());
    // The first slice expires: recomputed.
    let text = m.render_at(now + Duration::from_secs(85));
    assert_eq!(sample(&text, &max), Some(0.9));
    let text = m.render_at(now + Duration::from_secs(95));
    assert_eq!(sample(&text, &max), None);
    assert!(cached());
}

#[test]
fn probes_export_blackbox_metrics() {
    let m = Metrics::new(MetricsConfig::default(), None);
    let now = Instant::now();
    m.record_probe(&http_probe("home"), &http_ok());
    m.record_probe(&http_probe("api"), &http_refused());
    let mut many = tls_ok();
    let long = "CN=".to_owned() + &"x".repeat(300);
    many.metrics.tls.as_mut().unwrap().certs = (0..12)
        .map(|i| cert(&long, "CN=Issuer", 1_760_000_000 + i))
        .collect();
    m.record_probe(&tls_probe("cert"), &many);
    let text = m.render_at(now);
    let get = |series: &str| sample(&text, series);

    assert_eq!(get("probe_success{probe=\"home\"}"), Some(1.0));
    assert_eq!(get("probe_success{probe=\"api\"}"), Some(0.0));
    assert_eq!(get("probe_success{probe=\"cert\"}"), Some(1.0), "degraded");
    assert_eq!(get("probe_duration_seconds{probe=\"home\"}"), Some(0.12));
    assert_eq!(
        get("probe_dns_lookup_time_seconds{probe=\"cert\"}"),
        Some(0.001)
    );
    assert_eq!(get("probe_http_status_code{probe=\"home\"}"), Some(200.0));
    assert_eq!(get("probe_http_status_code{probe=\"api\"}"), Some(0.0));
    assert_eq!(get("probe_http_status_code{probe=\"cert\"}"), None);
    assert_eq!(
        get("probe_http_duration_seconds{probe=\"home\",phase=\"processing\"}"),
        Some(0.07)
    );
    assert_eq!(
        get("probe_http_duration_seconds{probe=\"api\",phase=\"tls\"}"),
        Some(0.0)
    );
    assert_eq!(samples(&text, "probe_http_duration_seconds{"), 10);
    assert_eq!(get("probe_http_redirects{probe=\"home\"}"), Some(1.0));
    assert_eq!(get("probe_http_ssl{probe=\"api\"}"), Some(0.0));
    assert_eq!(
        get("probe_http_uncompressed_body_length{probe=\"home\"}"),
        Some(5120.0)
    );
    assert_eq!(
        get("probe_http_uncompressed_body_length{probe=\"api\"}"),
        None
    );
    assert_eq!(
        get("probe_ssl_earliest_cert_expiry{probe=\"home\"}"),
        Some(1_780_000_000.0)
    );
    assert_eq!(get("probe_ssl_earliest_cert_expiry{probe=\"api\"}"), None);
    assert_eq!(
        get("probe_ssl_last_chain_expiry_timestamp_seconds{probe=\"home\"}"),
        Some(1_800_000_000.0)
    );
    assert_eq!(
        get("probe_ssl_last_chain_expiry_timestamp_seconds{probe=\"cert\"}"),
        None
    );
    assert_eq!(
        get("probe_tls_version_info{probe=\"cert\",version=\"TLS 1.3\"}"),
        Some(1.0)
    );
    assert_eq!(
        get("shopwatch_probe_tls_chain_verified{probe=\"cert\"}"),
        Some(0.0)
    );
    assert_eq!(
        get("shopwatch_probe_runs_total{probe=\"cert\",kind=\"tls\",outcome=\"degraded\"}"),
        Some(1.0)
    );
    assert_eq!(
        get("shopwatch_probe_runs_total{probe=\"home\",kind=\"http\",outcome=\"error\"}"),
        Some(0.0)
    );
    assert_eq!(
        samples(&text, "shopwatch_probe_runs_total{"),
        12,
        "4 outcomes x 3"
    );

    // Bounded certificate series.
    let certs: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("shopwatch_probe_cert_expiry_timestamp_seconds{probe=\"cert\""))
        .collect();
    assert_eq!(certs.len(), MAX_CERTS);
    let kept = format!("subject=\"{}\"", &long[..MAX_CERT_LABEL_CHARS]);
    assert!(certs.iter().all(|l| l.contains(&kept)), "{certs:?}");
    assert!(certs[0].contains("position=\"0\""));
    assert!(text.contains(
        "shopwatch_probe_cert_expiry_timestamp_seconds{probe=\"home\",position=\"1\",\
         subject=\"CN=R3, O=Let's Encrypt\",issuer=\"CN=ISRG Root X1\"} 1790000000"
    ));

    // Label values are escaped.
    m.record_probe(&tls_probe("cert"), &tls_ok());
    let text = m.render_at(now);
    assert!(
        text.contains(r#"subject="CN=shop.example, O=\"Shop\\Co\"""#),
        "{text}"
    );
    // A probe changing kind starts over.
    m.record_probe(&http_probe("cert"), &http_ok());
    let text = m.render_at(now);
    assert!(!text.contains("kind=\"tls\""));
    assert_eq!(
        sample(
            &text,
            "shopwatch_probe_runs_total{probe=\"cert\",kind=\"http\",outcome=\"ok\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn set_config_resets_only_what_changed() {
    let m = Metrics::new(config(Duration::from_secs(600)), None);
    let now = Instant::now();
    m.record_run_at(&passed("j", &[("s", 200.0)]), now);
    let count = format!("{STEP_DURATION}_count{{journey=\"j\",step=\"s\"}}");
    let journey_count = format!("{JOURNEY_DURATION}_count{{journey=\"j\"}}");
    let max = format!("{STEP_DURATION_WINDOW}{{journey=\"j\",step=\"s\",quantile=\"1\"}}");

    // The same config, written differently (unsorted, duplicate, +Inf): nothing resets.
    let mut same = config(Duration::from_secs(600));
    same.step_buckets = vec![
        30.0,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
        1.0,
        f64::INFINITY,
    ];
    m.set_config(same);
    let text = m.render_at(now);
    assert_eq!(sample(&text, &count), Some(1.0));
    assert_eq!(sample(&text, &max), Some(0.2));

    // New step buckets: the step histograms restart, the journey's and the windows not.
    let mut steps = config(Duration::from_secs(600));
    steps.step_buckets = vec![0.2, 1.0];
    m.set_config(steps.clone());
    let text = m.render_at(now);
    assert_eq!(sample(&text, &count), Some(0.0));
    assert_eq!(sample(&text, &journey_count), Some(1.0));
    assert_eq!(sample(&text, &max), Some(0.2));
    assert_eq!(samples(&text, &format!("{STEP_DURATION}_bucket")), 3);
    m.record_run_at(&passed("j", &[("s", 200.0)]), now);
    let text = m.render_at(now);
    assert_eq!(
        sample(
            &text,
            &format!("{STEP_DURATION}_bucket{{journey=\"j\",step=\"s\",le=\"0.2\"}}")
        ),
        Some(1.0)
    );

    // A new window: the quantiles restart, the histograms not.
    m.set_config(MetricsConfig {
        window: Duration::from_secs(60),
        ..steps
    });
    let text = m.render_at(now);
    assert_eq!(sample(&text, &max), None);
    assert_eq!(sample(&text, &count), Some(1.0));
    assert!(text.contains("over the last 1m"));
}

#[test]
fn global_gauges() {
    let m = Metrics::new(MetricsConfig::default(), None);
    let now = Instant::now();
    let text = m.render_at(now);
    assert_eq!(samples(&text, ARTIFACTS_FILES), 0, "absent until set");
    // Before any reload: successful, loaded when the metrics were made.
    assert_eq!(sample(&text, CONFIG_RELOAD_SUCCESSFUL), Some(1.0));
    assert!(sample(&text, CONFIG_RELOAD_SUCCESS_TIMESTAMP).unwrap() > 1.7e9);
    assert_eq!(
        sample(&text, &format!("{BROWSER_SESSIONS}{{state=\"waiting\"}}")),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                "{BUILD_INFO}{{version=\"{}\",revision=\"{}\",rustc=\"{}\",target=\"{}\"}}",
                env!("CARGO_PKG_VERSION"),
                env!("SHOPWATCH_REVISION"),
                env!("SHOPWATCH_RUSTC_VERSION"),
                env!("SHOPWATCH_TARGET"),
            )
        ),
        Some(1.0)
    );

    m.set_artifacts(3, 4096);
    m.set_sessions(1, 4);
    m.set_reload_result_at(true, 100.0);
    m.set_reload_result_at(false, 200.0);
    let text = m.render_at(now);
    assert_eq!(sample(&text, ARTIFACTS_FILES), Some(3.0));
    assert_eq!(sample(&text, ARTIFACTS_BYTES), Some(4096.0));
    assert_eq!(
        sample(&text, &format!("{BROWSER_SESSIONS}{{state=\"active\"}}")),
        Some(1.0)
    );
    assert_eq!(sample(&text, CONFIG_RELOAD_SUCCESSFUL), Some(0.0));
    assert_eq!(sample(&text, CONFIG_RELOAD_SUCCESS_TIMESTAMP), Some(100.0));
    m.set_reload_result(true);
    let text = m.render_at(now);
    assert_eq!(sample(&text, CONFIG_RELOAD_SUCCESSFUL), Some(1.0));
    assert!(sample(&text, CONFIG_RELOAD_SUCCESS_TIMESTAMP).unwrap() > 1.7e9);
}

#[test]
fn metrics_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Metrics>();
    assert_eq!(SkipReason::Overlap.as_str(), "overlap");
    assert_eq!(SkipReason::Shutdown.as_str(), "shutdown");
    assert_eq!(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
}

/// `/proc/self` as the kernel and libc tell it otherwise: the open files limit from
/// getrlimit, descriptors from the fd directory, a start in the past.
#[test]
fn process_stats_are_this_process() {
    let stats = super::process::ProcessStats::read().expect("/proc/self is readable");
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    let expected = (limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur);
    assert_eq!(stats.max_fds, expected);
    // Other test threads open and close files meanwhile: near, not equal.
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    assert!(
        stats.open_fds > 2 && stats.open_fds.abs_diff(fds) < 64,
        "{stats:?} vs {fds}"
    );
    assert!(stats.resident_memory_bytes > 1 << 20, "{stats:?}");
    assert!(
        stats.virtual_memory_bytes >= stats.resident_memory_bytes,
        "{stats:?}"
    );
    let now = unix_now();
    assert!(
        stats.start_time_seconds <= now + 1.0 && stats.start_time_seconds > now - 3600.0,
        "{stats:?} at {now}"
    );
    assert!(
        stats.cpu_seconds >= 0.0 && stats.cpu_seconds < 3600.0,
        "{stats:?}"
    );
    let text = Metrics::new(config(Duration::from_secs(600)), None).render();
    assert!(
        text.contains(&format!("\n{PROCESS_MAX_FDS} ")) == expected.is_some(),
        "{text}"
    );
    assert!(text.contains(&format!("\n{PROCESS_START_TIME} ")), "{text}");
}
