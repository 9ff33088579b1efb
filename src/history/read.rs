//! The queries of the API and the UI. Each reads an index range or the aggregates, never the
//! whole store: see the indexes in `schema`.

use super::config::HistoryConfig;
use super::db::{Db, DbError, Row, Value};
use super::{bucket_ms, now_ms, DAY_MS, HOUR_MS};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The reading side: its own connection, opened on first use and again after it broke.
#[derive(Clone)]
pub struct Reader {
    config: HistoryConfig,
    password: Option<String>,
    db: Arc<tokio::sync::Mutex<Option<Db>>>,
}

/// The most runs one page of `runs` holds.
pub const MAX_LIMIT: usize = 500;
pub const DEFAULT_LIMIT: usize = 50;

/// Runs by outcome over a window; `error` runs (the monitor's fault) are apart and left out
/// of `availability`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Availability {
    pub passed: i64,
    pub failed: i64,
    pub error: i64,
    /// passed / (passed + failed); `None` without such runs.
    pub availability: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JourneySummary {
    pub name: String,
    pub last_run: Option<RunSummary>,
    pub day: Availability,
    pub week: Availability,
    pub month: Availability,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    pub id: String,
    pub run_id: String,
    pub journey: String,
    pub location: String,
    pub browser: String,
    /// Unix milliseconds.
    pub started_ms: i64,
    pub duration_ms: f64,
    pub outcome: String,
    pub attempts: i64,
    pub failed_step: Option<String>,
    pub reason_class: Option<String>,
    pub reason: Option<String>,
    /// Relative to the artifacts directory (served under `/artifacts/`).
    pub artifacts_dir: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepDetail {
    pub name: String,
    pub outcome: String,
    pub duration_ms: Option<f64>,
    pub reason_class: Option<String>,
    pub reason: Option<String>,
    pub failed_requests: serde_json::Value,
    pub console_errors: serde_json::Value,
    /// Relative to the artifacts directory.
    pub artifacts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunSummary,
    pub steps: Vec<StepDetail>,
    /// The journey's last run that passed before this one (the UI compares screenshots).
    pub last_good: Option<String>,
}

/// Which runs: every filter optional; `before` is a page's cursor.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub journey: Option<String>,
    pub location: Option<String>,
    pub browser: Option<String>,
    pub outcome: Option<String>,
    pub before: Option<Cursor>,
    pub limit: usize,
}

/// Where a page of runs ends: the last run's start and id (runs are newest first).
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub started_ms: i64,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}-{}", self.started_ms, self.id)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (ms, id) = text.split_once('-')?;
        let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit());
        Some(Cursor {
            started_ms: ms.parse().ok()?,
            id: id.to_string(),
        })
        .filter(|_| id_ok)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunPage {
    pub runs: Vec<RunSummary>,
    /// The cursor of the next (older) page, when there may be one.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Period {
    Hour,
    Day,
}

