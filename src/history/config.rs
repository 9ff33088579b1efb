//! `history:` and the top-level `state_dir` in the monitor configuration: as written, and
//! validated into [`HistoryConfig`] (where the store is, what may open it, how long it keeps).

use crate::secret::Var;
use crate::yaml::check::Checker;
use crate::yaml::diagnostic::Diagnostic;
use crate::yaml::locate::Location;
use crate::yaml::scalars::opt_scalar_text;
use crate::yaml::secret::{var, VarFile};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `state_dir` without the key: beside the configuration.
pub const DEFAULT_STATE_DIR: &str = "shopwatch-state";
/// The SQLite file in the state directory when `history.url` is not given.
pub const DEFAULT_FILE: &str = "history.db";
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);
/// The shortest `max_age`: the overview's longest window is 30 days, but a day keeps the
/// journey pages meaningful on a small disk.
pub const MIN_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
pub const URL_HINT: &str = "write `postgres://USER@HOST:PORT/DATABASE` for PostgreSQL, or `sqlite:PATH` for a SQLite file (leave `url` out for `history.db` in `state_dir`)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryFile {
    pub url: Option<String>,
    /// The PostgreSQL password: a secret, never in the URL.
    pub password: Option<VarFile>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub max_age: Option<String>,
}

/// Where runs are kept.
#[derive(Debug, Clone)]
pub enum Target {
    Sqlite(PathBuf),
    /// A `tokio_postgres` connection string without a password; the password comes from
    /// `password` when the store connects.
    Postgres {
        url: String,
        password: Option<Var>,
    },
}

#[derive(Debug, Clone)]
pub struct HistoryConfig {
    pub target: Target,
    pub max_age: Duration,
    /// Where the state directory is (created at start).
    pub state_dir: PathBuf,
}

impl HistoryConfig {
    /// What the store is, for logs and errors: a file, or a PostgreSQL server without any
    /// password.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Sqlite(path) => format!("SQLite file {}", path.display()),
            Target::Postgres { url, .. } => format!("PostgreSQL {}", describe_postgres(url)),
        }
    }
}

/// `user@host:port/db` of a connection string (it holds no password: validation refused one).
pub fn describe_postgres(url: &str) -> String {
    match url.parse::<tokio_postgres::Config>() {
        Ok(config) => {
            let hosts: Vec<String> = config
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect();
            let port = config.get_ports().first().copied().unwrap_or(5432);
            format!(
                "{}@{}:{port}/{}",
                config.get_user().unwrap_or("?"),
                hosts.join(","),
                config.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "(unparsable url)".to_string(),
    }
}

/// Where a problem with `state_dir` is shown: at its value, else at the start of the file.
fn state_dir_location(c: &Checker) -> Location {
    if c.index.has("state_dir") {
        c.index.find("state_dir")
    } else {
        Location { line: 1, column: 1 }
    }
}

/// `state_dir` and `history:` validated; `dir` is the configuration's directory.
pub fn check(
    c: &mut Checker,
    dir: &Path,
    state_dir: Option<&str>,
    raw: Option<&HistoryFile>,
) -> HistoryConfig {
    let state_dir = match state_dir {
        Some(given) if given.trim().is_empty() => {
            c.error_hint(
                "state_dir",
                "`state_dir` is empty",
                format!("give a directory, or leave `state_dir` out for `{DEFAULT_STATE_DIR}` beside the configuration"),
            );
            dir.join(DEFAULT_STATE_DIR)
        }
        Some(given) => dir.join(given),
        None => dir.join(DEFAULT_STATE_DIR),
    };
    if state_dir.exists() && !state_dir.is_dir() {
        let at = state_dir_location(c);
        c.errors.push(
            Diagnostic::new(
                c.file,
                at,
                format!(
                    "the state directory `{}` is a file, not a directory",
                    state_dir.display()
                ),
            )
            .with_hint("give a directory of its own, e.g. `state_dir: /var/lib/shopwatch`"),
        );
    }
    let max_age = raw
        .and_then(|h| c.opt_duration("history.max_age", &h.max_age))
        .unwrap_or(DEFAULT_MAX_AGE);
    if max_age < MIN_MAX_AGE {
        c.error_hint(
            "history.max_age",
            format!(
                "`max_age: {}` keeps less than a day of history",
                humantime::format_duration(max_age)
            ),
            "keep at least `1d` (the overview shows 24 h, 7 d and 30 d), e.g. `max_age: 90d`",
        );
    }
    let password = raw
        .and_then(|h| h.password.as_ref())
        .map(|p| match p {
            VarFile::Text(_) => {
                c.error_hint(
                    "history.password",
                    "the history database password is a secret",
                    "give it as a secret, e.g. `password: {secret: env:SHOPWATCH_HISTORY_PASSWORD}`",
                );
                None
            }
            value => Some(var(c, "history.password", value)),
        })
        .and_then(|p| p);
    let target = match raw.and_then(|h| h.url.as_deref()) {
        None => Target::Sqlite(state_dir.join(DEFAULT_FILE)),
        Some(url) => target(c, dir, url.trim(), password.clone()),
    };
    if matches!(target, Target::Sqlite(_)) && raw.is_some_and(|h| h.password.is_some()) {
        c.error_hint(
            "history.password",
            "`password` is for a PostgreSQL history; a SQLite file has none",
            "leave `password` out, or set `url: postgres://USER@HOST:PORT/DATABASE`",
        );
    }
    HistoryConfig {
        target,
        max_age,
        state_dir,
    }
}

fn target(c: &mut Checker, dir: &Path, url: &str, password: Option<Var>) -> Target {
    const PATH: &str = "history.url";
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            c.error_hint(PATH, "`sqlite:` needs a file path", URL_HINT);
            return Target::Sqlite(dir.join(DEFAULT_FILE));
        }
        let file = dir.join(path);
        if file.is_dir() {
            c.error_hint(
                PATH,
                format!("`{}` is a directory, not a SQLite file", file.display()),
                "name the file, e.g. `url: sqlite:shopwatch-state/history.db`",
            );
        }
        return Target::Sqlite(file);
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // Never echo the URL: it may hold the very password refused here.
        match url.parse::<tokio_postgres::Config>() {
            Ok(config) if config.get_password().is_some() => {
                c.error_hint(
                    PATH,
                    "the history URL holds a password in clear",
                    "take it out of the URL and give it as a secret: `password: {secret: env:SHOPWATCH_HISTORY_PASSWORD}`",
                );
            }
            Ok(config) if config.get_hosts().is_empty() => {
                c.error_hint(
                    PATH,
                    "the PostgreSQL URL names no host",
                    "e.g. `url: postgres://shopwatch@127.0.0.1:5432/shopwatch`",
                );
            }
            Ok(_) => {}
            Err(e) => c.error_hint(
                PATH,
                format!("the PostgreSQL URL does not parse: {e}"),
                "e.g. `url: postgres://shopwatch@127.0.0.1:5432/shopwatch`",
            ),
        }
        return Target::Postgres {
            url: url.to_string(),
            password,
        };
    }
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or(url);
    c.error_hint(
        PATH,
        format!("`{scheme}` is not a history store shopwatch knows"),
        URL_HINT,
    );
    Target::Sqlite(dir.join(DEFAULT_FILE))
}
