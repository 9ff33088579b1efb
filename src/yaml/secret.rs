//! A value that may be a secret, as written (`password: {secret: env:SHOP_PASSWORD}`), and its
//! validation into a [`Var`].

use super::check::Checker;
use crate::secret::{SecretFrom, SecretSource, Var};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// A variable: plain text, or a secret read from the environment or a file at run time.
#[derive(Debug)]
pub enum VarFile {
    Secret(SecretFile),
    Text(String),
}

// Not `#[serde(untagged)]`: that reports "did not match any variant" at `vars`, hiding a typo
// such as `defualt` and which variable has it.
impl<'de> Deserialize<'de> for VarFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VarFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text, or a map with `secret` and optionally `default`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<VarFile, E> {
                Ok(VarFile::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<VarFile, E> {
                Ok(VarFile::Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<VarFile, E> {
                Ok(VarFile::Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<VarFile, E> {
                Ok(VarFile::Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<VarFile, E> {
                Ok(VarFile::Text(v.to_string()))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<VarFile, M::Error> {
                SecretFile::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(VarFile::Secret)
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretFile {
    /// `env:NAME` or `file:PATH`.
    pub secret: String,
    /// Used when the variable or file is missing (documented demo values only).
    pub default: Option<String>,
}

/// A value as written, validated: a secret's source must be `env:NAME` or `file:PATH`.
pub fn var(c: &mut Checker, path: &str, value: &VarFile) -> Var {
    match value {
        VarFile::Text(text) => Var::Text(text.clone()),
        VarFile::Secret(secret) => {
            let from = if let Some(name) = secret.secret.strip_prefix("env:") {
                if name.is_empty() {
                    c.error(
                        &format!("{path}.secret"),
                        "`env:` needs a variable name, e.g. `env:SHOP_PASSWORD`",
                    );
                }
                SecretFrom::Env(name.to_string())
            } else if let Some(file) = secret.secret.strip_prefix("file:") {
                if file.is_empty() {
                    c.error(
                        &format!("{path}.secret"),
                        "`file:` needs a path, e.g. `file:/run/secrets/shop_password`",
                    );
                }
                SecretFrom::File(file.into())
            } else {
                c.error_hint(
                    &format!("{path}.secret"),
                    format!("secret source `{}` is not known", secret.secret),
                    "write `env:NAME` or `file:PATH`",
                );
                SecretFrom::Env(String::new())
            };
            Var::Secret(SecretSource {
                from,
                default: secret.default.clone(),
            })
        }
    }
}
