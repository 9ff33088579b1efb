//! [`Sink`]: where notifications go. One enum is the extension point, one file per kind; a new
//! kind is a variant here, its settings in [`SinkSettings`], its file, and the compiler points
//! at every `match` that must learn it.

use super::notification::Notification;
use super::{alertmanager, email, slack, webhook, Filter, SecretValue, SinkConfig, SinkSettings};
use crate::journey::secrets;
use std::time::Duration;

/// How long one delivery attempt may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// The HTTP client of the sinks (the daemon's and `alert test`'s alike).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("shopwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client without special settings builds")
}

/// A sink ready to send: its secrets read.
#[derive(Debug)]
pub struct Sink {
    pub name: String,
    pub filter: Filter,
    pub kind: SinkKind,
}

#[derive(Debug)]
pub enum SinkKind {
    Alertmanager(alertmanager::Alertmanager),
    Webhook(webhook::Webhook),
    Slack(slack::Slack),
    Email(email::Email),
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

    /// An HTTP response that is not a success: permanent for 4xx except 408 and 429.
    pub fn from_status(status: reqwest::StatusCode, body: &str) -> Self {
        let body: String = body.trim().chars().take(200).collect();
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

    /// A request that got no response; the URL is left out, with the cause chain kept.
    pub fn from_reqwest(error: reqwest::Error) -> Self {
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        SendError::transient(message)
    }
}

/// The result of posting to a receiver: `Ok` for a 2xx answer.
pub async fn accepted(sent: reqwest::Result<reqwest::Response>) -> Result<(), SendError> {
    let response = sent.map_err(SendError::from_reqwest)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    Err(SendError::from_status(status, &text))
}

/// A secret a sink needs could not be read.
#[derive(Debug, thiserror::Error)]
#[error("alerting sink `{sink}`: {problem}")]
pub struct SinkSecretError {
    pub sink: String,
    pub problem: String,
}

impl Sink {
    /// The sink for `config`, its secrets read from the environment or files.
    pub fn build(config: &SinkConfig, http: &reqwest::Client) -> Result<Sink, SinkSecretError> {
        let read = |value: &SecretValue| {
            read_secret(value).map_err(|problem| SinkSecretError {
                sink: config.name.clone(),
                problem,
            })
        };
        let kind = match &config.kind {
            SinkSettings::Alertmanager { url } => {
                SinkKind::Alertmanager(alertmanager::Alertmanager::new(url.clone(), http.clone()))
            }
            SinkSettings::Webhook {
                url,
                secret,
                headers,
            } => SinkKind::Webhook(webhook::Webhook::new(
                url.clone(),
                secret.as_ref().map(read).transpose()?,
                headers.clone(),
                http.clone(),
            )),
            SinkSettings::Slack { url, channel } => {
                let url = read(url)?;
                let url = url::Url::parse(&url).map_err(|e| SinkSecretError {
                    sink: config.name.clone(),
                    problem: format!(
                        "the Slack webhook URL read from the secret is not a URL ({e})"
                    ),
                })?;
                SinkKind::Slack(slack::Slack::new(url, channel.clone(), http.clone()))
            }
            SinkSettings::Email(settings) => {
                let password = settings.password.as_ref().map(read).transpose()?;
                SinkKind::Email(email::Email::new(settings, password).map_err(|problem| {
                    SinkSecretError {
                        sink: config.name.clone(),
                        problem,
                    }
                })?)
            }
        };
        Ok(Sink {
            name: config.name.clone(),
            filter: config.filter.clone(),
            kind,
        })
    }

    pub fn kind(&self) -> &'static str {
        match &self.kind {
            SinkKind::Alertmanager(_) => "alertmanager",
            SinkKind::Webhook(_) => "webhook",
            SinkKind::Slack(_) => "slack",
            SinkKind::Email(_) => "email",
        }
    }

    /// Sends one notification: `Ok` once the receiver accepted it.
    pub async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let sending = async {
            match &self.kind {
                SinkKind::Alertmanager(s) => s.send(notification).await,
                SinkKind::Webhook(s) => s.send(notification).await,
                SinkKind::Slack(s) => s.send(notification).await,
                SinkKind::Email(s) => s.send(notification).await,
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, sending).await {
            Ok(result) => result,
            Err(_) => Err(SendError::transient(format!(
                "no answer within {}s",
                SEND_TIMEOUT.as_secs()
            ))),
        }
    }

    /// How often a firing alert is sent again, when the sink needs more than the `repeat`
    /// reminders: Alertmanager forgets an alert that is not re-posted (it resolves it at its
    /// `endsAt`), so it gets every firing alert every minute, as Prometheus does.
    pub fn refresh(&self) -> Option<Duration> {
        match &self.kind {
            SinkKind::Alertmanager(_) => Some(alertmanager::REFRESH),
            _ => None,
        }
    }

    /// A redactor for the secret values this sink holds, to keep them out of everything
    /// shopwatch writes.
    pub fn redactor(&self) -> secrets::Redactor {
        let mut redactor = secrets::Redactor::default();
        match &self.kind {
            SinkKind::Alertmanager(_) => {}
            SinkKind::Webhook(s) => s.secrets().iter().for_each(|v| redactor.add(v)),
            SinkKind::Slack(s) => s.secrets().iter().for_each(|v| redactor.add(v)),
            SinkKind::Email(s) => {
                if let Some((user, password)) = s.login() {
                    redactor.add_login(user, password);
                }
            }
        }
        redactor
    }
}

/// The value of a setting that may be a secret; the problem as text.
pub fn read_secret(value: &SecretValue) -> Result<String, String> {
    match value {
        SecretValue::Text(text) => Ok(text.clone()),
        SecretValue::Secret(source) => secrets::read_secret(source),
    }
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
}
