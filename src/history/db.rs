//! One connection to the store, SQLite or PostgreSQL, behind the same small interface: the
//! store's SQL is written once (`?` placeholders, types both understand: `BIGINT`, `DOUBLE
//! PRECISION`, `TEXT`, and upserts with `ON CONFLICT`), and values go in and out as [`Value`]s.
//!
//! SQLite's calls are blocking: they run on the blocking pool, one at a time per connection.
//! A PostgreSQL connection that broke (the server restarted) is opened again on the next call.

use super::config::{describe_postgres, HistoryConfig, Target};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

/// How long connecting to PostgreSQL may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a SQLite call waits for a lock another connection holds (a backup, a reader).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Value {
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(n) => *n,
            Value::Real(x) => *x as i64,
            _ => 0,
        }
    }

    pub fn real(&self) -> f64 {
        match self {
            Value::Int(n) => *n as f64,
            Value::Real(x) => *x,
            _ => 0.0,
        }
    }

    pub fn opt_real(&self) -> Option<f64> {
        (!matches!(self, Value::Null)).then(|| self.real())
    }

    pub fn text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Int(n) => n.to_string(),
            Value::Real(x) => x.to_string(),
            Value::Null => String::new(),
        }
    }

    pub fn opt_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            other => Some(other.text()),
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Real(x)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

pub type Row = Vec<Value>;

/// A statement and its parameters, for a batch.
pub struct Stmt {
    pub sql: &'static str,
    pub params: Vec<Value>,
}

/// What went wrong, said for a person: which store, what happened, what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    /// The metric's `reason`: `unavailable` (cannot connect or open), `corrupt`, `full`,
    /// `readonly`, `query`.
    pub reason: &'static str,
    pub message: String,
}

pub enum Db {
    Sqlite {
        path: PathBuf,
        conn: Arc<Mutex<rusqlite::Connection>>,
    },
    Postgres {
        url: String,
        password: Option<String>,
        client: Option<tokio_postgres::Client>,
    },
}

