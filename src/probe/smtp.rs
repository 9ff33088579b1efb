//! The `smtp` probe: the mail server that sends the shop's order confirmations. Connect, read
//! the 220 greeting, EHLO and its extensions, then by `tls`: STARTTLS offered and working
//! (the default, for ports 25 and 587), TLS from the first byte (`implicit`, port 465), or
//! none; the certificate chain and name verified as the tls probe does, and its expiry
//! exported with the tls metrics. EHLO again over TLS, then QUIT: nothing is sent.
//!
//! `failed` when the server refuses, greets with anything but 220, does not offer or finish
//! STARTTLS, or its certificate does not verify; the reason quotes the server's reply.

use super::imap;
use super::mail::{quoted, Endpoint, Io, Lines, Login, LoginFile, Protection};
use super::{Kind, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{opt_scalar_text, scalar_text};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};

/// Lines in one reply at most: an EHLO lists a dozen extensions.
const MAX_REPLY_LINES: usize = 100;

/// A validated `smtp` probe.
#[derive(Debug, Clone)]
pub struct SmtpProbe {
    pub name: String,
    pub endpoint: Endpoint,
    /// The name shopwatch introduces itself with in EHLO.
    pub ehlo: String,
    /// AUTH with these after EHLO (over TLS).
    pub auth: Option<Login>,
    pub delivery: Option<Delivery>,
    pub every: Duration,
    pub timeout: Duration,
    pub slow: Option<Duration>,
}

/// The delivery check: a message sent `from` → `to` through the server must show up in the
/// `mailbox` within `within`.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub from: lettre::message::Mailbox,
    pub to: lettre::message::Mailbox,
    pub within: Duration,
    pub mailbox: DeliveryMailbox,
}

/// Where the delivered message is looked for: an IMAP mailbox.
#[derive(Debug, Clone)]
pub struct DeliveryMailbox {
    pub endpoint: Endpoint,
    pub login: Login,
    /// Default INBOX.
    pub mailbox: String,
}

/// One SMTP reply: its code and its lines' texts (after the code).
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn shown(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
}

/// An SMTP connection after EHLO, on TLS when the endpoint asks for it, and the extensions
/// the server offered there (each line after the first of the EHLO reply).
struct Session {
    lines: Lines<Box<dyn Io>>,
    extensions: Vec<String>,
}

/// The extension `name`'s parameters, when offered (`AUTH PLAIN LOGIN` → `PLAIN LOGIN`).
fn offers<'a>(extensions: &'a [String], name: &str) -> Option<&'a str> {
    extensions.iter().find_map(|line| {
        let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
        keyword.eq_ignore_ascii_case(name).then_some(rest)
    })
}

