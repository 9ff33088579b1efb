//! Resolving variables (secrets from the environment or files) and redacting secret values from
//! everything shopwatch writes: console, logs, JSON, JUnit, HTML dumps, alert text.

use super::model::{Journey, SecretFrom, Var};
use std::collections::HashMap;

/// What replaces a secret value wherever it would appear.
pub const REDACTED: &str = "[redacted]";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{file}: journey `{journey}`, var `{var}`: environment variable {env} is not set (export it, or give the secret a `default:`)")]
    MissingEnv {
        file: String,
        journey: String,
        var: String,
        env: String,
    },
    #[error("{file}: journey `{journey}`, var `{var}`: cannot read secret file {path}: {source}")]
    File {
        file: String,
        journey: String,
        var: String,
        path: String,
        source: std::io::Error,
    },
}

/// Replaces every known secret value in a text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn add(&mut self, secret: &str) {
        if !secret.is_empty() && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

/// The journey's variables with secrets read, and a redactor that knows every secret value.
pub fn resolve_vars(journey: &Journey) -> Result<(HashMap<String, String>, Redactor), SecretError> {
    let mut values = HashMap::new();
    let mut redactor = Redactor::default();
    let file = journey.file.display().to_string();
    for (name, var) in &journey.vars {
        let value = match var {
            Var::Text(text) => text.clone(),
            Var::Secret(source) => {
                let value = match &source.from {
                    SecretFrom::Env(env) => match (std::env::var(env), &source.default) {
                        (Ok(value), _) => value,
                        (Err(_), Some(default)) => default.clone(),
                        (Err(_), None) => {
                            return Err(SecretError::MissingEnv {
                                file,
                                journey: journey.name.clone(),
                                var: name.clone(),
                                env: env.clone(),
                            })
                        }
                    },
                    SecretFrom::File(path) => {
                        match (std::fs::read_to_string(path), &source.default) {
                            (Ok(value), _) => value.trim_end_matches(['\n', '\r']).to_string(),
                            (Err(e), None) => {
                                return Err(SecretError::File {
                                    file,
                                    journey: journey.name.clone(),
                                    var: name.clone(),
                                    path: path.display().to_string(),
                                    source: e,
                                })
                            }
                            (Err(_), Some(default)) => default.clone(),
                        }
                    }
                };
                redactor.add(&value);
                value
            }
        };
        values.insert(name.clone(), value);
    }
    Ok((values, redactor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_longest_first() {
        let mut r = Redactor::default();
        r.add("abc");
        r.add("abcdef");
        assert_eq!(r.redact("x abcdef y abc"), "x [redacted] y [redacted]");
    }
}
