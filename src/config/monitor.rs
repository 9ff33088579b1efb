//! The monitor's configuration (`shopwatch run --config shopwatch.yaml`): serde types for the
//! structure (unknown keys rejected, located by the parser), then `validate` into a typed
//! [`MonitorConfig`], collecting every problem with its location: in this file, and in every
//! journey file it names.
//!
//! Relative paths (journeys, artifacts, `ca_file`) are taken from the configuration file's
//! directory, as Prometheus does, so the monitor runs the same from any working directory.

use crate::alert::config::AlertingFile;
use crate::alert::AlertingConfig;
use crate::artifacts::config::ArtifactsFile;
pub use crate::artifacts::ArtifactsConfig;
use crate::history::config::HistoryFile;
use crate::history::HistoryConfig;
use crate::journey::model::Journey;
use crate::metrics::config::MetricsFile;
use crate::metrics::MetricsConfig;
use crate::probe::config::{probe_structure_diagnostic, validate_probes};
use crate::probe::ProbeConfig;
use crate::probe::ProbeFile;
use crate::ui::config::{AuthConfig, StatusPage, StatusPageFile, UiFile};
use crate::webdriver::Endpoint;
use crate::yaml::check::{Checker, Configured};
use crate::yaml::diagnostic::{Diagnostic, Diagnostics};
use crate::yaml::locate::{Location, LocationIndex};
use crate::yaml::scalars::http_url;
use crate::yaml::structure::{Problem, StructureError};
use crate::yaml::{parse_structure, with_earlier};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// The whole monitor, validated.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub file: PathBuf,
    pub listen: SocketAddr,
    /// Added as a `location` label to every series.
    pub location: Option<String>,
    pub webdriver: Endpoint,
    /// Browser sessions open at once, over all journeys.
    pub max_sessions: usize,
    pub journeys: Vec<Journey>,
    pub artifacts: ArtifactsConfig,
    /// Where `artifacts.dir` is written (else the file's start), for a problem with the
    /// directory found only at start.
    pub artifacts_at: Location,
    pub metrics: MetricsConfig,
    pub probes: Vec<ProbeConfig>,
    /// `None`: no alerts are sent (alert from Prometheus with `shopwatch rules` instead).
    pub alerting: Option<AlertingConfig>,
    /// The run history (and `state_dir`, where its file is by default).
    pub history: HistoryConfig,
    /// Who may read the API.
    pub auth: AuthConfig,
    /// The public status pages (`/status`), and so the journeys that have badges.
    pub status_pages: Vec<StatusPage>,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorFile {
    #[serde(default, deserialize_with = "opt_listen")]
    pub listen: Option<String>,
    pub location: Option<String>,
    #[serde(default)]
    pub webdriver: WebDriverFile,
    #[serde(default)]
    pub journeys: Vec<JourneyEntry>,
    pub artifacts: Option<ArtifactsFile>,
    pub metrics: Option<MetricsFile>,
    #[serde(default)]
    pub probes: Vec<ProbeFile>,
    pub alerting: Option<AlertingFile>,
    pub state_dir: Option<String>,
    pub history: Option<HistoryFile>,
    pub ui: Option<UiFile>,
    #[serde(default)]
    pub status_pages: Vec<StatusPageFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebDriverFile {
    pub url: Option<String>,
    pub max_sessions: Option<u32>,
}

/// `- journeys/x.yaml` (a path or glob), or `- {file: ..., base_url: ...}` to run a journey
/// against another base URL (staging, or a shop seen from inside a container network).
#[derive(Debug)]
pub struct JourneyEntry {
    pub file: String,
    pub base_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JourneyEntryMap {
    file: String,
    base_url: Option<String>,
}

impl<'de> Deserialize<'de> for JourneyEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JourneyEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a journey file path or glob, or `{file: ..., base_url: ...}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JourneyEntry, E> {
                Ok(JourneyEntry {
                    file: v.to_string(),
                    base_url: None,
                })
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<JourneyEntry, M::Error> {
                let entry =
                    JourneyEntryMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(JourneyEntry {
                    file: entry.file,
                    base_url: entry.base_url,
                })
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `listen` as text (`listen: 9464` too, which [`listen_problem`] then explains); a list or a
/// map is "expected an IP address and port", not "expected a string".
fn opt_listen<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an IP address and port such as `127.0.0.1:9464`")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// Whether a YAML document is a monitor configuration rather than a journey: it has a key only
/// a configuration has and none of the keys every journey has. A journey with a typo in one of
/// those still has the others, so it is validated (and its typo reported) as a journey.
pub fn looks_like_monitor_config(source: &str) -> bool {
    const JOURNEY_ONLY: [&str; 4] = ["journey", "steps", "base_url", "defaults"];
    let index = LocationIndex::new(source);
    crate::yaml::fields::struct_fields::<MonitorFile>()
        .iter()
        .any(|key| index.has(key))
        && !JOURNEY_ONLY.iter().any(|key| index.has(key))
}

/// Reads and validates a monitor configuration and every journey file it names.
pub fn load_monitor(file: &Path) -> Result<MonitorConfig, Diagnostics> {
    parse_monitor(file, &crate::yaml::read_source(file, "configuration")?)
}

/// Parses and validates monitor YAML `source`, naming `file` in errors.
pub fn parse_monitor(file: &Path, source: &str) -> Result<MonitorConfig, Diagnostics> {
    if !looks_like_monitor_config(source) {
        // `shopwatch run --config journeys/shop.yaml`: say so, rather than "unknown key `journey`".
        let index = LocationIndex::new(source);
        let at = if index.has("journey") {
            index.find_key("journey")
        } else {
            index.find_key("steps")
        };
        return Err(Diagnostics(vec![Diagnostic::new(
            file,
            at,
            "this is a journey file, not a monitor configuration",
        )
        .with_hint(
            "list it under `journeys:` in a configuration such as shopwatch.yaml, or run it once with `shopwatch check`",
        )]));
    }
    let (raw, index, errors) =
        parse_structure::<MonitorFile>(file, source, monitor_structure_diagnostic)?;
    with_earlier(errors, validate(file, raw, &index))
}

fn monitor_structure_diagnostic(file: &Path, error: &StructureError) -> Diagnostic {
    if error.path.starts_with("probes[") {
        return probe_structure_diagnostic(file, error);
    }
    if let Problem::UnknownKey { key, .. } = &error.problem {
        if let Some((message, hint)) = crate::alert::config::unknown_sink_key(&error.path, key) {
            let mut diagnostic = Diagnostic::new(file, error.location, message);
            diagnostic.hint = Some(hint);
            return diagnostic;
        }
    }
    let in_sinks = error.path.starts_with("alerting.sinks[");
    let mut diagnostic = error.diagnostic(file, if in_sinks { "sink kind" } else { "value" });
    // `alerting: {slack: ...}`: a sink written where settings go.
    if let Problem::UnknownKey { key, .. } = &error.problem {
        if error.path == "alerting" && crate::alert::sink::SINK_KINDS.contains(&key.as_str()) {
            diagnostic.hint = Some(format!(
                "sinks go in a list under `sinks:`, e.g. `sinks: [{{{key}: {{...}}}}]`"
            ));
        }
    }
    if diagnostic.hint.is_none() {
        if let Some(hint) = structure_hint(error) {
            diagnostic = diagnostic.with_hint(hint);
        }
    }
    diagnostic
}

/// What to write instead, for a value of the wrong type (or a journey map without `file`), by
/// the path of the value (`metrics.step_buckets[2]`).
fn structure_hint(error: &StructureError) -> Option<&'static str> {
    // `journeys[3].file` -> `journeys[].file`
    let mut key = String::new();
    let mut in_index = false;
    for ch in error.path.chars() {
        match ch {
            '[' => {
                in_index = true;
                key.push('[');
            }
            ']' => {
                in_index = false;
                key.push(']');
            }
            _ if in_index => {}
            _ => key.push(ch),
        }
    }
    if error.problem == Problem::MissingKey("file") && key == "journeys[]" {
        return Some("a journey given as a map needs `file:`, e.g. `- {file: journeys/shop.yaml, base_url: https://staging.shop.example.com}`");
    }
    if !matches!(error.problem, Problem::WrongType { .. }) {
        return None;
    }
    Some(match key.as_str() {
        "listen" => LISTEN_HINT,
        "location" => "a short name for where this monitor runs, e.g. `location: eu-west`",
        "webdriver" => "`webdriver` is a map with `url` (the WebDriver endpoint) and `max_sessions`, e.g. `webdriver: {url: http://127.0.0.1:4444}`",
        "webdriver.url" => WEBDRIVER_URL_HINT,
        "webdriver.max_sessions" => "how many browser sessions may be open at once: a whole number, at least 1, e.g. `max_sessions: 2`",
        "journeys" => "list journey files or globs, e.g. `journeys: [journeys/shop.yaml]`",
        "journeys[]" => "write a path or glob, e.g. `- journeys/shop.yaml`, or `- {file: journeys/shop.yaml, base_url: https://staging.shop.example.com}`",
        "journeys[].file" => "a journey file path or glob, e.g. `file: journeys/shop.yaml`",
        "journeys[].base_url" => BASE_URL_HINT,
        "artifacts" => "`artifacts` is a map with `dir`, `max_age` and `max_size`, e.g. `artifacts: {dir: shopwatch-artifacts, max_age: 7d, max_size: 1GiB}`",
        "artifacts.dir" => "a directory path, e.g. `dir: /var/lib/shopwatch/artifacts`",
        "artifacts.max_age" => "a duration, e.g. `max_age: 7d`",
        "artifacts.max_size" => crate::artifacts::config::SIZE_HINT,
        "metrics" => "`metrics` is a map with `window`, `step_buckets` and `journey_buckets`",
        "metrics.window" => "a duration, e.g. `window: 1h`",
        "state_dir" => "a directory path, e.g. `state_dir: /var/lib/shopwatch`",
        "history" => "`history` is a map with `url`, `password` and `max_age`, e.g. `history: {max_age: 90d}`",
        "history.url" => crate::history::config::URL_HINT,
        "history.max_age" => "a duration, e.g. `max_age: 90d`",
        "ui" => "`ui` is a map with `auth`, e.g. `ui: {auth: none}`",
        "ui.auth" => crate::ui::config::AUTH_HINT,
        "status_pages" | "status_pages[]" => crate::ui::config::STATUS_PAGES_HINT,
        "status_pages[].name" => "the page's address, e.g. `name: shop-nl` for `/status/shop-nl`",
        "status_pages[].title" => "the heading people see, e.g. `title: Shop status`",
        "status_pages[].journeys" | "status_pages[].journeys[]" => "a list of journey names, e.g. `journeys: [checkout]`",
        "status_pages[].probes" | "status_pages[].probes[]" => "a list of probe names, e.g. `probes: [shop-home]`",
        "status_pages[].show_reasons" => "`true` to say on the page which step failed and why, `false` (the default) to say only that it did",
        "metrics.step_buckets" | "metrics.step_buckets[]" | "metrics.journey_buckets"
        | "metrics.journey_buckets[]" => crate::metrics::config::BUCKETS_HINT,
        _ => return None,
    })
}

const LISTEN_HINT: &str =
    "write an IP address and port, e.g. `127.0.0.1:9464` (this machine only) or `0.0.0.0:9464` (every interface, as in a container)";
const WEBDRIVER_URL_HINT: &str = "give the WebDriver endpoint, e.g. `http://127.0.0.1:4444` (geckodriver, Selenium), or leave `url` out to start a local driver";
const BASE_URL_HINT: &str = "write a full URL such as `https://staging.shop.example.com`";

/// What is wrong with a `listen` text that is not a `SocketAddr`: (message, hint).
fn listen_problem(text: &str) -> (String, String) {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return ("`listen` is empty".to_string(), LISTEN_HINT.to_string());
    }
    if trimmed.contains("://") {
        return (
            format!("`{text}` is a URL; `listen` takes an IP address and port"),
            "drop the scheme and path, e.g. `127.0.0.1:9464`".to_string(),
        );
    }
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        // `::1:9464` is an IPv6 address, though most likely `::1` and a port were meant.
        let meant = trimmed
            .rsplit_once(':')
            .filter(|(host, port)| {
                ip.is_ipv6() && host.parse::<IpAddr>().is_ok() && port.parse::<u16>().is_ok()
            })
            .map(|(host, port)| format!("`[{host}]:{port}`"));
        let hint = match meant {
            Some(meant) => {
                format!("an IPv6 address goes in brackets before the port, e.g. {meant}")
            }
            None => format!("add the port, e.g. `{}`", SocketAddr::new(ip, 9464)),
        };
        return (format!("`{text}` has no port"), hint);
    }
    let port_only = trimmed.strip_prefix(':').unwrap_or(trimmed);
    if port_only.parse::<u16>().is_ok() {
        return (
            format!("`{text}` has no IP address"),
            format!("write `127.0.0.1:{port_only}` (this machine only) or `0.0.0.0:{port_only}` (every interface, as in a container)"),
        );
    }
    let Some((host, port)) = trimmed.rsplit_once(':') else {
        if matches!(url::Host::parse(trimmed), Ok(url::Host::Domain(_))) {
            return (
                format!("`{text}`: `listen` takes an IP address and port, not a host name"),
                format!("host names are not resolved here: {LISTEN_HINT}"),
            );
        }
        return (
            format!("`{text}` is not an IP address and port"),
            LISTEN_HINT.to_string(),
        );
    };
    if port.is_empty() {
        return (
            format!("`{text}` has no port"),
            format!("add the port, e.g. `{host}:9464`"),
        );
    }
    if port.parse::<u16>().is_err() {
        return (
            format!("`{port}` is not a port (0 to 65535)"),
            LISTEN_HINT.to_string(),
        );
    }
    if host.contains(':') && !host.starts_with('[') {
        return (
            format!("`{text}`: an IPv6 address needs brackets"),
            format!("write `[{host}]:{port}`"),
        );
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_err() && url::Host::parse(bare).is_ok() {
        return (
            format!("`{text}`: `listen` takes an IP address, not a host name"),
            format!("host names are not resolved here: write `127.0.0.1:{port}` to listen on this machine only, or `0.0.0.0:{port}` on every interface (as in a container)"),
        );
    }
    (
        format!("`{text}` is not an IP address and port"),
        LISTEN_HINT.to_string(),
    )
}