/// The extensions' keywords, for a reason.
fn extension_names(extensions: &[String]) -> String {
    extensions
        .iter()
        .filter_map(|e| e.split_whitespace().next())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Session {
    /// Sends `line` (named `shown` in reasons: never a password) and reads the reply.
    async fn command(
        &mut self,
        line: &str,
        shown: &str,
        p: &mut Probing,
    ) -> Result<Reply, Verdict> {
        self.lines.send(line, shown).await?;
        reply(&mut self.lines, p, "waiting for the server's reply").await
    }

    /// `line`, whose reply must have code `want`.
    async fn expect(
        &mut self,
        line: &str,
        shown: &str,
        want: &[u16],
        p: &mut Probing,
    ) -> Result<Reply, Verdict> {
        let reply = self.command(line, shown, p).await?;
        if want.contains(&reply.code) {
            Ok(reply)
        } else {
            Err(Verdict::failed(format!(
                "{shown} refused: {}",
                reply.shown()
            )))
        }
    }
}

impl SmtpProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        match self.session(p).await {
            Ok(()) => Verdict::ok(),
            Err(verdict) => verdict,
        }
    }

    async fn session(&self, p: &mut Probing) -> Result<(), Verdict> {
        let password = self.auth.as_ref().map(Login::password).transpose()?;
        let mut session = self.open(p).await?;
        if let (Some(login), Some(password)) = (&self.auth, password) {
            authenticate(&mut session, login, &password, p).await?;
        }
        let Some(delivery) = &self.delivery else {
            // QUIT, politely; the check has passed whatever the server answers to it.
            let _ = session.command("QUIT", "QUIT", p).await;
            return Ok(());
        };
        let token = delivery_token();
        let subject = format!("{} {token}", delivery_subject(&self.name));
        self.send(&mut session, delivery, &subject, p).await?;
        let sent = Instant::now();
        let _ = session.command("QUIT", "QUIT", p).await;
        delivery.await_arrival(&self.name, &subject, sent, p).await
    }

    /// Connects, reads the 220 greeting and sends EHLO; with `starttls` the server must offer
    /// it, the upgrade must work, and EHLO is sent again over TLS.
    async fn open(&self, p: &mut Probing) -> Result<Session, Verdict> {
        let tcp = self.endpoint.connect(p).await?;
        let stream: Box<dyn Io> = match self.endpoint.tls {
            Protection::Implicit => Box::new(self.endpoint.secure(tcp, &self.name, p).await?),
            Protection::None => Box::new(tcp),
            Protection::StartTls => return self.upgrade(tcp, p).await,
        };
        let mut lines = Lines::new(stream);
        let extensions = self.greeting_and_ehlo(&mut lines, p).await?;
        Ok(Session { lines, extensions })
    }

    /// STARTTLS on the plain connection, then EHLO again over TLS.
    async fn upgrade(
        &self,
        tcp: tokio::net::TcpStream,
        p: &mut Probing,
    ) -> Result<Session, Verdict> {
        let mut plain = Lines::new(tcp);
        let extensions = self.greeting_and_ehlo(&mut plain, p).await?;
        if offers(&extensions, "STARTTLS").is_none() {
            return Err(Verdict::failed(format!(
                "the server does not offer STARTTLS (its extensions: {})",
                extension_names(&extensions)
            )));
        }
        plain.send("STARTTLS", "STARTTLS").await?;
        let started = reply(&mut plain, p, "waiting for the server's reply").await?;
        if started.code != 220 {
            return Err(Verdict::failed(format!(
                "STARTTLS refused: {}",
                started.shown()
            )));
        }
        let tls = self
            .endpoint
            .secure(plain.into_inner(), &self.name, p)
            .await?;
        let mut lines = Lines::new(Box::new(tls) as Box<dyn Io>);
        lines.send(&format!("EHLO {}", self.ehlo), "EHLO").await?;
        let ehlo = reply(&mut lines, p, "waiting for the server's reply").await?;
        if ehlo.code != 250 {
            return Err(Verdict::failed(format!(
                "EHLO over TLS refused: {}",
                ehlo.shown()
            )));
        }
        let extensions = ehlo.lines.into_iter().skip(1).collect();
        Ok(Session { lines, extensions })
    }

    /// The 220 greeting, then EHLO; the extensions the server lists.
    async fn greeting_and_ehlo<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        lines: &mut Lines<S>,
        p: &mut Probing,
    ) -> Result<Vec<String>, Verdict> {
        let greeting = reply(lines, p, "waiting for the greeting").await?;
        if greeting.code != 220 {
            return Err(Verdict::failed(format!(
                "the server greets with {} instead of 220",
                greeting.shown()
            )));
        }
        let command = format!("EHLO {}", self.ehlo);
        lines.send(&command, "EHLO").await?;
        let ehlo = reply(lines, p, "waiting for the server's reply").await?;
        if ehlo.code != 250 {
            return Err(Verdict::failed(format!("EHLO refused: {}", ehlo.shown())));
        }
        // The first line is the server's name; each further one an extension and its words.
        Ok(ehlo.lines.into_iter().skip(1).collect())
    }

    /// The mail transaction: MAIL FROM, RCPT TO, DATA with the message (dot-stuffed).
    async fn send(
        &self,
        session: &mut Session,
        delivery: &Delivery,
        subject: &str,
        p: &mut Probing,
    ) -> Result<(), Verdict> {
        let message = delivery.message(&self.name, &self.endpoint, subject)?;
        let from = format!("MAIL FROM:<{}>", delivery.from.email);
        session.expect(&from, &from, &[250], p).await?;
        let to = format!("RCPT TO:<{}>", delivery.to.email);
        session.expect(&to, &to, &[250, 251], p).await?;
        session.expect("DATA", "DATA", &[354], p).await?;
        let text = String::from_utf8_lossy(&message);
        for line in text.trim_end_matches("\r\n").split("\r\n") {
            let stuffed = if line.starts_with('.') {
                format!(".{line}")
            } else {
                line.to_string()
            };
            session.lines.send(&stuffed, "the message").await?;
        }
        p.doing = "waiting for the server to accept the message";
        session
            .expect(".", "the message", &[250], p)
            .await
            .map(|_| ())
    }
}

