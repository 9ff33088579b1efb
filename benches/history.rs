//! The run history (SQLite): writing one run with 10 steps, the queries of the overview and a
//! journey page on a large store, and the store's size per million runs.
//!
//! `cargo bench --bench history`. Targets (issue 11): the overview and a journey page under
//! 200 ms each with 100 journeys x 30 days of one-minute runs (4.32 million runs).
//!
//! The large store is generated once and cached under `target/history-bench/` (delete it to
//! make it again). `SHOPWATCH_BENCH_JOURNEYS` and `SHOPWATCH_BENCH_DAYS` change its scale.
//! It holds every run and every aggregate row the writer would have made; to keep generating
//! it within minutes, the runs' steps are only stored for the last day (the pages read steps
//! of one run at a time, by key, and their durations from the aggregates). The size per
//! million runs is measured on a separate store with all ten steps of every run, written
//! through the store's own write path.

use criterion::{criterion_group, criterion_main, Criterion};
use shopwatch::history::config::{HistoryConfig, Target};
use shopwatch::history::read::{Period, Reader, RunFilter};
use shopwatch::history::write::{write_run, RunRecord, StepRecord};
use shopwatch::history::{self, bucket, hour_of};
use shopwatch::journey::outcome::{Outcome, StepOutcome};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const STEPS: [&str; 10] = [
    "home",
    "search",
    "product",
    "add-to-cart",
    "cart",
    "login",
    "address",
    "shipping",
    "pay",
    "confirmation",
];
const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;

