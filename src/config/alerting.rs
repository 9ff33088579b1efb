//! `alerting:` in the monitor configuration: serde types for the structure, then validation
//! into [`AlertingConfig`] with every problem located.
//!
//! ```yaml
//! alerting:
//!   failure_threshold: 1
//!   recovery_threshold: 1
//!   repeat: 4h
//!   sinks:
//!     - alertmanager:
//!         url: http://127.0.0.1:9093
//!     - webhook:
//!         url: http://127.0.0.1:9000/hook
//!         secret: { secret: env:WEBHOOK_SECRET }
//!         severity: [critical]
//!     - email:
//!         smtp: smtp://127.0.0.1:2525
//!         from: shopwatch@example.com
//!         to: [oncall@example.com]
//! ```
//!
//! A sink item is one key (its kind) over a map of settings. The settings of every kind share
//! one serde struct (unknown keys are rejected by serde with their place); which of them a kind
//! takes is checked here, so `channel` under `webhook:` says "not a webhook setting" at its line.

use super::check::Checker;
use super::diagnostic::did_you_mean;
use super::format::{scalar_text, VarFile};
use super::validate::{parse_cron, var};
use crate::alert::email::{EmailSettings, SmtpTls};
use crate::alert::{
    AlertName, AlertingConfig, Filter, MaintenanceWindow, Policy, Severity, SinkConfig,
    SinkSettings,
};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::time::Duration;

pub const DEFAULT_STATE_FILE: &str = "shopwatch-alerts.json";
/// Reminders more often than this would be noise.
pub const MIN_REPEAT: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingFile {
    // The defaults: the same keys as [`PolicyFile`] (serde's `flatten` would lose
    // `deny_unknown_fields` and the places of errors).
    pub failure_threshold: Option<u32>,
    pub slow_threshold: Option<u32>,
    pub recovery_threshold: Option<u32>,
    #[serde(default, deserialize_with = "opt_text")]
    pub repeat: Option<String>,
    pub warn_days: Option<u32>,
    pub critical_days: Option<u32>,
    pub state_file: Option<String>,
    pub external_url: Option<String>,
    #[serde(default)]
    pub journeys: BTreeMap<String, PolicyFile>,
    #[serde(default)]
    pub probes: BTreeMap<String, PolicyFile>,
    #[serde(default)]
    pub maintenance: Vec<MaintenanceFile>,
    #[serde(default)]
    pub sinks: Vec<SinkFile>,
}

/// Thresholds and timing: the defaults under `alerting:`, or one journey's or probe's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub failure_threshold: Option<u32>,
    pub slow_threshold: Option<u32>,
    pub recovery_threshold: Option<u32>,
    #[serde(default, deserialize_with = "opt_text")]
    pub repeat: Option<String>,
    pub warn_days: Option<u32>,
    pub critical_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceFile {
    pub cron: String,
    #[serde(deserialize_with = "scalar_text")]
    pub duration: String,
    #[serde(default)]
    pub journeys: Vec<String>,
    #[serde(default)]
    pub probes: Vec<String>,
}

/// One sink as written: `- webhook: {...}`.
#[derive(Debug)]
pub struct SinkFile {
    pub kind: &'static str,
    pub settings: SinkSettingsFile,
}

/// Every sink kind, as written.
pub const SINK_KINDS: &[&str] = &["alertmanager", "webhook", "slack", "email"];

/// The settings of any sink kind; [`Checker::sink`] checks which a kind takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSettingsFile {
    pub name: Option<String>,
    pub severity: Option<OneOrMany>,
    #[serde(default)]
    pub journeys: Vec<String>,
    #[serde(default)]
    pub probes: Vec<String>,
    #[serde(default)]
    pub alerts: Vec<String>,
    /// alertmanager, webhook: the endpoint; slack: the incoming webhook URL (a secret).
    pub url: Option<VarFile>,
    /// webhook: HMAC-SHA256 key.
    pub secret: Option<VarFile>,
    /// webhook: extra request headers.
    pub headers: Option<BTreeMap<String, String>>,
    /// slack: channel override.
    pub channel: Option<String>,
    /// email: `smtp://host:port` or `smtps://host:port`.
    pub smtp: Option<String>,
    pub tls: Option<String>,
    pub username: Option<String>,
    pub password: Option<VarFile>,
    pub ca_file: Option<String>,
    pub from: Option<String>,
    pub to: Option<OneOrMany>,
}