/// AUTH with PLAIN, or LOGIN where the server offers only that; 235 expected.
async fn authenticate(
    session: &mut Session,
    login: &Login,
    password: &str,
    p: &mut Probing,
) -> Result<(), Verdict> {
    use base64::Engine;
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let auth_line = offers(&session.extensions, "AUTH").filter(|m| !m.trim().is_empty());
    let Some(mechanisms) = auth_line.map(str::to_ascii_uppercase) else {
        return Err(Verdict::failed(format!(
            "the server does not offer AUTH (its extensions: {})",
            extension_names(&session.extensions)
        )));
    };
    let shown = format!("AUTH as {}", login.user);
    let offered = |m: &str| mechanisms.split_whitespace().any(|o| o == m);
    let reply = if offered("PLAIN") {
        let credentials = b64(&format!("\0{}\0{password}", login.user));
        session
            .command(&format!("AUTH PLAIN {credentials}"), &shown, p)
            .await?
    } else if offered("LOGIN") {
        session.expect("AUTH LOGIN", &shown, &[334], p).await?;
        session.expect(&b64(&login.user), &shown, &[334], p).await?;
        session.command(&b64(password), &shown, p).await?
    } else {
        return Err(Verdict::failed(format!(
            "the server offers AUTH {mechanisms}; shopwatch logs in with PLAIN or LOGIN"
        )));
    };
    if reply.code == 235 {
        Ok(())
    } else {
        Err(Verdict::failed(format!(
            "{shown} refused: {}",
            reply.shown()
        )))
    }
}

/// The start of every delivery-check subject of probe `name`: a search for it finds the
/// messages of earlier runs too, which are deleted with the one found.
fn delivery_subject(name: &str) -> String {
    format!("shopwatch delivery check: {name}")
}

/// Unique per message: the time, the process and a counter (unique, not secret).
fn delivery_token() -> String {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{now:x}.{:x}.{n}", std::process::id())
}

