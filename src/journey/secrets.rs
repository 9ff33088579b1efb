//! Resolving variables: secrets read from the environment or files (a file no larger than
//! [`capped::SECRET_FILE`]), and a [`Redactor`] that keeps them out of everything shopwatch
//! writes: console, logs, JSON, JUnit, HTML dumps, alert text.

use super::model::{Journey, SecretFrom, SecretSource, Var};
use crate::capped;
use std::collections::HashMap;

pub use super::redact::{LogRedaction, Redactor, REDACTED};

/// A journey's secret that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: journey `{journey}`, var `{var}`: {problem}")]
pub struct SecretError {
    pub file: String,
    pub journey: String,
    pub var: String,
    pub problem: String,
}

/// The journey's variables with secrets read, and a redactor that knows every secret value.
pub fn resolve_vars(journey: &Journey) -> Result<(HashMap<String, String>, Redactor), SecretError> {
    let mut values = HashMap::new();
    let mut redactor = Redactor::default();
    for (name, var) in &journey.vars {
        let value = match var {
            Var::Text(text) => text.clone(),
            Var::Secret(source) => {
                let value = read_secret(source).map_err(|problem| SecretError {
                    file: journey.file.display().to_string(),
                    journey: journey.name.clone(),
                    var: name.clone(),
                    problem,
                })?;
                redactor.add(&value);
                value
            }
        };
        values.insert(name.clone(), value);
    }
    // `https://user:${password}@host/`: the browser and the HTTP client send base64 of
    // `user:password`.
    for template in journey
        .steps
        .iter()
        .flat_map(|s| &s.actions)
        .flat_map(|a| a.templates())
    {
        for (user, var) in template.url_logins(&values) {
            let is_secret = journey
                .vars
                .iter()
                .any(|(name, v)| name == var && matches!(v, Var::Secret(_)));
            if is_secret {
                redactor.add_login(&user, &values[var]);
            }
        }
    }
    Ok((values, redactor))
}

/// Reads a secret from the environment or a file (its `default` when missing); what went wrong
/// and what to do, as text. A file larger than [`capped::SECRET_FILE`] is an error whatever the
/// `default`: it is not the secret.
pub fn read_secret(source: &SecretSource) -> Result<String, String> {
    match &source.from {
        SecretFrom::Env(env) => match (std::env::var(env), &source.default) {
            (Ok(value), _) => Ok(value),
            (Err(_), Some(default)) => Ok(default.clone()),
            (Err(_), None) => Err(format!(
                "environment variable {env} is not set (export it, or give the secret a `default:`)"
            )),
        },
        SecretFrom::File(path) => {
            match (
                capped::read_to_string(path, capped::SECRET_FILE),
                &source.default,
            ) {
                (Ok(value), _) => Ok(value.trim_end_matches(['\n', '\r']).to_string()),
                (Err(capped::ReadError::TooLarge { cap }), _) => Err(format!(
                    "secret file {} holds more than {}, the most a secret may be: point `file:` at a file that holds only the secret",
                    path.display(),
                    capped::size(cap)
                )),
                (Err(_), Some(default)) => Ok(default.clone()),
                (Err(e), None) => Err(format!("cannot read secret file {}: {e}", path.display())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_secret(path: &str, default: Option<&str>) -> SecretSource {
        SecretSource {
            from: SecretFrom::File(path.into()),
            default: default.map(str::to_string),
        }
    }

    #[test]
    fn an_endless_secret_file_is_refused_quickly_naming_file_cap_and_fix() {
        let started = std::time::Instant::now();
        for default in [None, Some("fallback")] {
            let problem = read_secret(&file_secret("/dev/zero", default)).unwrap_err();
            assert_eq!(
                problem,
                "secret file /dev/zero holds more than 64 KiB, the most a secret may be: point `file:` at a file that holds only the secret"
            );
        }
        assert!(
            started.elapsed().as_millis() < 1000,
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_secret_file_is_read_without_its_line_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cr3t value\n").unwrap();
        let source = file_secret(path.to_str().unwrap(), None);
        assert_eq!(read_secret(&source).unwrap(), "s3cr3t value");
        let missing = file_secret("/nonexistent/token", Some("fallback"));
        assert_eq!(read_secret(&missing).unwrap(), "fallback");
    }
}