fn validate(
    file: &Path,
    raw: MonitorFile,
    index: &LocationIndex,
) -> Result<MonitorConfig, Vec<Diagnostic>> {
    let mut c = Checker::new(file, index);
    let dir = file.parent().unwrap_or(Path::new("")).to_path_buf();

    let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
        let (message, hint) = listen_problem(listen_text);
        c.error_hint("listen", message, hint);
        DEFAULT_LISTEN
            .parse()
            .expect("default listen address parses")
    });

    if let Some(location) = &raw.location {
        let length = location.chars().count();
        let hint = "it becomes the `location` label of every series: use 1 to 64 printable characters, e.g. `eu-west`";
        if location.trim().is_empty() {
            c.error_hint(
                "location",
                "`location` is empty",
                "give a short name for where this monitor runs, e.g. `eu-west`, or leave `location` out",
            );
        } else if length > 64 {
            c.error_hint(
                "location",
                format!("location is {length} characters long; at most 64 are allowed"),
                hint,
            );
        } else if location.chars().any(|ch| ch.is_control()) {
            c.error_hint(
                "location",
                "location must not contain control characters (tabs, line breaks)",
                hint,
            );
        }
    }

    let webdriver = match &raw.webdriver.url {
        None => Endpoint::Local,
        Some(text) => match http_url("the WebDriver url", text) {
            Ok(url) => Endpoint::Remote(url.to_string()),
            Err(message) => {
                c.error_hint("webdriver.url", message, WEBDRIVER_URL_HINT);
                Endpoint::Local
            }
        },
    };
    let max_sessions = match raw.webdriver.max_sessions {
        Some(0) => {
            c.error_hint(
                "webdriver.max_sessions",
                "`max_sessions` must be at least 1",
                "it is how many browser sessions may be open at once",
            );
            1
        }
        Some(n) => n as usize,
        None => 1,
    };

    let journeys = c.journeys(&dir, &raw.journeys);
    if raw.journeys.is_empty() && raw.probes.is_empty() {
        // At the empty list when there is one, else at the first key: the top-level mapping
        // itself is indexed where its first `:` is.
        let at = ["journeys", "probes"]
            .into_iter()
            .find(|key| index.has(key))
            .map(|key| index.find_key(key))
            .or_else(|| {
                crate::yaml::fields::struct_fields::<MonitorFile>()
                    .iter()
                    .filter(|key| index.has(key))
                    .map(|key| index.find_key(key))
                    .min_by_key(|l| (l.line, l.column))
            })
            .unwrap_or(Location { line: 1, column: 1 });
        c.errors.push(
            Diagnostic::new(
                file,
                at,
                "nothing to monitor: no journeys and no probes are configured",
            )
            .with_hint("add `journeys: [journeys/shop.yaml]`, or a probe under `probes:`"),
        );
    }
    let artifacts = crate::artifacts::config::check(&mut c, &dir, raw.artifacts.as_ref());
    let artifacts_at = crate::artifacts::config::artifacts_location(index);
    let metrics = crate::metrics::config::check(&mut c, raw.metrics.as_ref());
    let history =
        crate::history::config::check(&mut c, &dir, raw.state_dir.as_deref(), raw.history.as_ref());
    let auth = crate::ui::config::check(&mut c, raw.ui.as_ref());
    let journey_names: Vec<String> = journeys.iter().map(|j| j.name.clone()).collect();
    let probe_names: Vec<String> = raw.probes.iter().map(|p| p.name().to_string()).collect();
    let alerting = raw.alerting.as_ref().map(|a| {
        c.alerting(
            &dir,
            a,
            &Configured {
                journeys: &journey_names,
                probes: &probe_names,
            },
        )
    });
    let status_pages = crate::ui::config::check_status_pages(
        &mut c,
        &raw.status_pages,
        &journey_names,
        &probe_names,
    );
    let probes = match validate_probes(file, &raw.probes, index, "probes") {
        Ok(probes) => probes,
        Err(errors) => {
            c.errors.extend(errors);
            Vec::new()
        }
    };

    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    Ok(MonitorConfig {
        file: file.to_path_buf(),
        listen,
        location: raw.location,
        webdriver,
        max_sessions,
        journeys,
        artifacts,
        artifacts_at,
        metrics,
        probes,
        alerting,
        history,
        auth,
        status_pages,
    })
}

