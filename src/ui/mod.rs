//! The monitor's pages for people, server-rendered HTML on `listen` (no script needed, no
//! file fetched from elsewhere):
//!
//! - `config`: the `ui:` section (who may read) and `status_pages:`;
//! - `auth`: basic auth against an argon2 hash, or a bearer token;
//! - `pages`: the UI under `/ui/` (overview, journey, run, probe, alerts), behind `ui.auth`;
//! - `status`: the public status pages (`/status`, `/status/{name}`) and badges
//!   (`/badge/{journey}.svg`), showing only what `status_pages` lists;
//! - `charts`: the inline SVG the pages draw with.
//!
//! Every page is rendered from templates embedded in the binary (`templates/`), with
//! auto-escaping, and goes through the redactor of every secret the monitor read, as the API's
//! answers do.

pub mod auth;
pub mod charts;
pub mod config;
pub mod pages;
pub mod status;

use crate::history::History;
use crate::metrics::Metrics;
use crate::secret::redact::LogRedaction;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use config::StatusPage;
use std::sync::{Arc, Mutex};

/// What the running configuration has, for the pages (replaced on reload).
#[derive(Debug, Clone, Default)]
pub struct Configured {
    pub journeys: Vec<String>,
    /// Names and kinds (`http`, `tls`, ...).
    pub probes: Vec<(String, String)>,
    pub status_pages: Vec<StatusPage>,
}

/// What the pages are rendered from.
#[derive(Clone)]
pub struct UiState {
    pub history: History,
    pub access: Arc<auth::Access>,
    pub configured: Arc<Mutex<Configured>>,
    pub redaction: LogRedaction,
    pub metrics: Arc<Metrics>,
    templates: Arc<minijinja::Environment<'static>>,
    status_cache: Arc<status::Cache>,
}

impl UiState {
    pub fn new(
        history: History,
        access: Arc<auth::Access>,
        configured: Arc<Mutex<Configured>>,
        redaction: LogRedaction,
        metrics: Arc<Metrics>,
    ) -> UiState {
        UiState {
            history,
            access,
            configured,
            redaction,
            metrics,
            templates: Arc::new(templates()),
            status_cache: Arc::default(),
        }
    }

    fn configured(&self) -> Configured {
        self.configured
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A page: the context's every text redacted, rendered, and the whole page redacted again
    /// (a secret split over two values is still one in the page).
    fn page(&self, status: StatusCode, template: &str, context: serde_json::Value) -> Response {
        let context = redact_values(&self.redaction, context);
        let rendered = self
            .templates
            .get_template(template)
            .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&context))));
        match rendered {
            Ok(html) => html_response(status, self.redaction.redact(&html)),
            Err(e) => {
                tracing::error!("ui: rendering {template}: {e:#}");
                html_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "<!doctype html><title>shopwatch</title><p>This page could not be rendered: {}</p>",
                        charts::esc(&self.redaction.redact(&e.to_string()))
                    ),
                )
            }
        }
    }
}

/// The UI's and the status pages' routes.
pub fn routes(state: UiState) -> Router {
    pages::routes(state.clone()).merge(status::routes(state))
}

fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            // Nothing from elsewhere, no script, no frame: the pages are text, SVG and their
            // own inline style.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ],
        html,
    )
        .into_response()
}

/// Every string in `value` redacted.
fn redact_values(redaction: &LogRedaction, value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(redaction.redact(&s)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| redact_values(redaction, v))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, redact_values(redaction, v)))
                .collect(),
        ),
        other => other,
    }
}

/// The templates, embedded; `.html` ones auto-escape whatever they insert.
fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("overview.html", include_str!("templates/overview.html")),
        ("journey.html", include_str!("templates/journey.html")),
        ("run.html", include_str!("templates/run.html")),
        ("probe.html", include_str!("templates/probe.html")),
        ("alerts.html", include_str!("templates/alerts.html")),
        ("message.html", include_str!("templates/message.html")),
        ("status.html", include_str!("templates/status.html")),
    ] {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("the embedded template {name} does not parse: {e:#}"));
    }
    env.add_filter("time", |ms: i64| charts::time(ms));
    env.add_filter("date", |ms: i64| charts::date(ms));
    env.add_filter("duration", |ms: f64| charts::duration(ms));
    env.add_filter("outcome_class", |outcome: String| {
        charts::outcome_class(&outcome).to_string()
    });
    env
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        let env = super::templates();
        assert!(env.templates().count() >= 8);
    }
}
