//! Writing: what a finished run, probe result or alert notification becomes in the store, and
//! the writer task that takes them from a bounded queue. A run never waits for the store: a
//! full queue drops the record (counted and logged), and a failing store drops the batch it
//! could not write (counted and logged, with what to do) and is tried again with the next one.

use super::config::HistoryConfig;
use super::db::{Db, DbError, Stmt};
use super::{bucket, hour_of, minute_of, Status};
use crate::journey::outcome::{Outcome, RunReport, StepOutcome};
use crate::metrics::Metrics;
use crate::probe::ProbeResult;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Records waiting for the writer: a few minutes of a busy monitor.
pub const QUEUE: usize = 4096;
/// The most records written in one transaction.
const BATCH: usize = 256;
/// A store that failed is opened again at most this often.
const REOPEN_EVERY: Duration = Duration::from_secs(10);
/// How often the same kind of write failure is logged again (each is counted).
const LOG_EVERY: Duration = Duration::from_secs(60);
/// How often retention runs.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A run as kept.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Unique over every monitor that shares the store (the run id is unique per journey).
    pub id: String,
    pub run_id: String,
    pub journey: String,
    pub location: String,
    pub browser: String,
    pub started_ms: i64,
    pub duration_ms: f64,
    pub outcome: Outcome,
    pub attempts: u32,
    pub failed_step: Option<String>,
    pub reason_class: Option<String>,
    pub reason: Option<String>,
    /// Relative to the artifacts directory, `/`-separated.
    pub artifacts_dir: Option<String>,
    pub steps: Vec<StepRecord>,
}

#[derive(Debug, Clone)]
pub struct StepRecord {
    pub name: String,
    pub outcome: StepOutcome,
    pub duration_ms: Option<f64>,
    pub reason_class: Option<String>,
    pub reason: Option<String>,
    /// JSON arrays, as reports have them.
    pub failed_requests: Option<String>,
    pub console_errors: Option<String>,
    /// Relative to the artifacts directory, `/`-separated.
    pub artifacts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ProbeRecord {
    pub probe: String,
    pub location: String,
    pub at_ms: i64,
    pub outcome: Outcome,
    pub duration_ms: f64,
    pub reason: Option<String>,
}

/// An alert notification's delivery: sent, failed (retried), rejected or dropped.
#[derive(Debug, Clone)]
pub struct NotificationRecord {
    pub at_ms: i64,
    /// The alert's key (`journey/checkout`).
    pub alert: String,
    /// `firing`, `resolved`, ...
    pub event: String,
    pub sink: String,
    pub location: String,
    pub result: String,
    /// Why it failed, redacted.
    pub error: Option<String>,
}

/// A number a probe read (a `metric` probe's value), kept per hour for its normal.
#[derive(Debug, Clone)]
pub struct ValueRecord {
    pub series: String,
    pub at_ms: i64,
    pub value: f64,
}

#[derive(Debug, Clone)]
pub enum Record {
    Run(Box<RunRecord>),
    Probe(ProbeRecord),
    Value(ValueRecord),
    Notification(NotificationRecord),
    /// Artifacts retention deleted these run directories (relative to the artifacts
    /// directory): the runs stay, without their artifacts.
    ArtifactsGone(Vec<String>),
}

impl RunRecord {
    /// A finished run; `artifacts` is the artifacts directory its paths are under.
    pub fn from_report(report: &RunReport, location: &str, artifacts: &Path) -> RunRecord {
        let failed = report.first_failure();
        let started_ms = chrono::DateTime::parse_from_rfc3339(&report.started_at)
            .map_or_else(|_| super::now_ms(), |t| t.timestamp_millis());
        let relative = |path: &Path| {
            path.strip_prefix(artifacts).ok().map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            })
        };
        RunRecord {
            id: super::unique_id(),
            run_id: report.run_id.clone(),
            journey: report.journey.clone(),
            location: location.to_string(),
            browser: report.browser.to_string(),
            started_ms,
            duration_ms: report.duration_ms,
            outcome: report.outcome,
            attempts: report.attempts,
            failed_step: failed.map(|s| s.name.clone()),
            reason_class: failed
                .and_then(|s| s.reason_class)
                .or(report.error_class)
                .map(|c| c.as_str().to_string()),
            reason: failed
                .and_then(|s| s.reason.clone())
                .or_else(|| report.error.clone()),
            artifacts_dir: report.artifacts_dir.as_deref().and_then(relative),
            steps: report
                .steps
                .iter()
                .map(|s| StepRecord {
                    name: s.name.clone(),
                    outcome: s.outcome,
                    duration_ms: s.duration_ms,
                    reason_class: s.reason_class.map(|c| c.as_str().to_string()),
                    reason: s.reason.clone(),
                    failed_requests: json_list(&s.failed_requests),
                    console_errors: json_list(&s.console_errors),
                    artifacts: s.artifacts.iter().filter_map(|p| relative(p)).collect(),
                })
                .collect(),
        }
    }
}