impl Checker<'_> {
    /// Every journey the entries name (globs expanded, in order, each file once), validated;
    /// errors in a journey file are reported in that file.
    fn journeys(&mut self, dir: &Path, entries: &[JourneyEntry]) -> Vec<Journey> {
        let mut journeys: Vec<Journey> = Vec::new();
        let mut names: HashMap<String, String> = HashMap::new();
        // Artifact directory names, compared without case (a case-insensitive file system
        // would merge them): the journey and file that took each.
        let mut dir_names: HashMap<String, (String, String)> = HashMap::new();
        let mut loaded: Vec<(PathBuf, Option<String>)> = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let path = format!("journeys[{i}]");
            // `- {file: ...}`: at the file, not at the map (indexed where its first `:` is).
            let file_path = if self.index.has(&format!("{path}.file")) {
                format!("{path}.file")
            } else {
                path.clone()
            };
            let base_url =
                entry
                    .base_url
                    .as_ref()
                    .and_then(|text| match http_url("base_url", text) {
                        Ok(url) => Some(url),
                        Err(message) => {
                            self.error_hint(&format!("{path}.base_url"), message, BASE_URL_HINT);
                            None
                        }
                    });
            for file in self.expand(dir, &file_path, &entry.file) {
                let key = (file.clone(), entry.base_url.clone());
                if loaded.contains(&key) {
                    continue;
                }
                loaded.push(key);
                let mut journey = match super::load_journey(&file) {
                    Ok(journey) => journey,
                    Err(diagnostics) => {
                        self.errors.extend(diagnostics.0);
                        continue;
                    }
                };
                if let Some(base_url) = &base_url {
                    journey.base_url = base_url.clone();
                }
                if let Some(first) = names.get(&journey.name) {
                    self.error_hint(
                        &file_path,
                        format!(
                            "journey `{}` ({}) is configured twice; the first is {first}",
                            journey.name,
                            file.display()
                        ),
                        "journey names are metric labels and must be unique: rename one `journey:`",
                    );
                    continue;
                }
                let dir_name = crate::artifacts::safe_name(&journey.name);
                if let Some((first, first_file)) = dir_names.get(&dir_name.to_ascii_lowercase()) {
                    let first_dir = crate::artifacts::safe_name(first);
                    let shared = if first_dir == dir_name {
                        format!("the artifacts directory `{dir_name}`")
                    } else {
                        format!("an artifacts directory where case is ignored (`{first_dir}`, `{dir_name}`)")
                    };
                    self.error_hint(
                        &file_path,
                        format!(
                            "journeys `{first}` ({first_file}) and `{}` ({}) would share {shared}",
                            journey.name,
                            file.display()
                        ),
                        "a journey's artifacts go in a directory named after it, with a leading `.` and any character other than letters, digits, `.`, `_` and `-` made `_`, and case ignored: rename one `journey:`",
                    );
                    continue;
                }
                dir_names.insert(
                    dir_name.to_ascii_lowercase(),
                    (journey.name.clone(), file.display().to_string()),
                );
                names.insert(journey.name.clone(), file.display().to_string());
                journeys.push(journey);
            }
        }
        journeys
    }

    /// The files a `journeys` entry names: a path, or a glob (`*`, `?`, `[`) matching at least one.
    fn expand(&mut self, dir: &Path, path: &str, text: &str) -> Vec<PathBuf> {
        let given = dir.join(text);
        if !text.contains(['*', '?', '[']) {
            if given.is_dir() {
                self.error_hint(
                    path,
                    format!("`{}` is a directory, not a journey file", given.display()),
                    format!(
                        "name the files, or all of them with a glob such as `{}`",
                        Path::new(text).join("*.yaml").display()
                    ),
                );
                return Vec::new();
            }
            if !given.is_file() {
                self.error_hint(
                    path,
                    format!("journey file `{}` does not exist", given.display()),
                    "paths are taken from the configuration file's directory",
                );
                return Vec::new();
            }
            return vec![given];
        }
        // Checked alone, so the error's position is in what the user wrote.
        if let Err(e) = glob::Pattern::new(text) {
            self.error_hint(
                path,
                format!(
                    "`{text}` is not a valid glob: {} (at character {})",
                    e.msg,
                    e.pos + 1
                ),
                "`*` matches any part of a name, `**` any directories, `?` one character, `[abc]` one of the characters listed",
            );
            return Vec::new();
        }
        // The directory is taken literally, even when its name has `*`, `?` or `[`.
        let pattern = if Path::new(text).is_absolute() {
            text.to_string()
        } else {
            Path::new(&glob::Pattern::escape(&dir.to_string_lossy()))
                .join(text)
                .to_string_lossy()
                .into_owned()
        };
        let matched = match glob_files(&pattern) {
            Ok(matched) => matched,
            Err(GlobError::Invalid(msg)) => {
                self.error(path, format!("`{text}` is not a valid glob: {msg}"));
                return Vec::new();
            }
            Err(GlobError::TooLarge { base }) => {
                self.error_hint(
                    path,
                    format!(
                        "`{text}` looks through more than {MAX_GLOB_ENTRIES} entries under `{}`",
                        base.display()
                    ),
                    "point the glob at the journeys' own directory, e.g. `journeys/*.yaml`",
                );
                return Vec::new();
            }
        };
        if matched.is_empty() {
            self.error_hint(
                path,
                format!(
                    "`{text}` matches no journey file (looked for `{}`)",
                    given.display()
                ),
                "paths are taken from the configuration file's directory",
            );
        }
        matched
    }
}

