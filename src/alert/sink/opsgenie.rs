//! Opsgenie: its Alert API. A firing alert creates an alert (`POST /v2/alerts`) whose `alias` is
//! the alert's key, so repeats are folded into it by Opsgenie's de-duplication; its resolve
//! closes it by that alias (`POST /v2/alerts/{alias}/close?identifierType=alias`). The API key
//! (an API integration's key, sent as `Authorization: GenieKey ...`) is a secret.
//!
//! The test alert is created with priority P5 and closed at once.

use super::check::SinkCheck;
use super::send::{clip, post_json, SendError};
use super::{read_secret, sink_file, Deliver, Kind};
use crate::alert::notification::{Event, Notification};
use crate::alert::SecretValue;
use crate::secret::redact::Redactor;
use crate::yaml::secret::VarFile;
use serde_json::{json, Map, Value};

/// The API of Opsgenie's US region; the EU region's is `https://api.eu.opsgenie.com`.
pub const API_URL: &str = "https://api.opsgenie.com";
/// Opsgenie's limits: longer values are cut by it or refused.
const MAX_MESSAGE: usize = 130;
const MAX_ALIAS: usize = 512;
const MAX_DESCRIPTION: usize = 15_000;

sink_file! {
    /// `- opsgenie: {api_key: {secret: ...}}`.
    {
        /// The key of an API integration (a secret).
        api_key: Option<VarFile>,
        /// The API's base URL: the EU region's, a proxy, or a test receiver.
        url: Option<VarFile>,
        /// Tags added to every alert, besides `shopwatch` and the alert's name.
        tags: Option<Vec<String>>,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub api_key: SecretValue,
    pub url: url::Url,
    pub tags: Vec<String>,
}

impl Kind for Settings {
    type File = File;
    type Sender = Opsgenie;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        let url = c.http_url(
            "url",
            &file.url,
            Some(API_URL),
            "https://api.eu.opsgenie.com",
        );
        let api_key = c.secret(
            "api_key",
            &file.api_key,
            "the Opsgenie API key",
            "anyone who has it can create and close alerts",
            "OPSGENIE_API_KEY",
        );
        Some(Settings {
            api_key: api_key?,
            url: url?,
            tags: file.tags.clone().unwrap_or_default(),
        })
    }

    fn build(&self, http: &reqwest::Client) -> Result<Opsgenie, String> {
        Ok(Opsgenie {
            api_key: read_secret(&self.api_key)?,
            url: self.url.clone(),
            tags: self.tags.clone(),
            http: http.clone(),
        })
    }
}

#[derive(Debug)]
pub struct Opsgenie {
    api_key: String,
    url: url::Url,
    tags: Vec<String>,
    http: reqwest::Client,
}

impl Deliver for Opsgenie {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let auth = format!("GenieKey {}", self.api_key);
        let headers = [("Authorization", auth.as_str())];
        for (url, body) in requests(notification, &self.url, &self.tags) {
            post_json(&self.http, url, &headers, &body).await?;
        }
        Ok(())
    }

    fn redact(&self, redactor: &mut Redactor) {
        redactor.add(&self.api_key);
    }
}

/// The alert's alias: the same for its create and its close.
pub fn alias(n: &Notification) -> String {
    let alias = match &n.location {
        Some(location) => format!("shopwatch/{location}/{}", n.key),
        None => format!("shopwatch/{}", n.key),
    };
    clip(&alias, MAX_ALIAS)
}

/// The requests sent for `n`, in order: where to and what.
pub fn requests(n: &Notification, base: &url::Url, tags: &[String]) -> Vec<(url::Url, Value)> {
    let create = |alias: &str| (endpoint(base, &[]), create_body(n, alias, tags));
    let close = |alias: &str| {
        let mut url = endpoint(base, &[alias, "close"]);
        url.query_pairs_mut().append_pair("identifierType", "alias");
        let body = json!({"source": "shopwatch", "note": clip(&n.summary, MAX_DESCRIPTION)});
        (url, body)
    };
    match n.event {
        Event::Resolved => vec![close(&alias(n))],
        Event::Test => {
            let alias = format!("shopwatch/{}", n.id);
            vec![create(&alias), close(&alias)]
        }
        Event::Firing | Event::Repeat => vec![create(&alias(n))],
    }
}

