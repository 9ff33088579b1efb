//! Normals from the history, against SQLite and a real PostgreSQL: weeks of runs and values
//! written straight into the store by the test, then the normal read back; and what too little
//! history says.

mod util;

use shopwatch::history::config::{HistoryConfig, Target};
use shopwatch::history::db::Db;
use shopwatch::history::read::Reader;
use shopwatch::history::write::{write_run, write_value, RunRecord, StepRecord, ValueRecord};
use shopwatch::history::{self};
use shopwatch::journey::outcome::{Outcome, StepOutcome};
use shopwatch::normal::{Baseline, Basis, Normal};
use std::path::Path;
use std::time::Duration;
use util::postgres::{Postgres, PASSWORD};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

fn sqlite(dir: &Path) -> HistoryConfig {
    HistoryConfig {
        target: Target::Sqlite(dir.join("history.db")),
        max_age: Duration::from_secs(90 * 86_400),
        state_dir: dir.to_path_buf(),
    }
}

fn postgres(pg: &Postgres) -> HistoryConfig {
    HistoryConfig {
        target: Target::Postgres {
            url: pg.url(),
            password: None,
        },
        max_age: Duration::from_secs(90 * 86_400),
        state_dir: std::env::temp_dir(),
    }
}

/// A passed run of `journey` at `at_ms` whose step `cart` took `cart_ms`.
fn run(journey: &str, at_ms: i64, cart_ms: f64) -> RunRecord {
    let step = |name: &str, ms: f64| StepRecord {
        name: name.into(),
        outcome: StepOutcome::Ok,
        duration_ms: Some(ms),
        reason_class: None,
        reason: None,
        failed_requests: None,
        console_errors: None,
        artifacts: vec![],
    };
    RunRecord {
        id: history::unique_id(),
        run_id: format!("r{at_ms}"),
        journey: journey.into(),
        location: String::new(),
        browser: "firefox".into(),
        started_ms: at_ms,
        duration_ms: cart_ms + 100.0,
        outcome: Outcome::Ok,
        attempts: 1,
        failed_step: None,
        reason_class: None,
        reason: None,
        artifacts_dir: None,
        steps: vec![step("home", 100.0), step("cart", cart_ms)],
    }
}

async fn suite(config: HistoryConfig, password: Option<&str>) {
    let mut db = history::open(&config, password.map(str::to_string))
        .await
        .unwrap();
    let reader = Reader::new(config.clone(), password.map(str::to_string));
    // A Monday 09:20 UTC.
    let now = 1_795_000_000_000 - 1_795_000_000_000 % WEEK + 4 * DAY + 9 * HOUR + 20 * 60_000;
    same_hour_of_the_week_is_the_normal(&mut db, &reader, now).await;
    daily_is_the_average_of_the_days(&mut db, &reader, now).await;
    too_little_history_says_so(&mut db, &reader, now).await;
    series_values_have_a_normal(&mut db, &reader, now).await;
    recent_times_are_the_newest_runs(&reader).await;
}

async fn same_hour_of_the_week_is_the_normal(db: &mut Db, reader: &Reader, now: i64) {
    // The same hour of the last four weeks: the cart takes about 400 ms, three runs each.
    for week in 1..=4 {
        for (i, ms) in [380.0, 400.0, 420.0].into_iter().enumerate() {
            let at = now - week * WEEK + i as i64 * 60_000;
            write_run(db, &run("shop", at, ms)).await.unwrap();
        }
        // Other hours are slower (the nightly import): they are not this hour's normal.
        write_run(db, &run("shop", now - week * WEEK + 3 * HOUR, 5_000.0))
            .await
            .unwrap();
    }
    let normal = reader
        .step_normal("shop", "cart", &Baseline::default(), now)
        .await
        .unwrap();
    let ms = normal.value().expect("four weeks of history");
    assert!((370.0..430.0).contains(&ms), "normal {ms} ms");
    // Another journey's step of the same name is not this one's.
    let other = reader
        .step_normal("other", "cart", &Baseline::default(), now)
        .await
        .unwrap();
    assert_eq!(other.value(), None);
}