/// JSON of a non-empty list, else nothing.
fn json_list<T: serde::Serialize>(list: &[T]) -> Option<String> {
    (!list.is_empty())
        .then(|| serde_json::to_string(list).ok())
        .flatten()
}

impl ProbeRecord {
    pub fn from_result(probe: &str, location: &str, result: &ProbeResult) -> ProbeRecord {
        ProbeRecord {
            probe: probe.to_string(),
            location: location.to_string(),
            at_ms: super::now_ms(),
            outcome: result.outcome,
            duration_ms: result.duration.as_secs_f64() * 1000.0,
            reason: result.reason.clone(),
        }
    }
}

/// The sending side, cloned into the daemon's hooks. Never waits.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Record>,
    metrics: Arc<Metrics>,
    last_full_log: Arc<Mutex<Option<Instant>>>,
}

impl Writer {
    pub fn send(&self, record: Record) {
        // Closed: the monitor is stopping and the writer has written what it had.
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(record) {
            self.metrics.record_history_errors("queue_full", 1);
            let mut last = self.last_full_log.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
                *last = Some(Instant::now());
                tracing::error!(
                    "history: the writer is behind ({QUEUE} records waiting): records are dropped and counted in shopwatch_history_write_errors_total{{reason=\"queue_full\"}}; runs go on. Is the store slow or the disk busy?"
                );
            }
        }
    }
}

/// What the writer task needs.
pub struct WriterTask {
    pub config: HistoryConfig,
    pub password: Option<String>,
    pub metrics: Arc<Metrics>,
    pub status: Arc<Mutex<Status>>,
    /// Where the runs' artifacts are, for retention.
    pub artifacts_dir: PathBuf,
}

/// A writer and its task: run the future until `stop` (it writes what is queued, then ends).
pub fn spawn(
    task: WriterTask,
    db: Option<Db>,
    stop: CancellationToken,
) -> (Writer, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    task.metrics.enable_history();
    let writer = Writer {
        tx,
        metrics: task.metrics.clone(),
        last_full_log: Arc::default(),
    };
    let handle = tokio::spawn(run(task, db, rx, stop));
    (writer, handle)
}

async fn run(
    task: WriterTask,
    mut db: Option<Db>,
    mut rx: mpsc::Receiver<Record>,
    stop: CancellationToken,
) {
    let mut state = WriterState::default();
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            record = rx.recv() => match record {
                Some(record) => record,
                None => return,
            },
            _ = prune.tick() => {
                if let Some(open) = db.as_mut() {
                    if let Err(e) = super::retention::prune(open, &task.config, &task.artifacts_dir, super::now_ms()).await {
                        tracing::error!("history retention: {e}");
                        task.metrics.record_monitor_error("history");
                    }
                }
                continue;
            }
            _ = stop.cancelled() => {
                // Write what is already queued, then end.
                rx.close();
                match rx.recv().await {
                    Some(record) => record,
                    None => return,
                }
            }
        };
        let mut records = vec![first];
        while records.len() < BATCH {
            match rx.try_recv() {
                Ok(record) => records.push(record),
                Err(_) => break,
            }
        }
        let n = records.len() as u64;
        let result = match ensure_open(&task, &mut db, &mut state).await {
            Ok(open) => write(open, &mut state, records).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                task.metrics.record_history_writes(n);
                let mut status = task.status.lock().unwrap_or_else(|e| e.into_inner());
                if status.error.is_some() {
                    tracing::info!("history: writing again to {}", task.config.describe());
                }
                status.error = None;
                status.written += n;
            }
            Err(e) => {
                task.metrics.record_history_errors(e.reason, n);
                {
                    let mut status = task.status.lock().unwrap_or_else(|e| e.into_inner());
                    status.error = Some(e.message.clone());
                    status.dropped += n;
                }
                if state.should_log(e.reason) {
                    tracing::error!(
                        reason = e.reason,
                        "history: {n} record(s) not written (runs, metrics and alerts go on): {e}"
                    );
                }
            }
        }
    }
}

