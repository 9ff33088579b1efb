//! PagerDuty: the Events API v2 (`POST /v2/enqueue`). A firing alert is a `trigger` and its
//! resolve a `resolve` with the same `dedup_key`, so the resolve closes the incident the trigger
//! opened, and repeats fold into it. The integration (routing) key is a secret: whoever has it
//! can open incidents.
//!
//! The test alert is a `trigger` of severity `info` followed at once by its `resolve`, so it
//! leaves no open incident.

use super::check::SinkCheck;
use super::send::{clip, post_json, SendError};
use super::{read_secret, sink_file, Deliver, Kind};
use crate::alert::notification::{Event, Notification};
use crate::alert::SecretValue;
use crate::secret::redact::Redactor;
use crate::yaml::secret::VarFile;
use serde_json::{json, Map, Value};

/// The Events API v2 endpoint.
pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// PagerDuty's limits: a longer summary or dedup key is refused.
const MAX_SUMMARY: usize = 1024;
const MAX_DEDUP_KEY: usize = 255;

sink_file! {
    /// `- pagerduty: {routing_key: {secret: ...}}`.
    {
        /// The integration key of an Events API v2 integration (a secret).
        routing_key: Option<VarFile>,
        /// Another endpoint (a proxy, or a test receiver).
        url: Option<VarFile>,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub routing_key: SecretValue,
    pub url: url::Url,
}

impl Kind for Settings {
    type File = File;
    type Sender = PagerDuty;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        let url = c.http_url("url", &file.url, Some(EVENTS_URL), EVENTS_URL);
        let routing_key = c.secret(
            "routing_key",
            &file.routing_key,
            "the PagerDuty integration key",
            "anyone who has it can open incidents",
            "PAGERDUTY_ROUTING_KEY",
        );
        Some(Settings {
            routing_key: routing_key?,
            url: url?,
        })
    }

    fn build(&self, http: &reqwest::Client) -> Result<PagerDuty, String> {
        Ok(PagerDuty {
            routing_key: read_secret(&self.routing_key)?,
            url: self.url.clone(),
            http: http.clone(),
        })
    }
}

#[derive(Debug)]
pub struct PagerDuty {
    routing_key: String,
    url: url::Url,
    http: reqwest::Client,
}

impl Deliver for PagerDuty {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        for event in events(notification, &self.routing_key) {
            post_json(&self.http, self.url.clone(), &[], &event).await?;
        }
        Ok(())
    }

    fn redact(&self, redactor: &mut Redactor) {
        redactor.add(&self.routing_key);
    }
}

/// The alert's identity across its events: the same key for its trigger, repeats and resolve.
/// The location is part of it, so two monitors watching one shop open two incidents.
pub fn dedup_key(n: &Notification) -> String {
    let key = match &n.location {
        Some(location) => format!("shopwatch/{location}/{}", n.key),
        None => format!("shopwatch/{}", n.key),
    };
    if key.len() <= MAX_DEDUP_KEY {
        return key;
    }
    // Too long for PagerDuty: a digest keeps it unique and stable.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("shopwatch/{hex}")
}

/// The events posted for `n`, in order.
pub fn events(n: &Notification, routing_key: &str) -> Vec<Value> {
    let resolve = |dedup_key: &str| {
        json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        })
    };
    match n.event {
        Event::Resolved => vec![resolve(&dedup_key(n))],
        Event::Test => {
            let dedup = format!("shopwatch/{}", n.id);
            let mut trigger = trigger(n, routing_key);
            trigger["dedup_key"] = Value::String(dedup.clone());
            vec![trigger, resolve(&dedup)]
        }
        Event::Firing | Event::Repeat => vec![trigger(n, routing_key)],
    }
}