/// `{base}/v2/alerts[/segment...]`, the segments percent-encoded, a path prefix of `base` kept.
fn endpoint(base: &url::Url, segments: &[&str]) -> url::Url {
    let mut url = base.clone();
    {
        let mut path = url.path_segments_mut().expect("an http(s) URL has a path");
        path.pop_if_empty()
            .extend(["v2", "alerts"])
            .extend(segments);
    }
    url
}

fn create_body(n: &Notification, alias: &str, tags: &[String]) -> Value {
    let priority = match (n.event, n.severity.as_str()) {
        (Event::Test, _) => "P5",
        (_, "critical") => "P1",
        (_, "warning") => "P3",
        _ => "P5",
    };
    let mut details = Map::new();
    for (label, value) in n.detail_lines() {
        details.insert(label, Value::String(value));
    }
    let mut all_tags = vec!["shopwatch".to_string(), n.alert.clone()];
    all_tags.extend(tags.iter().cloned());
    let mut body = json!({
        "message": clip(&n.title(), MAX_MESSAGE),
        "alias": alias,
        "description": clip(&n.plain_text(), MAX_DESCRIPTION),
        "tags": all_tags,
        "details": details,
        "source": "shopwatch",
        "priority": priority,
    });
    if let Some(entity) = n.journey.as_ref().or(n.probe.as_ref()) {
        body["entity"] = Value::String(entity.clone());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notification::tests::sample;

    /// The fields of Opsgenie's documented "Create Alert" request (message, alias,
    /// description, tags, details, entity, source, priority) and "Close Alert" by alias.
    #[test]
    fn a_firing_alert_is_created_and_its_resolve_closes_it_by_alias() {
        let base = url::Url::parse("https://api.eu.opsgenie.com").unwrap();
        let requests_ = requests(&sample(Event::Firing), &base, &["team-shop".into()]);
        let (url, body) = &requests_[0];
        assert_eq!(url.as_str(), "https://api.eu.opsgenie.com/v2/alerts");
        assert_eq!(
            body["message"],
            "[FIRING] JourneyStepFailed critical: demo-shop / checkout"
        );
        let alias = body["alias"].as_str().unwrap().to_string();
        assert_eq!(
            alias,
            "shopwatch/eu-west/JourneyStepFailed{journey=demo-shop,step=checkout}"
        );
        assert_eq!(body["priority"], "P1");
        assert_eq!(body["entity"], "demo-shop");
        assert_eq!(body["source"], "shopwatch");
        assert_eq!(
            body["tags"],
            json!(["shopwatch", "JourneyStepFailed", "team-shop"])
        );
        assert_eq!(body["details"]["Step"], "checkout");
        assert!(body["description"]
            .as_str()
            .unwrap()
            .contains("Reason: open /checkout: HTTP 500"));

        let closes = requests(&sample(Event::Resolved), &base, &[]);
        let (url, body) = &closes[0];
        assert_eq!(
            url.as_str(),
            "https://api.eu.opsgenie.com/v2/alerts/shopwatch%2Feu-west%2FJourneyStepFailed%7Bjourney=demo-shop,step=checkout%7D/close?identifierType=alias"
        );
        assert_eq!(body["source"], "shopwatch");
    }

    #[test]
    fn the_test_alert_is_created_and_closed_at_p5() {
        let base = url::Url::parse("http://127.0.0.1:1/prefix/").unwrap();
        let requests = requests(&Notification::test(None, None), &base, &[]);
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].0.path(), "/prefix/v2/alerts");
        assert_eq!(requests[0].1["priority"], "P5");
        assert!(requests[1].0.path().ends_with("/close"));
    }

    #[test]
    fn a_long_title_fits_the_message_limit() {
        let mut n = sample(Event::Firing);
        n.journey = Some("j".repeat(500));
        let body = &requests(&n, &url::Url::parse(API_URL).unwrap(), &[])[0].1;
        assert_eq!(
            body["message"].as_str().unwrap().chars().count(),
            MAX_MESSAGE
        );
    }
}
