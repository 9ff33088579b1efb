//! Sinks: where notifications go. The `sinks!` list below is the one extension point: each kind
//! is one file holding how it is written ([`Kind::File`], declared with `sink_file!`, which adds
//! the filters every sink takes), its validation ([`Kind::check`]), how its secrets are read
//! ([`Kind::build`]) and its send ([`Deliver`]). A new kind is its file plus one line in
//! `sinks!`; every `match` over the kinds is generated from that list, so nothing else can
//! forget it.

pub mod check;
pub mod send;

pub mod alertmanager;
pub mod discord;
pub mod email;
pub mod ntfy;
pub mod opsgenie;
pub mod pagerduty;
pub mod slack;
pub mod teams;
pub mod telegram;
pub mod template;
pub mod webhook;

use super::notification::Notification;
use super::{Filter, SecretValue};
use crate::secret::redact::Redactor;
use crate::yaml::one_key::{one_key_enum, Family};
use check::SinkCheck;
pub use send::{http_client, SendError, SEND_TIMEOUT};
use std::future::Future;
use std::time::Duration;

/// One sink kind: its settings as validated (secrets not yet read) implement this.
pub trait Kind: Sized {
    /// As written: a serde struct declared with `sink_file!`.
    type File;
    /// Ready to send: secrets read.
    type Sender: Deliver;
    /// Validates what was written; every problem goes to `c`, located. `None` when the sink
    /// cannot be used.
    fn check(file: &Self::File, c: &mut SinkCheck) -> Option<Self>;
    /// Reads the secrets (at start and at each reload); what is wrong as text.
    fn build(&self, http: &reqwest::Client) -> Result<Self::Sender, String>;
}

/// A sink kind ready to send.
pub trait Deliver: std::fmt::Debug + Send + Sync {
    /// Sends one notification: `Ok` once the receiver accepted it.
    fn send(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), SendError>> + Send;

    /// Adds the secret values it holds, to keep them out of everything shopwatch writes.
    fn redact(&self, _redactor: &mut Redactor) {}

    /// How often a firing alert is sent again when the kind needs more than the `repeat`
    /// reminders (Alertmanager forgets an alert that is not re-posted).
    fn refresh(&self) -> Option<Duration> {
        None
    }
}

/// How messages talk about sinks.
const SINKS: Family = Family {
    what: "sink",
    example: "- webhook: {url: ...}",
    needs: "its settings: `- {kind}: {url: ...}`",
    settings: true,
};

/// Declares a kind's `File`: the given settings plus the filters every sink takes. serde's
/// `flatten` would lose `deny_unknown_fields` and the places of errors, so the filter keys are
/// written into each struct instead.
macro_rules! sink_file {
    ($(#[$meta:meta])* { $($(#[$fmeta:meta])* $field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct File {
            pub name: Option<String>,
            pub severity: Option<$crate::yaml::scalars::OneOrMany>,
            #[serde(default)]
            pub journeys: Vec<String>,
            #[serde(default)]
            pub probes: Vec<String>,
            #[serde(default)]
            pub alerts: Vec<String>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl File {
            pub fn filters(&self) -> $crate::alert::sink::check::FiltersFile<'_> {
                $crate::alert::sink::check::FiltersFile {
                    name: self.name.as_deref(),
                    severity: self.severity.as_ref().map_or(&[], |s| s.0.as_slice()),
                    journeys: &self.journeys,
                    probes: &self.probes,
                    alerts: &self.alerts,
                }
            }
        }
    };
}
pub(crate) use sink_file;

/// The keys of the filters, which every kind takes.
pub const FILTER_KEYS: [&str; 5] = ["name", "severity", "journeys", "probes", "alerts"];

