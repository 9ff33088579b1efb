//! The monitor's HTTP endpoints: `/metrics` (Prometheus text format), `/healthz`,
//! `/artifacts/...`, the history's `/api/v1/...` and the UI's `/ui/...` (their own routers,
//! behind `ui.auth`), the public `/status` pages and `/badge/...`, an index at `/`, and
//! Prometheus' lifecycle endpoints: `/-/healthy` (the process answers), `/-/ready` (a
//! configuration runs and it is not stopping) and `POST /-/reload` (as SIGHUP, answering
//! whether the new configuration applied).

use crate::artifacts;
use crate::listener::Limits;
use crate::metrics::{self, Metrics};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// A reload asked over HTTP: the daemon answers on it whether the configuration applied (or
/// the errors that rejected it).
pub type ReloadReply = oneshot::Sender<Result<(), String>>;

/// What `/healthz` reports besides "up".
#[derive(Debug, Default, Clone)]
pub struct Health {
    pub config: String,
    pub journeys: usize,
    pub probes: usize,
    pub last_reload_ok: bool,
    /// Why the last reload was rejected (its first line).
    pub last_reload_error: Option<String>,
    /// A configuration runs and the monitor is not stopping (`/-/ready`).
    pub ready: bool,
    /// The WebDriver the running journeys need; None when none opens a browser.
    pub webdriver: Option<crate::webdriver::status::Need>,
    /// Panics caught in runs since the start (each made its run an `error`).
    pub panics: u64,
    pub last_panic: Option<String>,
    /// The history store's state: its last write error, until a write succeeds.
    pub history: Option<Arc<std::sync::Mutex<crate::history::Status>>>,
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Arc<std::sync::Mutex<Health>>,
    artifacts: Arc<PathBuf>,
    reload: mpsc::Sender<ReloadReply>,
    /// For the WebDriver endpoint's `/status`.
    http: reqwest::Client,
}

/// Serves until `shutdown` is cancelled. Files under `artifacts` (failed steps' screenshots,
/// pages and console logs, linked from alerts) are served under `/artifacts/`: regular files
/// only, never through a link, no directory listings, nothing outside it. A `POST /-/reload`
/// goes out on `reload`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<std::sync::Mutex<Health>>,
    artifacts: PathBuf,
    reload: mpsc::Sender<ReloadReply>,
    api: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(index))
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(healthz))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        // Prometheus takes PUT too.
        .route("/-/reload", post(reload_config).put(reload_config))
        .route("/artifacts/{*path}", get(artifact))
        .with_state(AppState {
            metrics,
            health,
            artifacts: Arc::new(artifacts),
            reload,
            http: reqwest::Client::new(),
        })
        .merge(api);
    crate::listener::serve(listener, app, Limits::for_this_process(), shutdown).await;
    Ok(())
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Rendering computes quantiles; keep it off the async workers' hot path.
    let body = tokio::task::spawn_blocking(move || state.metrics.render())
        .await
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body)
}

/// One artifact file, or 404 for anything that is not a regular file under the directory.
async fn artifact(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    let root = state.artifacts.clone();
    let found = tokio::task::spawn_blocking(move || artifacts::serve::read(&root, &path))
        .await
        .ok()
        .flatten();
    match found {
        Some((bytes, content_type)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                // A saved page is the shop's HTML: never run its scripts as this origin's.
                (header::CONTENT_SECURITY_POLICY, "sandbox"),
            ],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl AppState {
    fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// `ok`, or `degraded` with every reason: a caught panic (a bug someone must look at), a
/// rejected reload (the file on disk is not what runs), a WebDriver the journeys cannot
/// reach (every browser run would be an `error`), a history store that fails its writes.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let health = state.health();
    let mut reasons = Vec::new();
    if health.panics > 0 {
        reasons.push(format!(
            "{} panic(s) caught, the last in {}",
            health.panics,
            health.last_panic.as_deref().unwrap_or("?")
        ));
    }
    if !health.last_reload_ok {
        reasons.push(format!(
            "the last reload was rejected, the previous configuration runs: {}",
            health.last_reload_error.as_deref().unwrap_or("?")
        ));
    }
    let webdriver_problem = match &health.webdriver {
        Some(need) => crate::webdriver::status::problem(need, &state.http).await,
        None => None,
    };
    reasons.extend(webdriver_problem.clone());
    let history_error = health.history.as_ref().and_then(|status| {
        status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .error
            .clone()
    });
    if let Some(error) = &history_error {
        reasons.push(format!(
            "the history store is failing, runs are not kept: {error}"
        ));
    }
    let status = if reasons.is_empty() { "ok" } else { "degraded" };
    Json(serde_json::json!({
        "status": status,
        "reasons": reasons,
        "panics": health.panics,
        "last_panic": health.last_panic,
        "version": env!("CARGO_PKG_VERSION"),
        "config": health.config,
        "journeys": health.journeys,
        "probes": health.probes,
        "last_reload_ok": health.last_reload_ok,
        "webdriver_reachable": health.webdriver.as_ref().map(|_| webdriver_problem.is_none()),
        "history_ok": health.history.as_ref().map(|_| history_error.is_none()),
    }))
}

/// The process answers (a liveness probe): always 200.
async fn healthy() -> &'static str {
    "shopwatch is Healthy.\n"
}

/// 200 while a configuration runs, 503 before and while stopping (a readiness probe).
async fn ready(State(state): State<AppState>) -> Response {
    if state.health().ready {
        "shopwatch is Ready.\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shopwatch is not ready.\n").into_response()
    }
}

/// As SIGHUP; waits for the result: 200 when the new configuration applied, 500 with every
/// error when it was rejected (the running one stays), 503 when the monitor is stopping.
async fn reload_config(State(state): State<AppState>) -> Response {
    let (reply, answer) = oneshot::channel();
    if state.reload.send(reply).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shopwatch is stopping\n").into_response();
    }
    match answer.await {
        Ok(Ok(())) => "reloaded\n".into_response(),
        Ok(Err(errors)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload rejected, the running configuration stays:\n{errors}\n"),
        )
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shopwatch is stopping\n").into_response(),
    }
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        concat!(
            "<!doctype html><title>shopwatch</title><h1>shopwatch ",
            env!("CARGO_PKG_VERSION"),
            "</h1><ul><li><a href=\"/metrics\">/metrics</a>: Prometheus metrics</li>",
            "<li><a href=\"/healthz\">/healthz</a>: health</li>",
            "<li><a href=\"/-/healthy\">/-/healthy</a>, <a href=\"/-/ready\">/-/ready</a>: ",
            "liveness and readiness; <code>POST /-/reload</code>: reload the configuration</li>",
            "<li><a href=\"/ui/\">/ui/</a>: the run history's pages</li>",
            "<li><a href=\"/status\">/status</a>: the public status pages</li>",
            "<li><a href=\"/api/v1/journeys\">/api/v1/</a>: run history (JSON)</li></ul>"
        ),
    )
}
