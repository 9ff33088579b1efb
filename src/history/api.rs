//! `/api/v1/...`: the history as JSON, for scripts and the UI's refresh. Behind `ui.auth`.
//!
//! - `GET /api/v1/journeys`: each journey's last run and availability over 24 h, 7 d, 30 d;
//! - `GET /api/v1/runs?journey=&location=&browser=&outcome=&before=&limit=`: runs newest
//!   first; `next` is the `before` of the next page;
//! - `GET /api/v1/runs/{id}`: one run with its steps, failed requests, artifact URLs and the
//!   last good run before it;
//! - `GET /api/v1/journeys/{name}/steps?period=hour|day&since=7d`: p50/p95 per step;
//! - `GET /api/v1/probes/{name}?since=1h`: state changes and per-minute results;
//! - `GET /api/v1/notifications?since=7d&limit=`: alert notifications and what became of them.
//!
//! Every answer goes through the redactor of every secret the monitor read.

use super::read::{Cursor, Period, RunFilter, DEFAULT_LIMIT, MAX_LIMIT};
use super::History;
use crate::secret::redact::LogRedaction;
use crate::ui::auth::Access;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the API answers from.
#[derive(Clone)]
pub struct ApiState {
    pub history: History,
    pub access: Arc<Access>,
    /// Journeys of the running configuration (listed even before their first run).
    pub journeys: Arc<Mutex<Vec<String>>>,
    pub redaction: LogRedaction,
}

pub fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/journeys", get(journeys))
        .route("/api/v1/journeys/{name}/steps", get(steps))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/runs/{id}", get(run))
        .route("/api/v1/probes/{name}", get(probe))
        .route("/api/v1/notifications", get(notifications))
        .route("/api/v1/status", get(status))
        .route("/api/v1/{*rest}", get(not_found))
        // Only to these routes: a path the monitor does not serve stays a 404 for anyone.
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    match state.access.check(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

type Params = Query<HashMap<String, String>>;

/// A JSON answer, redacted.
fn answer(state: &ApiState, status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string());
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.redaction.redact(&body),
    )
        .into_response()
}

fn bad_request(state: &ApiState, message: String) -> Response {
    answer(
        state,
        StatusCode::BAD_REQUEST,
        &serde_json::json!({"error": message}),
    )
}

fn result<T: serde::Serialize>(state: &ApiState, found: Result<T, super::db::DbError>) -> Response {
    match found {
        Ok(value) => answer(state, StatusCode::OK, &value),
        Err(e) => answer(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"error": e.message, "reason": e.reason}),
        ),
    }
}

async fn not_found(State(state): State<ApiState>) -> Response {
    answer(
        &state,
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": "no such API endpoint"}),
    )
}

/// Refuses parameters the endpoint does not take (a typo would silently widen the answer).
fn only(params: &HashMap<String, String>, known: &[&str]) -> Result<(), String> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(format!(
            "unknown parameter `{key}`; this endpoint takes {}",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )),
        None => Ok(()),
    }
}

/// `since=7d` as Unix milliseconds (`default` without it).
fn since(params: &HashMap<String, String>, default: &str) -> Result<i64, String> {
    let text = params.get("since").map_or(default, String::as_str);
    match humantime::parse_duration(text) {
        Ok(d) if d.as_secs() <= 400 * 24 * 3600 => Ok(super::now_ms() - d.as_millis() as i64),
        _ => Err(format!(
            "`since={text}` is not a duration such as `24h` or `7d`"
        )),
    }
}

fn limit(params: &HashMap<String, String>) -> Result<usize, String> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(format!(
                "`limit={text}`: give a number from 1 to {MAX_LIMIT}"
            )),
        },
    }
}

async fn journeys(State(state): State<ApiState>, Query(params): Params) -> Response {
    if let Err(message) = only(&params, &[]) {
        return bad_request(&state, message);
    }
    let configured = state
        .journeys
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let found = state.history.reader.journeys(&configured).await;
    result(
        &state,
        found.map(|journeys| serde_json::json!({ "journeys": journeys })),
    )
}

