//! Discord: a channel webhook, posted one embed per notification (title, summary, the details
//! as fields, colored by severity), with mentions switched off so an alert text cannot ping
//! `@everyone`. The webhook URL holds its token, so it is a secret.

use super::check::SinkCheck;
use super::send::{clip, post_json, SendError};
use super::{read_secret_url, sink_file, Deliver, Kind};
use crate::alert::notification::{Notification, Tone};
use crate::alert::SecretValue;
use crate::secret::redact::Redactor;
use crate::yaml::secret::VarFile;
use serde_json::{json, Value};

/// Discord's limits: a message over any of them is refused whole.
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 4096;
const MAX_FIELD: usize = 1024;
const MAX_FIELDS: usize = 25;
const MAX_USERNAME: usize = 80;

sink_file! {
    /// `- discord: {url: {secret: ...}}`.
    {
        /// The channel webhook's URL (a secret).
        url: Option<VarFile>,
        /// The name the messages are posted under, instead of the webhook's.
        username: Option<String>,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub url: SecretValue,
    pub username: Option<String>,
}

impl Kind for Settings {
    type File = File;
    type Sender = Discord;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        if let Some(name) = &file.username {
            if name.trim().is_empty() || name.chars().count() > MAX_USERNAME {
                c.error(
                    "username",
                    format!("`username` must be 1 to {MAX_USERNAME} characters"),
                    "e.g. `username: shopwatch`, or leave it out for the webhook's name",
                );
            }
        }
        let url = c.secret(
            "url",
            &file.url,
            "the Discord webhook URL",
            "anyone who has it can post to the channel",
            "DISCORD_WEBHOOK_URL",
        )?;
        Some(Settings {
            url,
            username: file.username.clone(),
        })
    }

    fn build(&self, http: &reqwest::Client) -> Result<Discord, String> {
        Ok(Discord {
            url: read_secret_url(&self.url, "Discord webhook URL")?,
            username: self.username.clone(),
            http: http.clone(),
        })
    }
}

#[derive(Debug)]
pub struct Discord {
    url: url::Url,
    username: Option<String>,
    http: reqwest::Client,
}

impl Deliver for Discord {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let body = message(notification, self.username.as_deref());
        post_json(&self.http, self.url.clone(), &[], &body).await
    }

    fn redact(&self, redactor: &mut Redactor) {
        redactor.add(self.url.as_str());
    }
}

/// The webhook message for `n`.
pub fn message(n: &Notification, username: Option<&str>) -> Value {
    let color = match n.tone() {
        Tone::Resolved => 0x2e_b8_86,
        Tone::Test => 0x3b_82_f6,
        Tone::Critical => 0xdc_26_26,
        Tone::Warning => 0xf5_9e_0b,
    };
    let mut fields: Vec<Value> = n
        .detail_lines()
        .into_iter()
        .filter(|(label, _)| label != "Screenshot")
        .take(MAX_FIELDS - 1)
        .map(|(name, value)| {
            let inline = !matches!(name.as_str(), "Reason" | "Monitor");
            json!({"name": name, "value": clip(&value, MAX_FIELD), "inline": inline})
        })
        .collect();
    let steps = n.step_lines();
    if !steps.is_empty() {
        let text = clip(&steps.join("\n"), MAX_FIELD - 8);
        fields
            .push(json!({"name": "Steps", "value": format!("```\n{text}\n```"), "inline": false}));
    }
    let mut embed = json!({
        "title": clip(&n.title(), MAX_TITLE),
        "description": clip(&n.summary, MAX_DESCRIPTION),
        "color": color,
        "fields": fields,
        "timestamp": n.sent_at,
    });
    if let Some(url) = n.screenshot_url.as_ref().or(n.monitor_url.as_ref()) {
        embed["url"] = Value::String(url.clone());
    }
    if let Some(url) = &n.screenshot_url {
        embed["image"] = json!({"url": url});
    }
    let mut body = json!({
        "embeds": [embed],
        // Nobody is pinged by what a shop's page said.
        "allowed_mentions": {"parse": []},
    });
    if let Some(name) = username {
        body["username"] = Value::String(name.to_string());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notification::tests::sample;
    use crate::alert::notification::Event;

    /// The fields of Discord's "Execute Webhook" with one embed (title, description, color,
    /// fields {name, value, inline}, timestamp, url, image) and allowed_mentions.
    #[test]
    fn one_embed_without_mentions() {
        let mut n = sample(Event::Firing);
        n.reason = Some("@everyone the shop is down".into());
        let m = message(&n, Some("shopwatch"));
        assert_eq!(m["username"], "shopwatch");
        assert_eq!(m["allowed_mentions"]["parse"], json!([]));
        let embed = &m["embeds"][0];
        assert_eq!(
            embed["title"],
            "[FIRING] JourneyStepFailed critical: demo-shop / checkout"
        );
        assert_eq!(embed["color"], 0xdc2626);
        assert_eq!(embed["timestamp"], "2026-11-21T09:59:01.000Z");
        let fields = embed["fields"].as_array().unwrap();
        assert!(fields.contains(
            &json!({"name": "Reason", "value": "@everyone the shop is down", "inline": false})
        ));
        assert!(fields.last().unwrap()["value"]
            .as_str()
            .unwrap()
            .contains("checkout: failed in 96 ms"));
        assert!(embed["image"]["url"]
            .as_str()
            .unwrap()
            .ends_with("checkout.png"));
        assert!(message(&n, None).get("username").is_none());
    }

    #[test]
    fn long_values_fit_discords_limits() {
        let mut n = sample(Event::Firing);
        n.reason = Some("r".repeat(5000));
        n.journey = Some("j".repeat(500));
        let embed = &message(&n, None)["embeds"][0];
        assert_eq!(embed["title"].as_str().unwrap().chars().count(), MAX_TITLE);
        for field in embed["fields"].as_array().unwrap() {
            assert!(field["value"].as_str().unwrap().chars().count() <= MAX_FIELD);
        }
    }
}
