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

use crate::alert::sink::check::{FiltersFile, SinkCheck};
use crate::alert::sink::{SinkFile, FILTER_KEYS};
use crate::alert::{
    AlertName, AlertingConfig, Filter, MaintenanceWindow, Policy, Severity, SinkConfig,
    SlowerThanNormal, Subject,
};
use crate::calendar::{parse_timezone, Cron, TIMEZONE_HINT};
use crate::yaml::check::{Checker, Configured};
use crate::yaml::diagnostic::did_you_mean;
use crate::yaml::scalars::{http_url, opt_scalar_text, scalar_text};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

pub const DEFAULT_STATE_FILE: &str = "shopwatch-alerts.json";
/// Reminders more often than this would be noise.
pub const MIN_REPEAT: Duration = Duration::from_secs(60);
/// `slower_than_normal.runs` at most (the last runs are read from the history each run).
pub const MAX_RUNS: u32 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingFile {
    // The defaults: the same keys as [`PolicyFile`] (serde's `flatten` would lose
    // `deny_unknown_fields` and the places of errors).
    pub failure_threshold: Option<u32>,
    pub slow_threshold: Option<u32>,
    pub recovery_threshold: Option<u32>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub repeat: Option<String>,
    pub warn_days: Option<u32>,
    pub critical_days: Option<u32>,
    pub slower_than_normal: Option<SlowerThanNormalFile>,
    /// Journeys and probes every journey depends on (not the probes: they give their own).
    pub depends_on: Option<Vec<String>>,
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
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub repeat: Option<String>,
    pub warn_days: Option<u32>,
    pub critical_days: Option<u32>,
    pub slower_than_normal: Option<SlowerThanNormalFile>,
    /// The journeys and probes this one depends on (replaces `alerting.depends_on`).
    pub depends_on: Option<Vec<String>>,
}

/// `slower_than_normal:` as written; each key overrides the one it is merged onto.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowerThanNormalFile {
    pub factor: Option<f64>,
    pub runs: Option<u32>,
    pub weeks: Option<u32>,
    pub normal: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceFile {
    pub cron: String,
    /// The IANA time zone of `cron`'s times (default UTC).
    pub timezone: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub duration: String,
    #[serde(default)]
    pub journeys: Vec<String>,
    #[serde(default)]
    pub probes: Vec<String>,
}

