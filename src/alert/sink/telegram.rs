//! Telegram: a bot posts each notification to a chat with the Bot API's `sendMessage`, as HTML.
//! The bot token is a secret (it is the bot); it goes in the request's path, which is why no
//! error message shopwatch writes holds a URL.

use super::check::SinkCheck;
use super::send::{clip, post_json, SendError};
use super::{read_secret, sink_file, Deliver, Kind};
use crate::alert::notification::{Notification, Tone};
use crate::alert::SecretValue;
use crate::secret::redact::Redactor;
use crate::yaml::secret::VarFile;
use serde_json::{json, Value};

/// The Bot API.
pub const API_URL: &str = "https://api.telegram.org";
/// Telegram refuses a longer message.
const MAX_TEXT: usize = 4096;

sink_file! {
    /// `- telegram: {bot_token: {secret: ...}, chat_id: ...}`.
    {
        /// The token @BotFather gave the bot (a secret).
        bot_token: Option<VarFile>,
        /// The chat, group or channel: its numeric id, or `@channelname`.
        #[serde(default, deserialize_with = "crate::yaml::scalars::opt_scalar_text")]
        chat_id: Option<String>,
        /// Another Bot API server (a local one, or a test receiver).
        api_url: Option<VarFile>,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bot_token: SecretValue,
    pub chat_id: String,
    pub api_url: url::Url,
}

impl Kind for Settings {
    type File = File;
    type Sender = Telegram;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        let api_url = c.http_url("api_url", &file.api_url, Some(API_URL), API_URL);
        let bot_token = c.secret(
            "bot_token",
            &file.bot_token,
            "the Telegram bot token",
            "anyone who has it can act as the bot",
            "TELEGRAM_BOT_TOKEN",
        );
        let chat_id = c.text("chat_id", &file.chat_id, "-1001234567890");
        Some(Settings {
            bot_token: bot_token?,
            chat_id: chat_id?,
            api_url: api_url?,
        })
    }

    fn build(&self, http: &reqwest::Client) -> Result<Telegram, String> {
        let token = read_secret(&self.bot_token)?;
        if token.is_empty()
            || token.contains(['/', '?', '#'])
            || token.contains(char::is_whitespace)
        {
            return Err("the Telegram bot token read from the secret is not a bot token (it looks like `123456:ABC-DEF...`)".to_string());
        }
        let mut url = self.api_url.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has a path")
            .pop_if_empty()
            .push(&format!("bot{token}"))
            .push("sendMessage");
        Ok(Telegram {
            token,
            url,
            chat_id: self.chat_id.clone(),
            http: http.clone(),
        })
    }
}

#[derive(Debug)]
pub struct Telegram {
    token: String,
    /// `{api_url}/bot{token}/sendMessage`.
    url: url::Url,
    chat_id: String,
    http: reqwest::Client,
}

impl Deliver for Telegram {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let body = message(notification, &self.chat_id);
        post_json(&self.http, self.url.clone(), &[], &body).await
    }

    fn redact(&self, redactor: &mut Redactor) {
        redactor.add(&self.token);
    }
}

/// Telegram's HTML needs `&`, `<` and `>` escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `sendMessage` request for `n`.
pub fn message(n: &Notification, chat_id: &str) -> Value {
    let icon = match n.tone() {
        Tone::Resolved => "✅",
        Tone::Test => "🧪",
        Tone::Critical => "🚨",
        Tone::Warning => "⚠️",
    };
    let mut text = format!(
        "{icon} <b>{}</b>\n{}\n\n",
        escape(&n.title()),
        escape(&n.summary)
    );
    for (label, value) in n.detail_lines() {
        let value = match label.as_str() {
            "Screenshot" | "Monitor" => format!(
                "<a href=\"{}\">{}</a>",
                escape(&value).replace('"', "&quot;"),
                label.to_lowercase()
            ),
            _ => escape(&value),
        };
        text.push_str(&format!("<b>{label}:</b> {value}\n"));
    }
    let steps = n.step_lines();
    if !steps.is_empty() {
        text.push_str(&format!("<pre>{}</pre>", escape(&steps.join("\n"))));
    }
    // Cut before the limit; a cut tag would make Telegram refuse the HTML, so a long message
    // falls back to plain text.
    let (text, parse_mode) = if text.chars().count() <= MAX_TEXT {
        (text, Some("HTML"))
    } else {
        (clip(&n.plain_text(), MAX_TEXT), None)
    };
    let mut body = json!({
        "chat_id": chat_id,
        "text": text,
        "link_preview_options": {"is_disabled": true},
    });
    if let Some(mode) = parse_mode {
        body["parse_mode"] = Value::String(mode.to_string());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notification::tests::sample;
    use crate::alert::notification::Event;

    /// The fields of the Bot API's `sendMessage`: chat_id, text, parse_mode,
    /// link_preview_options.
    #[test]
    fn an_html_message_to_the_chat() {
        let mut n = sample(Event::Firing);
        n.reason = Some("expected <h1> & more".into());
        let m = message(&n, "-100123");
        assert_eq!(m["chat_id"], "-100123");
        assert_eq!(m["parse_mode"], "HTML");
        assert_eq!(m["link_preview_options"]["is_disabled"], true);
        let text = m["text"].as_str().unwrap();
        assert!(
            text.starts_with("🚨 <b>[FIRING] JourneyStepFailed critical: demo-shop / checkout</b>")
        );
        assert!(text.contains("<b>Reason:</b> expected &lt;h1&gt; &amp; more"));
        assert!(text.contains("<a href=\"http://127.0.0.1:9464/artifacts/"));
        assert!(text.contains("<pre>browse: ok in 812 ms\ncheckout: failed in 96 ms</pre>"));
    }

    #[test]
    fn a_message_over_the_limit_is_plain_text_within_it() {
        let mut n = sample(Event::Firing);
        n.reason = Some("<x>".repeat(3000));
        let m = message(&n, "1");
        assert!(m.get("parse_mode").is_none());
        assert_eq!(m["text"].as_str().unwrap().chars().count(), MAX_TEXT);
    }

    #[test]
    fn the_token_goes_in_the_path_and_a_bad_one_is_refused() {
        let settings = Settings {
            bot_token: SecretValue::Text("123456:ABC-DEF".into()),
            chat_id: "1".into(),
            api_url: url::Url::parse("http://127.0.0.1:1/tg/").unwrap(),
        };
        let http = reqwest::Client::new();
        let sender = settings.build(&http).unwrap();
        assert_eq!(
            sender.url.as_str(),
            "http://127.0.0.1:1/tg/bot123456:ABC-DEF/sendMessage"
        );
        let bad = Settings {
            bot_token: SecretValue::Text("12/../x".into()),
            ..settings
        };
        let problem = bad.build(&http).unwrap_err();
        assert!(problem.contains("not a bot token"), "{problem}");
        assert!(!problem.contains("12/../x"));
    }
}