/// A step's passed durations in one hour or day. The step named `""` is the whole run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepPercentiles {
    pub step: String,
    pub start_ms: i64,
    pub count: i64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProbeChange {
    pub at_ms: i64,
    pub outcome: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProbeMinute {
    pub minute_ms: i64,
    pub location: String,
    pub results: i64,
    pub passed: i64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProbeHistory {
    pub probe: String,
    pub changes: Vec<ProbeChange>,
    pub minutes: Vec<ProbeMinute>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Notification {
    pub at_ms: i64,
    pub alert: String,
    pub event: String,
    pub sink: String,
    pub location: String,
    pub result: String,
    pub error: Option<String>,
}

const RUN_COLUMNS: &str = "id, run_id, journey, location, browser, started_ms, duration_ms, outcome, attempts, failed_step, reason_class, reason, artifacts_dir";

fn run_summary(row: &Row) -> RunSummary {
    RunSummary {
        id: row[0].text(),
        run_id: row[1].text(),
        journey: row[2].text(),
        location: row[3].text(),
        browser: row[4].text(),
        started_ms: row[5].int(),
        duration_ms: row[6].real(),
        outcome: row[7].text(),
        attempts: row[8].int(),
        failed_step: row[9].opt_text(),
        reason_class: row[10].opt_text(),
        reason: row[11].opt_text(),
        artifacts_dir: row[12].opt_text(),
    }
}

impl Reader {
    pub fn new(config: HistoryConfig, password: Option<String>) -> Reader {
        Reader {
            config,
            password,
            db: Arc::default(),
        }
    }

    pub(super) async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, DbError> {
        let mut db = self.db.lock().await;
        if db.is_none() {
            *db = Some(Db::open(&self.config, self.password.clone()).await?);
        }
        let result = db.as_mut().expect("opened").query(sql, params).await;
        if result.as_ref().is_err_and(|e| e.reason == "unavailable") {
            *db = None;
        }
        result
    }

    /// Every journey with runs in the last 30 days, and every name in `configured`: its last
    /// run and availability over 24 h, 7 d and 30 d, sorted by name.
    pub async fn journeys(&self, configured: &[String]) -> Result<Vec<JourneySummary>, DbError> {
        let now = now_ms();
        let (day, week, month) = (now - DAY_MS, now - 7 * DAY_MS, now - 30 * DAY_MS);
        // Hours are counted whole: the hour a window starts in is in it.
        let rows = self
            .query(
                "SELECT journey, outcome, \
                 CAST(SUM(CASE WHEN hour_ms >= ? THEN runs ELSE 0 END) AS BIGINT), \
                 CAST(SUM(CASE WHEN hour_ms >= ? THEN runs ELSE 0 END) AS BIGINT), \
                 CAST(SUM(runs) AS BIGINT) \
                 FROM run_hours WHERE hour_ms >= ? GROUP BY journey, outcome",
                vec![
                    (day - day.rem_euclid(HOUR_MS)).into(),
                    (week - week.rem_euclid(HOUR_MS)).into(),
                    (month - month.rem_euclid(HOUR_MS)).into(),
                ],
            )
            .await?;
        let mut windows: BTreeMap<String, [Availability; 3]> = configured
            .iter()
            .map(|name| (name.clone(), Default::default()))
            .collect();
        for row in rows {
            let entry = windows.entry(row[0].text()).or_default();
            let outcome = row[1].text();
            for (i, window) in entry.iter_mut().enumerate() {
                let n = row[2 + i].int();
                match outcome.as_str() {
                    "ok" | "degraded" | "flaky" => window.passed += n,
                    "failed" => window.failed += n,
                    _ => window.error += n,
                }
            }
        }
        let mut journeys = Vec::with_capacity(windows.len());
        for (name, mut windows) in windows {
            for window in &mut windows {
                let counted = window.passed + window.failed;
                window.availability = (counted > 0).then(|| window.passed as f64 / counted as f64);
            }
            let last_run = self.last_run(&name, false).await?;
            let [day, week, month] = windows;
            journeys.push(JourneySummary {
                name,
                last_run,
                day,
                week,
                month,
            });
        }
        Ok(journeys)
    }

    /// The journey's newest run, or its newest that passed.
    pub async fn last_run(
        &self,
        journey: &str,
        passed: bool,
    ) -> Result<Option<RunSummary>, DbError> {
        let sql = if passed {
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE journey = ? AND passed_ms IS NOT NULL ORDER BY passed_ms DESC LIMIT 1")
        } else {
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE journey = ? ORDER BY started_ms DESC, id DESC LIMIT 1")
        };
        let rows = self.query(&sql, vec![journey.into()]).await?;
        Ok(rows.first().map(run_summary))
    }

    /// A page of runs, newest first.
    pub async fn runs(&self, filter: &RunFilter) -> Result<RunPage, DbError> {
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE 1 = 1");
        let mut params: Vec<Value> = Vec::new();
        for (column, value) in [
            ("journey", &filter.journey),
            ("location", &filter.location),
            ("browser", &filter.browser),
            ("outcome", &filter.outcome),
        ] {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                params.push(value.as_str().into());
            }
        }
        if let Some(cursor) = &filter.before {
            sql.push_str(" AND (started_ms < ? OR (started_ms = ? AND id < ?))");
            params.push(cursor.started_ms.into());
            params.push(cursor.started_ms.into());
            params.push(cursor.id.as_str().into());
        }
        let limit = filter.limit.clamp(1, MAX_LIMIT);
        sql.push_str(" ORDER BY started_ms DESC, id DESC LIMIT ?");
        params.push((limit as i64).into());
        let runs: Vec<RunSummary> = self
            .query(&sql, params)
            .await?
            .iter()
            .map(run_summary)
            .collect();
        let next = (runs.len() == limit)
            .then(|| runs.last())
            .flatten()
            .map(|r| {
                Cursor {
                    started_ms: r.started_ms,
                    id: r.id.clone(),
                }
                .encode()
            });
        Ok(RunPage { runs, next })
    }

    /// One run with its steps, and the last good run before it.
    pub async fn run(&self, id: &str) -> Result<Option<RunDetail>, DbError> {
        let rows = self
            .query(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"),
                vec![id.into()],
            )
            .await?;
        let Some(run) = rows.first().map(run_summary) else {
            return Ok(None);
        };
        let steps = self
            .query(
                "SELECT name, outcome, duration_ms, reason_class, reason, failed_requests, console_errors, artifacts \
                 FROM steps WHERE run = ? ORDER BY position",
                vec![id.into()],
            )
            .await?
            .iter()
            .map(|row| {
                let json = |v: &Value| {
                    v.opt_text()
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or(serde_json::Value::Array(vec![]))
                };
                StepDetail {
                    name: row[0].text(),
                    outcome: row[1].text(),
                    duration_ms: row[2].opt_real(),
                    reason_class: row[3].opt_text(),
                    reason: row[4].opt_text(),
                    failed_requests: json(&row[5]),
                    console_errors: json(&row[6]),
                    artifacts: row[7]
                        .opt_text()
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or_default(),
                }
            })
            .collect();
        let last_good = self
            .query(
                "SELECT id FROM runs WHERE journey = ? AND passed_ms IS NOT NULL AND passed_ms < ? ORDER BY passed_ms DESC LIMIT 1",
                vec![run.journey.as_str().into(), run.started_ms.into()],
            )
            .await?
            .first()
            .map(|r| r[0].text());
        Ok(Some(RunDetail {
            run,
            steps,
            last_good,
        }))
    }

    /// p50 and p95 of each step's passed durations (and the whole run's, step `""`) per hour
    /// or day since `since_ms`, oldest first.
    pub async fn step_percentiles(
        &self,
        journey: &str,
        since_ms: i64,
        period: Period,
    ) -> Result<Vec<StepPercentiles>, DbError> {
        let sql = match period {
            Period::Hour => "SELECT step, hour_ms, bucket, steps FROM step_hours WHERE journey = ? AND hour_ms >= ?",
            Period::Day => "SELECT step, day_ms, bucket, steps FROM step_days WHERE journey = ? AND day_ms >= ?",
        };
        let since = match period {
            Period::Hour => super::hour_of(since_ms),
            Period::Day => super::day_of(since_ms),
        };
        let rows = self.query(sql, vec![journey.into(), since.into()]).await?;
        let mut counts: BTreeMap<(String, i64), BTreeMap<i64, i64>> = BTreeMap::new();
        for row in rows {
            *counts
                .entry((row[0].text(), row[1].int()))
                .or_default()
                .entry(row[2].int())
                .or_default() += row[3].int();
        }
        Ok(counts
            .into_iter()
            .map(|((step, start_ms), buckets)| {
                let count = buckets.values().sum();
                StepPercentiles {
                    step,
                    start_ms,
                    count,
                    p50_ms: percentile(&buckets, count, 0.50),
                    p95_ms: percentile(&buckets, count, 0.95),
                }
            })
            .collect())
    }

    /// A probe's state changes (newest first, at most `limit`) and its minutes since `since_ms`.
    pub async fn probe(
        &self,
        probe: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<ProbeHistory, DbError> {
        let changes = self
            .query(
                "SELECT at_ms, outcome, reason FROM probe_changes WHERE probe = ? ORDER BY at_ms DESC LIMIT ?",
                vec![probe.into(), (limit.clamp(1, MAX_LIMIT) as i64).into()],
            )
            .await?
            .iter()
            .map(|r| ProbeChange {
                at_ms: r[0].int(),
                outcome: r[1].text(),
                reason: r[2].opt_text(),
            })
            .collect();
        let minutes = self
            .query(
                "SELECT minute_ms, location, results, passed, sum_ms, max_ms FROM probe_minutes WHERE probe = ? AND minute_ms >= ? ORDER BY minute_ms",
                vec![probe.into(), since_ms.into()],
            )
            .await?
            .iter()
            .map(|r| ProbeMinute {
                minute_ms: r[0].int(),
                location: r[1].text(),
                results: r[2].int(),
                passed: r[3].int(),
                mean_ms: r[4].real() / r[2].int().max(1) as f64,
                max_ms: r[5].real(),
            })
            .collect();
        Ok(ProbeHistory {
            probe: probe.to_string(),
            changes,
            minutes,
        })
    }

    /// Alert notifications, newest first.
    pub async fn notifications(
        &self,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<Notification>, DbError> {
        Ok(self
            .query(
                "SELECT at_ms, alert, event, sink, location, result, error FROM notifications WHERE at_ms >= ? ORDER BY at_ms DESC LIMIT ?",
                vec![since_ms.into(), (limit.clamp(1, MAX_LIMIT) as i64).into()],
            )
            .await?
            .iter()
            .map(|r| Notification {
                at_ms: r[0].int(),
                alert: r[1].text(),
                event: r[2].text(),
                sink: r[3].text(),
                location: r[4].text(),
                result: r[5].text(),
                error: r[6].opt_text(),
            })
            .collect())
    }
}

/// A journey's runs over a window, by where, in what, how they ended and why (the journey
/// page's filter choices and its failures by step and reason, from one read).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Breakdown {
    pub location: String,
    pub browser: String,
    pub outcome: String,
    pub failed_step: Option<String>,
    pub reason_class: Option<String>,
    pub runs: i64,
    /// The newest of them (Unix milliseconds).
    pub last_ms: i64,
}

/// A probe's current state and its results over 24 h, 7 d, 30 d (its `error` results, the
/// monitor's fault, are counted as not passed: the store keeps passed and all).
#[derive(Debug, Clone, Serialize)]
pub struct ProbeSummary {
    pub name: String,
    /// The newest state change, over every location.
    pub last_change: Option<ProbeChange>,
    pub day: Availability,
    pub week: Availability,
    pub month: Availability,
}

/// One day (UTC) of a journey or probe.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Day {
    pub day_ms: i64,
    #[serde(flatten)]
    pub availability: Availability,
}

impl Availability {
    fn count(&mut self, outcome: &str, n: i64) {
        match outcome {
            "ok" | "degraded" | "flaky" => self.passed += n,
            "failed" => self.failed += n,
            _ => self.error += n,
        }
    }

    fn settle(&mut self) {
        let counted = self.passed + self.failed;
        self.availability = (counted > 0).then(|| self.passed as f64 / counted as f64);
    }
}

impl Reader {
    /// The whole run's p50 and p95 per hour since `since_ms`, of each of `journeys` (the
    /// overview's sparklines), oldest first. One range of the key per journey: through the
    /// index by hour it would read every step's rows of every journey (0.4 s on the bench's
    /// store).
    pub async fn run_sparklines(
        &self,
        journeys: &[String],
        since_ms: i64,
    ) -> Result<BTreeMap<String, Vec<StepPercentiles>>, DbError> {
        let mut rows = Vec::new();
        for journey in journeys {
            rows.extend(
                self.query(
                    "SELECT journey, hour_ms, bucket, steps FROM step_hours WHERE journey = ? AND step = '' AND hour_ms >= ?",
                    vec![journey.as_str().into(), super::hour_of(since_ms).into()],
                )
                .await?,
            );
        }
        let mut counts: BTreeMap<String, BTreeMap<i64, BTreeMap<i64, i64>>> = BTreeMap::new();
        for row in rows {
            *counts
                .entry(row[0].text())
                .or_default()
                .entry(row[1].int())
                .or_default()
                .entry(row[2].int())
                .or_default() += row[3].int();
        }
        Ok(counts
            .into_iter()
            .map(|(journey, hours)| {
                let points = hours
                    .into_iter()
                    .map(|(start_ms, buckets)| {
                        let count = buckets.values().sum();
                        StepPercentiles {
                            step: String::new(),
                            start_ms,
                            count,
                            p50_ms: percentile(&buckets, count, 0.50),
                            p95_ms: percentile(&buckets, count, 0.95),
                        }
                    })
                    .collect();
                (journey, points)
            })
            .collect())
    }

    /// A journey's runs since `since_ms`, counted by location, browser, outcome, failing
    /// step and reason class.
    pub async fn journey_breakdown(
        &self,
        journey: &str,
        since_ms: i64,
    ) -> Result<Vec<Breakdown>, DbError> {
        Ok(self
            .query(
                "SELECT location, browser, outcome, failed_step, reason_class, CAST(COUNT(*) AS BIGINT), MAX(started_ms) \
                 FROM runs WHERE journey = ? AND started_ms >= ? \
                 GROUP BY location, browser, outcome, failed_step, reason_class",
                vec![journey.into(), since_ms.into()],
            )
            .await?
            .iter()
            .map(|r| Breakdown {
                location: r[0].text(),
                browser: r[1].text(),
                outcome: r[2].text(),
                failed_step: r[3].opt_text(),
                reason_class: r[4].opt_text(),
                runs: r[5].int(),
                last_ms: r[6].int(),
            })
            .collect())
    }

    /// Every probe in `configured` and every one with results in the last 30 days: its last
    /// state change and its results over 24 h (from the minutes), 7 d and 30 d (whole days).
    pub async fn probes(&self, configured: &[String]) -> Result<Vec<ProbeSummary>, DbError> {
        let now = now_ms();
        let mut windows: BTreeMap<String, [Availability; 3]> = configured
            .iter()
            .map(|name| (name.clone(), Default::default()))
            .collect();
        let day = self
            .query(
                "SELECT probe, CAST(SUM(results) AS BIGINT), CAST(SUM(passed) AS BIGINT) FROM probe_minutes WHERE minute_ms >= ? GROUP BY probe",
                vec![(now - DAY_MS).into()],
            )
            .await?;
        for row in day {
            let entry = windows.entry(row[0].text()).or_default();
            entry[0].passed += row[2].int();
            entry[0].failed += row[1].int() - row[2].int();
        }
        let (week, month) = (
            super::day_of(now - 7 * DAY_MS),
            super::day_of(now - 30 * DAY_MS),
        );
        let days = self
            .query(
                "SELECT probe, \
                 CAST(SUM(CASE WHEN day_ms >= ? THEN results ELSE 0 END) AS BIGINT), \
                 CAST(SUM(CASE WHEN day_ms >= ? THEN passed ELSE 0 END) AS BIGINT), \
                 CAST(SUM(results) AS BIGINT), CAST(SUM(passed) AS BIGINT) \
                 FROM probe_days WHERE day_ms >= ? GROUP BY probe",
                vec![week.into(), week.into(), month.into()],
            )
            .await?;
        for row in days {
            let entry = windows.entry(row[0].text()).or_default();
            entry[1].passed += row[2].int();
            entry[1].failed += row[1].int() - row[2].int();
            entry[2].passed += row[4].int();
            entry[2].failed += row[3].int() - row[4].int();
        }
        let mut probes = Vec::with_capacity(windows.len());
        for (name, mut windows) in windows {
            windows.iter_mut().for_each(Availability::settle);
            let last_change = self
                .query(
                    "SELECT at_ms, outcome, reason FROM probe_changes WHERE probe = ? ORDER BY at_ms DESC LIMIT 1",
                    vec![name.as_str().into()],
                )
                .await?
                .first()
                .map(|r| ProbeChange {
                    at_ms: r[0].int(),
                    outcome: r[1].text(),
                    reason: r[2].opt_text(),
                });
            let [day, week, month] = windows;
            probes.push(ProbeSummary {
                name,
                last_change,
                day,
                week,
                month,
            });
        }
        Ok(probes)
    }

    /// A journey's runs per day (UTC) since `since_ms`, oldest first; days without runs are
    /// left out.
    pub async fn journey_days(&self, journey: &str, since_ms: i64) -> Result<Vec<Day>, DbError> {
        let rows = self
            .query(
                "SELECT hour_ms, outcome, runs FROM run_hours WHERE journey = ? AND hour_ms >= ?",
                vec![journey.into(), super::day_of(since_ms).into()],
            )
            .await?;
        let mut days: BTreeMap<i64, Availability> = BTreeMap::new();
        for row in rows {
            days.entry(super::day_of(row[0].int()))
                .or_default()
                .count(&row[1].text(), row[2].int());
        }
        Ok(days
            .into_iter()
            .map(|(day_ms, mut availability)| {
                availability.settle();
                Day {
                    day_ms,
                    availability,
                }
            })
            .collect())
    }

    /// A probe's results per day (UTC) since `since_ms`, oldest first.
    pub async fn probe_days(&self, probe: &str, since_ms: i64) -> Result<Vec<Day>, DbError> {
        let rows = self
            .query(
                "SELECT day_ms, CAST(SUM(results) AS BIGINT), CAST(SUM(passed) AS BIGINT) FROM probe_days WHERE probe = ? AND day_ms >= ? GROUP BY day_ms ORDER BY day_ms",
                vec![probe.into(), super::day_of(since_ms).into()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let mut availability = Availability {
                    passed: r[2].int(),
                    failed: r[1].int() - r[2].int(),
                    ..Availability::default()
                };
                availability.settle();
                Day {
                    day_ms: r[0].int(),
                    availability,
                }
            })
            .collect())
    }
}

/// The `q` quantile of bucket counts (`count` in all), as its bucket's middle.
pub(super) fn percentile(buckets: &BTreeMap<i64, i64>, count: i64, q: f64) -> f64 {
    let rank = ((count as f64) * q).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (bucket, n) in buckets {
        seen += n;
        if seen >= rank {
            return (bucket_ms(*bucket) * 10.0).round() / 10.0;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let cursor = Cursor {
            started_ms: 1_764_000_000_000,
            id: "0af3".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("12-x'; DROP"), None);
        assert_eq!(Cursor::decode("abc-12"), None);
    }

    #[test]
    fn percentiles_from_buckets() {
        let buckets: BTreeMap<i64, i64> = [(80, 50), (88, 45), (96, 5)].into_iter().collect();
        assert_eq!(
            percentile(&buckets, 100, 0.5),
            (bucket_ms(80) * 10.0).round() / 10.0
        );
        assert_eq!(
            percentile(&buckets, 100, 0.95),
            (bucket_ms(88) * 10.0).round() / 10.0
        );
    }
}
