//! Who may read the API: basic auth (a user and an argon2 hash of the password) and/or a
//! bearer token, both read from secrets at start; `ui.auth: none` leaves it open, and without
//! `ui.auth` it is closed (403, saying what to configure): run history holds screenshots of
//! checkouts.
//!
//! Checking an argon2 hash takes tens of milliseconds by design, so a header that passed is
//! remembered (its SHA-256, a few at most) and the UI's refreshes do not pay it each time.

use super::config::AuthConfig;
use crate::secret::redact::Redactor;
use crate::secret::Var;
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::sync::Mutex;

/// Headers remembered as checked.
const REMEMBERED: usize = 32;

#[derive(Debug)]
enum Kind {
    Unset,
    Open,
    Required {
        basic: Option<(String, String)>,
        bearer: Option<String>,
    },
}

#[derive(Debug)]
pub struct Access {
    kind: Kind,
    /// SHA-256 of `Authorization` values that passed basic auth.
    passed: Mutex<Vec<[u8; 32]>>,
}

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `ui.auth` in the configuration.
    NotConfigured,
    /// Missing or wrong credentials.
    Unauthorized { basic: bool },
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotConfigured => (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({
                    "error": "the API and UI are closed: set `ui.auth` in the configuration (basic auth or a bearer token), or `ui.auth: none` to leave them open",
                })),
            )
                .into_response(),
            Refusal::Unauthorized { basic } => {
                let challenge = if basic {
                    "Basic realm=\"shopwatch\", charset=\"UTF-8\""
                } else {
                    "Bearer realm=\"shopwatch\""
                };
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, challenge)],
                    axum::Json(serde_json::json!({"error": "authentication required"})),
                )
                    .into_response()
            }
        }
    }
}

/// Whether `text` is an argon2 hash in PHC form; what is wrong when not.
pub fn check_hash(text: &str) -> Result<(), String> {
    match PasswordHash::new(text.trim()) {
        Ok(hash) if hash.algorithm.as_str().starts_with("argon2") => Ok(()),
        Ok(hash) => Err(format!(
            "`password_hash` is a `{}` hash; shopwatch checks argon2 hashes",
            hash.algorithm
        )),
        Err(_) => Err(
            "`password_hash` is not an argon2 hash in PHC form (`$argon2id$v=19$m=...`)"
                .to_string(),
        ),
    }
}