#[derive(Default)]
struct WriterState {
    /// The last outcome stored per (probe, location): a change is written when it differs.
    probes: HashMap<(String, String), String>,
    last_open_try: Option<Instant>,
    /// Why the last try to open the store failed.
    open_error: Option<DbError>,
    logged: HashMap<&'static str, Instant>,
}

impl WriterState {
    fn should_log(&mut self, reason: &'static str) -> bool {
        let now = Instant::now();
        match self.logged.get(reason) {
            Some(at) if now.duration_since(*at) < LOG_EVERY => false,
            _ => {
                self.logged.insert(reason, now);
                true
            }
        }
    }
}

/// The open store, opening (and migrating) it when the last try is long enough ago.
async fn ensure_open<'a>(
    task: &WriterTask,
    db: &'a mut Option<Db>,
    state: &mut WriterState,
) -> Result<&'a mut Db, DbError> {
    if db.is_none() {
        if state
            .last_open_try
            .is_some_and(|at| at.elapsed() < REOPEN_EVERY)
        {
            // The reason it could not be opened, until it is tried again.
            return Err(state.open_error.clone().unwrap_or_else(|| DbError {
                reason: "unavailable",
                message: format!("{} is not open", task.config.describe()),
            }));
        }
        state.last_open_try = Some(Instant::now());
        match super::open(&task.config, task.password.clone()).await {
            Ok(opened) => {
                state.open_error = None;
                *db = Some(opened);
            }
            Err(e) => {
                state.open_error = Some(e.clone());
                return Err(e);
            }
        }
    }
    Ok(db.as_mut().expect("opened"))
}

async fn write(db: &mut Db, state: &mut WriterState, records: Vec<Record>) -> Result<(), DbError> {
    let mut stmts = Vec::new();
    let mut seen = Vec::new();
    for record in records {
        match record {
            Record::Run(run) => run_stmts(&run, &mut stmts),
            Record::Value(value) => stmts.push(value_stmt(&value)),
            Record::Probe(probe) => {
                let key = (probe.probe.clone(), probe.location.clone());
                if !state.probes.contains_key(&key) {
                    let last = db
                        .query(
                            "SELECT outcome FROM probe_changes WHERE probe = ? AND location = ? ORDER BY at_ms DESC LIMIT 1",
                            vec![probe.probe.as_str().into(), probe.location.as_str().into()],
                        )
                        .await?;
                    if let Some(outcome) = last.first().and_then(|r| r.first()) {
                        state.probes.insert(key.clone(), outcome.text());
                    }
                }
                let outcome = probe.outcome.as_str();
                // Against the batch's own changes first: the state is updated only once the
                // batch is written.
                let current = seen
                    .iter()
                    .rev()
                    .find(|(k, _)| *k == key)
                    .map(|(_, o): &((String, String), String)| o.as_str())
                    .or_else(|| state.probes.get(&key).map(String::as_str));
                if current != Some(outcome) {
                    stmts.push(Stmt {
                        sql: "INSERT INTO probe_changes (probe, location, at_ms, outcome, reason) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        params: vec![
                            probe.probe.as_str().into(),
                            probe.location.as_str().into(),
                            probe.at_ms.into(),
                            outcome.into(),
                            probe.reason.clone().into(),
                        ],
                    });
                    seen.push((key, outcome.to_string()));
                }
                let passed = i64::from(matches!(probe.outcome, Outcome::Ok | Outcome::Degraded));
                stmts.push(Stmt {
                    sql: "INSERT INTO probe_minutes (probe, location, minute_ms, results, passed, sum_ms, max_ms) VALUES (?, ?, ?, 1, ?, ?, ?) \
                          ON CONFLICT (probe, minute_ms, location) DO UPDATE SET results = probe_minutes.results + 1, passed = probe_minutes.passed + excluded.passed, \
                          sum_ms = probe_minutes.sum_ms + excluded.sum_ms, max_ms = CASE WHEN excluded.max_ms > probe_minutes.max_ms THEN excluded.max_ms ELSE probe_minutes.max_ms END",
                    params: vec![
                        probe.probe.as_str().into(),
                        probe.location.as_str().into(),
                        minute_of(probe.at_ms).into(),
                        passed.into(),
                        probe.duration_ms.into(),
                        probe.duration_ms.into(),
                    ],
                });
                stmts.push(Stmt {
                    sql: "INSERT INTO probe_days (probe, location, day_ms, results, passed) VALUES (?, ?, ?, 1, ?) \
                          ON CONFLICT (probe, day_ms, location) DO UPDATE SET results = probe_days.results + 1, passed = probe_days.passed + excluded.passed",
                    params: vec![
                        probe.probe.as_str().into(),
                        probe.location.as_str().into(),
                        super::day_of(probe.at_ms).into(),
                        passed.into(),
                    ],
                });
            }
            Record::Notification(n) => stmts.push(Stmt {
                sql: "INSERT INTO notifications (at_ms, alert, event, sink, location, result, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                params: vec![
                    n.at_ms.into(),
                    n.alert.into(),
                    n.event.into(),
                    n.sink.into(),
                    n.location.into(),
                    n.result.into(),
                    n.error.into(),
                ],
            }),
            Record::ArtifactsGone(dirs) => {
                for dir in dirs {
                    stmts.push(Stmt {
                        sql: "UPDATE steps SET artifacts = NULL WHERE run IN (SELECT id FROM runs WHERE artifacts_dir = ?)",
                        params: vec![dir.as_str().into()],
                    });
                    stmts.push(Stmt {
                        sql: "UPDATE runs SET artifacts_dir = NULL WHERE artifacts_dir = ?",
                        params: vec![dir.into()],
                    });
                }
            }
        }
    }
    db.batch(stmts).await?;
    // Only once written: a lost change is written with the next result.
    state.probes.extend(seen);
    Ok(())
}