fn env_number(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(file: &Path) -> HistoryConfig {
    HistoryConfig {
        target: Target::Sqlite(file.to_path_buf()),
        // The store is cached for days: retention must not thin it.
        max_age: Duration::from_secs(10 * 366 * 24 * 3600),
        state_dir: file.parent().unwrap().to_path_buf(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A run as the writer gets it: 10 steps, one in 20 runs failing at `pay`.
fn run(journey: &str, started_ms: i64, n: i64) -> RunRecord {
    let failed = n % 20 == 7;
    let steps = STEPS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let failing = failed && *name == "pay";
            StepRecord {
                name: name.to_string(),
                outcome: if failing {
                    StepOutcome::Failed
                } else {
                    StepOutcome::Ok
                },
                duration_ms: Some(200.0 + ((n * 37 + i as i64 * 101) % 900) as f64),
                reason_class: failing.then(|| "http_status".into()),
                reason: failing
                    .then(|| "click `#pay`: the page answered HTTP 502 Bad Gateway".into()),
                failed_requests: failing.then(|| {
                    r#"[{"method":"POST","url":"/api/pay","kind":"fetch","status":502}]"#.into()
                }),
                console_errors: None,
                artifacts: if failing {
                    vec![format!("{journey}/r{n}/attempt-1/pay.png")]
                } else {
                    vec![]
                },
            }
        })
        .collect::<Vec<_>>();
    RunRecord {
        id: history::unique_id(),
        run_id: format!("r{n}"),
        journey: journey.into(),
        location: "eu-west".into(),
        browser: "chromium".into(),
        started_ms,
        duration_ms: steps.iter().filter_map(|s| s.duration_ms).sum(),
        outcome: if failed { Outcome::Failed } else { Outcome::Ok },
        attempts: 1,
        failed_step: failed.then(|| "pay".into()),
        reason_class: failed.then(|| "http_status".into()),
        reason: failed.then(|| "click `#pay`: the page answered HTTP 502 Bad Gateway".into()),
        artifacts_dir: failed.then(|| format!("{journey}/r{n}")),
        steps,
    }
}

/// The large store: made once (schema by shopwatch, rows in bulk), then reused.
fn large_store(rt: &tokio::runtime::Runtime, journeys: i64, days: i64) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/history-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("store-{journeys}x{days}d.db"));
    if file.exists() {
        return file;
    }
    let partial = dir.join("partial.db");
    let _ = std::fs::remove_file(&partial);
    let started = Instant::now();
    rt.block_on(async {
        history::open(&config(&partial), None).await.unwrap();
    });
    let mut conn = rusqlite::Connection::open(&partial).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;",
    )
    .unwrap();
    let now = history::now_ms();
    let first = now - days * DAY;
    let tx = conn.transaction().unwrap();
    {
        let mut runs = tx
            .prepare("INSERT INTO runs (id, run_id, journey, location, browser, started_ms, duration_ms, outcome, attempts, failed_step, reason_class, reason, artifacts_dir, passed_ms) VALUES (?, ?, ?, 'eu-west', 'chromium', ?, ?, ?, 1, ?, ?, ?, ?, ?)")
            .unwrap();
        let mut steps = tx
            .prepare("INSERT INTO steps (run, position, name, outcome, duration_ms, reason_class, reason, failed_requests, console_errors, artifacts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)")
            .unwrap();
        let mut run_hours: HashMap<(i64, i64, &str), (i64, f64)> = HashMap::new();
        let mut step_hours: HashMap<(i64, usize, i64, i64), i64> = HashMap::new();
        let mut id = 0u64;
        for minute in 0..days * 24 * 60 {
            let at = first + minute * MINUTE;
            for j in 0..journeys {
                id += 1;
                let journey = format!("journey-{j:03}");
                let r = run(&journey, at + j * 300, minute * journeys + j);
                // Sequential ids: random ones (as the writer makes) would only slow making it.
                let key = format!("{id:032x}");
                let passed = r.outcome.passed();
                runs.execute(rusqlite::params![
                    key,
                    r.run_id,
                    journey,
                    r.started_ms,
                    r.duration_ms,
                    r.outcome.as_str(),
                    r.failed_step,
                    r.reason_class,
                    r.reason,
                    r.artifacts_dir,
                    passed.then_some(r.started_ms),
                ])
                .unwrap();
                let hour = hour_of(r.started_ms);
                let entry = run_hours.entry((j, hour, r.outcome.as_str())).or_default();
                entry.0 += 1;
                entry.1 += r.duration_ms;
                if passed {
                    *step_hours
                        .entry((j, usize::MAX, hour, bucket(r.duration_ms)))
                        .or_default() += 1;
                }
                for (i, s) in r.steps.iter().enumerate() {
                    if s.outcome == StepOutcome::Ok {
                        *step_hours
                            .entry((j, i, hour, bucket(s.duration_ms.unwrap())))
                            .or_default() += 1;
                    }
                    if at >= now - DAY {
                        let artifacts = (!s.artifacts.is_empty())
                            .then(|| serde_json::to_string(&s.artifacts).unwrap());
                        steps
                            .execute(rusqlite::params![
                                key,
                                i as i64,
                                s.name,
                                s.outcome.as_str(),
                                s.duration_ms,
                                s.reason_class,
                                s.reason,
                                s.failed_requests,
                                artifacts
                            ])
                            .unwrap();
                    }
                }
            }
        }
        let mut insert = tx
            .prepare("INSERT INTO run_hours (journey, location, hour_ms, outcome, runs, sum_ms) VALUES (?, 'eu-west', ?, ?, ?, ?)")
            .unwrap();
        for ((j, hour, outcome), (n, sum)) in run_hours {
            insert
                .execute(rusqlite::params![
                    format!("journey-{j:03}"),
                    hour,
                    outcome,
                    n,
                    sum
                ])
                .unwrap();
        }
        let mut insert = tx
            .prepare("INSERT INTO step_hours (journey, step, hour_ms, bucket, steps) VALUES (?, ?, ?, ?, ?)")
            .unwrap();
        for ((j, i, hour, b), n) in step_hours {
            let step = if i == usize::MAX { "" } else { STEPS[i] };
            insert
                .execute(rusqlite::params![
                    format!("journey-{j:03}"),
                    step,
                    hour,
                    b,
                    n
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    conn.execute_batch("ANALYZE; PRAGMA journal_mode = WAL;")
        .unwrap();
    drop(conn);
    std::fs::rename(&partial, &file).unwrap();
    eprintln!(
        "history bench: made {} ({} runs) in {:.0} s, {} MB",
        file.display(),
        journeys * days * 24 * 60,
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&file).unwrap().len() / 1_000_000
    );
    file
}

/// Bytes per million runs of 10 steps, written through the store's write path.
fn size_per_million(rt: &tokio::runtime::Runtime) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("size.db");
    let runs = 20_000;
    rt.block_on(async {
        let mut db = history::open(&config(&file), None).await.unwrap();
        let start = history::now_ms() - runs * MINUTE;
        for n in 0..runs {
            let journey = format!("journey-{:03}", n % 100);
            write_run(&mut db, &run(&journey, start + n * MINUTE, n))
                .await
                .unwrap();
        }
        db.script("PRAGMA wal_checkpoint(TRUNCATE)").await.unwrap();
    });
    let bytes = std::fs::metadata(&file).unwrap().len() as f64;
    bytes / runs as f64 * 1e6
}

fn bench(c: &mut Criterion) {
    let rt = runtime();

    // Writing: one run with 10 steps (its own transaction, aggregates upserted).
    let dir = tempfile::tempdir().unwrap();
    let mut db = rt
        .block_on(history::open(&config(&dir.path().join("write.db")), None))
        .unwrap();
    let mut n = 0;
    c.bench_function("write one run with 10 steps", |b| {
        b.iter(|| {
            n += 1;
            let r = run("checkout", history::now_ms(), n);
            rt.block_on(write_run(&mut db, &r)).unwrap();
        })
    });

    let per_million = size_per_million(&rt);
    eprintln!(
        "history bench: {:.0} MB per million runs of 10 steps (one in 20 failed, with its reason and failed request)",
        per_million / 1e6
    );

    let journeys = env_number("SHOPWATCH_BENCH_JOURNEYS", 100);
    let days = env_number("SHOPWATCH_BENCH_DAYS", 30);
    let file = large_store(&rt, journeys, days);
    let reader = Reader::new(config(&file), None);
    let names: Vec<String> = (0..journeys).map(|j| format!("journey-{j:03}")).collect();
    let mut group = c.benchmark_group(format!(
        "{journeys} journeys x {days} days of one-minute runs"
    ));
    group.sample_size(20);
    group.bench_function(
        "overview: every journey's last run and 24h/7d/30d availability",
        |b| b.iter(|| rt.block_on(reader.journeys(&names)).unwrap()),
    );
    group.bench_function(
        "journey page: 50 runs, p50/p95 per step per day (30 d) and per hour (24 h), last good run",
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let journey = "journey-042";
                    let runs = reader
                        .runs(&RunFilter {
                            journey: Some(journey.into()),
                            limit: 50,
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                    let now = history::now_ms();
                    let days = reader
                        .step_percentiles(journey, now - 30 * DAY, Period::Day)
                        .await
                        .unwrap();
                    let hours = reader
                        .step_percentiles(journey, now - DAY, Period::Hour)
                        .await
                        .unwrap();
                    let good = reader.last_run(journey, true).await.unwrap();
                    (runs, days, hours, good)
                })
            })
        },
    );
    group.bench_function(
        "run page: one run with its steps and the last good run",
        |b| {
            let newest = rt
                // One run in 20 fails: those of journey-047 (n % 20 == 7).
                .block_on(reader.runs(&RunFilter {
                    journey: Some("journey-047".into()),
                    outcome: Some("failed".into()),
                    limit: 1,
                    ..Default::default()
                }))
                .unwrap();
            let id = newest.runs[0].id.clone();
            b.iter(|| rt.block_on(reader.run(&id)).unwrap())
        },
    );
    group.bench_function(
        "UI overview page: the overview, every journey's sparkline (24 h), every probe",
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let now = history::now_ms();
                    let journeys = reader.journeys(&names).await.unwrap();
                    let sparks = reader.run_sparklines(&names, now - DAY).await.unwrap();
                    let probes = reader.probes(&[]).await.unwrap();
                    (journeys, sparks, probes)
                })
            })
        },
    );
    group.bench_function(
        "UI journey page: 7 d breakdown, 120 runs, p50/p95 per step per hour (24 h), newest run",
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let journey = "journey-042";
                    let now = history::now_ms();
                    let breakdown = reader
                        .journey_breakdown(journey, now - 7 * DAY)
                        .await
                        .unwrap();
                    let runs = reader
                        .runs(&RunFilter {
                            journey: Some(journey.into()),
                            limit: 120,
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                    let hours = reader
                        .step_percentiles(journey, now - DAY, Period::Hour)
                        .await
                        .unwrap();
                    let newest = reader.run(&runs.runs[0].id).await.unwrap();
                    (breakdown, runs, hours, newest)
                })
            })
        },
    );
    group.bench_function(
        "status page: 10 journeys' last run and 90 days, the notifications",
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let now = history::now_ms();
                    let notes = reader.notifications(now - 90 * DAY, 500).await.unwrap();
                    let mut found = Vec::new();
                    for name in names.iter().take(10) {
                        let last = reader.last_run(name, false).await.unwrap();
                        let days = reader.journey_days(name, now - 89 * DAY).await.unwrap();
                        found.push((last, days));
                    }
                    (notes, found)
                })
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
