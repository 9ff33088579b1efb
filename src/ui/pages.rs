//! `/ui/`: the overview, a journey, a run, a probe and the alerts, as HTML behind `ui.auth`.
//! Each page is one handler: read what it shows from the history, draw its charts, render
//! its template.

use super::charts::{self, Bar, Cell, Line};
use super::UiState;
use crate::history::now_ms;
use crate::history::read::{Availability, RunFilter, RunSummary, StepDetail, StepPercentiles};
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Runs in a journey page's outcome strip.
const STRIP_RUNS: usize = 120;
/// Runs listed under it.
const LISTED_RUNS: usize = 25;
/// Seconds between a live page's reloads (`<meta http-equiv="refresh">`: works with scripts
/// off).
const REFRESH_SECONDS: u32 = 30;

pub fn routes(state: UiState) -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(overview))
        .route("/ui/journeys/{name}", get(journey))
        .route("/ui/runs/{id}", get(run))
        .route("/ui/probes/{name}", get(probe))
        .route("/ui/alerts", get(alerts))
        .route("/ui/{*rest}", get(not_found))
        // Only these routes: a path the monitor does not serve stays a 404 for anyone.
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn guard(State(state): State<UiState>, request: Request, next: Next) -> Response {
    match state.access.check(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

type Params = Query<HashMap<String, String>>;

/// A path segment for a name (a journey or probe may hold spaces or `/`).
pub fn segment(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn message(state: &UiState, status: StatusCode, title: &str, text: String) -> Response {
    state.page(
        status,
        "message.html",
        json!({"title": title, "text": text, "nav": "", "ui": true}),
    )
}

fn store_error(state: &UiState, e: crate::history::db::DbError) -> Response {
    message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "History unavailable",
        format!("The run history cannot be read: {e}"),
    )
}

async fn not_found(State(state): State<UiState>) -> Response {
    message(
        &state,
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page.".to_string(),
    )
}

/// Refuses parameters the page does not take (a typo would silently show something else).
fn only(state: &UiState, params: &HashMap<String, String>, known: &[&str]) -> Option<Response> {
    let unknown = params.keys().find(|k| !known.contains(&k.as_str()))?;
    Some(message(
        state,
        StatusCode::BAD_REQUEST,
        "Bad request",
        format!(
            "Unknown parameter `{unknown}`; this page takes {}.",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ),
    ))
}

fn windows(day: &Availability, week: &Availability, month: &Availability) -> Value {
    json!([
        window("24 h", day),
        window("7 d", week),
        window("30 d", month),
    ])
}

fn window(label: &str, a: &Availability) -> Value {
    json!({
        "label": label,
        "percent": charts::percent(a.availability),
        "passed": a.passed,
        "failed": a.failed,
        "error": a.error,
    })
}

fn run_json(run: &RunSummary) -> Value {
    json!({
        "id": run.id,
        "url": format!("/ui/runs/{}", segment(&run.id)),
        "journey": run.journey,
        "journey_url": format!("/ui/journeys/{}", segment(&run.journey)),
        "location": run.location,
        "browser": run.browser,
        "started_ms": run.started_ms,
        "duration_ms": run.duration_ms,
        "outcome": run.outcome,
        "attempts": run.attempts,
        "failed_step": run.failed_step,
        "reason_class": run.reason_class,
        "reason": run.reason,
    })
}

/// p50 and p95 over time as a chart, from `since` (Unix milliseconds) until now.
fn percentile_chart(
    points: &[StepPercentiles],
    since: i64,
    width: f64,
    height: f64,
    labelled: bool,
) -> String {
    let series = |f: fn(&StepPercentiles) -> f64| {
        points
            .iter()
            .map(|p| (p.start_ms as f64, f(p)))
            .collect::<Vec<_>>()
    };
    let now = now_ms();
    let labels = labelled.then(|| (charts::time(since), charts::time(now)));
    charts::lines(
        &[
            Line {
                class: "p95",
                label: "p95",
                points: series(|p| p.p95_ms),
            },
            Line {
                class: "p50",
                label: "p50",
                points: series(|p| p.p50_ms),
            },
        ],
        width,
        height,
        Some((since as f64, now as f64)),
        labels.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
    )
}

async fn overview(State(state): State<UiState>, Query(params): Params) -> Response {
    if let Some(refused) = only(&state, &params, &[]) {
        return refused;
    }
    let configured = state.configured();
    let reader = &state.history.reader;
    let journeys = match reader.journeys(&configured.journeys).await {
        Ok(j) => j,
        Err(e) => return store_error(&state, e),
    };
    let names: Vec<String> = journeys.iter().map(|j| j.name.clone()).collect();
    let sparks = match reader.run_sparklines(&names, now_ms() - DAY_MS).await {
        Ok(s) => s,
        Err(e) => return store_error(&state, e),
    };
    let names: Vec<String> = configured.probes.iter().map(|(n, _)| n.clone()).collect();
    let probes = match reader.probes(&names).await {
        Ok(p) => p,
        Err(e) => return store_error(&state, e),
    };
    let journeys: Vec<Value> = journeys
        .iter()
        .map(|j| {
            let state_name = j.last_run.as_ref().map_or("no runs", |r| r.outcome.as_str());
            json!({
                "name": j.name,
                "url": format!("/ui/journeys/{}", segment(&j.name)),
                "configured": configured.journeys.contains(&j.name),
                "state": state_name,
                "class": charts::outcome_class(state_name),
                "last_run": j.last_run.as_ref().map(run_json),
                "windows": windows(&j.day, &j.week, &j.month),
                "spark": sparks.get(&j.name).map(|points| percentile_chart(points, crate::history::hour_of(now_ms() - DAY_MS), 160.0, 28.0, false)),
            })
        })
        .collect();
    let probes: Vec<Value> = probes
        .iter()
        .map(|p| {
            let state_name = p
                .last_change
                .as_ref()
                .map_or("no results", |c| c.outcome.as_str());
            json!({
                "name": p.name,
                "url": format!("/ui/probes/{}", segment(&p.name)),
                "kind": configured.probes.iter().find(|(n, _)| *n == p.name).map(|(_, k)| k.clone()),
                "state": state_name,
                "class": charts::outcome_class(state_name),
                "since_ms": p.last_change.as_ref().map(|c| c.at_ms),
                "reason": p.last_change.as_ref().and_then(|c| c.reason.clone()),
                "windows": windows(&p.day, &p.week, &p.month),
            })
        })
        .collect();
    let store = state
        .history
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    state.page(
        StatusCode::OK,
        "overview.html",
        json!({
            "title": "Overview",
            "nav": "overview",
            "ui": true,
            "refresh": REFRESH_SECONDS,
            "journeys": journeys,
            "probes": probes,
            "store_error": store.error,
            "now_ms": now_ms(),
        }),
    )
}

async fn journey(
    State(state): State<UiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Response {
    if let Some(refused) = only(&state, &params, &["location", "browser", "period"]) {
        return refused;
    }
    let pick = |key: &str| params.get(key).filter(|v| !v.is_empty()).cloned();
    let (location, browser) = (pick("location"), pick("browser"));
    let (period, since, period_label) = match params.get("period").map(String::as_str) {
        None | Some("") | Some("hour") => (
            crate::history::read::Period::Hour,
            now_ms() - DAY_MS,
            "per hour, last 24 h",
        ),
        Some("day") => (
            crate::history::read::Period::Day,
            now_ms() - 30 * DAY_MS,
            "per day, last 30 d",
        ),
        Some(other) => {
            return message(
                &state,
                StatusCode::BAD_REQUEST,
                "Bad request",
                format!("`period={other}`: give `hour` or `day`."),
            )
        }
    };
    let configured = state.configured();
    let reader = &state.history.reader;
    let breakdown = match reader.journey_breakdown(&name, now_ms() - 7 * DAY_MS).await {
        Ok(b) => b,
        Err(e) => return store_error(&state, e),
    };
    let filter = RunFilter {
        journey: Some(name.clone()),
        location: location.clone(),
        browser: browser.clone(),
        limit: STRIP_RUNS,
        ..RunFilter::default()
    };
    let page = match reader.runs(&filter).await {
        Ok(p) => p,
        Err(e) => return store_error(&state, e),
    };
    if page.runs.is_empty() && breakdown.is_empty() && !configured.journeys.contains(&name) {
        return message(
            &state,
            StatusCode::NOT_FOUND,
            "Not found",
            format!("No journey `{name}` is configured or has runs."),
        );
    }
    // Points are at the start of their hour or day.
    let chart_since = match period {
        crate::history::read::Period::Hour => crate::history::hour_of(since),
        crate::history::read::Period::Day => crate::history::day_of(since),
    };
    let steps = match reader.step_percentiles(&name, since, period).await {
        Ok(s) => s,
        Err(e) => return store_error(&state, e),
    };
    let locations: BTreeSet<&str> = breakdown.iter().map(|b| b.location.as_str()).collect();
    let browsers: BTreeSet<&str> = breakdown.iter().map(|b| b.browser.as_str()).collect();
    let chosen: Vec<_> = breakdown
        .iter()
        .filter(|b| location.as_ref().is_none_or(|l| *l == b.location))
        .filter(|b| browser.as_ref().is_none_or(|br| *br == b.browser))
        .collect();
    let mut week = Availability::default();
    let mut failures: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for b in &chosen {
        match b.outcome.as_str() {
            "ok" | "degraded" | "flaky" => week.passed += b.runs,
            "failed" => {
                week.failed += b.runs;
                let entry = failures
                    .entry((
                        b.failed_step.clone().unwrap_or_default(),
                        b.reason_class.clone().unwrap_or_default(),
                    ))
                    .or_default();
                entry.0 += b.runs;
                entry.1 = entry.1.max(b.last_ms);
            }
            _ => week.error += b.runs,
        }
    }
    let counted = week.passed + week.failed;
    week.availability = (counted > 0).then(|| week.passed as f64 / counted as f64);
    let mut failures: Vec<Value> = failures
        .into_iter()
        .map(|((step, reason), (runs, last))| {
            json!({"step": step, "reason_class": reason, "runs": runs, "last_ms": last})
        })
        .collect();
    failures.sort_by_key(|f| std::cmp::Reverse(f["runs"].as_i64().unwrap_or(0)));

    let cells: Vec<Cell> = page
        .runs
        .iter()
        .rev()
        .map(|r| Cell {
            class: charts::outcome_class(&r.outcome),
            title: format!(
                "{} {} in {}{}",
                charts::time(r.started_ms),
                r.outcome,
                charts::duration(r.duration_ms),
                r.failed_step
                    .as_ref()
                    .map(|s| format!(", at {s}"))
                    .unwrap_or_default()
            ),
            href: Some(format!("/ui/runs/{}", segment(&r.id))),
        })
        .collect();
    // Steps in the order the journey runs them (as the newest run has them), the whole run
    // first.
    let mut by_step: BTreeMap<&str, Vec<StepPercentiles>> = BTreeMap::new();
    for s in &steps {
        by_step.entry(s.step.as_str()).or_default().push(s.clone());
    }
    let order = match page.runs.first() {
        Some(newest) => reader
            .run(&newest.id)
            .await
            .ok()
            .flatten()
            .map(|d| d.steps.into_iter().map(|s| s.name).collect::<Vec<_>>())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut names: Vec<&str> = vec![""];
    names.extend(order.iter().map(String::as_str));
    names.extend(by_step.keys().copied());
    let mut seen = BTreeSet::new();
    names.retain(|n| seen.insert(*n));
    let charts: Vec<Value> = names
        .iter()
        .filter_map(|n| by_step.get(n).map(|points| (n, points)))
        .map(|(n, points)| {
            let last = points.last();
            json!({
                "step": if n.is_empty() { "whole run" } else { n },
                "svg": percentile_chart(points, chart_since, 460.0, 130.0, true),
                "p50_ms": last.map(|p| p.p50_ms),
                "p95_ms": last.map(|p| p.p95_ms),
                "count": points.iter().map(|p| p.count).sum::<i64>(),
            })
        })
        .collect();
    state.page(
        StatusCode::OK,
        "journey.html",
        json!({
            "title": format!("Journey {name}"),
            "nav": "overview",
            "ui": true,
            "name": name,
            "url": format!("/ui/journeys/{}", segment(&name)),
            "locations": locations,
            "browsers": browsers,
            "location": location,
            "browser": browser,
            "period": if period == crate::history::read::Period::Day { "day" } else { "hour" },
            "period_label": period_label,
            "strip": charts::strip(&cells, 7.0, 26.0),
            "runs": page.runs.iter().take(LISTED_RUNS).map(run_json).collect::<Vec<_>>(),
            "week": window("7 d", &week),
            "failures": failures,
            "charts": charts,
        }),
    )
}

/// What a step left: its screenshot, page and other files, as URLs.
fn step_files(step: &StepDetail) -> Value {
    let url = |a: &String| format!("/artifacts/{a}");
    let screenshot = step.artifacts.iter().find(|a| a.ends_with(".png")).map(url);
    let html = step
        .artifacts
        .iter()
        .find(|a| a.ends_with(".html"))
        .map(url);
    let others: Vec<Value> = step
        .artifacts
        .iter()
        .filter(|a| !a.ends_with(".png") && !a.ends_with(".html"))
        .map(|a| json!({"name": a.rsplit('/').next().unwrap_or(a), "url": url(a)}))
        .collect();
    json!({"screenshot": screenshot, "html": html, "others": others})
}

/// A failed request or console error as one line (they are JSON objects as reports have
/// them).
fn entry_text(entry: &Value) -> String {
    match entry {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn entries(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| items.iter().map(entry_text).collect())
        .unwrap_or_default()
}

async fn run(
    State(state): State<UiState>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    if let Some(refused) = only(&state, &params, &[]) {
        return refused;
    }
    let reader = &state.history.reader;
    let detail = match reader.run(&id).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            return message(
                &state,
                StatusCode::NOT_FOUND,
                "Not found",
                format!("No run `{id}` is kept (runs older than `history.max_age` are pruned)."),
            )
        }
        Err(e) => return store_error(&state, e),
    };
    let last_good = match &detail.last_good {
        Some(good) => match reader.run(good).await {
            Ok(found) => found,
            Err(e) => return store_error(&state, e),
        },
        None => None,
    };
    let mut offset = 0.0;
    let bars: Vec<Bar> = detail
        .steps
        .iter()
        .map(|s| {
            let length = s.duration_ms.unwrap_or(0.0);
            let bar = Bar {
                label: s.name.clone(),
                class: charts::outcome_class(&s.outcome),
                start: offset,
                length,
            };
            offset += length;
            bar
        })
        .collect();
    let failing = detail
        .steps
        .iter()
        .find(|s| s.outcome == "failed")
        .or_else(|| {
            detail
                .run
                .failed_step
                .as_ref()
                .and_then(|name| detail.steps.iter().find(|s| &s.name == name))
        });
    let comparison = failing.map(|step| {
        let good_step = last_good
            .as_ref()
            .and_then(|g| g.steps.iter().find(|s| s.name == step.name));
        json!({
            "step": step.name,
            "failed": step_files(step),
            "good_run": last_good.as_ref().map(|g| run_json(&g.run)),
            "good": good_step.map(step_files),
        })
    });
    let steps: Vec<Value> = detail
        .steps
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "outcome": s.outcome,
                "duration_ms": s.duration_ms,
                "reason_class": s.reason_class,
                "reason": s.reason,
                "failed_requests": entries(&s.failed_requests),
                "console_errors": entries(&s.console_errors),
                "files": step_files(s),
            })
        })
        .collect();
    state.page(
        StatusCode::OK,
        "run.html",
        json!({
            "title": format!("Run of {}", detail.run.journey),
            "nav": "overview",
            "ui": true,
            "run": run_json(&detail.run),
            "waterfall": charts::waterfall(&bars, 760.0),
            "steps": steps,
            "comparison": comparison,
            "last_good_id": detail.last_good,
        }),
    )
}

