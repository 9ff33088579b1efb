//! Slack incoming webhook: a message with the title, summary and details. The webhook URL is a
//! secret (whoever has it can post to the channel): give it as `{secret: env:NAME}`.

use super::notification::{Event, Notification};
use super::sink::{accepted, SendError};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct Slack {
    url: url::Url,
    channel: Option<String>,
    http: reqwest::Client,
}

impl Slack {
    pub fn new(url: url::Url, channel: Option<String>, http: reqwest::Client) -> Self {
        Slack { url, channel, http }
    }

    pub async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let sent = self
            .http
            .post(self.url.clone())
            .json(&message(notification, self.channel.as_deref()))
            .send()
            .await;
        accepted(sent).await
    }

    pub fn secrets(&self) -> Vec<String> {
        vec![self.url.to_string()]
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
    let icon = match n.event {
        Event::Resolved => ":white_check_mark:",
        Event::Test => ":test_tube:",
        _ if n.severity == "critical" => ":rotating_light:",
        _ => ":warning:",
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
