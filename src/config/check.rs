//! The shared part of validating config files: collecting located errors, durations, names.
//! Journey and probe validation add their own checks in `impl Checker` blocks of their own.

use super::diagnostic::Diagnostic;
use super::locate::LocationIndex;
use std::path::Path;
use std::time::Duration;

/// The longest duration any key takes (a year and a day): every duration is added to a clock
/// somewhere, and one near `u64::MAX` seconds overflows it.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

pub struct Checker<'a> {
    pub file: &'a Path,
    pub index: &'a LocationIndex,
    pub errors: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub fn new(file: &'a Path, index: &'a LocationIndex) -> Self {
        Checker {
            file,
            index,
            errors: Vec::new(),
        }
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
