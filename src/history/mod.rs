//! The run history: every run with its steps, probe results (state changes, and per minute),
//! and alert notifications, kept in SQLite (a file in `state_dir`, by default) or PostgreSQL
//! (several monitors sharing one history), for the JSON API and the UI.
//!
//! - `config`: the `history:` section and `state_dir`;
//! - `db`: one connection, SQLite or PostgreSQL, behind one interface and one SQL;
//! - `schema`: the tables and their versioned migrations;
//! - `write`: records and the writer task behind a bounded queue (a run never waits);
//! - `read`: the queries of the API and the UI;
//! - `retention`: `max_age`, with the artifacts the pruned runs point to;
//! - `baseline`: a series' normal (same hour of the week, or daily), or "not enough history";
//! - `api`: `/api/v1/...`.
//!
//! The writer and the reader have a connection each (SQLite in WAL mode: reads never wait for
//! writes).

pub mod api;
pub mod baseline;
pub mod config;
pub mod db;
pub mod read;
pub mod retention;
pub mod schema;
pub mod write;

pub use config::HistoryConfig;
pub use write::{NotificationRecord, ProbeRecord, Record, RunRecord, ValueRecord, Writer};

use crate::metrics::Metrics;
use db::{Db, DbError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// How the store is doing, for the API (and `/healthz`).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Status {
    /// The last write's error, until a write succeeds again.
    pub error: Option<String>,
    pub written: u64,
    pub dropped: u64,
}

/// The history of a running monitor: where records go, and where queries are answered.
#[derive(Clone)]
pub struct History {
    pub writer: Writer,
    pub reader: read::Reader,
    pub status: Arc<Mutex<Status>>,
    /// Where this monitor is (`location`, empty without one): its records say so.
    pub location: String,
}

impl History {
    /// Opens the store and starts its writer, which ends after `stop` once what is queued is
    /// written. A store that cannot be opened is logged and counted, and opened again with
    /// the next write: the monitor runs without it meanwhile.
    pub async fn start(
        config: HistoryConfig,
        password: Option<String>,
        location: Option<String>,
        metrics: Arc<Metrics>,
        artifacts_dir: PathBuf,
        stop: CancellationToken,
    ) -> (History, tokio::task::JoinHandle<()>) {
        let status = Arc::new(Mutex::new(Status::default()));
        metrics.enable_history();
        let db = match open(&config, password.clone()).await {
            Ok(db) => {
                tracing::info!("history: keeping runs in {}", config.describe());
                Some(db)
            }
            Err(e) => {
                tracing::error!("history: cannot open it; runs go on without being kept, and it is tried again with the next run: {e}");
                metrics.record_history_errors(e.reason, 0);
                status.lock().unwrap_or_else(|e| e.into_inner()).error = Some(e.message);
                None
            }
        };
        let reader = read::Reader::new(config.clone(), password.clone());
        let (writer, handle) = write::spawn(
            write::WriterTask {
                config,
                password,
                metrics,
                status: status.clone(),
                artifacts_dir,
            },
            db,
            stop,
        );
        (
            History {
                writer,
                reader,
                status,
                location: location.unwrap_or_default(),
            },
            handle,
        )
    }
}

/// Opens the store and brings its schema up to date.
pub async fn open(config: &HistoryConfig, password: Option<String>) -> Result<Db, DbError> {
    let mut db = Db::open(config, password).await?;
    schema::migrate(&mut db).await?;
    Ok(db)
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

pub fn hour_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR_MS)
}

pub fn minute_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(60_000)
}

pub fn day_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(DAY_MS)
}

/// Durations are counted in buckets of a log scale, 8 per doubling (each about 9% wide), so
/// percentiles per hour or day are read from counts: bucket `k` holds `[2^(k/8), 2^((k+1)/8))`
/// milliseconds; under 1 ms is bucket 0.
pub fn bucket(ms: f64) -> i64 {
    if ms.is_nan() || ms < 1.0 {
        0
    } else {
        ((ms.log2() * 8.0).floor() as i64).clamp(0, 400)
    }
}

/// The middle of bucket `k` in milliseconds (geometric): what a percentile in it is taken as.
pub fn bucket_ms(k: i64) -> f64 {
    2f64.powf((k as f64 + 0.5) / 8.0)
}

/// 32 hex digits from the system's random source: unique over monitors sharing a store.
pub fn unique_id() -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .is_err()
    {
        // Never seen; the time and a counter still tell runs apart on one monitor.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&now_ms().to_be_bytes());
        bytes[8..].copy_from_slice(&n.to_be_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_about_nine_percent_wide() {
        assert_eq!(bucket(0.3), 0);
        assert_eq!(bucket(1.0), 0);
        assert_eq!(bucket(2.0), 8);
        let k = bucket(1234.0);
        assert!(bucket_ms(k) / 1234.0 > 0.95 && bucket_ms(k) / 1234.0 < 1.05);
    }

    #[test]
    fn times_fall_in_their_hour() {
        assert_eq!(hour_of(3_600_000 * 5 + 17), 3_600_000 * 5);
        assert_eq!(minute_of(61_000), 60_000);
        assert_eq!(day_of(DAY_MS + 5), DAY_MS);
    }

    #[test]
    fn ids_differ() {
        assert_ne!(unique_id(), unique_id());
        assert_eq!(unique_id().len(), 32);
    }
}
