//! Slack incoming webhook: a message with the title, summary and details. The webhook URL is a
//! secret (whoever has it can post to the channel): give it as `{secret: env:NAME}`.

use super::check::SinkCheck;
use super::send::{post_json, SendError};
use super::{read_secret_url, sink_file, Deliver, Kind};
use crate::alert::notification::{Notification, Tone};
use crate::alert::SecretValue;
use crate::secret::redact::Redactor;
use crate::yaml::secret::VarFile;
use serde_json::{json, Value};

sink_file! {
    /// `- slack: {url: {secret: ...}, channel: ...}`.
    {
        /// The incoming webhook URL (a secret).
        url: Option<VarFile>,
        /// A channel instead of the webhook's.
        channel: Option<String>,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub url: SecretValue,
    pub channel: Option<String>,
}

impl Kind for Settings {
    type File = File;
    type Sender = Slack;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        let url = c.secret(
            "url",
            &file.url,
            "the Slack webhook URL",
            "anyone who has it can post to the channel",
            "SLACK_WEBHOOK_URL",
        )?;
        Some(Settings {
            url,
            channel: file.channel.clone(),
        })
    }

    fn build(&self, http: &reqwest::Client) -> Result<Slack, String> {
        Ok(Slack {
            url: read_secret_url(&self.url, "Slack webhook URL")?,
            channel: self.channel.clone(),
            http: http.clone(),
        })
    }
}

#[derive(Debug)]
pub struct Slack {
    url: url::Url,
    channel: Option<String>,
    http: reqwest::Client,
}

impl Deliver for Slack {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let body = message(notification, self.channel.as_deref());
        post_json(&self.http, self.url.clone(), &[], &body).await
    }

    fn redact(&self, redactor: &mut Redactor) {
        redactor.add(self.url.as_str());
    }
}

/// Slack's `mrkdwn` needs `&`, `<` and `>` escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message posted for `notification`.
pub fn message(notification: &Notification, channel: Option<&str>) -> Value {
    let n = notification;
    let icon = match n.tone() {
        Tone::Resolved => ":white_check_mark:",
        Tone::Test => ":test_tube:",
        Tone::Critical => ":rotating_light:",
        Tone::Warning => ":warning:",
    };
    let mut details = String::new();
    for (label, value) in n.detail_lines() {
        let value = match label.as_str() {
            "Screenshot" | "Monitor" => format!("<{}|{}>", escape(&value), label.to_lowercase()),
            _ => escape(&value),
        };
        details.push_str(&format!("*{label}:* {value}\n"));
    }
    let steps = n.step_lines();
    if !steps.is_empty() {
        details.push_str(&format!("```{}```", escape(&steps.join("\n"))));
    }
    let title = escape(&n.title());
    let mut message = json!({
        // The fallback text of notifications and screen readers.
        "text": format!("{title}: {}", escape(&n.summary)),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("{icon} *{title}*\n{}", escape(&n.summary))}},
            {"type": "section", "text": {"type": "mrkdwn", "text": details}},
        ],
    });
    if let Some(channel) = channel {
        message["channel"] = Value::String(channel.to_string());
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notification::tests::sample;
    use crate::alert::notification::Event;

    #[test]
    fn message_has_title_reason_and_links() {
        let mut n = sample(Event::Firing);
        n.reason = Some("expected <h1> to contain \"Thanks\" & more".into());
        let m = message(&n, Some("#shop-alerts"));
        assert_eq!(m["channel"], "#shop-alerts");
        let text = m["text"].as_str().unwrap();
        assert!(text.starts_with("[FIRING] JourneyStepFailed critical: demo-shop / checkout"));
        let details = m["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(details.contains("*Reason:* expected &lt;h1&gt; to contain \"Thanks\" &amp; more"));
        assert!(details.contains("|screenshot>"));
        assert!(details.contains("checkout: failed in 96 ms"));
        assert!(message(&n, None).get("channel").is_none());
    }
}
