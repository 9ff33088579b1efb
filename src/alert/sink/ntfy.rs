//! ntfy: push notifications to phones and desktops through an ntfy server (ntfy.sh or your
//! own), published as JSON to the server's root: topic, title, message, priority, tags (shown
//! as emoji) and a click-through link. On ntfy.sh anyone who knows a topic can read it, so the
//! topic may be a secret; an access token (`token`) is always one.

use super::check::SinkCheck;
use super::send::{clip, post_json, SendError};
use super::{read_secret, sink_file, Deliver, Kind};
use crate::alert::notification::{Notification, Tone};
use crate::alert::SecretValue;
use crate::secret::redact::Redactor;
use crate::yaml::secret::VarFile;
use serde_json::{json, Value};

/// The public server.
pub const SERVER_URL: &str = "https://ntfy.sh";
/// ntfy turns a longer message into an attachment; keep it a message.
const MAX_MESSAGE: usize = 4000;

sink_file! {
    /// `- ntfy: {topic: ..., token: {secret: ...}}`.
    {
        /// The server; default ntfy.sh.
        url: Option<VarFile>,
        /// The topic: text, or a secret (on a public server the topic name is its password).
        topic: Option<VarFile>,
        /// An access token (`tk_...`), sent as a bearer token (a secret).
        token: Option<VarFile>,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub url: url::Url,
    pub topic: SecretValue,
    pub token: Option<SecretValue>,
}

impl Kind for Settings {
    type File = File;
    type Sender = Ntfy;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        let url = c.http_url(
            "url",
            &file.url,
            Some(SERVER_URL),
            "https://ntfy.example.com",
        );
        let topic = match &file.topic {
            Some(VarFile::Text(text)) if !valid_topic(text) => {
                c.error(
                    "topic",
                    format!("`{text}` is not an ntfy topic"),
                    "a topic is 1 to 64 letters, digits, `-` and `_`, e.g. `topic: shop-alerts-7f3k`",
                );
                None
            }
            Some(value) => Some(c.var("topic", value)),
            None => {
                c.missing(
                    "topic",
                    "e.g. `topic: shop-alerts-7f3k`, or `topic: {secret: env:NTFY_TOPIC}`",
                );
                None
            }
        };
        let token = match &file.token {
            Some(VarFile::Text(_)) => {
                c.error(
                    "token",
                    "the ntfy access token is a secret: anyone who has it can publish and read as you",
                    "give it as a secret, e.g. `token: {secret: env:NTFY_TOKEN}`",
                );
                None
            }
            Some(value) => Some(c.var("token", value)),
            None => None,
        };
        Some(Settings {
            url: url?,
            topic: topic?,
            token,
        })
    }

    fn build(&self, http: &reqwest::Client) -> Result<Ntfy, String> {
        let topic = read_secret(&self.topic)?;
        if !valid_topic(&topic) {
            return Err("the ntfy topic read from the secret is not a topic (1 to 64 letters, digits, `-` and `_`)".to_string());
        }
        Ok(Ntfy {
            url: self.url.clone(),
            topic,
            secret_topic: matches!(self.topic, SecretValue::Secret(_)),
            token: self.token.as_ref().map(read_secret).transpose()?,
            http: http.clone(),
        })
    }
}

/// What ntfy accepts as a topic name.
fn valid_topic(topic: &str) -> bool {
    (1..=64).contains(&topic.len())
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[derive(Debug)]
pub struct Ntfy {
    url: url::Url,
    topic: String,
    secret_topic: bool,
    token: Option<String>,
    http: reqwest::Client,
}

impl Deliver for Ntfy {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let body = message(notification, &self.topic);
        post_json(&self.http, self.url.clone(), &headers, &body).await
    }

    fn redact(&self, redactor: &mut Redactor) {
        if self.secret_topic {
            redactor.add(&self.topic);
        }
        self.token.iter().for_each(|t| redactor.add(t));
    }
}

/// The JSON published for `n`.
pub fn message(n: &Notification, topic: &str) -> Value {
    // ntfy's priorities: 5 urgent (a long vibration, through Do Not Disturb), 4 high, 3 default.
    let (priority, tag) = match n.tone() {
        Tone::Resolved => (3, "white_check_mark"),
        Tone::Test => (2, "test_tube"),
        Tone::Critical => (5, "rotating_light"),
        Tone::Warning => (4, "warning"),
    };
    let mut text = n.summary.clone();
    if let Some(reason) = &n.reason {
        text.push_str(&format!("\nReason: {reason}"));
    }
    if let Some(location) = &n.location {
        text.push_str(&format!("\nLocation: {location}"));
    }
    let mut body = json!({
        "topic": topic,
        "title": n.title(),
        "message": clip(&text, MAX_MESSAGE),
        "priority": priority,
        "tags": [tag, "shopwatch"],
    });
    if let Some(url) = n.screenshot_url.as_ref().or(n.monitor_url.as_ref()) {
        body["click"] = Value::String(url.clone());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notification::tests::sample;
    use crate::alert::notification::Event;

    /// The fields of ntfy's documented JSON publishing: topic, title, message, priority (1-5),
    /// tags, click.
    #[test]
    fn publishes_title_message_priority_and_link() {
        let m = message(&sample(Event::Firing), "shop-alerts");
        assert_eq!(m["topic"], "shop-alerts");
        assert_eq!(
            m["title"],
            "[FIRING] JourneyStepFailed critical: demo-shop / checkout"
        );
        assert_eq!(m["priority"], 5);
        assert_eq!(m["tags"], json!(["rotating_light", "shopwatch"]));
        assert!(m["message"]
            .as_str()
            .unwrap()
            .contains("Reason: open /checkout: HTTP 500"));
        assert!(m["click"].as_str().unwrap().ends_with("checkout.png"));
        assert_eq!(message(&sample(Event::Resolved), "t")["priority"], 3);
    }

    #[test]
    fn topics_are_names() {
        assert!(valid_topic("shop-alerts_7"));
        assert!(!valid_topic(""));
        assert!(!valid_topic("a/b"));
        assert!(!valid_topic(&"x".repeat(65)));
    }
}