fn trigger(n: &Notification, routing_key: &str) -> Value {
    let mut details = Map::new();
    for (label, value) in n.detail_lines() {
        details.insert(label, Value::String(value));
    }
    let steps = n.step_lines();
    if !steps.is_empty() {
        details.insert("Steps".into(), Value::String(steps.join("\n")));
    }
    let mut payload = json!({
        "summary": clip(&format!("{}: {}", n.title(), n.summary), MAX_SUMMARY),
        "source": n.location.clone().unwrap_or_else(|| "shopwatch".to_string()),
        // PagerDuty's severities are critical, error, warning and info.
        "severity": n.severity,
        "timestamp": n.last_failed_at,
        "class": n.alert,
        "custom_details": details,
    });
    if let Some(component) = n.journey.as_ref().or(n.probe.as_ref()) {
        payload["component"] = Value::String(component.clone());
    }
    if let Some(step) = &n.step {
        payload["group"] = Value::String(step.clone());
    }
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(n),
        "payload": payload,
        "client": "shopwatch",
    });
    if let Some(url) = &n.monitor_url {
        event["client_url"] = Value::String(url.clone());
    }
    if let Some(url) = &n.screenshot_url {
        event["links"] = json!([{"href": url, "text": "Screenshot of the failed step"}]);
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notification::tests::sample;

    /// The shape of PagerDuty's documented trigger example (Events API v2, "Send an Alert
    /// Event"): routing_key, event_action, dedup_key, payload {summary, source, severity,
    /// timestamp, component, group, class, custom_details}, client, client_url, links.
    #[test]
    fn a_firing_alert_is_a_trigger_and_its_resolve_closes_it() {
        let firing = sample(Event::Firing);
        let triggers = events(&firing, "R0UT1NGKEY");
        assert_eq!(triggers.len(), 1);
        let e = &triggers[0];
        assert_eq!(e["routing_key"], "R0UT1NGKEY");
        assert_eq!(e["event_action"], "trigger");
        let key = e["dedup_key"].as_str().unwrap();
        assert_eq!(
            key,
            "shopwatch/eu-west/JourneyStepFailed{journey=demo-shop,step=checkout}"
        );
        let payload = &e["payload"];
        assert!(payload["summary"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING] JourneyStepFailed critical: demo-shop / checkout: "));
        assert_eq!(payload["source"], "eu-west");
        assert_eq!(payload["severity"], "critical");
        assert_eq!(payload["component"], "demo-shop");
        assert_eq!(payload["group"], "checkout");
        assert_eq!(payload["class"], "JourneyStepFailed");
        assert_eq!(payload["timestamp"], firing.last_failed_at);
        assert_eq!(
            payload["custom_details"]["Reason"],
            "open /checkout: HTTP 500"
        );
        assert_eq!(
            e["links"][0]["href"],
            firing.screenshot_url.clone().unwrap()
        );

        let resolved = events(&sample(Event::Resolved), "R0UT1NGKEY");
        assert_eq!(
            resolved,
            vec![json!({"routing_key": "R0UT1NGKEY", "event_action": "resolve", "dedup_key": key})]
        );
    }

    #[test]
    fn the_test_alert_opens_and_closes_its_own_incident() {
        let test = Notification::test(None, None);
        let sent = events(&test, "k");
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0]["event_action"], "trigger");
        assert_eq!(sent[0]["payload"]["severity"], "info");
        assert_eq!(sent[1]["event_action"], "resolve");
        assert_eq!(sent[0]["dedup_key"], sent[1]["dedup_key"]);
    }

    #[test]
    fn long_keys_and_summaries_fit_the_limits() {
        let mut n = sample(Event::Firing);
        n.key = "x".repeat(1000);
        n.summary = "y".repeat(5000);
        let event = &events(&n, "k")[0];
        assert!(event["dedup_key"].as_str().unwrap().len() <= MAX_DEDUP_KEY);
        assert_eq!(
            event["payload"]["summary"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            MAX_SUMMARY
        );
        assert_eq!(dedup_key(&n), dedup_key(&n.clone()), "stable");
    }
}