/// The keys each kind takes besides the filters (`name`, `severity`, `journeys`, `probes`,
/// `alerts`).
fn kind_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "alertmanager" => &["url"],
        "webhook" => &["url", "secret", "headers"],
        "slack" => &["url", "channel"],
        _ => &[
            "smtp", "tls", "username", "password", "ca_file", "from", "to",
        ],
    }
}

impl<'de> Deserialize<'de> for SinkFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SinkFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sink such as `webhook: {url: ...}`")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<SinkFile, M::Error> {
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "empty sink: write one sink per list item, e.g. `- webhook: {url: ...}`",
                    ));
                };
                let Some(kind) = SINK_KINDS.iter().copied().find(|k| *k == kind) else {
                    return Err(de::Error::unknown_variant(&kind, SINK_KINDS));
                };
                let settings: Option<SinkSettingsFile> = map.next_value()?;
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "one sink per list item: `{kind}` and `{extra}` are in the same item; indent `{extra}` under `{kind}:` if it is a setting, or start a new item with `- `"
                    )));
                }
                Ok(SinkFile {
                    kind,
                    settings: settings.unwrap_or_default(),
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SinkFile, E> {
                if SINK_KINDS.contains(&v) {
                    Err(E::custom(format!(
                        "sink `{v}` needs its settings: `- {v}: {{url: ...}}`"
                    )))
                } else {
                    Err(E::unknown_variant(v, SINK_KINDS))
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One text or a list of them: `severity: critical` or `severity: [critical, warning]`.
#[derive(Debug)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text or a list of texts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_seq<S: de::SeqAccess<'de>>(self, seq: S) -> Result<OneOrMany, S::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(OneOrMany)
            }
        }
        deserializer.deserialize_any(V)
    }
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Text(String);
    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            scalar_text(d).map(Text)
        }
    }
    Ok(Option::<Text>::deserialize(d)?.map(|text| text.0))
}

/// The journeys and probes a configuration has, to check the names `alerting:` uses.
pub struct Known<'a> {
    pub journeys: &'a [String],
    pub probes: &'a [String],
}