impl Db {
    /// Opens the store (a SQLite file is created with its directory). `password` is the
    /// PostgreSQL password read from its secret.
    pub async fn open(config: &HistoryConfig, password: Option<String>) -> Result<Db, DbError> {
        match &config.target {
            Target::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || open_sqlite(&path))
                    .await
                    .map_err(|e| DbError {
                        reason: "unavailable",
                        message: format!("opening the history file: {e}"),
                    })?
            }
            Target::Postgres { url, .. } => {
                let mut db = Db::Postgres {
                    url: url.clone(),
                    password,
                    client: None,
                };
                db.pg().await?;
                Ok(db)
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres { .. })
    }

    /// The PostgreSQL client, connected again if the connection broke.
    async fn pg(&mut self) -> Result<&tokio_postgres::Client, DbError> {
        let Db::Postgres {
            url,
            password,
            client,
        } = self
        else {
            unreachable!("pg() on SQLite")
        };
        if client.as_ref().is_some_and(|c| c.is_closed()) {
            *client = None;
        }
        if client.is_none() {
            *client = Some(connect_pg(url, password.as_deref()).await?);
        }
        Ok(client.as_ref().expect("connected"))
    }

    /// Runs one statement; returns the rows changed.
    pub async fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, DbError> {
        match self {
            Db::Sqlite { path, conn } => {
                let (conn, path, sql) = (conn.clone(), path.clone(), sql.to_string());
                blocking(move || {
                    let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
                    conn.execute(
                        &sql,
                        rusqlite::params_from_iter(params.iter().map(SqlValue)),
                    )
                    .map(|n| n as u64)
                    .map_err(|e| sqlite_error(&path, &e))
                })
                .await
            }
            Db::Postgres { .. } => {
                let url = self.url_for_errors();
                let sql = to_dollars(sql);
                let client = self.pg().await?;
                let refs: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                let done = client.execute(sql.as_str(), &refs).await;
                done.map_err(|e| self.pg_error(&url, &e))
            }
        }
    }

    /// Runs several statements in one transaction: all or none.
    pub async fn batch(&mut self, stmts: Vec<Stmt>) -> Result<(), DbError> {
        match self {
            Db::Sqlite { path, conn } => {
                let (conn, path) = (conn.clone(), path.clone());
                blocking(move || {
                    let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
                    let error = |e: rusqlite::Error| sqlite_error(&path, &e);
                    let tx = conn.transaction().map_err(error)?;
                    for stmt in &stmts {
                        let mut prepared = tx.prepare_cached(stmt.sql).map_err(error)?;
                        prepared
                            .execute(rusqlite::params_from_iter(stmt.params.iter().map(SqlValue)))
                            .map_err(error)?;
                    }
                    tx.commit().map_err(error)
                })
                .await
            }
            Db::Postgres { .. } => {
                let url = self.url_for_errors();
                let result = async {
                    let client = self.pg().await?;
                    // A transaction through the shared client: BEGIN and COMMIT by hand, as
                    // `Client::transaction` needs `&mut`.
                    client.batch_execute("BEGIN").await.map_err(PgFail::Pg)?;
                    for stmt in &stmts {
                        let refs: Vec<&(dyn ToSql + Sync)> = stmt
                            .params
                            .iter()
                            .map(|p| p as &(dyn ToSql + Sync))
                            .collect();
                        let sql = to_dollars(stmt.sql);
                        if let Err(e) = client.execute(sql.as_str(), &refs).await {
                            let _ = client.batch_execute("ROLLBACK").await;
                            return Err(PgFail::Pg(e));
                        }
                    }
                    client.batch_execute("COMMIT").await.map_err(PgFail::Pg)
                }
                .await;
                match result {
                    Ok(()) => Ok(()),
                    Err(PgFail::Db(e)) => Err(e),
                    Err(PgFail::Pg(e)) => Err(self.pg_error(&url, &e)),
                }
            }
        }
    }

    /// Runs a query; every row as values in the order of its columns.
    pub async fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, DbError> {
        match self {
            Db::Sqlite { path, conn } => {
                let (conn, path, sql) = (conn.clone(), path.clone(), sql.to_string());
                blocking(move || {
                    let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
                    let error = |e: rusqlite::Error| sqlite_error(&path, &e);
                    let mut stmt = conn.prepare_cached(&sql).map_err(error)?;
                    let columns = stmt.column_count();
                    let rows = stmt
                        .query_map(
                            rusqlite::params_from_iter(params.iter().map(SqlValue)),
                            |row| {
                                (0..columns)
                                    .map(|i| {
                                        Ok(match row.get_ref(i)? {
                                            rusqlite::types::ValueRef::Null => Value::Null,
                                            rusqlite::types::ValueRef::Integer(n) => Value::Int(n),
                                            rusqlite::types::ValueRef::Real(x) => Value::Real(x),
                                            rusqlite::types::ValueRef::Text(t)
                                            | rusqlite::types::ValueRef::Blob(t) => {
                                                Value::Text(String::from_utf8_lossy(t).into_owned())
                                            }
                                        })
                                    })
                                    .collect::<Result<Row, rusqlite::Error>>()
                            },
                        )
                        .map_err(error)?;
                    rows.collect::<Result<Vec<Row>, _>>().map_err(error)
                })
                .await
            }
            Db::Postgres { .. } => {
                let url = self.url_for_errors();
                let sql = to_dollars(sql);
                let client = self.pg().await?;
                let refs: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                let rows = match client.query(sql.as_str(), &refs).await {
                    Ok(rows) => rows,
                    Err(e) => return Err(self.pg_error(&url, &e)),
                };
                rows.iter()
                    .map(pg_row)
                    .collect::<Result<Vec<Row>, _>>()
                    .map_err(|e| self.pg_error(&url, &e))
            }
        }
    }

    /// Runs statements separated by `;` with no parameters (migrations).
    pub async fn script(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite { path, conn } => {
                let (conn, path, sql) = (conn.clone(), path.clone(), sql.to_string());
                blocking(move || {
                    let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
                    conn.execute_batch(&sql)
                        .map_err(|e| sqlite_error(&path, &e))
                })
                .await
            }
            Db::Postgres { .. } => {
                let url = self.url_for_errors();
                let client = self.pg().await?;
                let done = client.batch_execute(sql).await;
                done.map_err(|e| self.pg_error(&url, &e))
            }
        }
    }

    /// What the store is, for messages (no password).
    pub fn describe(&self) -> String {
        match self {
            Db::Sqlite { path, .. } => format!("the history file {}", path.display()),
            Db::Postgres { url, .. } => {
                format!("the PostgreSQL history {}", describe_postgres(url))
            }
        }
    }

    fn url_for_errors(&self) -> String {
        self.describe()
    }

    /// A PostgreSQL error said for a person; a broken connection is dropped, to be opened
    /// again on the next call.
    fn pg_error(&mut self, what: &str, e: &tokio_postgres::Error) -> DbError {
        if let Db::Postgres { client, .. } = self {
            if client.as_ref().is_some_and(|c| c.is_closed()) || e.is_closed() {
                *client = None;
            }
        }
        let reason = match e.code() {
            Some(code) if *code == tokio_postgres::error::SqlState::DISK_FULL => "full",
            Some(code) if *code == tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION => {
                "readonly"
            }
            Some(_) => "query",
            None => "unavailable",
        };
        DbError {
            reason,
            message: format!("{what}: {}", crate::error_chain::error_chain(e)),
        }
    }
}

enum PgFail {
    Db(DbError),
    Pg(tokio_postgres::Error),
}

impl From<DbError> for PgFail {
    fn from(e: DbError) -> PgFail {
        PgFail::Db(e)
    }
}

async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    tokio::task::spawn_blocking(job).await.unwrap_or_else(|e| {
        Err(DbError {
            reason: "query",
            message: format!("a history call panicked: {e}"),
        })
    })
}