impl Checker<'_> {
    pub(crate) fn alerting(
        &mut self,
        dir: &Path,
        raw: &AlertingFile,
        known: &Configured,
    ) -> AlertingConfig {
        let own = PolicyFile {
            failure_threshold: raw.failure_threshold,
            slow_threshold: raw.slow_threshold,
            recovery_threshold: raw.recovery_threshold,
            repeat: raw.repeat.clone(),
            warn_days: raw.warn_days,
            critical_days: raw.critical_days,
            slower_than_normal: raw.slower_than_normal.clone(),
            depends_on: None,
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
        let depends_on = self.depends_on(raw, known);
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
            let path = format!("alerting.sinks[{i}].{}", sink.kind());
            let Some(config) = self.sink(dir, &path, sink, known) else {
                continue;
            };
            let named = sink.filters().name.is_some();
            if let Some(first) = sinks.iter().position(|s| s.name == config.name) {
                let (message, hint) = if !named {
                    (
                        format!("a second `{}` sink needs a name", sink.kind()),
                        format!(
                            "give each a `name:` (the first is item {}), e.g. `name: {}-oncall`",
                            first + 1,
                            sink.kind()
                        ),
                    )
                } else {
                    (
                        format!("sink name `{}` is used twice", config.name),
                        "sink names are metric labels and `shopwatch alert test --sink` arguments: make them unique".to_string(),
                    )
                };
                let at = if named {
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
            http_url("external_url", text)
                .map_err(|problem| {
                    self.error_hint(
                        "alerting.external_url",
                        problem,
                        "write the address shopwatch is reached at from outside, e.g. `http://monitor.example.com:9464`: alerts link to screenshots under it",
                    )
                })
                .ok()
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
            depends_on,
            sinks,
            state_file,
            external_url,
        }
    }

    /// `depends_on` of every journey (its own, or `alerting.depends_on`) and probe, each name
    /// found among the journeys and probes, then followed through; a cycle is an error.
    fn depends_on(
        &mut self,
        raw: &AlertingFile,
        known: &Configured,
    ) -> HashMap<Subject, Vec<Subject>> {
        let mut direct: Vec<(Subject, String, Vec<Subject>)> = Vec::new();
        for journey in known.journeys {
            let own = raw
                .journeys
                .get(journey)
                .and_then(|p| p.depends_on.as_ref());
            let (path, names) = match (own, &raw.depends_on) {
                (Some(names), _) => (format!("alerting.journeys.{journey}.depends_on"), names),
                (None, Some(names)) => ("alerting.depends_on".to_string(), names),
                (None, None) => continue,
            };
            let subject = Subject::Journey(journey.clone());
            // The shared list may name the journey itself: not a dependency of its own.
            let shared = own.is_none();
            let deps = self.dependency_names(&path, names, known, &subject, shared);
            direct.push((subject, path, deps));
        }
        for (probe, policy) in &raw.probes {
            let Some(names) = &policy.depends_on else {
                continue;
            };
            let path = format!("alerting.probes.{probe}.depends_on");
            let subject = Subject::Probe(probe.clone());
            let deps = self.dependency_names(&path, names, known, &subject, false);
            direct.push((subject, path, deps));
        }
        let of = |s: &Subject| -> &[Subject] {
            direct
                .iter()
                .find(|(d, _, _)| d == s)
                .map_or(&[], |(_, _, deps)| deps.as_slice())
        };
        let mut closed = HashMap::new();
        for (subject, path, deps) in &direct {
            // Breadth first, so the nearest dependency comes first.
            let mut all: Vec<Subject> = Vec::new();
            let mut queue: std::collections::VecDeque<(Subject, Vec<Subject>)> =
                deps.iter().map(|d| (d.clone(), vec![d.clone()])).collect();
            while let Some((next, chain)) = queue.pop_front() {
                if next == *subject {
                    // Once per cycle: at its first member in name order.
                    if chain.iter().any(|member| member < subject) {
                        break;
                    }
                    let chain: Vec<String> = chain.iter().map(Subject::to_string).collect();
                    self.error_hint(
                        path,
                        format!(
                            "{subject} depends on itself: {subject} → {}",
                            chain.join(" → ")
                        ),
                        "a dependency is what must work first (DNS before the shop's home page): remove one link of the cycle",
                    );
                    break;
                }
                if all.contains(&next) {
                    continue;
                }
                for further in of(&next) {
                    let mut longer = chain.clone();
                    longer.push(further.clone());
                    queue.push_back((further.clone(), longer));
                }
                all.push(next);
            }
            closed.insert(subject.clone(), all);
        }
        closed
    }

    /// The names at `path` as journeys or probes; `subject` itself is an error unless the list
    /// is `shared` (then it is left out).
    fn dependency_names(
        &mut self,
        path: &str,
        names: &[String],
        known: &Configured,
        subject: &Subject,
        shared: bool,
    ) -> Vec<Subject> {
        let mut deps = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let at = format!("{path}[{i}]");
            let journey = known.journeys.contains(name);
            let probe = known.probes.contains(name);
            let dep = match (journey, probe) {
                (true, true) => {
                    self.error_hint(
                        &at,
                        format!("both a journey and a probe are named `{name}`"),
                        "rename one of them: `depends_on` names either",
                    );
                    continue;
                }
                (true, false) => Subject::Journey(name.clone()),
                (false, true) => Subject::Probe(name.clone()),
                (false, false) => {
                    let all: Vec<String> =
                        known.journeys.iter().chain(known.probes).cloned().collect();
                    self.known_name(&at, false, "journey or probe", name, &all);
                    continue;
                }
            };
            if dep == *subject {
                if !shared {
                    self.error_hint(
                        &at,
                        format!("{subject} cannot depend on itself"),
                        "list what must work for it to work, e.g. its DNS or its shop's home page",
                    );
                }
                continue;
            }
            if !deps.contains(&dep) {
                deps.push(dep);
            }
        }
        deps
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
        if let Some(slower) = &raw.slower_than_normal {
            policy.slower_than_normal = self.slower_than_normal(
                &format!("{path}.slower_than_normal"),
                slower,
                policy.slower_than_normal.unwrap_or_default(),
            );
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

    /// `base` with what `raw` (at `path`) overrides; `None` if a value is out of range.
    fn slower_than_normal(
        &mut self,
        path: &str,
        raw: &SlowerThanNormalFile,
        base: SlowerThanNormal,
    ) -> Option<SlowerThanNormal> {
        let mut slower = base;
        let mut valid = true;
        if let Some(factor) = raw.factor {
            if !(factor > 1.0 && factor.is_finite()) {
                self.error_hint(
                    &format!("{path}.factor"),
                    format!("`factor` must be more than 1, not {factor}"),
                    "a step is slower than normal when it takes more than `factor` times its normal time, e.g. `factor: 2`",
                );
                valid = false;
            }
            slower.factor = factor;
        }
        if let Some(runs) = raw.runs {
            if !(1..=MAX_RUNS).contains(&runs) {
                self.error_hint(
                    &format!("{path}.runs"),
                    format!("`runs` must be from 1 to {MAX_RUNS}, not {runs}"),
                    "the median of the step's last `runs` times is compared with its normal: 1 acts on each run, 3 lets one odd run pass",
                );
                valid = false;
            }
            slower.runs = runs;
        }
        match self.baseline(path, raw.weeks, raw.normal.as_deref(), slower.baseline) {
            Some(baseline) => slower.baseline = baseline,
            None => valid = false,
        }
        valid.then_some(slower)
    }

    fn maintenance(
        &mut self,
        path: &str,
        raw: &MaintenanceFile,
        known: &Configured,
    ) -> Option<MaintenanceWindow> {
        self.known_names(
            &format!("{path}.journeys"),
            "journey",
            &raw.journeys,
            known.journeys,
        );
        self.known_names(
            &format!("{path}.probes"),
            "probe",
            &raw.probes,
            known.probes,
        );
        let duration = self.duration(&format!("{path}.duration"), &raw.duration);
        let timezone = match raw.timezone.as_deref().map(parse_timezone) {
            None => Some(chrono_tz::Tz::UTC),
            Some(Ok(timezone)) => Some(timezone),
            Some(Err(e)) => {
                self.error_hint(&format!("{path}.timezone"), e, TIMEZONE_HINT);
                None
            }
        };
        let cron = match Cron::parse(&raw.cron, timezone.unwrap_or(chrono_tz::Tz::UTC)) {
            Ok(cron) if cron.upcoming().next().is_none() => {
                self.error_hint(
                    &format!("{path}.cron"),
                    format!(
                        "`cron: {}` never opens the window: no date matches it",
                        raw.cron
                    ),
                    "check the day and month fields, e.g. `0 2 * * SUN` for Sundays at 02:00",
                );
                None
            }
            Ok(cron) => Some(cron),
            Err(e) => {
                self.error_hint(
                    &format!("{path}.cron"),
                    format!("`{}` is not a cron expression: {e}", raw.cron),
                    "when the window starts (in UTC, or in `timezone`): five fields, e.g. `0 2 * * SUN` for Sundays at 02:00",
                );
                None
            }
        };
        // A bad zone is reported; the window is left out like one with a bad `cron`.
        timezone?;
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
        known: &Configured,
    ) -> Option<SinkConfig> {
        let filters = sink.filters();
        let name = match filters.name {
            Some(name) => {
                self.name(&format!("{path}.name"), "sink", name);
                name.to_string()
            }
            None => sink.kind().to_string(),
        };
        let filter = self.filter(path, &filters, known);
        let mut check = SinkCheck {
            checker: self,
            path: path.to_string(),
            kind: sink.kind(),
            dir,
        };
        let settings = sink.check(&mut check)?;
        Some(SinkConfig {
            name,
            filter,
            kind: settings,
        })
    }

    fn filter(&mut self, path: &str, s: &FiltersFile, known: &Configured) -> Filter {
        let mut filter = Filter::default();
        for (i, text) in s.severity.iter().enumerate() {
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
        self.known_names(
            &format!("{path}.journeys"),
            "journey",
            s.journeys,
            known.journeys,
        );
        self.known_names(&format!("{path}.probes"), "probe", s.probes, known.probes);
        filter.journeys = s.journeys.to_vec();
        filter.probes = s.probes.to_vec();
        filter
    }
}

/// For serde's "unknown field `channel`, expected one of ..." under a sink kind
/// (`alerting.sinks[0].webhook: ...`): the message and hint that say which kind takes what.
pub(crate) fn unknown_sink_key(path: &str, key: &str) -> Option<(String, String)> {
    let kind = path.strip_prefix("alerting.sinks[")?.split_once("].")?.1;
    let (kind, keys) = crate::alert::sink::kind_keys()
        .into_iter()
        .find(|(k, _)| *k == kind)?;
    let listed = |names: &[&str]| {
        names
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let takes = format!(
        "a {kind} sink takes {}, and the filters {}",
        listed(&keys),
        listed(&FILTER_KEYS)
    );
    let hint = match did_you_mean(key, keys.iter().copied().chain(FILTER_KEYS)) {
        Some(close) => format!("did you mean `{close}`? {takes}"),
        None => takes,
    };
    Some((format!("`{key}` is not a setting of a {kind} sink"), hint))
}