impl Checker<'_> {
    pub(super) fn alerting(
        &mut self,
        dir: &Path,
        raw: &AlertingFile,
        known: &Known,
    ) -> AlertingConfig {
        let own = PolicyFile {
            failure_threshold: raw.failure_threshold,
            slow_threshold: raw.slow_threshold,
            recovery_threshold: raw.recovery_threshold,
            repeat: raw.repeat.clone(),
            warn_days: raw.warn_days,
            critical_days: raw.critical_days,
        };
        let defaults = self.policy("alerting", &own, Policy::default());
        let mut journeys = HashMap::new();
        for (name, policy) in &raw.journeys {
            let path = format!("alerting.journeys.{name}");
            self.known_name(&path, true, "journey", name, known.journeys);
            journeys.insert(name.clone(), self.policy(&path, policy, defaults));
        }
        let mut probes = HashMap::new();
        for (name, policy) in &raw.probes {
            let path = format!("alerting.probes.{name}");
            self.known_name(&path, true, "probe", name, known.probes);
            probes.insert(name.clone(), self.policy(&path, policy, defaults));
        }
        let maintenance = raw
            .maintenance
            .iter()
            .enumerate()
            .filter_map(|(i, m)| self.maintenance(&format!("alerting.maintenance[{i}]"), m, known))
            .collect();

        if raw.sinks.is_empty() {
            self.key_error_hint(
                if self.index.has("alerting.sinks") {
                    "alerting.sinks"
                } else {
                    "alerting"
                },
                "`alerting` has no sinks: alerts would go nowhere",
                "add at least one under `sinks:`, e.g. `- alertmanager: {url: http://127.0.0.1:9093}`",
            );
        }
        let mut sinks: Vec<SinkConfig> = Vec::new();
        for (i, sink) in raw.sinks.iter().enumerate() {
            let path = format!("alerting.sinks[{i}].{}", sink.kind);
            let Some(config) = self.sink(dir, &path, sink, known) else {
                continue;
            };
            if let Some(first) = sinks.iter().position(|s| s.name == config.name) {
                let (message, hint) = if sink.settings.name.is_none() {
                    (
                        format!("a second `{}` sink needs a name", sink.kind),
                        format!(
                            "give each a `name:` (the first is item {}), e.g. `name: {}-oncall`",
                            first + 1,
                            sink.kind
                        ),
                    )
                } else {
                    (
                        format!("sink name `{}` is used twice", config.name),
                        "sink names are metric labels and `shopwatch alert test --sink` arguments: make them unique".to_string(),
                    )
                };
                let at = if sink.settings.name.is_some() {
                    format!("{path}.name")
                } else {
                    path.clone()
                };
                self.key_error_hint(&at, message, hint);
                continue;
            }
            sinks.push(config);
        }

        let external_url = raw.external_url.as_ref().and_then(|text| {
            match url::Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
                _ => {
                    self.error_hint(
                        "alerting.external_url",
                        format!("`{text}` is not an http(s) URL"),
                        "write the address shopwatch is reached at from outside, e.g. `http://monitor.example.com:9464`: alerts link to screenshots under it",
                    );
                    None
                }
            }
        });
        let state_file = match raw.state_file.as_deref() {
            Some(text) if text.trim().is_empty() => {
                self.error_hint(
                    "alerting.state_file",
                    "`state_file` is empty",
                    format!("give a file path, or leave it out for `{DEFAULT_STATE_FILE}` beside the configuration"),
                );
                dir.join(DEFAULT_STATE_FILE)
            }
            Some(text) => dir.join(text),
            None => dir.join(DEFAULT_STATE_FILE),
        };
        AlertingConfig {
            defaults,
            journeys,
            probes,
            maintenance,
            sinks,
            state_file,
            external_url,
        }
    }

    /// `base` with what `raw` (at `path`) overrides.
    fn policy(&mut self, path: &str, raw: &PolicyFile, base: Policy) -> Policy {
        let mut policy = base;
        for (key, given, target) in [
            (
                "failure_threshold",
                raw.failure_threshold,
                &mut policy.failure_threshold,
            ),
            (
                "slow_threshold",
                raw.slow_threshold,
                &mut policy.slow_threshold,
            ),
            (
                "recovery_threshold",
                raw.recovery_threshold,
                &mut policy.recovery_threshold,
            ),
        ] {
            match given {
                Some(0) => self.error_hint(
                    &format!("{path}.{key}"),
                    format!("`{key}` must be at least 1"),
                    "it counts runs in a row: 1 acts on the first run",
                ),
                Some(n) => *target = n,
                None => {}
            }
        }
        if let Some(repeat) = self.opt_duration(&format!("{path}.repeat"), &raw.repeat) {
            if repeat < MIN_REPEAT {
                self.error_hint(
                    &format!("{path}.repeat"),
                    format!(
                        "`repeat: {}` is shorter than the 1m minimum",
                        humantime::format_duration(repeat)
                    ),
                    "it is how often a firing alert is sent again, e.g. `repeat: 4h`",
                );
            }
            policy.repeat = repeat;
        }
        if let Some(days) = raw.warn_days {
            policy.warn_days = days;
        }
        if let Some(days) = raw.critical_days {
            policy.critical_days = days;
        }
        if policy.critical_days > policy.warn_days {
            let at = if raw.critical_days.is_some() {
                format!("{path}.critical_days")
            } else {
                format!("{path}.warn_days")
            };
            self.error_hint(
                &at,
                format!(
                    "`critical_days` ({}) is more than `warn_days` ({})",
                    policy.critical_days, policy.warn_days
                ),
                "a certificate first warns, then turns critical: e.g. `warn_days: 14`, `critical_days: 3`",
            );
        }
        policy
    }

    /// An error unless `name` is among `known`; at the key of `path` when `at_key` (the name
    /// is a key: `journeys: {shop: ...}`), else at its value.
    fn known_name(&mut self, path: &str, at_key: bool, what: &str, name: &str, known: &[String]) {
        if known.iter().any(|k| k == name) {
            return;
        }
        let message = format!("no {what} named `{name}` is configured");
        let hint = match did_you_mean(name, known.iter().map(String::as_str)) {
            Some(close) => format!("did you mean `{close}`?"),
            None if known.is_empty() => format!("this configuration has no {what}s"),
            None => format!(
                "the {what}s are: {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        if at_key {
            self.key_error_hint(path, message, hint);
        } else {
            self.error_hint(path, message, hint);
        }
    }

    fn names(&mut self, path: &str, what: &str, names: &[String], known: &[String]) {
        for (i, name) in names.iter().enumerate() {
            self.known_name(&format!("{path}[{i}]"), false, what, name, known);
        }
    }

    fn maintenance(
        &mut self,
        path: &str,
        raw: &MaintenanceFile,
        known: &Known,
    ) -> Option<MaintenanceWindow> {
        self.names(
            &format!("{path}.journeys"),
            "journey",
            &raw.journeys,
            known.journeys,
        );
        self.names(
            &format!("{path}.probes"),
            "probe",
            &raw.probes,
            known.probes,
        );
        let duration = self.duration(&format!("{path}.duration"), &raw.duration);
        let cron = match parse_cron(&raw.cron) {
            Ok(cron) => Some(cron),
            Err(e) => {
                self.error_hint(
                    &format!("{path}.cron"),
                    format!("`{}` is not a cron expression: {e}", raw.cron),
                    "when the window starts, in UTC: five fields, e.g. `0 2 * * SUN` for Sundays at 02:00",
                );
                None
            }
        };
        Some(MaintenanceWindow {
            cron: Box::new(cron?),
            duration: duration?,
            journeys: raw.journeys.clone(),
            probes: raw.probes.clone(),
        })
    }

    fn sink(
        &mut self,
        dir: &Path,
        path: &str,
        sink: &SinkFile,
        known: &Known,
    ) -> Option<SinkConfig> {
        let s = &sink.settings;
        let kind = sink.kind;
        let given: [(&str, bool); 10] = [
            ("url", s.url.is_some()),
            ("secret", s.secret.is_some()),
            ("headers", s.headers.is_some()),
            ("channel", s.channel.is_some()),
            ("smtp", s.smtp.is_some()),
            ("tls", s.tls.is_some()),
            ("username", s.username.is_some()),
            ("password", s.password.is_some()),
            ("ca_file", s.ca_file.is_some()),
            ("from", s.from.is_some()),
        ];
        let allowed = kind_keys(kind);
        let mut misplaced = false;
        for (key, present) in given.into_iter().chain([("to", s.to.is_some())]) {
            if present && !allowed.contains(&key) {
                misplaced = true;
                self.key_error(
                    &format!("{path}.{key}"),
                    format!("`{key}` is not a setting of a {kind} sink"),
                    Some(&format!(
                        "a {kind} sink takes {}, and the filters `name`, `severity`, `journeys`, `probes`, `alerts`",
                        allowed.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    )),
                );
            }
        }
        let name = match &s.name {
            Some(name) => {
                self.name(&format!("{path}.name"), "sink", name);
                name.clone()
            }
            None => kind.to_string(),
        };
        let filter = self.filter(path, s, known);
        let settings = match kind {
            "alertmanager" => SinkSettings::Alertmanager {
                url: self.sink_url(path, kind, s, "http://127.0.0.1:9093")?,
            },
            "webhook" => SinkSettings::Webhook {
                url: self.sink_url(path, kind, s, "https://hooks.example.com/shopwatch")?,
                secret: s
                    .secret
                    .as_ref()
                    .map(|v| var(self, &format!("{path}.secret"), v)),
                headers: self.headers(path, s.headers.as_ref()),
            },
            "slack" => SinkSettings::Slack {
                url: match &s.url {
                    Some(VarFile::Text(text)) => {
                        self.error_hint(
                            &format!("{path}.url"),
                            "the Slack webhook URL is a secret: anyone who has it can post to the channel",
                            "give it as a secret, e.g. `url: {secret: env:SLACK_WEBHOOK_URL}`",
                        );
                        let _ = text;
                        return None;
                    }
                    Some(v) => var(self, &format!("{path}.url"), v),
                    None => {
                        self.key_error_hint(path,
                            "a slack sink needs `url`",
                            "the incoming webhook URL, as a secret: `url: {secret: env:SLACK_WEBHOOK_URL}`",
                        );
                        return None;
                    }
                },
                channel: s.channel.clone(),
            },
            _ => SinkSettings::Email(self.email(dir, path, s)?),
        };
        if misplaced {
            return None;
        }
        Some(SinkConfig {
            name,
            filter,
            kind: settings,
        })
    }

    fn filter(&mut self, path: &str, s: &SinkSettingsFile, known: &Known) -> Filter {
        let mut filter = Filter::default();
        for (i, text) in s.severity.iter().flat_map(|v| v.0.iter()).enumerate() {
            match Severity::parse(text).filter(|s| *s != Severity::Info) {
                Some(severity) => filter.severity.push(severity),
                None => {
                    let at = if self.index.has(&format!("{path}.severity[{i}]")) {
                        format!("{path}.severity[{i}]")
                    } else {
                        format!("{path}.severity")
                    };
                    self.error_hint(
                        &at,
                        format!("severity `{text}` is not known"),
                        "use `critical` and `warning`, e.g. `severity: [critical]`",
                    );
                }
            }
        }
        for (i, text) in s.alerts.iter().enumerate() {
            match AlertName::parse(text) {
                Some(name) => filter.alerts.push(name),
                None => {
                    let names = AlertName::ALL.map(AlertName::as_str);
                    let hint = match did_you_mean(text, names) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("the alerts are: {}", names.join(", ")),
                    };
                    self.error_hint(
                        &format!("{path}.alerts[{i}]"),
                        format!("alert `{text}` is not known"),
                        hint,
                    );
                }
            }
        }
        self.names(
            &format!("{path}.journeys"),
            "journey",
            &s.journeys,
            known.journeys,
        );
        self.names(&format!("{path}.probes"), "probe", &s.probes, known.probes);
        filter.journeys = s.journeys.clone();
        filter.probes = s.probes.clone();
        filter
    }

    /// The `url` of an alertmanager or webhook sink: given as text, http(s).
    fn sink_url(
        &mut self,
        path: &str,
        kind: &str,
        s: &SinkSettingsFile,
        example: &str,
    ) -> Option<url::Url> {
        let at = format!("{path}.url");
        match &s.url {
            None => {
                self.key_error_hint(
                    path,
                    format!("a {kind} sink needs `url`"),
                    format!("e.g. `url: {example}`"),
                );
                None
            }
            Some(VarFile::Secret(_)) => {
                self.error_hint(
                    &at,
                    format!("the {kind} `url` is not read from a secret"),
                    format!("write it as text, e.g. `url: {example}`; a webhook's signing key goes in `secret:`"),
                );
                None
            }
            Some(VarFile::Text(text)) => match url::Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
                Ok(url) => {
                    self.error_hint(
                        &at,
                        format!(
                            "the {kind} url must be http or https, not `{}`",
                            url.scheme()
                        ),
                        format!("e.g. `url: {example}`"),
                    );
                    None
                }
                Err(e) => {
                    self.error_hint(
                        &at,
                        format!("`{text}` is not a URL: {e}"),
                        format!("e.g. `url: {example}`"),
                    );
                    None
                }
            },
        }
    }

    fn headers(
        &mut self,
        path: &str,
        headers: Option<&BTreeMap<String, String>>,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, value) in headers.into_iter().flatten() {
            let ok = http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && http::HeaderValue::from_str(value).is_ok();
            if ok {
                out.push((name.clone(), value.clone()));
            } else {
                self.key_error(
                    &format!("{path}.headers.{name}"),
                    format!("`{name}: {value}` is not a valid HTTP header"),
                    Some("header names are letters, digits and `-`; values are printable text on one line"),
                );
            }
        }
        out
    }

    fn email(&mut self, dir: &Path, path: &str, s: &SinkSettingsFile) -> Option<EmailSettings> {
        let example = "smtp: smtp://127.0.0.1:25, or smtps://smtp.example.com:465";
        let Some(text) = &s.smtp else {
            self.key_error_hint(
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
                self.error_hint(
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
                self.error_hint(
                    &at,
                    format!("`{text}` is not an SMTP URL"),
                    format!("e.g. `{example}`"),
                );
                return None;
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            self.error_hint(
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
            Some(text) => match SmtpTls::parse(text) {
                Some(SmtpTls::Implicit) if !implicit => {
                    self.error_hint(&format!("{path}.tls"), "`tls: implicit` goes with an `smtps://` URL", "write `smtp: smtps://host:465`, or `tls: starttls` for STARTTLS on `smtp://`");
                    SmtpTls::Implicit
                }
                Some(SmtpTls::None | SmtpTls::StartTls) if implicit => {
                    self.error_hint(&format!("{path}.tls"), format!("`tls: {text}` contradicts the `smtps://` URL, which is TLS from the start"), "leave `tls` out for `smtps://`, or use `smtp://` with it");
                    SmtpTls::Implicit
                }
                Some(tls) => tls,
                None => {
                    self.error_hint(&format!("{path}.tls"), format!("`tls: {text}` is not known"), "use `starttls` (upgrade a plain connection), `implicit` (smtps://) or `none`");
                    SmtpTls::None
                }
            },
        };
        let port = url.port().unwrap_or(match tls {
            SmtpTls::Implicit => 465,
            SmtpTls::StartTls => 587,
            SmtpTls::None => 25,
        });
        match (&s.username, &s.password) {
            (Some(_), None) => self.error_hint(
                &format!("{path}.username"),
                "`username` without `password`",
                "add `password: {secret: env:SMTP_PASSWORD}`",
            ),
            (None, Some(_)) => self.error_hint(
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
            self.error_hint(
                &format!("{path}.username"),
                format!("the password would cross the network to {host} unencrypted"),
                "use `tls: starttls` or an `smtps://` URL (plain SMTP with a login is only allowed to this machine)",
            );
        }
        if let Some(VarFile::Text(_)) = &s.password {
            self.error_hint(
                &format!("{path}.password"),
                "the SMTP password is written in the configuration",
                "read it from a secret: `password: {secret: env:SMTP_PASSWORD}` or `{secret: file:/run/secrets/smtp}`",
            );
        }
        let password = s
            .password
            .as_ref()
            .map(|v| var(self, &format!("{path}.password"), v));
        let from = match &s.from {
            Some(text) => self.mailbox(&format!("{path}.from"), text),
            None => {
                self.key_error_hint(
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
                    let at = if self.index.has(&format!("{path}.to[{i}]")) {
                        format!("{path}.to[{i}]")
                    } else {
                        format!("{path}.to")
                    };
                    to.extend(self.mailbox(&at, text));
                }
            }
            _ => self.error_hint(
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
            self.key_error_hint(
                &format!("{path}.ca_file"),
                "`ca_file` is for TLS, and this sink uses plain SMTP",
                "add `tls: starttls` (or use `smtps://`), or leave `ca_file` out",
            );
        }
        Some(EmailSettings {
            host,
            port,
            tls,
            username: s.username.clone(),
            password,
            ca_file: s.ca_file.as_ref().map(|f| dir.join(f)),
            from: from?,
            to,
        })
    }

    fn mailbox(&mut self, path: &str, text: &str) -> Option<lettre::message::Mailbox> {
        match text.parse() {
            Ok(mailbox) => Some(mailbox),
            Err(e) => {
                self.error_hint(
                    path,
                    format!("`{text}` is not an email address: {e}"),
                    "write `name@example.com`, or `Name <name@example.com>`",
                );
                None
            }
        }
    }
}