macro_rules! sinks {
    ($($variant:ident($module:ident) = $key:literal),* $(,)?) => {
        one_key_enum! {
            /// One sink as written: `- webhook: {url: ...}`.
            pub enum SinkFile, SINK_KINDS, SINKS {
                $($variant($module::File) = $key),*
            }
        }

        /// Each kind and the settings it takes besides the filters, read from its `File`.
        pub fn kind_keys() -> Vec<(&'static str, Vec<&'static str>)> {
            vec![$((
                $key,
                crate::yaml::fields::struct_fields::<$module::File>()
                    .iter()
                    .copied()
                    .filter(|k| !FILTER_KEYS.contains(k))
                    .collect(),
            ),)*]
        }

        /// Each kind's settings as configured (secrets not yet read).
        #[derive(Debug, Clone)]
        pub enum SinkSettings { $($variant($module::Settings),)* }

        /// Each kind ready to send (boxed: an SMTP transport is ten times a webhook).
        #[derive(Debug)]
        pub enum SinkKind { $($variant(Box<<$module::Settings as Kind>::Sender>),)* }

        impl SinkFile {
            pub fn filters(&self) -> check::FiltersFile<'_> {
                match self { $(SinkFile::$variant(file) => file.filters(),)* }
            }

            /// The kind's own validation.
            pub fn check(&self, c: &mut SinkCheck) -> Option<SinkSettings> {
                match self {
                    $(SinkFile::$variant(file) => {
                        <$module::Settings as Kind>::check(file, c).map(SinkSettings::$variant)
                    })*
                }
            }
        }

        impl SinkSettings {
            pub fn kind(&self) -> &'static str {
                match self { $(SinkSettings::$variant(_) => $key,)* }
            }

            fn build(&self, http: &reqwest::Client) -> Result<SinkKind, String> {
                Ok(match self { $(SinkSettings::$variant(s) => SinkKind::$variant(Box::new(s.build(http)?)),)* })
            }
        }

        impl SinkKind {
            async fn send(&self, notification: &Notification) -> Result<(), SendError> {
                match self { $(SinkKind::$variant(s) => s.send(notification).await,)* }
            }

            fn redact(&self, redactor: &mut Redactor) {
                match self { $(SinkKind::$variant(s) => s.redact(redactor),)* }
            }

            fn refresh(&self) -> Option<Duration> {
                match self { $(SinkKind::$variant(s) => s.refresh(),)* }
            }
        }
    };
}

sinks! {
    Alertmanager(alertmanager) = "alertmanager",
    Webhook(webhook) = "webhook",
    Slack(slack) = "slack",
    Email(email) = "email",
    PagerDuty(pagerduty) = "pagerduty",
    Opsgenie(opsgenie) = "opsgenie",
    Teams(teams) = "teams",
    Telegram(telegram) = "telegram",
    Discord(discord) = "discord",
    Ntfy(ntfy) = "ntfy",
    Template(template) = "template",
}

/// A sink as configured: its kind's settings and the filters every sink has.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Unique among sinks; default the kind (`webhook`), the `sink` label of its metrics.
    pub name: String,
    pub filter: Filter,
    pub kind: SinkSettings,
}

/// A sink ready to send: its secrets read.
#[derive(Debug)]
pub struct Sink {
    pub name: String,
    pub filter: Filter,
    pub kind: SinkKind,
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
        let kind = config.kind.build(http).map_err(|problem| SinkSecretError {
            sink: config.name.clone(),
            problem,
        })?;
        Ok(Sink {
            name: config.name.clone(),
            filter: config.filter.clone(),
            kind,
        })
    }

    /// Sends one notification: `Ok` once the receiver accepted it, within [`SEND_TIMEOUT`].
    pub async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        match tokio::time::timeout(SEND_TIMEOUT, self.kind.send(notification)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::transient(format!(
                "no answer within {}s",
                SEND_TIMEOUT.as_secs()
            ))),
        }
    }

    /// How often a firing alert is sent again, when the sink needs more than the `repeat`
    /// reminders.
    pub fn refresh(&self) -> Option<Duration> {
        self.kind.refresh()
    }

    /// A redactor for the secret values this sink holds.
    pub fn redactor(&self) -> Redactor {
        let mut redactor = Redactor::default();
        self.kind.redact(&mut redactor);
        redactor
    }
}

/// The value of a setting that may be a secret; the problem as text.
pub fn read_secret(value: &SecretValue) -> Result<String, String> {
    match value {
        SecretValue::Text(text) => Ok(text.clone()),
        SecretValue::Secret(source) => crate::secret::read_secret(source),
    }
}

/// A secret that must be an http(s) URL once read (a webhook URL given as a secret); `what`
/// names it in the problem, which never holds the value.
pub fn read_secret_url(value: &SecretValue, what: &str) -> Result<url::Url, String> {
    use crate::yaml::scalars::{parse_http_url, UrlProblem};
    parse_http_url(&read_secret(value)?).map_err(|problem| match problem {
        UrlProblem::Scheme(scheme) => {
            format!("the {what} read from the secret must be http or https, not `{scheme}`")
        }
        UrlProblem::NotAUrl(e) => format!("the {what} read from the secret is not a URL ({e})"),
    })
}