async fn probe(
    State(state): State<UiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Response {
    if let Some(refused) = only(&state, &params, &[]) {
        return refused;
    }
    let configured = state.configured();
    let kind = configured
        .probes
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| k.clone());
    let history = match state
        .history
        .reader
        .probe(&name, now_ms() - DAY_MS, 100)
        .await
    {
        Ok(h) => h,
        Err(e) => return store_error(&state, e),
    };
    if kind.is_none() && history.changes.is_empty() && history.minutes.is_empty() {
        return message(
            &state,
            StatusCode::NOT_FOUND,
            "Not found",
            format!("No probe `{name}` is configured or has results."),
        );
    }
    // Minutes over every location, for the chart.
    let mut minutes: BTreeMap<i64, (i64, i64, f64, f64)> = BTreeMap::new();
    for m in &history.minutes {
        let e = minutes.entry(m.minute_ms).or_default();
        e.0 += m.results;
        e.1 += m.passed;
        e.2 += m.mean_ms * m.results as f64;
        e.3 = e.3.max(m.max_ms);
    }
    let (results, passed) = minutes
        .values()
        .fold((0, 0), |(r, p), m| (r + m.0, p + m.1));
    let series = |f: fn(&(i64, i64, f64, f64)) -> f64| {
        minutes
            .iter()
            .map(|(t, m)| (*t as f64, f(m)))
            .collect::<Vec<_>>()
    };
    let (from, to) = (now_ms() - DAY_MS, now_ms());
    let chart = (!minutes.is_empty()).then(|| {
        charts::lines(
            &[
                Line {
                    class: "p95",
                    label: "longest",
                    points: series(|m| m.3),
                },
                Line {
                    class: "p50",
                    label: "mean",
                    points: series(|m| m.2 / m.0.max(1) as f64),
                },
            ],
            620.0,
            150.0,
            Some((from as f64, to as f64)),
            Some((&charts::time(from), &charts::time(to))),
        )
    });
    let last = state.metrics.probe_last(&name);
    let now_s = now_ms() / 1000;
    let expiry = |what: &str, at_s: i64| {
        json!({
            "what": what,
            "at_ms": at_s * 1000,
            "days": (at_s - now_s).div_euclid(86_400),
        })
    };
    let mut expiries = Vec::new();
    if let Some(last) = &last {
        if let Some(tls) = &last.metrics.tls {
            expiries.push(expiry(
                "certificate (earliest presented)",
                tls.earliest_expiry,
            ));
            if let Some(chain) = tls.last_chain_expiry {
                expiries.push(expiry("verified chain", chain));
            }
        }
        if let Some(at) = last.metrics.domain.as_ref().and_then(|d| d.expiry) {
            expiries.push(expiry("domain registration", at));
        }
    }
    let current = history.changes.first();
    state.page(
        StatusCode::OK,
        "probe.html",
        json!({
            "title": format!("Probe {name}"),
            "nav": "overview",
            "ui": true,
            "refresh": REFRESH_SECONDS,
            "name": name,
            "kind": kind,
            "state": current.map(|c| c.outcome.clone()),
            "since_ms": current.map(|c| c.at_ms),
            "last": last.as_ref().map(|l| json!({
                "outcome": l.outcome.as_str(),
                "duration_ms": l.duration.as_secs_f64() * 1000.0,
                "reason": l.reason,
            })),
            "changes": history.changes,
            "results": results,
            "passed": passed,
            "percent": charts::percent((results > 0).then(|| passed as f64 / results as f64)),
            "chart": chart,
            "expiries": expiries,
        }),
    )
}

async fn alerts(State(state): State<UiState>, Query(params): Params) -> Response {
    if let Some(refused) = only(&state, &params, &[]) {
        return refused;
    }
    let found = state
        .history
        .reader
        .notifications(now_ms() - 7 * DAY_MS, crate::history::read::MAX_LIMIT)
        .await;
    let notifications = match found {
        Ok(n) => n,
        Err(e) => return store_error(&state, e),
    };
    let mut results: BTreeMap<&str, i64> = BTreeMap::new();
    for n in &notifications {
        *results.entry(n.result.as_str()).or_default() += 1;
    }
    state.page(
        StatusCode::OK,
        "alerts.html",
        json!({
            "title": "Alerts",
            "nav": "alerts",
            "ui": true,
            "refresh": REFRESH_SECONDS,
            "notifications": notifications,
            "results": results,
            "unsent": notifications.iter().filter(|n| n.result != "sent").count(),
        }),
    )
}