fn open_sqlite(path: &Path) -> Result<Db, DbError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| DbError {
            reason: "unavailable",
            message: format!(
                "cannot create the directory {} for the history file: {e}; check its permissions, or set `state_dir`",
                parent.display()
            ),
        })?;
    }
    let conn = rusqlite::Connection::open(path).map_err(|e| sqlite_error(path, &e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sqlite_error(path, &e))?;
    // WAL: readers (the API, a backup) never wait for the writer, nor it for them.
    // NORMAL: a power cut may lose the last runs, never the file.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )
    .map_err(|e| sqlite_error(path, &e))?;
    Ok(Db::Sqlite {
        path: path.to_path_buf(),
        conn: Arc::new(Mutex::new(conn)),
    })
}

/// A SQLite error said for a person, with the file and what to do.
fn sqlite_error(path: &Path, e: &rusqlite::Error) -> DbError {
    use rusqlite::ErrorCode::*;
    let file = path.display();
    let code = e.sqlite_error_code();
    let (reason, todo) = match code {
        Some(NotADatabase) | Some(DatabaseCorrupt) => (
            "corrupt",
            "the file is not a SQLite database or is damaged: stop shopwatch, move it away (a new one is made at start) or restore it from a backup",
        ),
        Some(DiskFull) => (
            "full",
            "the disk (or the database's size limit) is full: free space; runs go on and are not kept until then",
        ),
        Some(ReadOnly) | Some(PermissionDenied) | Some(CannotOpen) => (
            "readonly",
            "shopwatch cannot write it: check the permissions of the file and its directory (the user shopwatch runs as must own both)",
        ),
        Some(DatabaseBusy) | Some(DatabaseLocked) => (
            "query",
            "another program holds a lock on it for longer than 5 s",
        ),
        _ => ("query", "a query failed"),
    };
    DbError {
        reason,
        message: format!("history file {file}: {e}; {todo}"),
    }
}

async fn connect_pg(url: &str, password: Option<&str>) -> Result<tokio_postgres::Client, DbError> {
    let what = describe_postgres(url);
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| DbError {
        reason: "unavailable",
        message: format!("the PostgreSQL URL does not parse: {e}"),
    })?;
    if let Some(password) = password {
        config.password(password);
    }
    config.connect_timeout(CONNECT_TIMEOUT);
    config.application_name("shopwatch");
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(tokio_postgres::NoTls))
        .await
        .map_err(|_| DbError {
            reason: "unavailable",
            message: format!(
                "cannot connect to the PostgreSQL history {what}: no answer within {}s",
                CONNECT_TIMEOUT.as_secs()
            ),
        })?;
    let (client, connection) = connected.map_err(|e| DbError {
        reason: "unavailable",
        message: format!(
            "cannot connect to the PostgreSQL history {what}: {}; check that the server runs and takes this user and password",
            crate::error_chain::error_chain(&e)
        ),
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("history: PostgreSQL connection ended: {e}");
        }
    });
    Ok(client)
}

fn pg_row(row: &tokio_postgres::Row) -> Result<Row, tokio_postgres::Error> {
    (0..row.len())
        .map(|i| {
            let ty = row.columns()[i].type_();
            Ok(if *ty == Type::INT8 {
                row.try_get::<_, Option<i64>>(i)?.into()
            } else if *ty == Type::INT4 {
                row.try_get::<_, Option<i32>>(i)?.map(i64::from).into()
            } else if *ty == Type::INT2 {
                row.try_get::<_, Option<i16>>(i)?.map(i64::from).into()
            } else if *ty == Type::FLOAT8 {
                row.try_get::<_, Option<f64>>(i)?.into()
            } else if *ty == Type::FLOAT4 {
                row.try_get::<_, Option<f32>>(i)?.map(f64::from).into()
            } else if *ty == Type::BOOL {
                row.try_get::<_, Option<bool>>(i)?.map(i64::from).into()
            } else {
                row.try_get::<_, Option<String>>(i)?.into()
            })
        })
        .collect()
}

/// `?` placeholders as PostgreSQL's `$1`, `$2`, ... (the store's SQL has no `?` in literals).
fn to_dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// A value bound into SQLite.
struct SqlValue<'a>(&'a Value);

impl rusqlite::ToSql for SqlValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Int(n) => ValueRef::Integer(*n),
            Value::Real(x) => ValueRef::Real(*x),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// A value bound into PostgreSQL, converted to the parameter's type.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) if *ty == Type::FLOAT8 => (*n as f64).to_sql(ty, out),
            Value::Int(n) if *ty == Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
            Value::Int(n) if *ty == Type::TEXT || *ty == Type::VARCHAR => {
                n.to_string().to_sql(ty, out)
            }
            Value::Int(n) => n.to_sql(ty, out),
            Value::Real(x) if *ty == Type::INT8 => (*x as i64).to_sql(ty, out),
            Value::Real(x) => x.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered() {
        assert_eq!(
            to_dollars("SELECT a FROM t WHERE b = ? AND c > ?"),
            "SELECT a FROM t WHERE b = $1 AND c > $2"
        );
    }
}
