//! What validating a sink's settings takes, shared by every kind: located errors for one sink
//! ([`SinkCheck`]), and the checks of URLs, secrets, headers and texts that kinds repeat.

use crate::journey::model::Var;
use crate::yaml::check::Checker;
use crate::yaml::scalars::http_url;
use crate::yaml::secret::var;
use crate::yaml::secret::VarFile;
use std::collections::BTreeMap;
use std::path::Path;

/// The filters every sink takes, as written.
pub struct FiltersFile<'a> {
    pub name: Option<&'a str>,
    pub severity: &'a [String],
    pub journeys: &'a [String],
    pub probes: &'a [String],
    pub alerts: &'a [String],
}

/// Validation of one sink: the checker, where the sink is (`alerting.sinks[2].webhook`), its
/// kind, and the configuration's directory (relative files are under it).
pub struct SinkCheck<'c, 'a> {
    pub checker: &'c mut Checker<'a>,
    pub path: String,
    pub kind: &'static str,
    pub dir: &'c Path,
}

impl SinkCheck<'_, '_> {
    /// The path of one of the sink's keys.
    pub fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    pub fn error(&mut self, key: &str, message: impl Into<String>, hint: impl Into<String>) {
        let at = self.at(key);
        self.checker.error_hint(&at, message, hint);
    }

    /// `key` is required and missing: located at the sink's kind.
    pub fn missing(&mut self, key: &str, hint: impl Into<String>) {
        let message = format!("a{} {} sink needs `{key}`", article(self.kind), self.kind);
        self.checker.key_error_hint(&self.path, message, hint);
    }

    /// A required text.
    pub fn text(&mut self, key: &str, value: &Option<String>, example: &str) -> Option<String> {
        match value.as_deref().map(str::trim) {
            Some("") => {
                self.error(
                    key,
                    format!("`{key}` is empty"),
                    format!("e.g. `{key}: {example}`"),
                );
                None
            }
            Some(_) => value.clone(),
            None => {
                self.missing(key, format!("e.g. `{key}: {example}`"));
                None
            }
        }
    }

    /// An http(s) URL written as text: `default` when left out, else required.
    pub fn http_url(
        &mut self,
        key: &str,
        value: &Option<VarFile>,
        default: Option<&str>,
        example: &str,
    ) -> Option<url::Url> {
        let text = match value {
            None => match default {
                Some(default) => return Some(url::Url::parse(default).expect("a default URL")),
                None => {
                    self.missing(key, format!("e.g. `{key}: {example}`"));
                    return None;
                }
            },
            Some(VarFile::Secret(_)) => {
                self.error(
                    key,
                    format!("the {} `{key}` is not read from a secret", self.kind),
                    format!("write it as text, e.g. `{key}: {example}`; what is secret has a setting of its own"),
                );
                return None;
            }
            Some(VarFile::Text(text)) => text,
        };
        match http_url(&format!("the {} {key}", self.kind), text) {
            Ok(url) => Some(url),
            Err(problem) => {
                self.error(key, problem, format!("e.g. `{key}: {example}`"));
                None
            }
        }
    }

    /// A value that must be given as a secret: `what` is (`the Slack webhook URL`), `why` it is
    /// secret (`anyone who has it can post to the channel`), `env` the example variable.
    pub fn secret(
        &mut self,
        key: &str,
        value: &Option<VarFile>,
        what: &str,
        why: &str,
        env: &str,
    ) -> Option<Var> {
        let example = format!("`{key}: {{secret: env:{env}}}`");
        match value {
            None => {
                self.missing(key, format!("{what}, as a secret: {example}"));
                None
            }
            Some(VarFile::Text(_)) => {
                self.error(
                    key,
                    format!("{what} is a secret: {why}"),
                    format!("give it as a secret, e.g. {example}"),
                );
                None
            }
            Some(secret) => Some(self.var(key, secret)),
        }
    }

    /// Text or a secret, as written.
    pub fn var(&mut self, key: &str, value: &VarFile) -> Var {
        let at = self.at(key);
        var(self.checker, &at, value)
    }

    /// Extra request headers: names and values HTTP allows.
    pub fn headers(
        &mut self,
        key: &str,
        headers: Option<&BTreeMap<String, String>>,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, value) in headers.into_iter().flatten() {
            let at = format!("{}.{key}.{name}", self.path);
            if self.checker.header(&at, name, value).is_some() {
                out.push((name.clone(), value.clone()));
            }
        }
        out
    }

    /// One of `names`, or `None` with an error listing them.
    pub fn one_of<T: Copy>(&mut self, key: &str, text: &str, names: &[(&str, T)]) -> Option<T> {
        if let Some((_, value)) = names.iter().find(|(name, _)| *name == text) {
            return Some(*value);
        }
        let list: Vec<String> = names.iter().map(|(n, _)| format!("`{n}`")).collect();
        self.error(
            key,
            format!("`{key}: {text}` is not known"),
            format!("use one of {}", list.join(", ")),
        );
        None
    }
}

/// `an` before a vowel sound: "an email sink", "an ntfy sink".
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) || word == "ntfy" {
        "n"
    } else {
        ""
    }
}
