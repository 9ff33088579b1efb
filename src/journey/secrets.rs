//! A journey's variables resolved: its secrets read, and a [`Redactor`] that knows every secret
//! value (and the logins made of them) to keep them out of everything shopwatch writes.

use super::model::{Journey, Var};
use std::collections::HashMap;

pub use crate::secret::read_secret;
pub use crate::secret::redact::{LogRedaction, Redactor, REDACTED};

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