/// An argon2id hash of `password` in PHC form, with a salt of 8 to 64 letters and digits (for
/// tests and tools).
pub fn hash_password(password: &str, salt: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::from_b64(salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

impl Access {
    /// Reads the secrets `config` names; returns them to redact too.
    pub fn resolve(config: &AuthConfig) -> Result<(Access, Redactor), String> {
        let read = |v: &Var, what: &str| match v {
            Var::Text(t) => Ok(t.clone()),
            Var::Secret(source) => crate::secret::read_secret(source)
                .map_err(|e| format!("ui.auth: cannot read the {what}: {e}")),
        };
        let mut redactor = Redactor::default();
        let kind = match config {
            AuthConfig::Unset => Kind::Unset,
            AuthConfig::Open => Kind::Open,
            AuthConfig::Required { basic, bearer } => {
                let basic = match basic {
                    Some((user, hash)) => {
                        let hash = read(hash, "password hash")?.trim().to_string();
                        check_hash(&hash).map_err(|e| format!("ui.auth: the secret {e}"))?;
                        redactor.add(&hash);
                        Some((user.clone(), hash))
                    }
                    None => None,
                };
                let bearer = match bearer {
                    Some(token) => {
                        let token = read(token, "bearer token")?.trim().to_string();
                        if token.len() < 16 {
                            return Err("ui.auth: the bearer token read from its secret is shorter than 16 characters: make a long random one, e.g. `openssl rand -hex 32`".to_string());
                        }
                        redactor.add(&token);
                        Some(token)
                    }
                    None => None,
                };
                Kind::Required { basic, bearer }
            }
        };
        Ok((
            Access {
                kind,
                passed: Mutex::default(),
            },
            redactor,
        ))
    }

    /// Lets the request through, or says why not.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let (basic, bearer) = match &self.kind {
            Kind::Open => return Ok(()),
            Kind::Unset => return Err(Refusal::NotConfigured),
            Kind::Required { basic, bearer } => (basic, bearer),
        };
        let refused = Refusal::Unauthorized {
            basic: basic.is_some(),
        };
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(refused);
        };
        let (scheme, credentials) = given.split_once(' ').unwrap_or((given, ""));
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            if let Some(token) = bearer {
                let same = aws_lc_rs::constant_time::verify_slices_are_equal(
                    credentials.as_bytes(),
                    token.as_bytes(),
                )
                .is_ok();
                if same {
                    return Ok(());
                }
            }
            return Err(refused);
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let Some((user, hash)) = basic else {
                return Err(refused);
            };
            let digest: [u8; 32] =
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, given.as_bytes())
                    .as_ref()
                    .try_into()
                    .expect("SHA-256 is 32 bytes");
            if self
                .passed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&digest)
            {
                return Ok(());
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(credentials)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let Some((given_user, password)) = decoded.as_deref().and_then(|d| d.split_once(':'))
            else {
                return Err(refused);
            };
            let user_ok = aws_lc_rs::constant_time::verify_slices_are_equal(
                given_user.as_bytes(),
                user.as_bytes(),
            )
            .is_ok();
            let password_ok = PasswordHash::new(hash).is_ok_and(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            });
            if user_ok && password_ok {
                let mut passed = self.passed.lock().unwrap_or_else(|e| e.into_inner());
                if passed.len() >= REMEMBERED {
                    passed.remove(0);
                }
                passed.push(digest);
                return Ok(());
            }
        }
        Err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    fn basic(user: &str, password: &str) -> HeaderMap {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        headers(&format!("Basic {encoded}"))
    }

    #[test]
    fn basic_auth_checks_user_and_password_against_the_hash() {
        let hash = hash_password("correct horse", "c29tZXNhbHRzYWx0").unwrap();
        let config = AuthConfig::Required {
            basic: Some(("admin".into(), Var::Text(hash))),
            bearer: None,
        };
        let (access, _) = Access::resolve(&config).unwrap();
        assert_eq!(access.check(&basic("admin", "correct horse")), Ok(()));
        // Remembered: the same again passes without argon2.
        assert_eq!(access.check(&basic("admin", "correct horse")), Ok(()));
        let refused = Err(Refusal::Unauthorized { basic: true });
        assert_eq!(access.check(&basic("admin", "wrong")), refused);
        assert_eq!(access.check(&basic("root", "correct horse")), refused);
        assert_eq!(access.check(&HeaderMap::new()), refused);
        assert_eq!(access.check(&headers("Bearer correct horse")), refused);
    }

    #[test]
    fn a_bearer_token_must_match() {
        let config = AuthConfig::Required {
            basic: None,
            bearer: Some(Var::Text("0123456789abcdef0123".into())),
        };
        let (access, redactor) = Access::resolve(&config).unwrap();
        assert_eq!(
            access.check(&headers("Bearer 0123456789abcdef0123")),
            Ok(())
        );
        assert!(access
            .check(&headers("Bearer 0123456789abcdef012"))
            .is_err());
        assert_eq!(redactor.redact("x 0123456789abcdef0123"), "x [redacted]");
    }

    #[test]
    fn unset_is_closed_and_none_is_open() {
        let (unset, _) = Access::resolve(&AuthConfig::Unset).unwrap();
        assert_eq!(unset.check(&HeaderMap::new()), Err(Refusal::NotConfigured));
        let (open, _) = Access::resolve(&AuthConfig::Open).unwrap();
        assert_eq!(open.check(&HeaderMap::new()), Ok(()));
    }

    #[test]
    fn hashes_are_told_from_other_text() {
        assert!(check_hash(&hash_password("x", "c29tZXNhbHRzYWx0").unwrap()).is_ok());
        assert!(check_hash("hunter2").is_err());
    }
}
