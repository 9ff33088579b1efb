//! Email over SMTP with lettre: plain, STARTTLS or implicit TLS, optional authentication.
//!
//! `smtp://host:port` is plain SMTP unless `tls: starttls` (then STARTTLS is required, never
//! silently skipped); `smtps://host:port` is implicit TLS. Certificates are verified against the
//! system roots and `ca_file`. Credentials are refused over plain SMTP to anything but this
//! machine (config validation says so), so a password never crosses a network in clear.

use super::check::SinkCheck;
use super::send::{SendError, SEND_TIMEOUT};
use super::{read_secret, sink_file, Deliver, Kind};
use crate::alert::notification::Notification;
use crate::error_chain::error_chain;
use crate::secret::redact::Redactor;
use crate::yaml::scalars::OneOrMany;
use crate::yaml::secret::VarFile;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

sink_file! {
    /// `- email: {smtp: ..., from: ..., to: [...]}`.
    {
        /// `smtp://host:port` or `smtps://host:port`.
        smtp: Option<String>,
        tls: Option<String>,
        username: Option<String>,
        password: Option<VarFile>,
        ca_file: Option<String>,
        from: Option<String>,
        to: Option<OneOrMany>,
    }
}

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
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<crate::alert::SecretValue>,
    /// PEM roots to verify the server with, besides the system's.
    pub ca_file: Option<PathBuf>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
}

impl Kind for Settings {
    type File = File;
    type Sender = Email;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        check(file, c)
    }

    fn build(&self, _http: &reqwest::Client) -> Result<Email, String> {
        let password = self.password.as_ref().map(read_secret).transpose()?;
        Email::new(self, password)
    }
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
    pub fn new(settings: &Settings, password: Option<String>) -> Result<Email, String> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .timeout(Some(SEND_TIMEOUT));
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

    /// The user and password it logs in with (SMTP AUTH sends them base64-encoded).
    pub fn login(&self) -> Option<(&str, &str)> {
        let password = self.password.as_deref()?;
        Some((self.username.as_deref().unwrap_or_default(), password))
    }
}

impl Deliver for Email {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let message = message(notification, &self.from, &self.to)
            .map_err(|e| SendError::permanent(format!("cannot build the email: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let text = error_chain(&e);
                if e.is_permanent() {
                    Err(SendError::permanent(text))
                } else {
                    Err(SendError::transient(text))
                }
            }
        }
    }

