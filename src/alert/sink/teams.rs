//! Microsoft Teams: a Workflows webhook (the "Post to a channel when a webhook request is
//! received" workflow, which replaced Office 365 connectors), posted a message with one Adaptive
//! Card: title, summary, the details as facts, the steps, and buttons to the screenshot and to
//! shopwatch. The workflow URL carries its signature, so it is a secret.

use super::check::SinkCheck;
use super::send::{post_json, SendError};
use super::{read_secret_url, sink_file, Deliver, Kind};
use crate::alert::notification::{Notification, Tone};
use crate::alert::SecretValue;
use crate::secret::redact::Redactor;
use crate::yaml::secret::VarFile;
use serde_json::{json, Value};

sink_file! {
    /// `- teams: {url: {secret: ...}}`.
    {
        /// The workflow's HTTP POST URL (a secret).
        url: Option<VarFile>,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub url: SecretValue,
}

impl Kind for Settings {
    type File = File;
    type Sender = Teams;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        let url = c.secret(
            "url",
            &file.url,
            "the Teams workflow URL",
            "anyone who has it can post to the channel",
            "TEAMS_WORKFLOW_URL",
        )?;
        Some(Settings { url })
    }

    fn build(&self, http: &reqwest::Client) -> Result<Teams, String> {
        Ok(Teams {
            url: read_secret_url(&self.url, "Teams workflow URL")?,
            http: http.clone(),
        })
    }
}

#[derive(Debug)]
pub struct Teams {
    url: url::Url,
    http: reqwest::Client,
}

impl Deliver for Teams {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        post_json(&self.http, self.url.clone(), &[], &message(notification)).await
    }

    fn redact(&self, redactor: &mut Redactor) {
        redactor.add(self.url.as_str());
    }
}

/// The message posted for `n`: one Adaptive Card (schema 1.4, what Teams renders).
pub fn message(n: &Notification) -> Value {
    let color = match n.tone() {
        Tone::Resolved => "Good",
        Tone::Test => "Accent",
        Tone::Critical => "Attention",
        Tone::Warning => "Warning",
    };
    let links = ["Screenshot", "Monitor"];
    let facts: Vec<Value> = n
        .detail_lines()
        .into_iter()
        .filter(|(label, _)| !links.contains(&label.as_str()))
        .map(|(title, value)| json!({"title": title, "value": value}))
        .collect();
    let mut body = vec![
        json!({"type": "TextBlock", "text": n.title(), "weight": "Bolder", "size": "Medium", "color": color, "wrap": true}),
        json!({"type": "TextBlock", "text": n.summary, "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    let steps = n.step_lines();
    if !steps.is_empty() {
        body.push(json!({"type": "TextBlock", "text": steps.join("\n\n"), "fontType": "Monospace", "wrap": true, "isSubtle": true}));
    }
    let mut actions = Vec::new();
    if let Some(url) = &n.screenshot_url {
        actions.push(json!({"type": "Action.OpenUrl", "title": "Screenshot", "url": url}));
    }
    if let Some(url) = &n.monitor_url {
        actions.push(json!({"type": "Action.OpenUrl", "title": "shopwatch", "url": url}));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notification::tests::sample;
    use crate::alert::notification::Event;

    /// The envelope of Microsoft's documented workflow webhook example: a `message` with one
    /// attachment of content type `application/vnd.microsoft.card.adaptive`.
    #[test]
    fn one_adaptive_card_with_facts_and_links() {
        let m = message(&sample(Event::Firing));
        assert_eq!(m["type"], "message");
        let attachment = &m["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachment["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(
            card["body"][0]["text"],
            "[FIRING] JourneyStepFailed critical: demo-shop / checkout"
        );
        assert_eq!(card["body"][0]["color"], "Attention");
        let facts = card["body"][2]["facts"].as_array().unwrap();
        assert!(facts.contains(&json!({"title": "Reason", "value": "open /checkout: HTTP 500"})));
        assert!(card["body"][3]["text"]
            .as_str()
            .unwrap()
            .contains("checkout: failed in 96 ms"));
        assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
        assert_eq!(card["actions"][0]["title"], "Screenshot");
        assert_eq!(
            message(&sample(Event::Resolved))["attachments"][0]["content"]["body"][0]["color"],
            "Good"
        );
    }
}
