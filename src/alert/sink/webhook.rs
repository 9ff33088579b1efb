//! Generic webhook: the notification posted as JSON, exactly as [`Notification`] serializes
//! (the README documents it), with an optional HMAC-SHA256 signature of the body.
//!
//! With a `secret`, the header `X-Shopwatch-Signature-256: sha256=<hex>` carries
//! HMAC-SHA256(secret, body), as GitHub signs its webhooks; a receiver computes the same over
//! the raw body and compares in constant time. The body's `id` and `sent_at` let it drop
//! duplicates and replays.

use super::check::SinkCheck;
use super::send::{accepted, SendError};
use super::{read_secret, sink_file, Deliver, Kind};
use crate::alert::notification::Notification;
use crate::alert::SecretValue;
use crate::secret::redact::Redactor;
use crate::yaml::secret::VarFile;
use std::collections::BTreeMap;

pub const SIGNATURE_HEADER: &str = "X-Shopwatch-Signature-256";
pub const EVENT_HEADER: &str = "X-Shopwatch-Event";

sink_file! {
    /// `- webhook: {url: ..., secret: ..., headers: {...}}`.
    {
        url: Option<VarFile>,
        /// HMAC-SHA256 key.
        secret: Option<VarFile>,
        /// Extra request headers.
        headers: Option<BTreeMap<String, String>>,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub url: url::Url,
    pub secret: Option<SecretValue>,
    pub headers: Vec<(String, String)>,
}

impl Kind for Settings {
    type File = File;
    type Sender = Webhook;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        let url = c.http_url(
            "url",
            &file.url,
            None,
            "https://hooks.example.com/shopwatch",
        );
        let secret = file.secret.as_ref().map(|v| c.var("secret", v));
        let headers = c.headers("headers", file.headers.as_ref());
        Some(Settings {
            url: url?,
            secret,
            headers,
        })
    }

    fn build(&self, http: &reqwest::Client) -> Result<Webhook, String> {
        Ok(Webhook {
            url: self.url.clone(),
            secret: self.secret.as_ref().map(read_secret).transpose()?,
            headers: self.headers.clone(),
            http: http.clone(),
        })
    }
}

#[derive(Debug)]
pub struct Webhook {
    url: url::Url,
    secret: Option<String>,
    headers: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Deliver for Webhook {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let body = serde_json::to_vec(notification).expect("a notification serializes");
        let mut request = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_HEADER, notification.event.as_str());
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret.as_bytes(), &body));
        }
        accepted(request.body(body).send().await).await
    }

    fn redact(&self, redactor: &mut Redactor) {
        self.secret.iter().for_each(|s| redactor.add(s));
    }
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_rfc_4231() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
