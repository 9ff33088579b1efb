//! Generic webhook: the notification posted as JSON, exactly as [`Notification`] serializes
//! (the README documents it), with an optional HMAC-SHA256 signature of the body.
//!
//! With a `secret`, the header `X-Shopwatch-Signature-256: sha256=<hex>` carries
//! HMAC-SHA256(secret, body), as GitHub signs its webhooks; a receiver computes the same over
//! the raw body and compares in constant time. The body's `id` and `sent_at` let it drop
//! duplicates and replays.

use super::notification::Notification;
use super::sink::{accepted, SendError};

pub const SIGNATURE_HEADER: &str = "X-Shopwatch-Signature-256";
pub const EVENT_HEADER: &str = "X-Shopwatch-Event";

#[derive(Debug)]
pub struct Webhook {
    url: url::Url,
    secret: Option<String>,
    headers: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Webhook {
    pub fn new(
        url: url::Url,
        secret: Option<String>,
        headers: Vec<(String, String)>,
        http: reqwest::Client,
    ) -> Self {
        Webhook {
            url,
            secret,
            headers,
            http,
        }
    }

    pub async fn send(&self, notification: &Notification) -> Result<(), SendError> {
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
        let sent = request.body(body).send().await;
        accepted(sent).await
    }

    pub fn secrets(&self) -> Vec<String> {
        self.secret.iter().cloned().collect()
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
