//! The store's tables and their versions. Each migration is applied once, in order, in a
//! transaction with the row that records it in `schema_version`; a store newer than this
//! shopwatch is refused rather than written into.
//!
//! Times are Unix milliseconds (`BIGINT`). The SQL is the same for SQLite and PostgreSQL.
//!
//! Aggregates are kept beside the rows, upserted with each write, so the overview and a
//! journey page read a few thousand rows whatever the store's size:
//! - `run_hours`: runs per journey, location, hour and outcome, with their summed time;
//! - `step_hours`: passed steps per journey, step, hour and duration bucket (a log scale,
//!   [`super::bucket`]), from which p50/p95 per hour are read, and `step_days` the same per
//!   day (a month of a journey's days is a few thousand rows, of its hours 20 times more);
//! - `probe_minutes`: probe results per minute (count, passed, summed and longest time), and
//!   `probe_days` the count and passed per day (the overview's 30 days and the status page's 90
//!   read a row per day, not 1,440);
//! - `series_hours`: numbers a probe read (count and sum per hour), for their normal.

use super::db::{Db, DbError, Value};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Version 1: runs and steps, and runs per hour.
const V1: &str = "
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    journey TEXT NOT NULL,
    location TEXT NOT NULL,
    browser TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    failed_step TEXT,
    reason_class TEXT,
    reason TEXT,
    artifacts_dir TEXT
);
CREATE INDEX runs_by_journey ON runs (journey, started_ms, id);
CREATE INDEX runs_by_time ON runs (started_ms);
CREATE TABLE steps (
    run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    outcome TEXT NOT NULL,
    duration_ms DOUBLE PRECISION,
    reason_class TEXT,
    reason TEXT,
    PRIMARY KEY (run, position)
);
CREATE TABLE run_hours (
    journey TEXT NOT NULL,
    location TEXT NOT NULL,
    hour_ms BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    runs BIGINT NOT NULL,
    sum_ms DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (journey, hour_ms, location, outcome)
);
";

/// Version 2: what steps saw (failed requests, console errors, artifacts), step durations per
/// hour, probe history, alert notifications; the last good run found by an index on
/// `passed_ms` (its start, for runs that passed), filled for the runs already there; the
/// overview's windows read from an index of `run_hours` by hour (covering, so only the last
/// 30 days' rows are read however long `max_age` keeps them).
const V2: &str = "
ALTER TABLE runs ADD COLUMN passed_ms BIGINT;
UPDATE runs SET passed_ms = started_ms WHERE outcome IN ('ok', 'degraded', 'flaky');
ALTER TABLE steps ADD COLUMN failed_requests TEXT;
ALTER TABLE steps ADD COLUMN console_errors TEXT;
ALTER TABLE steps ADD COLUMN artifacts TEXT;
CREATE INDEX runs_passed ON runs (journey, passed_ms);
CREATE INDEX run_hours_by_hour ON run_hours (hour_ms, journey, outcome, runs);
CREATE TABLE step_hours (
    journey TEXT NOT NULL,
    step TEXT NOT NULL,
    hour_ms BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    steps BIGINT NOT NULL,
    PRIMARY KEY (journey, step, hour_ms, bucket)
);
CREATE INDEX step_hours_by_hour ON step_hours (hour_ms);
CREATE TABLE step_days (
    journey TEXT NOT NULL,
    step TEXT NOT NULL,
    day_ms BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    steps BIGINT NOT NULL,
    PRIMARY KEY (journey, step, day_ms, bucket)
);
CREATE INDEX step_days_by_day ON step_days (day_ms);
CREATE TABLE probe_changes (
    probe TEXT NOT NULL,
    location TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    PRIMARY KEY (probe, location, at_ms)
);
CREATE TABLE probe_minutes (
    probe TEXT NOT NULL,
    location TEXT NOT NULL,
    minute_ms BIGINT NOT NULL,
    results BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    sum_ms DOUBLE PRECISION NOT NULL,
    max_ms DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (probe, minute_ms, location)
);
CREATE INDEX probe_minutes_by_minute ON probe_minutes (minute_ms);
CREATE TABLE notifications (
    at_ms BIGINT NOT NULL,
    alert TEXT NOT NULL,
    event TEXT NOT NULL,
    sink TEXT NOT NULL,
    location TEXT NOT NULL,
    result TEXT NOT NULL,
    error TEXT
);
CREATE INDEX notifications_by_time ON notifications (at_ms);
";