    fn redact(&self, redactor: &mut Redactor) {
        if let Some((user, password)) = self.login() {
            redactor.add_login(user, password);
        }
    }
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

fn check(s: &File, c: &mut SinkCheck) -> Option<Settings> {
    let path = c.path.clone();
    let path = path.as_str();
    let example = "smtp: smtp://127.0.0.1:25, or smtps://smtp.example.com:465";
    let Some(text) = &s.smtp else {
        c.checker.key_error_hint(
            path,
            "an email sink needs `smtp`",
            format!("the SMTP server, e.g. `{example}`"),
        );
        return None;
    };
    let at = format!("{path}.smtp");
    let url = match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "smtp" | "smtps") && url.host_str().is_some() => url,
        Ok(url) if !matches!(url.scheme(), "smtp" | "smtps") => {
            c.checker.error_hint(
                &at,
                format!(
                    "`{text}`: the scheme must be smtp or smtps, not `{}`",
                    url.scheme()
                ),
                format!("e.g. `{example}`"),
            );
            return None;
        }
        _ => {
            c.checker.error_hint(
                &at,
                format!("`{text}` is not an SMTP URL"),
                format!("e.g. `{example}`"),
            );
            return None;
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        c.checker.error_hint(
            &at,
            "credentials do not go in the `smtp` URL",
            "use `username:` and `password: {secret: env:SMTP_PASSWORD}`",
        );
    }
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let implicit = url.scheme() == "smtps";
    let tls = match s.tls.as_deref() {
        None if implicit => SmtpTls::Implicit,
        None => SmtpTls::None,
        Some(text) => {
            match SmtpTls::parse(text) {
                Some(SmtpTls::Implicit) if !implicit => {
                    c.checker.error_hint(&format!("{path}.tls"), "`tls: implicit` goes with an `smtps://` URL", "write `smtp: smtps://host:465`, or `tls: starttls` for STARTTLS on `smtp://`");
                    SmtpTls::Implicit
                }
                Some(SmtpTls::None | SmtpTls::StartTls) if implicit => {
                    c.checker.error_hint(&format!("{path}.tls"), format!("`tls: {text}` contradicts the `smtps://` URL, which is TLS from the start"), "leave `tls` out for `smtps://`, or use `smtp://` with it");
                    SmtpTls::Implicit
                }
                Some(tls) => tls,
                None => {
                    c.checker.error_hint(&format!("{path}.tls"), format!("`tls: {text}` is not known"), "use `starttls` (upgrade a plain connection), `implicit` (smtps://) or `none`");
                    SmtpTls::None
                }
            }
        }
    };
    let port = url.port().unwrap_or(match tls {
        SmtpTls::Implicit => 465,
        SmtpTls::StartTls => 587,
        SmtpTls::None => 25,
    });
    match (&s.username, &s.password) {
        (Some(_), None) => c.checker.error_hint(
            &format!("{path}.username"),
            "`username` without `password`",
            "add `password: {secret: env:SMTP_PASSWORD}`",
        ),
        (None, Some(_)) => c.checker.error_hint(
            &format!("{path}.password"),
            "`password` without `username`",
            "add the `username:` to log in with",
        ),
        _ => {}
    }
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if s.username.is_some() && tls == SmtpTls::None && !loopback {
        c.checker.error_hint(
            &format!("{path}.username"),
            format!("the password would cross the network to {host} unencrypted"),
            "use `tls: starttls` or an `smtps://` URL (plain SMTP with a login is only allowed to this machine)",
        );
    }
    if let Some(VarFile::Text(_)) = &s.password {
        c.checker.error_hint(
            &format!("{path}.password"),
            "the SMTP password is written in the configuration",
            "read it from a secret: `password: {secret: env:SMTP_PASSWORD}` or `{secret: file:/run/secrets/smtp}`",
        );
    }
    let password = s.password.as_ref().map(|v| c.var("password", v));
    let from = match &s.from {
        Some(text) => mailbox(c, &format!("{path}.from"), text),
        None => {
            c.checker.key_error_hint(
                path,
                "an email sink needs `from`",
                "the sender address, e.g. `from: shopwatch@example.com`",
            );
            None
        }
    };
    let mut to = Vec::new();
    match &s.to {
        Some(list) if !list.0.is_empty() => {
            for (i, text) in list.0.iter().enumerate() {
                let at = if c.checker.index.has(&format!("{path}.to[{i}]")) {
                    format!("{path}.to[{i}]")
                } else {
                    format!("{path}.to")
                };
                to.extend(mailbox(c, &at, text));
            }
        }
        _ => c.checker.error_hint(
            if s.to.is_some() {
                format!("{path}.to")
            } else {
                path.to_string()
            }
            .as_str(),
            "an email sink needs at least one address in `to`",
            "e.g. `to: [oncall@example.com]`",
        ),
    }
    if s.ca_file.is_some() && tls == SmtpTls::None {
        c.checker.key_error_hint(
            &format!("{path}.ca_file"),
            "`ca_file` is for TLS, and this sink uses plain SMTP",
            "add `tls: starttls` (or use `smtps://`), or leave `ca_file` out",
        );
    }
    Some(Settings {
        host,
        port,
        tls,
        username: s.username.clone(),
        password,
        ca_file: s.ca_file.as_ref().map(|f| c.dir.join(f)),
        from: from?,
        to,
    })
}

fn mailbox(c: &mut SinkCheck, path: &str, text: &str) -> Option<Mailbox> {
    match text.parse() {
        Ok(mailbox) => Some(mailbox),
        Err(e) => {
            c.checker.error_hint(
                path,
                format!("`{text}` is not an email address: {e}"),
                "write `name@example.com`, or `Name <name@example.com>`",
            );
            None
        }
    }
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
