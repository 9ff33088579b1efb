//! The `imap` probe: the mailbox customers' mail lands in. Connect, read the `* OK` greeting,
//! STARTTLS offered and working (or TLS from the first byte on port 993, or none), the
//! certificate verified as the tls probe does; then, with `login`, LOGIN with the password
//! secret and SELECT the `mailbox`; LOGOUT.
//!
//! `failed` when the server refuses, greets with anything but `* OK`, does not offer or finish
//! STARTTLS, its certificate does not verify, the login is refused or the mailbox cannot be
//! selected (the reason quotes the server, never the password); `error` for the monitor's own
//! faults (an unreadable password secret).

use super::mail::{quoted, Endpoint, Io, Lines, Login, LoginFile, Protection};
use super::{Kind, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{opt_scalar_text, scalar_text};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Untagged lines before a command's reply at most: a SELECT sends a dozen.
const MAX_UNTAGGED: usize = 1000;

/// A validated `imap` probe.
#[derive(Debug, Clone)]
pub struct ImapProbe {
    pub name: String,
    pub endpoint: Endpoint,
    pub login: Option<Login>,
    /// Selected after the login.
    pub mailbox: String,
    pub every: Duration,
    pub timeout: Duration,
    pub slow: Option<Duration>,
}

impl ImapProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        match self.session(p).await {
            Ok(()) => Verdict::ok(),
            Err(verdict) => verdict,
        }
    }

    /// Connects; LOGIN and SELECT when asked; LOGOUT.
    async fn session(&self, p: &mut Probing) -> Result<(), Verdict> {
        let password = self.login.as_ref().map(Login::password).transpose()?;
        let mut session = Session::open(&self.endpoint, &self.name, p).await?;
        if let (Some(login), Some(password)) = (&self.login, password) {
            session.login(login, &password, p).await?;
            session.select(&self.mailbox, p).await?;
        }
        session.logout(p).await;
        Ok(())
    }
}

/// An IMAP connection past its greeting, on TLS when its endpoint asks for it: what the imap
/// probe checks, and the mailbox the smtp probe's delivery check reads.
pub(super) struct Session {
    lines: Lines<Box<dyn Io>>,
    tags: u32,
}

impl Session {
    /// Connects and reads the greeting; with `starttls` the server must offer it and the
    /// upgrade must work. `probe` names the probe in a `ca_file` error.
    pub(super) async fn open(
        endpoint: &Endpoint,
        probe: &str,
        p: &mut Probing,
    ) -> Result<Session, Verdict> {
        let tcp = endpoint.connect(p).await?;
        let lines: Lines<Box<dyn Io>> = match endpoint.tls {
            Protection::Implicit => {
                let tls = endpoint.secure(tcp, probe, p).await?;
                let mut lines = Lines::new(Box::new(tls) as Box<dyn Io>);
                greeting(&mut lines, p).await?;
                lines
            }
            Protection::None => {
                let mut lines = Lines::new(Box::new(tcp) as Box<dyn Io>);
                greeting(&mut lines, p).await?;
                lines
            }
            Protection::StartTls => {
                let mut lines = Lines::new(tcp);
                let greeted = greeting(&mut lines, p).await?;
                let capabilities = if greeted.contains("[CAPABILITY ") {
                    greeted
                } else {
                    command(&mut lines, "s1", "CAPABILITY", "CAPABILITY", p)
                        .await?
                        .1
                        .join(" ")
                };
                if !capabilities
                    .split_whitespace()
                    .any(|c| c.eq_ignore_ascii_case("STARTTLS"))
                {
                    return Err(Verdict::failed(format!(
                        "the server does not offer STARTTLS (it says: {})",
                        quoted(&capabilities)
                    )));
                }
                command(&mut lines, "s2", "STARTTLS", "STARTTLS", p).await?;
                let tls = endpoint.secure(lines.into_inner(), probe, p).await?;
                Lines::new(Box::new(tls) as Box<dyn Io>)
            }
        };
        Ok(Session { lines, tags: 2 })
    }

    /// Sends `line` (named `shown` in reasons) with the next tag; the untagged replies.
    async fn command(
        &mut self,
        line: &str,
        shown: &str,
        p: &mut Probing,
    ) -> Result<Vec<String>, Verdict> {
        self.tags += 1;
        let tag = format!("s{}", self.tags);
        Ok(command(&mut self.lines, &tag, line, shown, p).await?.1)
    }

    /// LOGIN with the password, never shown.
    pub(super) async fn login(
        &mut self,
        login: &Login,
        password: &str,
        p: &mut Probing,
    ) -> Result<(), Verdict> {
        let line = format!("LOGIN {} {}", quote(&login.user), quote(password));
        let shown = format!("LOGIN {}", login.user);
        self.command(&line, &shown, p).await.map(|_| ())
    }