/// Writes one run in a transaction of its own, as the writer does for a batch of one (the
/// bench measures this).
pub async fn write_run(db: &mut Db, run: &RunRecord) -> Result<(), DbError> {
    let mut stmts = Vec::new();
    run_stmts(run, &mut stmts);
    db.batch(stmts).await
}

/// Writes one value in a transaction of its own (tests prepare weeks of history with it).
pub async fn write_value(db: &mut Db, value: &ValueRecord) -> Result<(), DbError> {
    db.batch(vec![value_stmt(value)]).await
}

fn value_stmt(value: &ValueRecord) -> Stmt {
    Stmt {
        sql: "INSERT INTO series_hours (series, hour_ms, points, total) VALUES (?, ?, 1, ?) \
              ON CONFLICT (series, hour_ms) DO UPDATE SET points = series_hours.points + 1, total = series_hours.total + excluded.total",
        params: vec![
            value.series.as_str().into(),
            hour_of(value.at_ms).into(),
            value.value.into(),
        ],
    }
}

fn run_stmts(run: &RunRecord, stmts: &mut Vec<Stmt>) {
    let passed_ms = run.outcome.passed().then_some(run.started_ms);
    stmts.push(Stmt {
        sql: "INSERT INTO runs (id, run_id, journey, location, browser, started_ms, duration_ms, outcome, attempts, failed_step, reason_class, reason, artifacts_dir, passed_ms) \
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params: vec![
            run.id.as_str().into(),
            run.run_id.as_str().into(),
            run.journey.as_str().into(),
            run.location.as_str().into(),
            run.browser.as_str().into(),
            run.started_ms.into(),
            run.duration_ms.into(),
            run.outcome.as_str().into(),
            i64::from(run.attempts).into(),
            run.failed_step.clone().into(),
            run.reason_class.clone().into(),
            run.reason.clone().into(),
            run.artifacts_dir.clone().into(),
            passed_ms.into(),
        ],
    });
    stmts.push(Stmt {
        sql: "INSERT INTO run_hours (journey, location, hour_ms, outcome, runs, sum_ms) VALUES (?, ?, ?, ?, 1, ?) \
              ON CONFLICT (journey, hour_ms, location, outcome) DO UPDATE SET runs = run_hours.runs + 1, sum_ms = run_hours.sum_ms + excluded.sum_ms",
        params: vec![
            run.journey.as_str().into(),
            run.location.as_str().into(),
            hour_of(run.started_ms).into(),
            run.outcome.as_str().into(),
            run.duration_ms.into(),
        ],
    });
    // The whole run's time, as a step without a name: the overview's percentiles.
    if run.outcome.passed() {
        stmts.extend(step_hour(
            &run.journey,
            "",
            hour_of(run.started_ms),
            bucket(run.duration_ms),
            1,
        ));
    }
    for (position, step) in run.steps.iter().enumerate() {
        let artifacts = (!step.artifacts.is_empty())
            .then(|| serde_json::to_string(&step.artifacts).unwrap_or_default());
        stmts.push(Stmt {
            sql: "INSERT INTO steps (run, position, name, outcome, duration_ms, reason_class, reason, failed_requests, console_errors, artifacts) \
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params: vec![
                run.id.as_str().into(),
                (position as i64).into(),
                step.name.as_str().into(),
                step.outcome.as_str().into(),
                step.duration_ms.into(),
                step.reason_class.clone().into(),
                step.reason.clone().into(),
                step.failed_requests.clone().into(),
                step.console_errors.clone().into(),
                artifacts.into(),
            ],
        });
        if let (StepOutcome::Ok | StepOutcome::Slow, Some(ms)) = (step.outcome, step.duration_ms) {
            stmts.extend(step_hour(
                &run.journey,
                &step.name,
                hour_of(run.started_ms),
                bucket(ms),
                1,
            ));
        }
    }
}