/// Version 3: probe results per day, filled from the minutes already there.
const V3: &str = "
CREATE TABLE probe_days (
    probe TEXT NOT NULL,
    location TEXT NOT NULL,
    day_ms BIGINT NOT NULL,
    results BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    PRIMARY KEY (probe, day_ms, location)
);
CREATE INDEX probe_days_by_day ON probe_days (day_ms);
INSERT INTO probe_days (probe, location, day_ms, results, passed)
    SELECT probe, location, minute_ms - minute_ms % 86400000, SUM(results), SUM(passed)
    FROM probe_minutes GROUP BY probe, location, minute_ms - minute_ms % 86400000;
";

/// Version 4: numbers read by probes (a `metric` probe's value), per hour (how many and their
/// total): the series' normal (`baseline`) is read from these.
const V4: &str = "
CREATE TABLE series_hours (
    series TEXT NOT NULL,
    hour_ms BIGINT NOT NULL,
    points BIGINT NOT NULL,
    total DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series, hour_ms)
);
CREATE INDEX series_hours_by_hour ON series_hours (hour_ms);
";

/// Every migration, oldest first. A released one is never edited: add the next.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "runs, steps, runs per hour",
        sql: V1,
    },
    Migration {
        version: 2,
        name: "step details, step durations per hour, probes, notifications",
        sql: V2,
    },
    Migration {
        version: 3,
        name: "probe results per day",
        sql: V3,
    },
    Migration {
        version: 4,
        name: "series values per hour",
        sql: V4,
    },
];

pub const CURRENT: i64 = 4;

/// Brings the store to [`CURRENT`]; returns the version it was at (0: new). Monitors sharing a
/// PostgreSQL history take turns (an advisory lock), so only one migrates.
pub async fn migrate(db: &mut Db) -> Result<i64, DbError> {
    if !db.is_postgres() {
        return migrate_locked(db).await;
    }
    db.script(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .await?;
    let result = migrate_locked(db).await;
    let unlocked = db
        .script(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .await;
    let version = result?;
    unlocked?;
    Ok(version)
}

/// The advisory lock of migrations ("shopwatch" in a few hex digits).
const MIGRATION_LOCK: i64 = 0x5709_a7c4;

async fn migrate_locked(db: &mut Db) -> Result<i64, DbError> {
    db.script("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)")
        .await?;
    let rows = db
        .query("SELECT MAX(version) FROM schema_version", vec![])
        .await?;
    let found = rows.first().and_then(|r| r.first()).map_or(0, Value::int);
    if found > CURRENT {
        return Err(DbError {
            reason: "query",
            message: format!(
                "{} has schema version {found}, newer than this shopwatch knows ({CURRENT}): run the newer shopwatch, or point `history.url` elsewhere",
                db.describe()
            ),
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        let script = format!(
            "BEGIN;\n{}\nINSERT INTO schema_version (version, name, applied_ms) VALUES ({}, '{}', {});\nCOMMIT;",
            migration.sql,
            migration.version,
            migration.name,
            super::now_ms()
        );
        if let Err(e) = db.script(&script).await {
            let _ = db.script("ROLLBACK").await;
            return Err(DbError {
                reason: e.reason,
                message: format!(
                    "migrating {} to schema version {}: {e}",
                    db.describe(),
                    migration.version
                ),
            });
        }
        if migration.version == 2 {
            super::write::backfill_step_hours(db).await?;
        }
        tracing::info!(
            "history: {} migrated to schema version {} ({})",
            db.describe(),
            migration.version,
            migration.name
        );
    }
    Ok(found)
}