fn run_filter(params: &HashMap<String, String>) -> Result<RunFilter, String> {
    only(
        params,
        &[
            "journey", "location", "browser", "outcome", "before", "limit",
        ],
    )?;
    const OUTCOMES: [&str; 5] = ["ok", "degraded", "flaky", "failed", "error"];
    if let Some(outcome) = params
        .get("outcome")
        .filter(|o| !OUTCOMES.contains(&o.as_str()))
    {
        return Err(format!(
            "`outcome={outcome}`: give one of {}",
            OUTCOMES.join(", ")
        ));
    }
    let before = match params.get("before") {
        None => None,
        Some(text) => Some(Cursor::decode(text).ok_or_else(|| {
            format!("`before={text}` is not a cursor: pass the `next` of the page before")
        })?),
    };
    Ok(RunFilter {
        journey: params.get("journey").cloned(),
        location: params.get("location").cloned(),
        browser: params.get("browser").cloned(),
        outcome: params.get("outcome").cloned(),
        before,
        limit: limit(params)?,
    })
}

async fn runs(State(state): State<ApiState>, Query(params): Params) -> Response {
    match run_filter(&params) {
        Ok(filter) => {
            let found = state.history.reader.runs(&filter).await;
            result(&state, found)
        }
        Err(message) => bad_request(&state, message),
    }
}

async fn run(State(state): State<ApiState>, Path(id): Path<String>) -> Response {
    match state.history.reader.run(&id).await {
        Ok(None) => answer(
            &state,
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": format!("no run `{id}`")}),
        ),
        Ok(Some(detail)) => {
            let mut value = serde_json::to_value(&detail).unwrap_or_default();
            // Where the UI (or a person) fetches each artifact.
            if let Some(steps) = value.get_mut("steps").and_then(|s| s.as_array_mut()) {
                for (step, found) in steps.iter_mut().zip(&detail.steps) {
                    let urls: Vec<String> = found
                        .artifacts
                        .iter()
                        .map(|a| format!("/artifacts/{a}"))
                        .collect();
                    step["artifact_urls"] = serde_json::json!(urls);
                }
            }
            answer(&state, StatusCode::OK, &value)
        }
        Err(e) => result::<()>(&state, Err(e)),
    }
}

async fn steps(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Response {
    let checked = only(&params, &["period", "since"]).and_then(|()| {
        let period = match params.get("period").map(String::as_str) {
            None | Some("hour") => Period::Hour,
            Some("day") => Period::Day,
            Some(other) => return Err(format!("`period={other}`: give `hour` or `day`")),
        };
        Ok((period, since(&params, "24h")?))
    });
    let (period, since) = match checked {
        Ok(checked) => checked,
        Err(message) => return bad_request(&state, message),
    };
    let found = state
        .history
        .reader
        .step_percentiles(&name, since, period)
        .await;
    result(
        &state,
        found.map(|steps| serde_json::json!({"journey": name, "steps": steps})),
    )
}

/// `since` and `limit`, of an endpoint that takes only those.
fn since_and_limit(
    params: &HashMap<String, String>,
    default: &str,
) -> Result<(i64, usize), String> {
    only(params, &["since", "limit"])?;
    Ok((since(params, default)?, limit(params)?))
}

async fn probe(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Response {
    match since_and_limit(&params, "1h") {
        Ok((since, limit)) => {
            let found = state.history.reader.probe(&name, since, limit).await;
            result(&state, found)
        }
        Err(message) => bad_request(&state, message),
    }
}

async fn notifications(State(state): State<ApiState>, Query(params): Params) -> Response {
    match since_and_limit(&params, "7d") {
        Ok((since, limit)) => {
            let found = state.history.reader.notifications(since, limit).await;
            result(
                &state,
                found.map(|n| serde_json::json!({"notifications": n})),
            )
        }
        Err(message) => bad_request(&state, message),
    }
}

async fn status(State(state): State<ApiState>) -> Response {
    let status = state
        .history
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    answer(&state, StatusCode::OK, &status)
}