fn step_hour(journey: &str, step: &str, hour_ms: i64, bucket: i64, steps: i64) -> [Stmt; 2] {
    let params = |at: i64| {
        vec![
            journey.into(),
            step.into(),
            at.into(),
            bucket.into(),
            steps.into(),
        ]
    };
    [
        Stmt {
            sql: "INSERT INTO step_hours (journey, step, hour_ms, bucket, steps) VALUES (?, ?, ?, ?, ?) \
                  ON CONFLICT (journey, step, hour_ms, bucket) DO UPDATE SET steps = step_hours.steps + excluded.steps",
            params: params(hour_ms),
        },
        Stmt {
            sql: "INSERT INTO step_days (journey, step, day_ms, bucket, steps) VALUES (?, ?, ?, ?, ?) \
                  ON CONFLICT (journey, step, day_ms, bucket) DO UPDATE SET steps = step_days.steps + excluded.steps",
            params: params(super::day_of(hour_ms)),
        },
    ]
}

/// Fills `step_hours` from the runs and steps of a store migrated from version 1, in one
/// transaction.
pub(super) async fn backfill_step_hours(db: &mut Db) -> Result<(), DbError> {
    let mut rows = db
        .query(
            "SELECT r.journey, s.name, r.started_ms, s.duration_ms FROM steps s JOIN runs r ON r.id = s.run \
             WHERE s.outcome IN ('ok', 'slow') AND s.duration_ms IS NOT NULL",
            vec![],
        )
        .await?;
    rows.extend(
        db.query(
            "SELECT journey, '', started_ms, duration_ms FROM runs WHERE outcome IN ('ok', 'degraded', 'flaky')",
            vec![],
        )
        .await?,
    );
    let mut counts: HashMap<(String, String, i64, i64), i64> = HashMap::new();
    for row in rows {
        let key = (
            row[0].text(),
            row[1].text(),
            hour_of(row[2].int()),
            bucket(row[3].real()),
        );
        *counts.entry(key).or_default() += 1;
    }
    let stmts = counts
        .into_iter()
        .flat_map(|((journey, step, hour, bucket), n)| step_hour(&journey, &step, hour, bucket, n))
        .collect();
    db.batch(stmts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_lists_are_no_json() {
        assert_eq!(json_list::<String>(&[]), None);
        assert_eq!(json_list(&["x"]).as_deref(), Some("[\"x\"]"));
    }

    /// Probe results of one batch are compared with each other, not only with what was
    /// stored before it (once, a failure and the recovery in one batch were stored as two
    /// `failed` changes and no `ok`).
    #[tokio::test]
    async fn changes_within_one_batch_are_each_written_once() {
        use crate::journey::outcome::Outcome;
        let dir = tempfile::tempdir().unwrap();
        let config = HistoryConfig {
            target: super::super::config::Target::Sqlite(dir.path().join("h.db")),
            max_age: std::time::Duration::from_secs(90 * 86_400),
            state_dir: dir.path().to_path_buf(),
        };
        let mut db = crate::history::open(&config, None).await.unwrap();
        let mut state = WriterState::default();
        let records = [Outcome::Ok, Outcome::Failed, Outcome::Failed, Outcome::Ok]
            .into_iter()
            .enumerate()
            .map(|(i, outcome)| {
                Record::Probe(ProbeRecord {
                    probe: "p".into(),
                    location: String::new(),
                    at_ms: 1_000 + i as i64,
                    outcome,
                    duration_ms: 1.0,
                    reason: None,
                })
            })
            .collect();
        write(&mut db, &mut state, records).await.unwrap();
        let rows = db
            .query("SELECT outcome FROM probe_changes ORDER BY at_ms", vec![])
            .await
            .unwrap();
        let outcomes: Vec<String> = rows.iter().map(|r| r[0].text()).collect();
        assert_eq!(outcomes, ["ok", "failed", "ok"]);
    }

    #[test]
    fn unused_value_is_null() {
        use crate::history::db::Value;
        assert_eq!(Value::from(None::<String>), Value::Null);
    }
}
