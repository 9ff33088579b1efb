//! Alertmanager: its v2 API, `POST /api/v2/alerts`, as Prometheus uses it. Routing, grouping,
//! inhibition, silences and escalation are then Alertmanager's job.
//!
//! A firing alert is posted with `endsAt` [`VALID_FOR`] ahead and re-posted every [`REFRESH`]
//! while it fires (Prometheus: every minute, valid for four evaluation intervals), so an alert
//! of a shopwatch that died resolves by itself instead of firing forever; a resolve is posted
//! with `endsAt` at the time it resolved. Alertmanager identifies an alert by its labels, so the
//! re-posts are one alert, not many.

use super::check::SinkCheck;
use super::send::{post_json, SendError};
use super::{sink_file, Deliver, Kind};
use crate::alert::notification::{rfc3339, Event, Notification};
use crate::yaml::secret::VarFile;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// How often a firing alert is posted again.
pub const REFRESH: Duration = Duration::from_secs(60);
/// How far ahead of the post a firing alert's `endsAt` is.
pub const VALID_FOR: Duration = Duration::from_secs(5 * 60);

sink_file! {
    /// `- alertmanager: {url: ...}`.
    {
        url: Option<VarFile>,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The base URL (`http://127.0.0.1:9093`, or with a path prefix).
    pub url: url::Url,
}

impl Kind for Settings {
    type File = File;
    type Sender = Alertmanager;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        let url = c.http_url("url", &file.url, None, "http://127.0.0.1:9093")?;
        Some(Settings { url })
    }

    fn build(&self, http: &reqwest::Client) -> Result<Alertmanager, String> {
        Ok(Alertmanager {
            url: self.url.clone(),
            http: http.clone(),
        })
    }
}

#[derive(Debug)]
pub struct Alertmanager {
    url: url::Url,
    http: reqwest::Client,
}

impl Deliver for Alertmanager {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let body = body(notification, chrono::Utc::now());
        post_json(&self.http, endpoint(&self.url), &[], &body).await
    }

    fn refresh(&self) -> Option<Duration> {
        Some(REFRESH)
    }
}

/// `{base}/api/v2/alerts`, keeping a path prefix of the base URL.
pub fn endpoint(base: &url::Url) -> url::Url {
    let mut url = base.clone();
    let path = format!("{}/api/v2/alerts", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

/// The posted array (one alert) for `notification`, at `now`.
pub fn body(notification: &Notification, now: chrono::DateTime<chrono::Utc>) -> Value {
    let n = notification;
    let mut labels = Map::new();
    let mut label = |name: &str, value: Option<&str>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            labels.insert(name.to_string(), Value::String(value.to_string()));
        }
    };
    label("alertname", Some(&n.alert));
    label("severity", Some(&n.severity));
    label("journey", n.journey.as_deref());
    label("step", n.step.as_deref());
    label("probe", n.probe.as_deref());
    label("location", n.location.as_deref());
    if n.event == Event::Test {
        label("test", Some("true"));
    }

    let mut annotations = Map::new();
    let mut annotation = |name: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            annotations.insert(name.to_string(), Value::String(value));
        }
    };
    annotation("summary", Some(n.summary.clone()));
    annotation("description", Some(n.plain_text()));
    annotation("reason", n.reason.clone());
    annotation("reason_class", n.reason_class.clone());
    annotation("outcome", Some(n.outcome.clone()));
    annotation("run_id", n.run_id.clone());
    annotation("first_failed_at", Some(n.first_failed_at.clone()));
    annotation("failed_runs", Some(n.failed_runs.to_string()));
    annotation("steps", Some(n.step_lines().join("\n")));
    annotation("screenshot_url", n.screenshot_url.clone());

    let ends_at = match (&n.resolved_at, n.event) {
        (Some(resolved), Event::Resolved) => resolved.clone(),
        _ => rfc3339(now + chrono::Duration::from_std(VALID_FOR).expect("5 minutes")),
    };
    let mut alert = json!({
        "labels": labels,
        "annotations": annotations,
        "startsAt": n.first_failed_at,
        "endsAt": ends_at,
    });
    if let Some(url) = n.screenshot_url.as_ref().or(n.monitor_url.as_ref()) {
        alert["generatorURL"] = Value::String(url.clone());
    }
    json!([alert])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notification::tests::sample;

    #[test]
    fn posts_labels_annotations_and_times() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .to_utc();
        let firing = sample(Event::Firing);
        let body = body(&firing, now);
        let alert = &body[0];
        assert_eq!(alert["labels"]["alertname"], "JourneyStepFailed");
        assert_eq!(alert["labels"]["severity"], "critical");
        assert_eq!(alert["labels"]["journey"], "demo-shop");
        assert_eq!(alert["labels"]["step"], "checkout");
        assert_eq!(alert["labels"]["location"], "eu-west");
        assert!(alert["labels"].get("probe").is_none(), "no empty labels");
        assert_eq!(
            alert["annotations"]["run_id"],
            firing.run_id.as_deref().unwrap()
        );
        assert_eq!(alert["startsAt"], firing.first_failed_at);
        assert_eq!(alert["endsAt"], "2026-11-21T10:05:00.000Z");
        assert_eq!(
            alert["generatorURL"],
            firing.screenshot_url.clone().unwrap()
        );

        let mut resolved = sample(Event::Resolved);
        resolved.resolved_at = Some("2026-11-21T10:02:00.000Z".into());
        assert_eq!(
            body_of(&resolved, now)["endsAt"],
            "2026-11-21T10:02:00.000Z"
        );
    }

    fn body_of(n: &Notification, now: chrono::DateTime<chrono::Utc>) -> Value {
        body(n, now)[0].clone()
    }

    #[test]
    fn keeps_a_path_prefix() {
        let base = url::Url::parse("http://am.example.com/alertmanager/").unwrap();
        assert_eq!(
            endpoint(&base).as_str(),
            "http://am.example.com/alertmanager/api/v2/alerts"
        );
        let base = url::Url::parse("http://127.0.0.1:9093").unwrap();
        assert_eq!(
            endpoint(&base).as_str(),
            "http://127.0.0.1:9093/api/v2/alerts"
        );
    }
}
