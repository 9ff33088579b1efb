//! Secrets: a value given as text or read from the environment or a file at run time, reading
//! it (a file no larger than [`capped::SECRET_FILE`]), and [`redact`]ing every secret value out
//! of everything shopwatch writes: console, logs, JSON, JUnit, HTML dumps, alert text.

pub mod redact;

use crate::capped;
use std::path::PathBuf;

/// A value: text as written, or a secret read when it is needed.
#[derive(Debug, Clone)]
pub enum Var {
    Text(String),
    Secret(SecretSource),
}

#[derive(Debug, Clone)]
pub struct SecretSource {
    pub from: SecretFrom,
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub enum SecretFrom {
    Env(String),
    File(PathBuf),
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