impl Delivery {
    /// The message, as lettre formats it (headers encoded, CRLF line ends).
    fn message(&self, probe: &str, endpoint: &Endpoint, subject: &str) -> Result<Vec<u8>, Verdict> {
        let body = format!(
            "shopwatch's smtp probe `{probe}` sent this through {}:{} to check that mail \
             arrives in {}. It deletes the message when it finds it.\r\n",
            endpoint.host, endpoint.port, self.mailbox.mailbox
        );
        lettre::Message::builder()
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body)
            .map(|message| message.formatted())
            .map_err(|e| Verdict::error(format!("making the delivery check's message: {e}")))
    }

    /// Looks for the message in the mailbox until `within` after `sent`, each second; when
    /// found, deletes it (and any earlier run's that arrived late) and records how long it
    /// took. The mailbox's own connection is not the probe's: its phases and certificate stay
    /// out of the probe's metrics.
    async fn await_arrival(
        &self,
        probe: &str,
        subject: &str,
        sent: Instant,
        p: &mut Probing,
    ) -> Result<(), Verdict> {
        p.doing = "waiting for the message in the mailbox";
        let deadline = tokio::time::Instant::from_std(sent + self.within);
        let target = format!(
            "{}:{}",
            self.mailbox.endpoint.host, self.mailbox.endpoint.port
        );
        let in_mailbox = |verdict: Verdict| Verdict {
            reason: verdict.reason.map(|r| {
                format!(
                    "the delivery check's mailbox {} at {target}: {r}",
                    self.mailbox.mailbox
                )
            }),
            ..verdict
        };
        let not_arrived = || {
            Verdict::failed(format!(
                "the message sent through the server did not arrive in {} at {target} within {} (subject `{subject}`)",
                self.mailbox.mailbox,
                humantime::format_duration(self.within)
            ))
        };
        let password = self.mailbox.login.password()?;
        let mut own = Probing::default();
        let looked = tokio::time::timeout_at(deadline, async {
            let mailbox = &self.mailbox;
            let mut session = imap::Session::open(&mailbox.endpoint, probe, &mut own).await?;
            session.login(&mailbox.login, &password, &mut own).await?;
            session.select(&mailbox.mailbox, &mut own).await?;
            loop {
                let found = session.search_subject(subject, &mut own).await?;
                if !found.is_empty() {
                    let ours = session
                        .search_subject(&delivery_subject(probe), &mut own)
                        .await?;
                    let arrived = sent.elapsed();
                    session.delete(&ours, &mut own).await?;
                    session.logout(&mut own).await;
                    return Ok(arrived);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
        .await;
        match looked {
            Ok(Ok(arrived)) => {
                p.metrics.delivery = Some(arrived);
                Ok(())
            }
            Ok(Err(verdict)) => Err(in_mailbox(verdict)),
            Err(_) => Err(not_arrived()),
        }
    }
}

/// Reads one reply: lines `250-...` until the last, `250 ...` (RFC 5321 4.2.1).
async fn reply<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Lines<S>,
    p: &mut Probing,
    what: &'static str,
) -> Result<Reply, Verdict> {
    let mut lines = Vec::new();
    loop {
        let line = session.read(p, what).await?;
        if lines.len() >= MAX_REPLY_LINES {
            return Err(Verdict::failed(format!(
                "the server's reply is over {MAX_REPLY_LINES} lines: not SMTP"
            )));
        }
        let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
        let (Some(code), separator) = (code, line.as_bytes().get(3).copied()) else {
            return Err(Verdict::failed(format!(
                "the server does not speak SMTP: {}",
                quoted(&line)
            )));
        };
        lines.push(line.get(4..).unwrap_or("").to_string());
        if separator != Some(b'-') {
            return Ok(Reply { code, lines });
        }
    }
}

impl Kind for SmtpProbe {
    type File = SmtpProbeFile;
    kind_basics!(SmtpProbeFile, slow);

    fn validate(c: &mut Checker, path: &str, s: &SmtpProbeFile) -> SmtpProbe {
        let endpoint = Endpoint::validate(c, path, &s.endpoint(), 465);
        let (every, timeout) = c.schedule(path, &s.every, &s.timeout);
        let auth_path = format!("{path}.auth");
        let auth = s.auth.as_ref().map(|a| Login::validate(c, &auth_path, a));
        if auth.is_some() && endpoint.tls == Protection::None {
            c.error_hint(
                &auth_path,
                "AUTH over `tls: none` would send the password in clear text",
                "use `tls: starttls` (ports 25, 587) or `implicit` (465), or leave `auth` out",
            );
        }
        let delivery = s
            .delivery
            .as_ref()
            .map(|d| Delivery::validate(c, &format!("{path}.delivery"), d, timeout));
        SmtpProbe {
            name: s.name.clone(),
            endpoint,
            ehlo: s
                .ehlo
                .clone()
                .unwrap_or_else(|| "shopwatch.invalid".to_string()),
            auth,
            delivery,
            every,
            timeout,
            slow: c.opt_duration(&format!("{path}.slow"), &s.slow),
        }
    }

    fn secrets(&self) -> Vec<&crate::secret::Var> {
        let auth = self.auth.iter().map(|l| &l.password);
        let mailbox = self.delivery.iter().map(|d| &d.mailbox.login.password);
        auth.chain(mailbox).collect()
    }
}

impl Delivery {
    /// `delivery:` at `path`; its `within` must end before the probe's `timeout`.
    fn validate(c: &mut Checker, path: &str, d: &DeliveryFile, timeout: Duration) -> Delivery {
        let mut address = |key: &str, text: &str| {
            text.parse::<lettre::message::Mailbox>().unwrap_or_else(|e| {
                c.error_hint(
                    &format!("{path}.{key}"),
                    format!("`{text}` is not a mail address: {e}"),
                    "an address such as `monitor@shop.example` or `Shop Monitor <monitor@shop.example>`",
                );
                lettre::message::Mailbox::new(None, lettre::Address::new("invalid", "invalid.invalid").expect("a valid address"))
            })
        };
        let from = address("from", &d.from);
        let to = address("to", &d.to);
        let within_path = format!("{path}.within");
        let within = c.duration(&within_path, &d.within).unwrap_or(timeout);
        if within >= timeout {
            c.error_hint(
                &within_path,
                format!(
                    "`within: {}` is not shorter than the probe's timeout {}: the timeout bounds the whole run, sending included",
                    d.within,
                    humantime::format_duration(timeout)
                ),
                "set the probe's `timeout` to `within` plus time to send (e.g. 30s more), and `every` to at least that",
            );
        }
        let imap = &d.imap;
        let imap_path = format!("{path}.imap");
        Delivery {
            from,
            to,
            within,
            mailbox: DeliveryMailbox {
                endpoint: Endpoint::validate(c, &imap_path, &imap.endpoint(), 993),
                login: Login::validate(c, &format!("{imap_path}.login"), &imap.login),
                mailbox: imap.mailbox.clone().unwrap_or_else(|| "INBOX".to_string()),
            },
        }
    }
}

mail_file! {
    /// `- smtp:` as written; values stay text until [`super::validate_probes`].
    pub struct SmtpProbeFile {
        pub name: String,
        pub ehlo: Option<String>,
        /// `{user, password: {secret: ...}}`: AUTH after EHLO.
        pub auth: Option<LoginFile>,
        pub delivery: Option<Box<DeliveryFile>>,
        #[serde(deserialize_with = "scalar_text")]
        pub every: String,
        #[serde(default, deserialize_with = "opt_scalar_text")]
        pub timeout: Option<String>,
        #[serde(default, deserialize_with = "opt_scalar_text")]
        pub slow: Option<String>,
    }
}

/// `delivery:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFile {
    pub from: String,
    pub to: String,
    /// How long the message may take to arrive.
    #[serde(deserialize_with = "scalar_text")]
    pub within: String,
    /// The mailbox `to` delivers into.
    pub imap: DeliveryMailboxFile,
}

mail_file! {
    /// `delivery.imap:` as written: the imap probe's connection keys, a login and the mailbox.
    pub struct DeliveryMailboxFile {
        pub login: LoginFile,
        /// Default INBOX.
        pub mailbox: Option<String>,
    }
}