    pub(super) async fn select(&mut self, mailbox: &str, p: &mut Probing) -> Result<(), Verdict> {
        let select = format!("SELECT {}", quote(mailbox));
        self.command(&select, &select, p).await.map(|_| ())
    }

    /// The UIDs of the selected mailbox's messages whose subject contains `text`; NOOP first,
    /// so that messages delivered since the last look are seen.
    pub(super) async fn search_subject(
        &mut self,
        text: &str,
        p: &mut Probing,
    ) -> Result<Vec<u32>, Verdict> {
        self.command("NOOP", "NOOP", p).await?;
        let search = format!("UID SEARCH SUBJECT {}", quote(text));
        let untagged = self.command(&search, "UID SEARCH", p).await?;
        Ok(untagged
            .iter()
            .filter_map(|line| line.strip_prefix("* SEARCH"))
            .flat_map(|uids| uids.split_whitespace().filter_map(|u| u.parse().ok()))
            .collect())
    }

    /// Flags the messages deleted and expunges them (only them where the server has UIDPLUS).
    pub(super) async fn delete(&mut self, uids: &[u32], p: &mut Probing) -> Result<(), Verdict> {
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let store = format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)");
        self.command(&store, "UID STORE", p).await?;
        let expunge = format!("UID EXPUNGE {set}");
        if self.command(&expunge, "UID EXPUNGE", p).await.is_err() {
            self.command("EXPUNGE", "EXPUNGE", p).await?;
        }
        Ok(())
    }

    /// LOGOUT, politely; whatever the server answers, the check is done.
    pub(super) async fn logout(mut self, p: &mut Probing) {
        let _ = self.command("LOGOUT", "LOGOUT", p).await;
    }
}

/// The `* OK` greeting (`* PREAUTH` too); its text.
async fn greeting<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
    p: &mut Probing,
) -> Result<String, Verdict> {
    let line = lines.read(p, "waiting for the greeting").await?;
    if line.starts_with("* OK") || line.starts_with("* PREAUTH") {
        Ok(line)
    } else {
        Err(Verdict::failed(format!(
            "the server greets with {} instead of `* OK`",
            quoted(&line)
        )))
    }
}

/// Sends `line` tagged `tag` and reads until the tagged reply, which must be OK; the untagged
/// lines before it. `shown` names the command in reasons.
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
    tag: &str,
    line: &str,
    shown: &str,
    p: &mut Probing,
) -> Result<(String, Vec<String>), Verdict> {
    lines.send(&format!("{tag} {line}"), shown).await?;
    let mut untagged = Vec::new();
    loop {
        let reply = lines.read(p, "waiting for the server's reply").await?;
        match reply.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
            Some(status) if status.starts_with("OK") => return Ok((status.to_string(), untagged)),
            Some(status) => {
                return Err(Verdict::failed(format!(
                    "{shown} refused: {}",
                    quoted(status)
                )))
            }
            None if untagged.len() >= MAX_UNTAGGED => {
                return Err(Verdict::failed(format!(
                    "{shown}: over {MAX_UNTAGGED} lines without the tagged reply"
                )))
            }
            None => untagged.push(reply),
        }
    }
}

/// An IMAP quoted string (RFC 3501 4.3).
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Kind for ImapProbe {
    type File = ImapProbeFile;
    kind_basics!(ImapProbeFile, slow);

    fn validate(c: &mut Checker, path: &str, f: &ImapProbeFile) -> ImapProbe {
        let endpoint = Endpoint::validate(c, path, &f.endpoint(), 993);
        let login = f
            .login
            .as_ref()
            .map(|l| Login::validate(c, &format!("{path}.login"), l));
        if f.mailbox.is_some() && login.is_none() {
            c.error_hint(
                &format!("{path}.mailbox"),
                "`mailbox` is selected after a login, and this probe has no `login`",
                "add `login: {user: ..., password: {secret: env:NAME}}`, or leave `mailbox` out",
            );
        }
        let (every, timeout) = c.schedule(path, &f.every, &f.timeout);
        ImapProbe {
            name: f.name.clone(),
            endpoint,
            login,
            mailbox: f.mailbox.clone().unwrap_or_else(|| "INBOX".to_string()),
            every,
            timeout,
            slow: c.opt_duration(&format!("{path}.slow"), &f.slow),
        }
    }

    fn secrets(&self) -> Vec<&crate::secret::Var> {
        self.login.iter().map(|l| &l.password).collect()
    }
}

mail_file! {
    /// `- imap:` as written; values stay text until [`super::validate_probes`].
    pub struct ImapProbeFile {
        pub name: String,
        pub login: Option<LoginFile>,
        /// Default INBOX.
        pub mailbox: Option<String>,
        #[serde(deserialize_with = "scalar_text")]
        pub every: String,
        #[serde(default, deserialize_with = "opt_scalar_text")]
        pub timeout: Option<String>,
        #[serde(default, deserialize_with = "opt_scalar_text")]
        pub slow: Option<String>,
    }
}
