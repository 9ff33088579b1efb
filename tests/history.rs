//! The run history store: the same suite against SQLite and a real PostgreSQL server, the
//! migration from the previous schema version, and what a broken store does (a corrupt file,
//! a read-only file system, a full disk, a PostgreSQL that goes away and comes back).

mod util;

use shopwatch::history::config::{HistoryConfig, Target};
use shopwatch::history::db::Db;
use shopwatch::history::read::{Period, RunFilter};
use shopwatch::history::write::{NotificationRecord, ProbeRecord, Record, RunRecord, StepRecord};
use shopwatch::history::{self, History};
use shopwatch::journey::outcome::{Outcome, StepOutcome};
use shopwatch::metrics::{Metrics, MetricsConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use util::postgres::{Postgres, PASSWORD};

const DAY: i64 = 24 * 3600 * 1000;

fn sqlite(dir: &Path) -> HistoryConfig {
    HistoryConfig {
        target: Target::Sqlite(dir.join("state/history.db")),
        max_age: Duration::from_secs(90 * 24 * 3600),
        state_dir: dir.join("state"),
    }
}

fn postgres(pg: &Postgres) -> HistoryConfig {
    HistoryConfig {
        target: Target::Postgres {
            url: pg.url(),
            password: None,
        },
        max_age: Duration::from_secs(90 * 24 * 3600),
        state_dir: std::env::temp_dir(),
    }
}

/// A store under test: its history, metrics and how to stop its writer.
struct Store {
    history: History,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    writer: Option<tokio::task::JoinHandle<()>>,
    config: HistoryConfig,
    password: Option<String>,
    artifacts: std::path::PathBuf,
}

impl Store {
    async fn start(config: &HistoryConfig, password: Option<&str>, artifacts: &Path) -> Store {
        let metrics = Arc::new(Metrics::new(MetricsConfig::default(), None));
        let stop = CancellationToken::new();
        let (history, writer) = History::start(
            config.clone(),
            password.map(str::to_string),
            Some("eu-west".into()),
            metrics.clone(),
            artifacts.to_path_buf(),
            stop.clone(),
        )
        .await;
        Store {
            history,
            metrics,
            stop,
            writer: Some(writer),
            config: config.clone(),
            password: password.map(str::to_string),
            artifacts: artifacts.to_path_buf(),
        }
    }

    async fn stop(mut self) {
        self.stop.cancel();
        if let Some(writer) = self.writer.take() {
            writer.await.unwrap();
        }
    }

    fn send(&self, record: Record) {
        self.history.writer.send(record);
    }

    fn written(&self) -> u64 {
        self.history.status.lock().unwrap().written
    }

    /// Waits until `n` records in all were written.
    async fn wait_written(&self, n: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.written() < n {
            let status = self.history.status.lock().unwrap().clone();
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} records not written in 20 s: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a metric line `line` shows a value above 0.
    async fn wait_metric(&self, line: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.metrics.render();
            let value = text
                .lines()
                .find(|l| l.starts_with(line))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            if value > 0.0 {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{line} did not count in 20 s:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn db(&self) -> Db {
        history::open(&self.config, self.password.clone())
            .await
            .unwrap()
    }
}

fn step(name: &str, outcome: StepOutcome, ms: f64) -> StepRecord {
    StepRecord {
        name: name.into(),
        outcome,
        duration_ms: Some(ms),
        reason_class: None,
        reason: None,
        failed_requests: None,
        console_errors: None,
        artifacts: vec![],
    }
}

fn run(journey: &str, started_ms: i64, outcome: Outcome, browser: &str) -> RunRecord {
    let passed = outcome.passed();
    let mut steps = vec![step("home", StepOutcome::Ok, 120.0)];
    steps.push(if passed {
        step("pay", StepOutcome::Ok, 800.0)
    } else {
        StepRecord {
            reason_class: Some("http_status".into()),
            reason: Some("click `#pay`: the page answered HTTP 502".into()),
            failed_requests: Some(
                r#"[{"method":"POST","url":"/api/pay","kind":"fetch","status":502}]"#.into(),
            ),
            console_errors: Some(r#"["payment failed"]"#.into()),
            artifacts: vec![format!("{journey}/r{started_ms}/attempt-1/pay.png")],
            ..step("pay", StepOutcome::Failed, 3000.0)
        }
    });
    RunRecord {
        id: history::unique_id(),
        run_id: format!("r{started_ms}"),
        journey: journey.into(),
        location: "eu-west".into(),
        browser: browser.into(),
        started_ms,
        duration_ms: 1500.0,
        outcome,
        attempts: 1,
        failed_step: (!passed).then(|| "pay".into()),
        reason_class: (!passed).then(|| "http_status".into()),
        reason: (!passed).then(|| "click `#pay`: the page answered HTTP 502".into()),
        artifacts_dir: (!passed).then(|| format!("{journey}/r{started_ms}")),
        steps,
    }
}

/// Every store test, on one store; each part uses names of its own.
async fn suite(config: HistoryConfig, password: Option<&str>) {
    let artifacts = tempfile::tempdir().unwrap();
    let store = Store::start(&config, password, artifacts.path()).await;
    assert_eq!(store.history.status.lock().unwrap().error, None);
    runs_pages_and_details(&store).await;
    availability_leaves_errors_apart(&store).await;
    step_percentiles_per_hour_and_day(&store).await;
    probes_keep_changes_and_minutes(&store).await;
    notifications_are_kept(&store).await;
    the_ui_reads_days_breakdowns_and_probe_windows(&store).await;
    retention_takes_runs_aggregates_and_artifacts_together(&store).await;
    let metrics = store.metrics.render();
    assert!(
        metrics.contains("shopwatch_history_write_errors_total{reason=\"queue_full\"} 0"),
        "{metrics}"
    );
    store.stop().await;

    // Restart: everything is still there, and a probe's state is not written again.
    let store = Store::start(&config, password, artifacts.path()).await;
    let page = store
        .history
        .reader
        .runs(&RunFilter {
            journey: Some("checkout".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.runs.len(), 5, "the runs are kept over a restart");
    let before = store.written();
    store.send(Record::Probe(probe("shop-http", Outcome::Ok, 40.0)));
    store.wait_written(before + 1).await;
    let probe = store
        .history
        .reader
        .probe("shop-http", 0, 50)
        .await
        .unwrap();
    assert_eq!(
        probe.changes.len(),
        3,
        "the state after the restart is the stored one: no change"
    );
    store.stop().await;
}

async fn runs_pages_and_details(store: &Store) {
    let now = history::now_ms();
    let browsers = ["chromium", "firefox"];
    let outcomes = [
        Outcome::Ok,
        Outcome::Ok,
        Outcome::Failed,
        Outcome::Flaky,
        Outcome::Failed,
    ];
    let mut ids = Vec::new();
    let before = store.written();
    for (i, outcome) in outcomes.iter().enumerate() {
        let run = run(
            "checkout",
            now - 60_000 * (10 - i as i64),
            *outcome,
            browsers[i % 2],
        );
        ids.push(run.id.clone());
        store.send(Record::Run(Box::new(run)));
    }
    store.send(Record::Run(Box::new(run(
        "search",
        now,
        Outcome::Ok,
        "chromium",
    ))));
    store.wait_written(before + 6).await;
    let reader = &store.history.reader;

    // Newest first, two per page, until the end.
    let mut seen = Vec::new();
    let mut filter = RunFilter {
        journey: Some("checkout".into()),
        limit: 2,
        ..Default::default()
    };
    loop {
        let page = reader.runs(&filter).await.unwrap();
        seen.extend(page.runs.iter().map(|r| r.id.clone()));
        match page.next {
            Some(next) => filter.before = shopwatch::history::read::Cursor::decode(&next),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(
        seen, newest_first,
        "pages follow each other without gaps or repeats"
    );

    let firefox = reader
        .runs(&RunFilter {
            journey: Some("checkout".into()),
            browser: Some("firefox".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(firefox.runs.len(), 2);
    assert!(firefox.runs.iter().all(|r| r.browser == "firefox"));
    let failed = reader
        .runs(&RunFilter {
            outcome: Some("failed".into()),
            location: Some("eu-west".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        failed.runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![ids[4].clone(), ids[2].clone()]
    );
    let elsewhere = reader
        .runs(&RunFilter {
            location: Some("us-east".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(elsewhere.runs.is_empty());

    // The last failed run: its steps, what the page saw, and the last good run before it.
    let detail = reader
        .run(&ids[4])
        .await
        .unwrap()
        .expect("the run is there");
    assert_eq!(detail.run.outcome, "failed");
    assert_eq!(detail.run.failed_step.as_deref(), Some("pay"));
    assert_eq!(detail.steps.len(), 2);
    assert_eq!(detail.steps[1].failed_requests[0]["status"], 502);
    assert_eq!(detail.steps[1].console_errors[0], "payment failed");
    assert_eq!(detail.steps[1].artifacts.len(), 1);
    assert_eq!(
        detail.last_good.as_deref(),
        Some(ids[3].as_str()),
        "the flaky run passed"
    );
    let first = reader.run(&ids[0]).await.unwrap().unwrap();
    assert_eq!(first.last_good, None, "nothing passed before the first run");
    assert!(reader.run("0000").await.unwrap().is_none());
    let last_good = reader.last_run("checkout", true).await.unwrap().unwrap();
    assert_eq!(last_good.id, ids[3]);
}

async fn availability_leaves_errors_apart(store: &Store) {
    let now = history::now_ms();
    let before = store.written();
    let runs = [
        (now - 60_000, Outcome::Ok),
        (now - 120_000, Outcome::Degraded),
        (now - 180_000, Outcome::Failed),
        (now - 240_000, Outcome::Error),
        (now - 3 * DAY, Outcome::Ok),
        (now - 10 * DAY, Outcome::Failed),
        (now - 40 * DAY, Outcome::Failed),
    ];
    for (at, outcome) in runs {
        store.send(Record::Run(Box::new(run(
            "availability",
            at,
            outcome,
            "chromium",
        ))));
    }
    store.wait_written(before + runs.len() as u64).await;
    let journeys = store
        .history
        .reader
        .journeys(&["availability".into(), "never-ran".into()])
        .await
        .unwrap();
    let a = journeys.iter().find(|j| j.name == "availability").unwrap();
    assert_eq!((a.day.passed, a.day.failed, a.day.error), (2, 1, 1));
    assert_eq!(
        a.day.availability,
        Some(2.0 / 3.0),
        "the error run is left out"
    );
    assert_eq!((a.week.passed, a.week.failed), (3, 1));
    assert_eq!((a.month.passed, a.month.failed, a.month.error), (3, 2, 1));
    assert_eq!(a.last_run.as_ref().unwrap().outcome, "ok");
    let never = journeys.iter().find(|j| j.name == "never-ran").unwrap();
    assert!(never.last_run.is_none());
    assert_eq!(never.month.availability, None);
}

async fn step_percentiles_per_hour_and_day(store: &Store) {
    // Whole hours in the past, all in one hour.
    let hour = history::hour_of(history::now_ms()) - 2 * 3_600_000;
    let before = store.written();
    for i in 0..100 {
        let mut r = run("percentiles", hour + i * 1000, Outcome::Ok, "chromium");
        r.steps[1].duration_ms = Some(100.0 + i as f64);
        r.duration_ms = 1000.0 + 10.0 * i as f64;
        store.send(Record::Run(Box::new(r)));
    }
    store.wait_written(before + 100).await;
    let reader = &store.history.reader;
    let hours = reader
        .step_percentiles("percentiles", hour - 1, Period::Hour)
        .await
        .unwrap();
    let pay = hours.iter().find(|s| s.step == "pay").unwrap();
    assert_eq!((pay.start_ms, pay.count), (hour, 100));
    // The true p50 is 149.5 ms and p95 194 ms; buckets are 9% wide.
    assert!(
        (pay.p50_ms / 149.5 - 1.0).abs() < 0.06,
        "p50 {}",
        pay.p50_ms
    );
    assert!(
        (pay.p95_ms / 194.0 - 1.0).abs() < 0.06,
        "p95 {}",
        pay.p95_ms
    );
    let whole = hours.iter().find(|s| s.step.is_empty()).unwrap();
    assert!(
        (whole.p50_ms / 1495.0 - 1.0).abs() < 0.06,
        "run p50 {}",
        whole.p50_ms
    );
    let days = reader
        .step_percentiles("percentiles", hour - 1, Period::Day)
        .await
        .unwrap();
    let pay_day = days.iter().find(|s| s.step == "pay").unwrap();
    assert_eq!(pay_day.count, 100);
    assert_eq!(pay_day.start_ms % DAY, 0);
}

fn probe(name: &str, outcome: Outcome, ms: f64) -> ProbeRecord {
    ProbeRecord {
        probe: name.into(),
        location: "eu-west".into(),
        at_ms: history::now_ms(),
        outcome,
        duration_ms: ms,
        reason: (outcome != Outcome::Ok).then(|| "HTTP 503".into()),
    }
}

async fn probes_keep_changes_and_minutes(store: &Store) {
    let before = store.written();
    let results = [
        Outcome::Ok,
        Outcome::Ok,
        Outcome::Failed,
        Outcome::Failed,
        Outcome::Ok,
    ];
    for (i, outcome) in results.iter().enumerate() {
        store.send(Record::Probe(probe(
            "shop-http",
            *outcome,
            10.0 * (i + 1) as f64,
        )));
        // Each its own millisecond (changes are keyed by time).
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    store.wait_written(before + 5).await;
    let history = store
        .history
        .reader
        .probe("shop-http", 0, 50)
        .await
        .unwrap();
    let changes: Vec<&str> = history.changes.iter().map(|c| c.outcome.as_str()).collect();
    assert_eq!(
        changes,
        ["ok", "failed", "ok"],
        "newest first, one row per change"
    );
    assert_eq!(history.changes[1].reason.as_deref(), Some("HTTP 503"));
    let results: i64 = history.minutes.iter().map(|m| m.results).sum();
    let passed: i64 = history.minutes.iter().map(|m| m.passed).sum();
    assert_eq!((results, passed), (5, 3));
    assert!(
        history.minutes.len() <= 2,
        "a row per minute, not per result"
    );
    assert_eq!(
        history.minutes.iter().map(|m| m.max_ms).fold(0.0, f64::max),
        50.0
    );
}

/// The UI's and status page's reads, over what the parts before wrote.
async fn the_ui_reads_days_breakdowns_and_probe_windows(store: &Store) {
    let reader = &store.history.reader;
    let now = history::now_ms();
    let probes = reader
        .probes(&["shop-http".into(), "never-probed".into()])
        .await
        .unwrap();
    let http = probes.iter().find(|p| p.name == "shop-http").unwrap();
    assert_eq!(http.last_change.as_ref().unwrap().outcome, "ok");
    for window in [&http.day, &http.week, &http.month] {
        assert_eq!((window.passed, window.failed), (3, 2), "{http:?}");
        assert_eq!(window.availability, Some(0.6));
    }
    let never = probes.iter().find(|p| p.name == "never-probed").unwrap();
    assert!(never.last_change.is_none() && never.month.availability.is_none());
    let days = reader
        .probe_days("shop-http", now - 89 * DAY)
        .await
        .unwrap();
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!(days[0].day_ms, history::day_of(now));
    assert_eq!(
        (days[0].availability.passed, days[0].availability.failed),
        (3, 2)
    );

    // Days of a journey: each run in its day, errors apart.
    let days = reader
        .journey_days("availability", now - 89 * DAY)
        .await
        .unwrap();
    let sum = |f: fn(&history::read::Availability) -> i64| {
        days.iter().map(|d| f(&d.availability)).sum::<i64>()
    };
    assert_eq!(
        (sum(|a| a.passed), sum(|a| a.failed), sum(|a| a.error)),
        (3, 3, 1)
    );
    let forty = days
        .iter()
        .find(|d| d.day_ms == history::day_of(now - 40 * DAY))
        .expect("the day 40 days ago");
    assert_eq!(forty.availability.availability, Some(0.0));
    assert!(
        days.windows(2).all(|w| w[0].day_ms < w[1].day_ms),
        "oldest first"
    );

    // The journey page's breakdown: by outcome, failing step and reason, over 7 days.
    let breakdown = reader
        .journey_breakdown("availability", now - 7 * DAY)
        .await
        .unwrap();
    assert_eq!(breakdown.iter().map(|b| b.runs).sum::<i64>(), 5);
    let failed = breakdown.iter().find(|b| b.outcome == "failed").unwrap();
    assert_eq!(
        (
            failed.failed_step.as_deref(),
            failed.reason_class.as_deref(),
            failed.runs
        ),
        (Some("pay"), Some("http_status"), 1)
    );
    assert_eq!(
        (failed.location.as_str(), failed.browser.as_str()),
        ("eu-west", "chromium")
    );
    assert!(failed.last_ms > now - DAY, "its newest run, minutes ago");

    // The overview's sparklines: the whole run's p50/p95 per hour.
    let sparks = reader
        .run_sparklines(&["percentiles".into(), "never-ran".into()], now - DAY)
        .await
        .unwrap();
    let hours = sparks
        .get("percentiles")
        .expect("a sparkline of `percentiles`");
    assert_eq!(hours.iter().map(|h| h.count).sum::<i64>(), 100);
    assert!(hours
        .iter()
        .all(|h| h.step.is_empty() && h.p95_ms >= h.p50_ms));
}

async fn notifications_are_kept(store: &Store) {
    let before = store.written();
    for (result, error) in [
        ("failed", Some("HTTP 500 from the webhook")),
        ("sent", None),
    ] {
        store.send(Record::Notification(NotificationRecord {
            at_ms: history::now_ms(),
            alert: "JourneyStepFailed{journey=checkout,step=pay}".into(),
            event: "firing".into(),
            sink: "ops-webhook".into(),
            location: "eu-west".into(),
            result: result.into(),
            error: error.map(str::to_string),
        }));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    store.wait_written(before + 2).await;
    let sent = store.history.reader.notifications(0, 10).await.unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].result, "sent");
    assert_eq!(sent[1].error.as_deref(), Some("HTTP 500 from the webhook"));
}

async fn retention_takes_runs_aggregates_and_artifacts_together(store: &Store) {
    let now = history::now_ms();
    let old = run("retention", now - 100 * DAY, Outcome::Failed, "chromium");
    let recent = run("retention", now - DAY, Outcome::Failed, "chromium");
    let gone_soon = run("retention", now - 2 * DAY, Outcome::Failed, "chromium");
    for r in [&old, &recent, &gone_soon] {
        let dir = store.artifacts.join(r.artifacts_dir.as_ref().unwrap());
        std::fs::create_dir_all(dir.join("attempt-1")).unwrap();
        std::fs::write(dir.join(shopwatch::artifacts::RUN_MARKER), b"").unwrap();
        std::fs::write(dir.join("attempt-1/pay.png"), b"png").unwrap();
    }
    let before = store.written();
    for r in [&old, &recent, &gone_soon] {
        store.send(Record::Run(Box::new(r.clone())));
    }
    store.wait_written(before + 3).await;

    let mut db = store.db().await;
    let pruned = history::retention::prune(&mut db, &store.config, &store.artifacts, now)
        .await
        .unwrap();
    assert_eq!(pruned.runs, 1);
    assert_eq!(pruned.artifact_dirs, 1);
    let reader = &store.history.reader;
    assert!(
        reader.run(&old.id).await.unwrap().is_none(),
        "the old run went"
    );
    assert!(
        !store
            .artifacts
            .join(old.artifacts_dir.as_ref().unwrap())
            .exists(),
        "with its artifacts"
    );
    assert!(store
        .artifacts
        .join(recent.artifacts_dir.as_ref().unwrap())
        .exists());
    let month = reader.journeys(&[]).await.unwrap();
    let retention = month.iter().find(|j| j.name == "retention").unwrap();
    assert_eq!(retention.month.failed, 2);
    let left = db
        .query(
            "SELECT COUNT(*) FROM run_hours WHERE journey = 'retention'",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(left[0][0].int(), 2, "the old run's hour went too");

    // The artifacts' own retention deleted a run directory: the run stays, without them.
    let dir = gone_soon.artifacts_dir.clone().unwrap();
    std::fs::remove_dir_all(store.artifacts.join(&dir)).unwrap();
    let before = store.written();
    store.send(Record::ArtifactsGone(vec![dir]));
    store.wait_written(before + 1).await;
    let detail = reader.run(&gone_soon.id).await.unwrap().unwrap();
    assert_eq!(detail.run.artifacts_dir, None);
    assert!(detail.steps[1].artifacts.is_empty());
    let kept = reader.run(&recent.id).await.unwrap().unwrap();
    assert!(kept.run.artifacts_dir.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    suite(sqlite(dir.path()), None).await;
    assert!(
        dir.path().join("state/history.db").is_file(),
        "made with its directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_store_suite() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    suite(postgres(&pg), Some(PASSWORD)).await;
}

/// The schema of version 1 with a few runs, as a shopwatch of that version left it.
const V1_FIXTURE: &str = include_str!("fixtures/history/v1.sql");

async fn migrates_from_version_1(mut config: HistoryConfig, password: Option<&str>) {
    // The fixture's runs are of a fixed day: retention must not take them as the years pass.
    config.max_age = Duration::from_secs(100 * 366 * 24 * 3600);
    let mut db = Db::open(&config, password.map(str::to_string))
        .await
        .unwrap();
    db.script(V1_FIXTURE).await.unwrap();
    drop(db);
    let artifacts = tempfile::tempdir().unwrap();
    let store = Store::start(&config, password, artifacts.path()).await;
    assert_eq!(store.history.status.lock().unwrap().error, None);
    let mut db = store.db().await;
    let version = db
        .query("SELECT MAX(version) FROM schema_version", vec![])
        .await
        .unwrap();
    assert_eq!(version[0][0].int(), history::schema::CURRENT);
    let reader = &store.history.reader;
    let page = reader
        .runs(&RunFilter {
            journey: Some("checkout".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.runs.len(), 3, "the runs of version 1 are kept");
    let failed = page.runs.iter().find(|r| r.outcome == "failed").unwrap();
    let detail = reader.run(&failed.id).await.unwrap().unwrap();
    assert_eq!(detail.steps.len(), 2);
    assert!(detail.steps[1]
        .failed_requests
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        detail.last_good.as_deref(),
        Some("00000000000000000000000000000001"),
        "found by the new index"
    );
    // Step durations per hour were filled from the old steps.
    let steps = reader
        .step_percentiles("checkout", 0, Period::Day)
        .await
        .unwrap();
    let home = steps.iter().find(|s| s.step == "home").unwrap();
    assert_eq!(home.count, 3);
    // And new runs go in beside them.
    store.send(Record::Run(Box::new(run(
        "checkout",
        history::now_ms(),
        Outcome::Ok,
        "chromium",
    ))));
    store.wait_written(1).await;
    store.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrates_a_version_1_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite(dir.path());
    std::fs::create_dir_all(&config.state_dir).unwrap();
    migrates_from_version_1(config, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrates_a_version_1_store() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    migrates_from_version_1(postgres(&pg), Some(PASSWORD)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_store_is_refused_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite(dir.path());
    let mut db = history::open(&config, None).await.unwrap();
    db.script("INSERT INTO schema_version (version, name, applied_ms) VALUES (99, 'future', 0)")
        .await
        .unwrap();
    let err = history::open(&config, None).await.err().expect("refused");
    assert!(
        err.message
            .contains("schema version 99, newer than this shopwatch knows"),
        "{}",
        err.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_file_is_named_with_what_to_do_and_runs_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite(dir.path());
    std::fs::create_dir_all(&config.state_dir).unwrap();
    let file = config.state_dir.join("history.db");
    std::fs::write(
        &file,
        "this is not a SQLite database, just text\n".repeat(200),
    )
    .unwrap();
    let artifacts = tempfile::tempdir().unwrap();
    let store = Store::start(&config, None, artifacts.path()).await;
    let error = store
        .history
        .status
        .lock()
        .unwrap()
        .error
        .clone()
        .expect("an error");
    assert!(
        error.contains(&file.display().to_string()),
        "names the file: {error}"
    );
    assert!(error.contains("move it away"), "says what to do: {error}");
    // A run is counted as not written; the sender never waits.
    store.send(Record::Run(Box::new(run(
        "checkout",
        history::now_ms(),
        Outcome::Ok,
        "chromium",
    ))));
    let metrics = store
        .wait_metric("shopwatch_history_write_errors_total{reason=\"corrupt\"}")
        .await;
    assert!(
        metrics.contains("shopwatch_monitor_errors_total{kind=\"history\"}"),
        "{metrics}"
    );
    let answer = store
        .history
        .reader
        .runs(&RunFilter {
            limit: 10,
            ..Default::default()
        })
        .await;
    assert!(answer
        .expect_err("no answer from a corrupt file")
        .message
        .contains("move it away"));
    // The file is left as it was, for whoever looks at it.
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .starts_with("this is not a SQLite"));
    store.stop().await;
}

/// A tmpfs of `size` at `dir` (the tests run as root in CI's container; without it they fail,
/// saying so).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "these tests mount a small tmpfs (run as root, or in a container with CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }

    fn remount(&self, options: &str) {
        let out = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "remount {options}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_store_is_counted_and_writing_resumes_when_it_is_writable() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite(dir.path());
    let mount = Tmpfs::mount(&config.state_dir, "4m");
    let artifacts = tempfile::tempdir().unwrap();
    let store = Store::start(&config, None, artifacts.path()).await;
    store.send(Record::Run(Box::new(run(
        "checkout",
        history::now_ms(),
        Outcome::Ok,
        "chromium",
    ))));
    store.wait_written(1).await;
    store.stop().await;

    // Root writes through file permissions; a read-only file system stops even root.
    mount.remount("ro");
    let store = Store::start(&config, None, artifacts.path()).await;
    store.send(Record::Run(Box::new(run(
        "checkout",
        history::now_ms(),
        Outcome::Failed,
        "chromium",
    ))));
    let metrics = store
        .wait_metric("shopwatch_history_write_errors_total{reason=\"readonly\"}")
        .await;
    assert!(
        metrics.contains("shopwatch_history_writes_total 0"),
        "{metrics}"
    );
    let error = store.history.status.lock().unwrap().error.clone().unwrap();
    assert!(
        error.contains("history.db") && error.contains("permissions"),
        "{error}"
    );

    // Writable again: the writer opens it again (within 10 s) and goes on.
    mount.remount("rw");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.written() < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "writing did not resume: {:?}",
            store.history.status.lock().unwrap()
        );
        store.send(Record::Run(Box::new(run(
            "checkout",
            history::now_ms(),
            Outcome::Ok,
            "chromium",
        ))));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        store.history.status.lock().unwrap().error,
        None,
        "writing again"
    );
    let page = store
        .history
        .reader
        .runs(&RunFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        page.runs.len() >= 2,
        "the run from before is still there: {}",
        page.runs.len()
    );
    assert!(
        page.runs.iter().all(|r| r.outcome == "ok"),
        "the failed run sent while read-only is the one lost"
    );
    store.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_counted_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite(dir.path());
    let _mount = Tmpfs::mount(&config.state_dir, "512k");
    let artifacts = tempfile::tempdir().unwrap();
    let store = Store::start(&config, None, artifacts.path()).await;
    // Runs with long reasons until the disk is full.
    let long = "x".repeat(20_000);
    for i in 0..200 {
        let mut r = run(
            "checkout",
            history::now_ms() + i,
            Outcome::Failed,
            "chromium",
        );
        r.reason = Some(long.clone());
        store.send(Record::Run(Box::new(r)));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let metrics = store
        .wait_metric("shopwatch_history_write_errors_total{reason=\"full\"}")
        .await;
    assert!(
        metrics.contains("shopwatch_history_writes_total"),
        "{metrics}"
    );
    let error = store.history.status.lock().unwrap().error.clone().unwrap();
    assert!(
        error.contains("full") && error.contains("free space"),
        "{error}"
    );
    // What was written before stays readable.
    let page = store
        .history
        .reader
        .runs(&RunFilter {
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!page.runs.is_empty());
    store.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_is_counted_and_writing_resumes_when_it_is_back() {
    let mut pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let config = postgres(&pg);
    let artifacts = tempfile::tempdir().unwrap();
    let store = Store::start(&config, Some(PASSWORD), artifacts.path()).await;
    let first = run("checkout", history::now_ms(), Outcome::Ok, "chromium");
    store.send(Record::Run(Box::new(first.clone())));
    store.wait_written(1).await;

    let pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .unwrap();
    store.send(Record::Run(Box::new(run(
        "checkout",
        history::now_ms(),
        Outcome::Failed,
        "chromium",
    ))));
    store
        .wait_metric("shopwatch_history_write_errors_total{reason=\"unavailable\"}")
        .await;
    let error = store.history.status.lock().unwrap().error.clone().unwrap();
    assert!(
        error.contains("PostgreSQL") && !error.contains(PASSWORD),
        "{error}"
    );
    assert!(
        store.history.reader.run(&first.id).await.is_err(),
        "reads fail too, with an error"
    );

    let mut pg = pg;
    let pg = tokio::task::spawn_blocking(move || {
        pg.restart();
        pg
    })
    .await
    .unwrap();
    // The writer opens the store again at most every 10 s: keep sending until it does.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while store.written() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "writing did not resume: {:?}",
            store.history.status.lock().unwrap()
        );
        store.send(Record::Run(Box::new(run(
            "checkout",
            history::now_ms(),
            Outcome::Ok,
            "chromium",
        ))));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(store.history.status.lock().unwrap().error, None);
    let detail = store.history.reader.run(&first.id).await.unwrap();
    assert!(
        detail.is_some(),
        "the reader connects again; the first run is there"
    );
    store.stop().await;
    drop(pg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = tempfile::tempdir().unwrap();
    let store = Store::start(&sqlite(dir.path()), None, artifacts.path()).await;
    // Far more than the queue holds, at once: the sender never waits for the writer.
    let sent = 5 * history::write::QUEUE as u64;
    let started = std::time::Instant::now();
    for i in 0..sent {
        store.send(Record::Probe(ProbeRecord {
            at_ms: 1_790_000_000_000 + i as i64,
            ..probe("flood", Outcome::Ok, 1.0)
        }));
    }
    let sending = started.elapsed();
    let metrics = store
        .wait_metric("shopwatch_history_write_errors_total{reason=\"queue_full\"}")
        .await;
    let dropped = metrics
        .lines()
        .find(|l| l.starts_with("shopwatch_history_write_errors_total{reason=\"queue_full\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    // Every record is written or counted as dropped: none is lost silently.
    store.wait_written(sent - dropped).await;
    assert_eq!(store.written() + dropped, sent, "{metrics}");
    assert!(
        sending < Duration::from_secs(5),
        "sending {sent} records took {sending:?}"
    );
    store.stop().await;
}
