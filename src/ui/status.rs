//! The public side: status pages (`/status` with every page, `/status/{name}` one) and badges
//! (`/badge/{journey}.svg`). No auth, so they show only what `status_pages` lists: current
//! state, 90 days of daily availability, incidents from the alerts, and no reason, URL,
//! selector or screenshot unless a page says `show_reasons: true`. A journey on no page has
//! no badge (404, as for a name that does not exist, so names do not leak).
//!
//! Answers are kept for [`CACHE_FOR`]: anyone can ask for these, as often as they like, and
//! the store must not feel it.

use super::charts::{self, Cell};
use super::config::StatusPage;
use super::UiState;
use crate::history::now_ms;
use crate::history::read::{Availability, Day, Notification};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;
/// Days of bars on a status page.
const DAYS: i64 = 90;
/// How long a status page or badge is answered from memory.
pub const CACHE_FOR: Duration = Duration::from_secs(15);
/// Answers kept at most (a page per name and a few badge variants each).
const CACHE_ENTRIES: usize = 256;

/// A rendered answer: when made, status, content type, body.
type Kept = (Instant, StatusCode, &'static str, String);

/// Rendered answers by path and query.
#[derive(Default)]
pub struct Cache(Mutex<HashMap<String, Kept>>);

impl Cache {
    fn get(&self, key: &str) -> Option<Response> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (at, status, content_type, body) = map.get(key)?;
        (at.elapsed() < CACHE_FOR).then(|| answer(*status, content_type, body.clone()))
    }

    fn put(&self, key: String, status: StatusCode, content_type: &'static str, body: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_ENTRIES {
            map.retain(|_, (at, ..)| at.elapsed() < CACHE_FOR);
            if map.len() >= CACHE_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            key,
            (Instant::now(), status, content_type, body.to_string()),
        );
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response {
    if content_type.starts_with("text/html") {
        return super::html_response(status, body);
    }
    (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            // Badges are shown by README renderers that cache hard: say how fresh they are.
            (header::CACHE_CONTROL, "max-age=60"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        body,
    )
        .into_response()
}

pub fn routes(state: UiState) -> Router {
    Router::new()
        .route("/status", get(all_pages))
        .route("/status/{name}", get(one_page))
        .route("/badge/{file}", get(badge))
        .with_state(state)
}

type Params = Query<HashMap<String, String>>;

fn not_found(state: &UiState) -> Response {
    state.page(
        StatusCode::NOT_FOUND,
        "message.html",
        json!({"title": "Not found", "text": "There is no such status page.", "ui": false}),
    )
}

async fn all_pages(State(state): State<UiState>, Query(params): Params) -> Response {
    let pages = state.configured().status_pages;
    if pages.is_empty() || !params.is_empty() {
        return not_found(&state);
    }
    cached(&state, "/status".to_string(), || {
        render(&state, pages, true)
    })
    .await
}

async fn one_page(
    State(state): State<UiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Response {
    let Some(page) = state
        .configured()
        .status_pages
        .into_iter()
        .find(|p| p.name == name)
    else {
        return not_found(&state);
    };
    if !params.is_empty() {
        return not_found(&state);
    }
    cached(&state, format!("/status/{name}"), || {
        render(&state, vec![page], false)
    })
    .await
}

/// From the cache, or made and kept (when it is not a store error).
async fn cached<F, Fut>(state: &UiState, key: String, make: F) -> Response
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = (StatusCode, &'static str, String)>,
{
    if let Some(found) = state.status_cache.get(&key) {
        return found;
    }
    let (status, content_type, body) = make().await;
    if status.is_success() {
        state.status_cache.put(key, status, content_type, &body);
    }
    answer(status, content_type, body)
}

/// The public state of a journey or probe, from its newest outcome.
fn public_state(outcome: Option<&str>) -> (&'static str, &'static str) {
    match outcome {
        Some("ok") | Some("flaky") => ("Operational", "ok"),
        Some("degraded") => ("Degraded performance", "warn"),
        Some("failed") => ("Down", "bad"),
        // `error` is the monitor's fault: nothing is known of the shop.
        _ => ("No current data", "none"),
    }
}

fn day_class(a: &Availability) -> &'static str {
    match a.availability {
        None => "none",
        Some(x) if x >= 0.999 => "ok",
        Some(x) if x >= 0.95 => "warn",
        Some(_) => "bad",
    }
}

/// 90 bars, one per day up to today; days without results are grey.
fn bars(days: &[Day], now: i64) -> (String, Availability) {
    let today = now - now.rem_euclid(DAY_MS);
    let by_day: BTreeMap<i64, &Availability> =
        days.iter().map(|d| (d.day_ms, &d.availability)).collect();
    let mut total = Availability::default();
    let cells: Vec<Cell> = (0..DAYS)
        .rev()
        .map(|back| {
            let day = today - back * DAY_MS;
            let none = Availability::default();
            let a = by_day.get(&day).copied().unwrap_or(&none);
            total.passed += a.passed;
            total.failed += a.failed;
            total.error += a.error;
            Cell {
                class: day_class(a),
                title: format!(
                    "{}: {}",
                    charts::date(day),
                    match a.availability {
                        Some(_) => charts::percent(a.availability),
                        None => "no data".to_string(),
                    }
                ),
                href: None,
            }
        })
        .collect();
    let counted = total.passed + total.failed;
    total.availability = (counted > 0).then(|| total.passed as f64 / counted as f64);
    (charts::strip(&cells, 6.0, 30.0), total)
}

/// `JourneyStepFailed{journey=shop,step=pay}` as (`JourneyStepFailed`, labels).
fn parse_key(key: &str) -> Option<(&str, BTreeMap<&str, &str>)> {
    let (name, rest) = key.split_once('{')?;
    let labels = rest
        .strip_suffix('}')?
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .collect();
    Some((name, labels))
}

/// Incidents of the page's journeys and probes: each alert's firing up to its resolve,
/// newest first (a notification per sink: the first firing opens, the first resolve closes).
fn incidents(page: &StatusPage, notifications: &[Notification]) -> Vec<Value> {
    let mut open: BTreeMap<&str, (i64, String, Option<String>)> = BTreeMap::new();
    let mut done = Vec::new();
    for n in notifications.iter().rev() {
        let Some((alert, labels)) = parse_key(&n.alert) else {
            continue;
        };
        let subject = match (labels.get("journey"), labels.get("probe")) {
            (Some(j), _) if page.journeys.iter().any(|p| p == j) => j.to_string(),
            (None, Some(p)) if page.probes.iter().any(|q| q == p) => p.to_string(),
            _ => continue,
        };
        let what = if alert.contains("Slow") {
            "slow"
        } else if alert.contains("Certificate") {
            "certificate expiring"
        } else if alert.contains("Domain") {
            "domain expiring"
        } else {
            "down"
        };
        let step = labels.get("step").map(|s| s.to_string());
        match n.event.as_str() {
            "firing" => {
                open.entry(n.alert.as_str()).or_insert((
                    n.at_ms,
                    format!("{subject}: {what}"),
                    step,
                ));
            }
            "resolved" => {
                if let Some((from, text, step)) = open.remove(n.alert.as_str()) {
                    done.push((from, Some(n.at_ms), text, step));
                }
            }
            _ => {}
        }
    }
    done.extend(
        open.into_values()
            .map(|(from, text, step)| (from, None, text, step)),
    );
    done.sort_by_key(|(from, ..)| std::cmp::Reverse(*from));
    done.into_iter()
        .map(|(from, to, text, step)| {
            json!({
                "text": text,
                "step": if page.show_reasons { step } else { None },
                "from_ms": from,
                "to_ms": to,
            })
        })
        .collect()
}

async fn render(
    state: &UiState,
    pages: Vec<StatusPage>,
    all: bool,
) -> (StatusCode, &'static str, String) {
    match sections(state, &pages).await {
        Ok(sections) => {
            let down = sections
                .iter()
                .flat_map(|s| s["items"].as_array().cloned().unwrap_or_default())
                .filter(|i| i["class"] != "ok")
                .count();
            let title = if all {
                "Status".to_string()
            } else {
                pages[0].title.clone()
            };
            let context = json!({
                "title": title,
                "ui": false,
                "refresh": 60,
                "sections": sections,
                "all": all,
                "summary": if down == 0 { "All systems operational" } else { "Some systems are not operational" },
                "summary_class": if down == 0 { "ok" } else { "bad" },
                "now_ms": now_ms(),
            });
            text_of(state.page(StatusCode::OK, "status.html", context)).await
        }
        Err(e) => {
            tracing::warn!("status page: the history cannot be read: {e}");
            text_of(state.page(
                StatusCode::SERVICE_UNAVAILABLE,
                "message.html",
                json!({"title": "Status unavailable", "text": "The status cannot be read right now; try again in a minute.", "ui": false}),
            ))
            .await
        }
    }
}

/// A rendered page's status and text, to keep.
async fn text_of(response: Response) -> (StatusCode, &'static str, String) {
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 4 << 20)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    (status, "text/html; charset=utf-8", body)
}

async fn sections(
    state: &UiState,
    pages: &[StatusPage],
) -> Result<Vec<Value>, crate::history::db::DbError> {
    let reader = &state.history.reader;
    let now = now_ms();
    let since = now - (DAYS - 1) * DAY_MS;
    let notifications = reader
        .notifications(since, crate::history::read::MAX_LIMIT)
        .await?;
    let mut out = Vec::new();
    for page in pages {
        let mut items = Vec::new();
        for journey in &page.journeys {
            let last = reader.last_run(journey, false).await?;
            let (label, class) = public_state(last.as_ref().map(|r| r.outcome.as_str()));
            let (svg, total) = bars(&reader.journey_days(journey, since).await?, now);
            let reason = last
                .as_ref()
                .filter(|r| page.show_reasons && r.outcome == "failed")
                .map(|r| {
                    format!(
                        "{}{}",
                        r.failed_step
                            .as_ref()
                            .map(|s| format!("at {s}: "))
                            .unwrap_or_default(),
                        r.reason.clone().unwrap_or_default()
                    )
                });
            items.push(json!({
                "name": journey,
                "kind": "journey",
                "state": label,
                "class": class,
                "bars": svg,
                "percent": charts::percent(total.availability),
                "reason": reason,
            }));
        }
        for probe in &page.probes {
            let history = reader.probe(probe, now, 1).await?;
            let current = history.changes.first();
            let (label, class) = public_state(current.map(|c| c.outcome.as_str()));
            let (svg, total) = bars(&reader.probe_days(probe, since).await?, now);
            let reason = current
                .filter(|c| page.show_reasons && c.outcome == "failed")
                .and_then(|c| c.reason.clone());
            items.push(json!({
                "name": probe,
                "kind": "probe",
                "state": label,
                "class": class,
                "bars": svg,
                "percent": charts::percent(total.availability),
                "reason": reason,
            }));
        }
        out.push(json!({
            "name": page.name,
            "title": page.title,
            "url": format!("/status/{}", page.name),
            "items": items,
            "incidents": incidents(page, &notifications),
        }));
    }
    Ok(out)
}

/// `/badge/{journey}.svg`, `?type=status` (default) or `?type=availability&period=30d`
/// (`7d`, `30d`, `90d`).
async fn badge(
    State(state): State<UiState>,
    Path(file): Path<String>,
    Query(params): Params,
) -> Response {
    let svg = "image/svg+xml";
    let listed = file.strip_suffix(".svg").filter(|name| {
        state
            .configured()
            .status_pages
            .iter()
            .any(|p| p.journeys.iter().any(|j| j == name))
    });
    let Some(name) = listed.map(str::to_string) else {
        return answer(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "no such badge\n".into(),
        );
    };
    let bad = |text: String| answer(StatusCode::BAD_REQUEST, "text/plain; charset=utf-8", text);
    if let Some(key) = params.keys().find(|k| *k != "type" && *k != "period") {
        return bad(format!(
            "unknown parameter `{key}`: a badge takes `type` and `period`\n"
        ));
    }
    let kind = params.get("type").map_or("status", String::as_str);
    let days = match (kind, params.get("period").map(String::as_str)) {
        ("status", None) => 0,
        ("availability", None | Some("30d")) => 30,
        ("availability", Some("7d")) => 7,
        ("availability", Some("90d")) => 90,
        ("availability", Some(other)) => {
            return bad(format!("`period={other}`: give `7d`, `30d` or `90d`\n"))
        }
        ("status", Some(_)) => return bad("a status badge takes no `period`\n".into()),
        (other, _) => return bad(format!("`type={other}`: give `status` or `availability`\n")),
    };
    let key = format!("/badge/{name}?{kind}&{days}");
    cached(&state, key, || async {
        let reader = &state.history.reader;
        let drawn = if days == 0 {
            reader.last_run(&name, false).await.map(|last| {
                let (value, colour) = match last.as_ref().map(|r| r.outcome.as_str()) {
                    Some("ok") | Some("flaky") => ("passing", "#4c1"),
                    Some("degraded") => ("degraded", "#dfb317"),
                    Some("failed") => ("failing", "#e05d44"),
                    _ => ("unknown", "#9f9f9f"),
                };
                charts::badge(&name, value, colour)
            })
        } else {
            let now = now_ms();
            reader
                .journey_days(&name, now - (days - 1) * DAY_MS)
                .await
                .map(|found| {
                    let (passed, failed) = found.iter().fold((0, 0), |(p, f), d| {
                        (p + d.availability.passed, f + d.availability.failed)
                    });
                    let share =
                        (passed + failed > 0).then(|| passed as f64 / (passed + failed) as f64);
                    let colour = match share {
                        None => "#9f9f9f",
                        Some(x) if x >= 0.999 => "#4c1",
                        Some(x) if x >= 0.99 => "#a4a61d",
                        Some(x) if x >= 0.95 => "#dfb317",
                        Some(_) => "#e05d44",
                    };
                    charts::badge(&format!("{name} {days}d"), &charts::percent(share), colour)
                })
        };
        match drawn {
            Ok(svg_text) => (StatusCode::OK, svg, state.redaction.redact(&svg_text)),
            Err(e) => {
                tracing::warn!("badge: the history cannot be read: {e}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    svg,
                    charts::badge(&name, "unavailable", "#9f9f9f"),
                )
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(at_ms: i64, alert: &str, event: &str, sink: &str) -> Notification {
        Notification {
            at_ms,
            alert: alert.into(),
            event: event.into(),
            sink: sink.into(),
            location: String::new(),
            result: "sent".into(),
            error: None,
        }
    }

    #[test]
    fn incidents_pair_firing_with_resolved_once_over_sinks_and_only_for_listed_subjects() {
        let page = StatusPage {
            name: "shop".into(),
            title: "Shop".into(),
            journeys: vec!["checkout".into()],
            probes: vec![],
            show_reasons: false,
        };
        let key = "JourneyStepFailed{journey=checkout,step=pay}";
        // Newest first, as the store reads them.
        let notes = vec![
            n(50, "ProbeFailed{probe=secret-backend}", "firing", "a"),
            n(31, key, "resolved", "b"),
            n(30, key, "resolved", "a"),
            n(11, key, "firing", "b"),
            n(10, key, "firing", "a"),
        ];
        let found = incidents(&page, &notes);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0]["text"], "checkout: down");
        assert_eq!(found[0]["from_ms"], 10);
        assert_eq!(found[0]["to_ms"], 30);
        assert!(found[0]["step"].is_null(), "no step without show_reasons");
    }
}
