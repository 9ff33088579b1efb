//! What every sink's send shares: the HTTP client, the timeout, and [`SendError`], which tells
//! the delivery worker whether to try again.

use std::time::Duration;

/// How much of a refusing receiver's body an error keeps, and how much of the message is
/// shown.
pub const MAX_KEPT_BODY: usize = 64 * 1024;
const MAX_SHOWN: usize = 300;

/// How long one delivery attempt may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// The HTTP client of the sinks (the daemon's and `alert test`'s alike).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("shopwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client without special settings builds")
}

/// Why a delivery attempt failed. The message never holds a secret (URLs are left out: a
/// Slack webhook URL is one).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    /// Trying again will not help (HTTP 4xx other than 408/429, a refused address): the
    /// notification is dropped and counted as `rejected`.
    pub permanent: bool,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            permanent: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            permanent: true,
        }
    }

    /// An HTTP response that is not a success: permanent for 4xx except 408 and 429. The body
    /// is kept whole (up to [`MAX_KEPT_BODY`]): it is clipped by [`SendError::shown`] after
    /// redaction, so no secret is cut in half and shown in part.
    pub fn from_status(status: reqwest::StatusCode, body: &str) -> Self {
        let body: String = body.trim().chars().take(MAX_KEPT_BODY).collect();
        let message = if body.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {body}")
        };
        let retry = status.is_server_error()
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
        SendError {
            message,
            permanent: !retry,
        }
    }

    /// The message as logs and `alert test` show it: secrets redacted, then clipped.
    pub fn shown(&self, redactor: &crate::secret::redact::Redactor) -> String {
        clip(&redactor.redact(&self.message), MAX_SHOWN)
    }

    /// A request that got no response; the URL is left out, with the cause chain kept.
    pub fn from_reqwest(error: reqwest::Error) -> Self {
        SendError::transient(crate::error_chain::error_chain(&error.without_url()))
    }
}

/// The result of sending a request: `Ok` for a 2xx answer.
pub async fn accepted(sent: reqwest::Result<reqwest::Response>) -> Result<(), SendError> {
    let response = sent.map_err(SendError::from_reqwest)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    Err(SendError::from_status(status, &text))
}

/// Posts `body` as JSON to `url`, with `headers`: `Ok` for a 2xx answer.
pub async fn post_json(
    http: &reqwest::Client,
    url: url::Url,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
) -> Result<(), SendError> {
    let mut request = http.post(url).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    accepted(request.send().await).await
}

/// `text` cut to at most `max` characters, with `…` at the end when cut: the limits receivers
/// put on a field (a Discord title, a Telegram message) refuse the whole message otherwise.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_permanent_except_timeouts_and_rate_limits() {
        use reqwest::StatusCode;
        assert!(SendError::from_status(StatusCode::BAD_REQUEST, "").permanent);
        assert!(SendError::from_status(StatusCode::NOT_FOUND, "").permanent);
        assert!(!SendError::from_status(StatusCode::TOO_MANY_REQUESTS, "").permanent);
        assert!(!SendError::from_status(StatusCode::REQUEST_TIMEOUT, "").permanent);
        assert!(!SendError::from_status(StatusCode::SERVICE_UNAVAILABLE, "").permanent);
        assert_eq!(
            SendError::from_status(StatusCode::BAD_REQUEST, " bad label \n").message,
            "HTTP 400 Bad Request: bad label"
        );
    }

    /// A secret that a receiver echoes at the 200th character is redacted whole, then the
    /// message is clipped.
    #[test]
    fn a_secret_in_a_long_body_is_redacted_before_the_message_is_clipped() {
        use reqwest::StatusCode;
        let secret = "s3cr3t-token-value";
        let body = format!("{}{secret}{}", "x".repeat(190), "y".repeat(500));
        let e = SendError::from_status(StatusCode::BAD_REQUEST, &body);
        let mut redactor = crate::secret::redact::Redactor::default();
        redactor.add(secret);
        let shown = e.shown(&redactor);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains(crate::secret::redact::REDACTED), "{shown}");
        assert_eq!(shown.chars().count(), MAX_SHOWN);
    }

    #[test]
    fn clips_on_characters_and_says_so() {
        assert_eq!(clip("héllo", 5), "héllo");
        assert_eq!(clip("héllo wörld", 5), "héll…");
        assert_eq!(clip("", 0), "");
    }
}