/// The most directory entries a journey glob may look through: a glob such as `/**/*.yaml`
/// would otherwise walk the whole disk before the monitor starts (or reloads).
const MAX_GLOB_ENTRIES: usize = 10_000;

enum GlobError {
    Invalid(String),
    TooLarge { base: PathBuf },
}

/// The files `pattern` matches, sorted, walking at most [`MAX_GLOB_ENTRIES`] entries from its
/// literal directory (and no deeper than its components reach, unless it has `**`).
fn glob_files(pattern: &str) -> Result<Vec<PathBuf>, GlobError> {
    let compiled = glob::Pattern::new(pattern).map_err(|e| GlobError::Invalid(e.msg.into()))?;
    let has_magic = |part: &str| part.contains(['*', '?', '[']);
    let mut base = PathBuf::new();
    let mut rest = 0;
    for component in Path::new(pattern).components() {
        let part = component.as_os_str().to_string_lossy();
        if rest == 0 && !has_magic(&part) {
            base.push(component);
        } else {
            rest += 1;
        }
    }
    let depth = if pattern.contains("**") {
        usize::MAX
    } else {
        rest
    };
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..glob::MatchOptions::new()
    };
    let mut matched = Vec::new();
    // A pattern relative to the working directory: walk `.`, match without the `./`.
    let relative = base.as_os_str().is_empty();
    let root = if relative {
        Path::new(".")
    } else {
        base.as_path()
    };
    let walk = walkdir::WalkDir::new(root)
        .min_depth(1)
        .max_depth(depth)
        .sort_by_file_name();
    for (seen, entry) in walk.into_iter().enumerate() {
        if seen >= MAX_GLOB_ENTRIES {
            return Err(GlobError::TooLarge { base });
        }
        // Unreadable directories match nothing, as with a shell glob.
        let Ok(entry) = entry else { continue };
        let path = match relative {
            true => entry.path().strip_prefix(".").unwrap_or(entry.path()),
            false => entry.path(),
        };
        if compiled.matches_path_with(path, options) && path.is_file() {
            matched.push(path.to_path_buf());
        }
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_configs_from_journeys() {
        assert!(looks_like_monitor_config(
            "listen: 127.0.0.1:9464\njourneys: [a.yaml]\n"
        ));
        assert!(!looks_like_monitor_config(
            "journey: x\nbase_url: http://a\nsteps: []\n"
        ));
        // Typos in `journey` and `steps`: still a journey (its typos get journey errors).
        assert!(!looks_like_monitor_config(
            "jouney: x\nbase_url: http://a\nstep: []\n"
        ));
        // Nothing recognisable (a syntax error first): a journey, as before configurations.
        assert!(!looks_like_monitor_config("{{{"));
    }

    #[test]
    fn empty_values_are_defaults() {
        let config = parse_monitor(
            Path::new("shopwatch.yaml"),
            "listen:\nartifacts:\n  max_age:\n  max_size:\nmetrics:\n  window:\nprobes:\n  - http: {name: a, url: \"http://127.0.0.1:9/\", every: 15s}\n",
        )
        .unwrap();
        assert_eq!(config.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(
            config.artifacts.max_age,
            crate::artifacts::config::DEFAULT_MAX_AGE
        );
        assert_eq!(
            config.artifacts.max_size,
            crate::artifacts::config::DEFAULT_MAX_SIZE
        );
        assert_eq!(config.metrics.window, MetricsConfig::default().window);
    }

    #[test]
    fn says_what_is_wrong_with_listen() {
        let message = |text| listen_problem(text).0;
        let hint = |text| listen_problem(text).1;
        assert!(message("localhost:9464").contains("not a host name"));
        assert!(message("localhost").contains("not a host name"));
        assert!(hint("localhost").starts_with("host names are not resolved here: write"));
        assert!(hint("localhost:9464").contains("`127.0.0.1:9464`"));
        assert_eq!(message("9464"), "`9464` has no IP address");
        assert_eq!(message(":9464"), "`:9464` has no IP address");
        assert_eq!(message("127.0.0.1"), "`127.0.0.1` has no port");
        assert!(hint("127.0.0.1").contains("`127.0.0.1:9464`"));
        assert!(hint("::1:9464").contains("`[::1]:9464`"));
        assert!(message("fe80::1%eth0:9464").contains("brackets"));
        assert!(message("http://127.0.0.1:9464").contains("is a URL"));
        assert_eq!(
            message("127.0.0.1:99999"),
            "`99999` is not a port (0 to 65535)"
        );
        assert_eq!(message(""), "`listen` is empty");
        assert_eq!(message("127.0.0.1:"), "`127.0.0.1:` has no port");
    }

    #[test]
    fn hints_by_the_path_of_the_value() {
        let error = |path: &str, problem: Problem| StructureError {
            location: Location::default(),
            path: path.to_string(),
            problem,
        };
        let wrong = || Problem::WrongType {
            found: "map".into(),
            expected: "a string".into(),
        };
        assert_eq!(structure_hint(&error("listen", wrong())), Some(LISTEN_HINT));
        assert_eq!(
            structure_hint(&error("metrics.step_buckets[12]", wrong())),
            Some(crate::metrics::config::BUCKETS_HINT)
        );
        assert!(structure_hint(&error("journeys[3]", Problem::MissingKey("file"))).is_some());
        let unknown = Problem::UnknownKey {
            key: "x".into(),
            expected: vec![],
        };
        assert_eq!(structure_hint(&error("webdriver", unknown)), None);
        assert_eq!(structure_hint(&error("", wrong())), None);
    }

    #[test]
    fn a_journey_given_as_configuration_is_named_so() {
        let errors = parse_monitor(
            Path::new("shop.yaml"),
            "# a journey\njourney: shop\nbase_url: http://a\nsteps: []\n",
        )
        .unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].location, Location { line: 2, column: 1 });
        assert!(errors.0[0]
            .message
            .contains("journey file, not a monitor configuration"));
    }
}