async fn daily_is_the_average_of_the_days(db: &mut Db, reader: &Reader, now: i64) {
    // Fourteen days of the daily journey: 200 ms in the morning, 600 ms at night.
    for day in 1..=14 {
        let midnight = now - now % DAY - day * DAY;
        write_run(db, &run("daily", midnight + 8 * HOUR, 200.0))
            .await
            .unwrap();
        write_run(db, &run("daily", midnight + 22 * HOUR, 600.0))
            .await
            .unwrap();
    }
    let baseline = Baseline {
        weeks: 4,
        basis: Basis::Daily,
    };
    let normal = reader
        .step_normal("daily", "cart", &baseline, now)
        .await
        .unwrap();
    let ms = normal.value().expect("14 of 28 days is enough");
    assert!((360.0..440.0).contains(&ms), "average {ms} ms");
    // Two weeks of days are not enough for eight weeks.
    let longer = Baseline {
        weeks: 8,
        basis: Basis::Daily,
    };
    let normal = reader
        .step_normal("daily", "cart", &longer, now)
        .await
        .unwrap();
    assert_eq!(
        normal.to_string(),
        "not enough history yet: 14 of the last 56 days with data, 28 needed"
    );
}

async fn too_little_history_says_so(db: &mut Db, reader: &Reader, now: i64) {
    // One week only: one odd week is not a normal.
    write_run(db, &run("new-shop", now - WEEK, 400.0))
        .await
        .unwrap();
    let normal = reader
        .step_normal("new-shop", "cart", &Baseline::default(), now)
        .await
        .unwrap();
    assert!(
        matches!(
            normal,
            Normal::NotEnoughHistory {
                with_data: 1,
                needed: 2,
                ..
            }
        ),
        "{normal:?}"
    );
    assert_eq!(
        normal.to_string(),
        "not enough history yet: 1 of the same hour in the last 4 weeks with data, 2 needed"
    );
    // Nothing at all.
    let none = reader
        .step_normal("never-ran", "cart", &Baseline::default(), now)
        .await
        .unwrap();
    assert_eq!(none.value(), None);
}

async fn series_values_have_a_normal(db: &mut Db, reader: &Reader, now: i64) {
    // Registrations per hour: about 40 at this hour, week after week, one bad week of 400.
    for (week, value) in [(1, 40.0), (2, 44.0), (3, 400.0), (4, 36.0)] {
        for minute in [0, 30] {
            let at = now - now % HOUR - week * WEEK + minute * 60_000;
            write_value(
                db,
                &ValueRecord {
                    series: "registrations".into(),
                    at_ms: at,
                    value,
                },
            )
            .await
            .unwrap();
        }
    }
    let normal = reader
        .series_normal("registrations", &Baseline::default(), now)
        .await
        .unwrap();
    // The median of 36, 40, 44, 400: the bad week does not move it.
    assert_eq!(normal, Normal::Known(42.0));
    let daily = reader
        .series_normal(
            "registrations",
            &Baseline {
                weeks: 1,
                basis: Basis::Daily,
            },
            now,
        )
        .await
        .unwrap();
    // Only one of the last 7 days has values.
    assert_eq!(daily.value(), None, "{daily}");
}

async fn recent_times_are_the_newest_runs(reader: &Reader) {
    let times = reader.recent_step_times("daily", "cart", 3).await.unwrap();
    // The newest run is last night's (600 ms), then that morning's, then the night before.
    assert_eq!(times, vec![600.0, 200.0, 600.0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_normals() {
    let dir = tempfile::tempdir().unwrap();
    suite(sqlite(dir.path()), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_normals() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    suite(postgres(&pg), Some(PASSWORD)).await;
}
