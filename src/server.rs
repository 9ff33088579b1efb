//! The monitor's HTTP endpoints: `/metrics` (Prometheus text format), `/healthz`,
//! `/artifacts/...`, the history's `/api/v1/...` (its own router, behind `ui.auth`), and an
//! index at `/`.

use crate::artifacts;
use crate::listener::Limits;
use crate::metrics::{self, Metrics};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What `/healthz` reports besides "up".
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Health {
    pub config: String,
    pub journeys: usize,
    pub probes: usize,
    pub last_reload_ok: bool,
    /// Panics caught in runs since the start (each made its run an `error`).
    pub panics: u64,
    pub last_panic: Option<String>,
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Arc<std::sync::Mutex<Health>>,
    artifacts: Arc<PathBuf>,
}

/// Serves until `shutdown` is cancelled. Files under `artifacts` (failed steps' screenshots,
/// pages and console logs, linked from alerts) are served under `/artifacts/`: regular files
/// only, never through a link, no directory listings, nothing outside it.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<std::sync::Mutex<Health>>,
    artifacts: PathBuf,
    api: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(index))
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(healthz))
        .route("/artifacts/{*path}", get(artifact))
        .with_state(AppState {
            metrics,
            health,
            artifacts: Arc::new(artifacts),
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

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let health = state
        .health
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    // A caught panic leaves the monitor running but is a bug someone must look at.
    let status = if health.panics > 0 { "degraded" } else { "ok" };
    Json(serde_json::json!({
        "status": status,
        "panics": health.panics,
        "last_panic": health.last_panic,
        "version": env!("CARGO_PKG_VERSION"),
        "config": health.config,
        "journeys": health.journeys,
        "probes": health.probes,
        "last_reload_ok": health.last_reload_ok,
    }))
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        concat!(
            "<!doctype html><title>shopwatch</title><h1>shopwatch ",
            env!("CARGO_PKG_VERSION"),
            "</h1><ul><li><a href=\"/metrics\">/metrics</a>: Prometheus metrics</li>",
            "<li><a href=\"/healthz\">/healthz</a>: health</li>",
            "<li><a href=\"/api/v1/journeys\">/api/v1/</a>: run history (JSON)</li></ul>"
        ),
    )
}
