//! Email over SMTP with lettre: plain, STARTTLS or implicit TLS, optional authentication.
//!
//! `smtp://host:port` is plain SMTP unless `tls: starttls` (then STARTTLS is required, never
//! silently skipped); `smtps://host:port` is implicit TLS. Certificates are verified against the
//! system roots and `ca_file`. Credentials are refused over plain SMTP to anything but this
//! machine (config validation says so), so a password never crosses a network in clear.

use super::notification::Notification;
use super::sink::SendError;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (only sensible to a relay on the same machine or network).
    None,
    /// Plain connection upgraded with STARTTLS; fails if the server does not offer it.
    StartTls,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Implicit,
}

impl SmtpTls {
    pub const NAMES: &'static [&'static str] = &["none", "starttls", "implicit"];

    pub fn parse(text: &str) -> Option<SmtpTls> {
        match text {
            "none" => Some(SmtpTls::None),
            "starttls" => Some(SmtpTls::StartTls),
            "implicit" => Some(SmtpTls::Implicit),
            _ => None,
        }
    }
}

/// `email:` validated (the password not yet read).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<super::SecretValue>,
    /// PEM roots to verify the server with, besides the system's.
    pub ca_file: Option<PathBuf>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
}

#[derive(Debug)]
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    username: Option<String>,
    password: Option<String>,
}

impl Email {
    /// The transport for `settings`; what is wrong (an unreadable `ca_file`) as text.
    pub fn new(settings: &EmailSettings, password: Option<String>) -> Result<Email, String> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .timeout(Some(super::sink::SEND_TIMEOUT));
        if settings.tls != SmtpTls::None {
            let mut parameters = TlsParameters::builder(settings.host.clone());
            if let Some(ca_file) = &settings.ca_file {
                let pem = match crate::capped::read(ca_file, crate::capped::CA_FILE) {
                    Ok(pem) => pem,
                    Err(crate::capped::ReadError::TooLarge { cap }) => {
                        return Err(format!(
                            "ca_file {} holds more than {}, the most a CA file may be: point `ca_file` at a PEM file with only the CA certificates to trust",
                            ca_file.display(),
                            crate::capped::size(cap)
                        ))
                    }
                    Err(e) => return Err(format!("cannot read ca_file {}: {e}", ca_file.display())),
                };
                let certificate = Certificate::from_pem(&pem).map_err(|e| {
                    format!(
                        "ca_file {} holds no PEM certificate: {e}",
                        ca_file.display()
                    )
                })?;
                parameters = parameters.add_root_certificate(certificate);
            }
            let parameters = parameters
                .build_rustls()
                .map_err(|e| format!("cannot set up TLS for {}: {e}", settings.host))?;
            builder = builder.tls(match settings.tls {
                SmtpTls::Implicit => Tls::Wrapper(parameters),
                _ => Tls::Required(parameters),
            });
        }
        if let Some(username) = &settings.username {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.clone().unwrap_or_default(),
            ));
        }
        Ok(Email {
            transport: builder.build(),
            from: settings.from.clone(),
            to: settings.to.clone(),
            username: settings.username.clone(),
            password,
        })
    }

    pub async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let message = message(notification, &self.from, &self.to)
            .map_err(|e| SendError::permanent(format!("cannot build the email: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let text = describe(&e);
                if e.is_permanent() {
                    Err(SendError::permanent(text))
                } else {
                    Err(SendError::transient(text))
                }
            }
        }
    }

    /// The user and password it logs in with (SMTP AUTH sends them base64-encoded).
    pub fn login(&self) -> Option<(&str, &str)> {
        let password = self.password.as_deref()?;
        Some((self.username.as_deref().unwrap_or_default(), password))
    }
}

/// lettre's error with its causes ("Connection error: Connection refused (os error 111)").
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The email for `notification`: the title as subject, the plain text as body.
pub fn message(
    notification: &Notification,
    from: &Mailbox,
    to: &[Mailbox],
) -> Result<Message, lettre::error::Error> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(notification.title())
        .header(ContentType::TEXT_PLAIN);
    for mailbox in to {
        builder = builder.to(mailbox.clone());
    }
    builder.body(notification.plain_text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notification::{tests::sample, Event};

    #[test]
    fn subject_is_the_title_and_body_the_details() {
        let from: Mailbox = "shopwatch@example.com".parse().unwrap();
        let to: Vec<Mailbox> = vec!["oncall@example.com".parse().unwrap()];
        let message = message(&sample(Event::Firing), &from, &to).unwrap();
        let text = String::from_utf8(message.formatted()).unwrap();
        assert!(text.contains("Subject: [FIRING] JourneyStepFailed critical: demo-shop / checkout"));
        assert!(text.contains("To: oncall@example.com"));
        assert!(text.contains("Reason: open /checkout: HTTP 500"));
    }
}
