//! `ui:` in the monitor configuration: who may read the API (and the UI built on it).
//!
//! ```yaml
//! ui:
//!   auth:
//!     basic: {user: admin, password_hash: {secret: env:SHOPWATCH_UI_PASSWORD_HASH}}
//!     bearer: {token: {secret: env:SHOPWATCH_API_TOKEN}}
//! ```
//! or `auth: none`, said explicitly, to leave them open (behind a proxy that checks).

use crate::secret::Var;
use crate::yaml::check::Checker;
use crate::yaml::secret::{var, VarFile};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

pub const AUTH_HINT: &str = "write `auth: {basic: {user: admin, password_hash: {secret: env:SHOPWATCH_UI_PASSWORD_HASH}}}`, `auth: {bearer: {token: {secret: env:SHOPWATCH_API_TOKEN}}}`, or `auth: none` to leave the API open";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiFile {
    pub auth: Option<AuthFile>,
}

/// `none`, or a map of methods.
#[derive(Debug)]
pub enum AuthFile {
    None,
    /// A word other than `none` (`off`, `false`): refused with a hint.
    Word(String),
    Methods(MethodsFile),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodsFile {
    pub basic: Option<BasicFile>,
    pub bearer: Option<BearerFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicFile {
    pub user: Option<String>,
    /// An argon2 hash in PHC form (`$argon2id$v=19$...`); a secret or text (a hash is not the
    /// password).
    pub password_hash: Option<VarFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BearerFile {
    pub token: Option<VarFile>,
}

impl<'de> Deserialize<'de> for AuthFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AuthFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`none`, or a map with `basic` and/or `bearer`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AuthFile, E> {
                Ok(match v {
                    "none" => AuthFile::None,
                    other => AuthFile::Word(other.to_string()),
                })
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<AuthFile, E> {
                Ok(AuthFile::Word(v.to_string()))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<AuthFile, M::Error> {
                MethodsFile::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(AuthFile::Methods)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Who may read the API, validated.
#[derive(Debug, Clone, Default)]
pub enum AuthConfig {
    /// No `ui.auth`: the API answers 403 and says what to configure.
    #[default]
    Unset,
    /// `auth: none`: open.
    Open,
    Required {
        basic: Option<(String, Var)>,
        bearer: Option<Var>,
    },
}

pub fn check(c: &mut Checker, raw: Option<&UiFile>) -> AuthConfig {
    let Some(auth) = raw.and_then(|u| u.auth.as_ref()) else {
        return AuthConfig::Unset;
    };
    match auth {
        AuthFile::None => AuthConfig::Open,
        AuthFile::Word(word) => {
            c.error_hint(
                "ui.auth",
                format!("`auth: {word}` is not a way to protect the API"),
                AUTH_HINT,
            );
            AuthConfig::Unset
        }
        AuthFile::Methods(methods) => {
            if methods.basic.is_none() && methods.bearer.is_none() {
                c.key_error_hint("ui.auth", "`ui.auth` names no method", AUTH_HINT);
                return AuthConfig::Unset;
            }
            let basic = methods.basic.as_ref().and_then(|b| {
                let user = match b.user.as_deref().map(str::trim) {
                    Some("") => {
                        c.error_hint(
                            "ui.auth.basic.user",
                            "`user` is empty",
                            "e.g. `user: admin`",
                        );
                        None
                    }
                    Some(user) if user.contains(':') => {
                        c.error_hint(
                            "ui.auth.basic.user",
                            "a basic auth user name cannot hold `:`",
                            "e.g. `user: admin`",
                        );
                        None
                    }
                    Some(user) => Some(user.to_string()),
                    None => {
                        c.key_error_hint(
                            "ui.auth.basic",
                            "basic auth needs `user`",
                            "e.g. `user: admin`",
                        );
                        None
                    }
                };
                let hash = match &b.password_hash {
                    Some(VarFile::Text(text)) => {
                        if let Err(problem) = crate::ui::auth::check_hash(text) {
                            c.error_hint("ui.auth.basic.password_hash", problem, HASH_HINT);
                            None
                        } else {
                            Some(Var::Text(text.clone()))
                        }
                    }
                    Some(value) => Some(var(c, "ui.auth.basic.password_hash", value)),
                    None => {
                        c.key_error_hint(
                            "ui.auth.basic",
                            "basic auth needs `password_hash`",
                            HASH_HINT,
                        );
                        None
                    }
                };
                Some((user?, hash?))
            });
            let bearer = methods.bearer.as_ref().and_then(|b| match &b.token {
                Some(VarFile::Text(_)) => {
                    c.error_hint(
                        "ui.auth.bearer.token",
                        "the API token is a secret: anyone who has it sees every run and screenshot",
                        "give it as a secret, e.g. `token: {secret: env:SHOPWATCH_API_TOKEN}`",
                    );
                    None
                }
                Some(value) => Some(var(c, "ui.auth.bearer.token", value)),
                None => {
                    c.key_error_hint(
                        "ui.auth.bearer",
                        "bearer auth needs `token`",
                        "e.g. `token: {secret: env:SHOPWATCH_API_TOKEN}`",
                    );
                    None
                }
            });
            if basic.is_none() && bearer.is_none() {
                return AuthConfig::Unset;
            }
            AuthConfig::Required { basic, bearer }
        }
    }
}

pub const HASH_HINT: &str = "give an argon2 hash of the password in PHC form, e.g. made with `echo -n 'the password' | argon2 \"$(openssl rand -hex 8)\" -id -e` (Debian package `argon2`), ideally as a secret: `password_hash: {secret: env:SHOPWATCH_UI_PASSWORD_HASH}`";

/// One entry of `status_pages:` as written.
///
/// ```yaml
/// status_pages:
///   - name: shop-nl                 # its address: /status/shop-nl
///     title: Shop NL status
///     journeys: [demo-checkout]
///     probes: [shop-home]
///     show_reasons: false           # true: say which step failed and why
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPageFile {
    pub name: String,
    pub title: Option<String>,
    #[serde(default)]
    pub journeys: Vec<String>,
    #[serde(default)]
    pub probes: Vec<String>,
    #[serde(default)]
    pub show_reasons: bool,
}

/// A public status page, validated: only what it lists is shown on it, and only journeys on
/// some page have badges.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusPage {
    pub name: String,
    pub title: String,
    pub journeys: Vec<String>,
    pub probes: Vec<String>,
    pub show_reasons: bool,
}

pub const STATUS_PAGES_HINT: &str = "`status_pages` is a list of pages, e.g. `status_pages: [{name: shop, title: Shop status, journeys: [checkout], probes: [shop-home]}]`";
const NAME_HINT: &str =
    "the name is the page's address (`/status/NAME`): use 1 to 64 letters, digits, `-` and `_`, e.g. `name: shop-nl`";

/// Whether `name` may be a status page's address.
fn page_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `status_pages:` validated against the configured journeys and probes.
pub fn check_status_pages(
    c: &mut Checker,
    raw: &[StatusPageFile],
    journeys: &[String],
    probes: &[String],
) -> Vec<StatusPage> {
    let mut pages: Vec<StatusPage> = Vec::new();
    for (i, page) in raw.iter().enumerate() {
        let at = format!("status_pages[{i}]");
        let mut ok = true;
        if !page_name_ok(&page.name) {
            c.error_hint(
                &format!("{at}.name"),
                format!("`{}` cannot be a status page's name", page.name),
                NAME_HINT,
            );
            ok = false;
        } else if pages.iter().any(|p| p.name == page.name) {
            c.error_hint(
                &format!("{at}.name"),
                format!("a second status page is named `{}`", page.name),
                "each page has its own address (`/status/NAME`): rename one",
            );
            ok = false;
        }
        let title = match page.title.as_deref().map(str::trim) {
            Some("") => {
                c.error_hint(
                    &format!("{at}.title"),
                    "`title` is empty",
                    "give the heading people see, e.g. `title: Shop status`, or leave it out for the name",
                );
                ok = false;
                String::new()
            }
            Some(title) if title.chars().any(char::is_control) => {
                c.error_hint(
                    &format!("{at}.title"),
                    "`title` must not contain control characters (tabs, line breaks)",
                    "give one line, e.g. `title: Shop status`",
                );
                ok = false;
                String::new()
            }
            Some(title) => title.to_string(),
            None => page.name.clone(),
        };
        if page.journeys.is_empty() && page.probes.is_empty() {
            c.key_error_hint(
                &at,
                format!(
                    "status page `{}` lists no journeys and no probes",
                    page.name
                ),
                "name what it shows, e.g. `journeys: [checkout]` or `probes: [shop-home]`",
            );
            ok = false;
        }
        let errors = c.errors.len();
        c.known_names(
            &format!("{at}.journeys"),
            "journey",
            &page.journeys,
            journeys,
        );
        c.known_names(&format!("{at}.probes"), "probe", &page.probes, probes);
        ok &= c.errors.len() == errors;
        if ok {
            pages.push(StatusPage {
                name: page.name.clone(),
                title,
                journeys: dedup(&page.journeys),
                probes: dedup(&page.probes),
                show_reasons: page.show_reasons,
            });
        }
    }
    pages
}

/// In order, each once.
fn dedup(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}
