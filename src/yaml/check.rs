//! The shared part of validating config files: collecting located errors, durations, names.
//! Journey and probe validation add their own checks in `impl Checker` blocks of their own.

use super::diagnostic::{did_you_mean, Diagnostic};
use super::locate::LocationIndex;
use super::scalars::StatusList;
use std::path::Path;
use std::time::Duration;

/// The shortest `every` of a journey or probe.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

/// The longest duration any key takes (a year and a day): every duration is added to a clock
/// somewhere, and one near `u64::MAX` seconds overflows it.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// The journeys and probes a configuration has, to check the names other sections use.
pub struct Configured<'a> {
    pub journeys: &'a [String],
    pub probes: &'a [String],
}

pub struct Checker<'a> {
    pub file: &'a Path,
    pub index: &'a LocationIndex,
    pub errors: Vec<Diagnostic>,
    /// What is likely a mistake but may be meant (a pseudo-class no standard names): said,
    /// and the file still loads.
    pub warnings: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub fn new(file: &'a Path, index: &'a LocationIndex) -> Self {
        Checker {
            file,
            index,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// A warning at `path`: the message starts with `warning: `.
    pub fn warning_hint(
        &mut self,
        path: &str,
        message: impl std::fmt::Display,
        hint: impl Into<String>,
    ) {
        let location = self.index.find(path);
        self.warnings.push(
            Diagnostic::new(self.file, location, format!("warning: {message}")).with_hint(hint),
        );
    }

    pub fn error(&mut self, path: &str, message: impl Into<String>) {
        let location = self.index.find(path);
        self.errors
            .push(Diagnostic::new(self.file, location, message));
    }

    pub fn error_hint(&mut self, path: &str, message: impl Into<String>, hint: impl Into<String>) {
        let location = self.index.find(path);
        self.errors
            .push(Diagnostic::new(self.file, location, message).with_hint(hint));
    }

    /// An error in the key of the mapping entry at `path` (a variable's name), located at the key.
    pub fn key_error(&mut self, path: &str, message: impl Into<String>, hint: Option<&str>) {
        let location = self.index.find_key(path);
        let diagnostic = Diagnostic::new(self.file, location, message);
        self.errors.push(match hint {
            Some(hint) => diagnostic.with_hint(hint),
            None => diagnostic,
        });
    }

    /// An error about the mapping entry at `path` as a whole (a key missing under it), located
    /// at its key: a block mapping's own place is not where anyone looks.
    pub fn key_error_hint(
        &mut self,
        path: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let location = self.index.find_key(path);
        self.errors
            .push(Diagnostic::new(self.file, location, message).with_hint(hint));
    }

    pub fn duration(&mut self, path: &str, text: &str) -> Option<Duration> {
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d.is_zero() => {
                self.error(path, format!("duration `{text}` must be more than zero"));
                None
            }
            Ok(d) if d > MAX_DURATION => {
                self.error_hint(
                    path,
                    format!("duration `{text}` is too long"),
                    "the longest is 366d",
                );
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                let number = text.trim();
                let hint = if number.parse::<f64>().is_ok() {
                    format!("add a unit: `{number}s` for seconds, `{number}ms` for milliseconds")
                } else {
                    "write a number with a unit: `1500ms`, `15s`, `5m`, `1h`".to_string()
                };
                self.error_hint(path, format!("`{text}` is not a duration"), hint);
                None
            }
        }
    }

    pub fn opt_duration(&mut self, path: &str, text: &Option<String>) -> Option<Duration> {
        text.as_deref().and_then(|t| self.duration(path, t))
    }

    /// An error unless `name` is among `known`; at the key of `path` when `at_key` (the name
    /// is a key: `journeys: {shop: ...}`), else at its value.
    pub fn known_name(
        &mut self,
        path: &str,
        at_key: bool,
        what: &str,
        name: &str,
        known: &[String],
    ) {
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

    pub fn known_names(&mut self, path: &str, what: &str, names: &[String], known: &[String]) {
        for (i, name) in names.iter().enumerate() {
            self.known_name(&format!("{path}[{i}]"), false, what, name, known);
        }
    }

    /// An HTTP method (default `GET`); an unknown one is an error at `path` naming the closest.
    pub fn http_method(&mut self, path: &str, text: Option<&str>) -> http::Method {
        const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        let text = text.unwrap_or("GET");
        let upper = text.to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) {
            return http::Method::from_bytes(upper.as_bytes()).unwrap_or(http::Method::GET);
        }
        let all = format!("use one of {}", METHODS.join(", "));
        let hint = match did_you_mean(&upper, METHODS.iter().copied()) {
            Some(close) => format!("did you mean `{close}`? {all}"),
            None => all,
        };
        self.error_hint(path, format!("unknown HTTP method `{text}`"), hint);
        http::Method::GET
    }

    /// Whether `name` (the key at `path`) is a valid HTTP header name; if not, an error at it.
    pub fn header_name(&mut self, path: &str, name: &str) -> Option<http::HeaderName> {
        let parsed = http::HeaderName::from_bytes(name.as_bytes()).ok();
        if parsed.is_none() {
            self.key_error(
                path,
                format!("`{name}` is not a valid header name"),
                Some("a header name is letters, digits and `-` without spaces, e.g. `X-Api-Key`"),
            );
        }
        parsed
    }

    /// A request header as written at `path` (`headers.<name>`): its name and value if HTTP
    /// allows both, else an error at each that is wrong.
    pub fn header(
        &mut self,
        path: &str,
        name: &str,
        value: &str,
    ) -> Option<(http::HeaderName, http::HeaderValue)> {
        let parsed_name = self.header_name(path, name);
        let parsed_value = http::HeaderValue::from_str(value).ok();
        if parsed_value.is_none() {
            self.error(
                path,
                format!("the value of header `{name}` is not allowed: use visible ASCII text, no line breaks"),
            );
        }
        Some((parsed_name?, parsed_value?))
    }

    /// Accepted status codes: one or a list, each 100 to 599; none given is any 2xx (empty).
    pub fn status_codes(&mut self, path: &str, given: &Option<StatusList>) -> Vec<u16> {
        let codes = match given {
            None => return Vec::new(),
            Some(StatusList::One(code)) => vec![*code],
            Some(StatusList::Many(codes)) if codes.is_empty() => {
                self.error_hint(
                    path,
                    "expect_status is empty",
                    "list the accepted codes, or leave `expect_status` out for any 2xx",
                );
                return Vec::new();
            }
            Some(StatusList::Many(codes)) => codes.clone(),
        };
        for (i, code) in codes.iter().enumerate() {
            if !(100..=599).contains(code) {
                // `expect_status: 999` has no `[0]` node: `find` falls back to the number.
                self.error(
                    &format!("{path}[{i}]"),
                    format!("{code} is not an HTTP status code (100 to 599)"),
                );
            }
        }
        codes
    }

    pub fn name(&mut self, path: &str, what: &str, name: &str) {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            self.error_hint(
                path,
                format!("{what} name `{name}` is not allowed"),
                "use 1 to 64 letters, digits, `-`, `_` or `.`: it becomes a metric label",
            );
        }
    }
}

/// The reason in a regex error, which first repeats the pattern and marks the place with `^`.
pub fn regex_reason(text: &str) -> String {
    let last = text.lines().last().unwrap_or(text).trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}
