//! The `heartbeat` probe: background jobs (the nightly order export, the price-list import,
//! the backup) tell shopwatch they ran, and shopwatch alerts when they stop. The job calls
//! `POST /heartbeat/<name>` (or `GET`, for curl in a crontab) on the monitor's listener when it
//! succeeds, `/heartbeat/<name>/fail` when it fails, optionally with `?count=N` (rows exported,
//! products imported). Each heartbeat has its own token (a secret), sent as
//! `Authorization: Bearer <token>` or `?token=`.
//!
//! The probe itself only looks at what the pings said, every `check_every`: `failed` when the
//! last success is older than `every` + `grace` (or none came that long after the start), when
//! the last ping was a failure, or when its count is outside `min`/`max`. The pings are kept in
//! `<state_dir>/heartbeats.json`, so a restart neither forgets a job that ran nor forgives one
//! that stopped.
//!
//! With `above` or `below`, each count is kept in the history too, and the last one is
//! compared with its normal as a `metric` probe's number is ([`super::metric::Limits`]): an
//! export of 80 orders where 1,000 are normal fails, though it is over `min`.

use super::{Kind, Probing, Verdict};
use crate::normal::Normal;
use crate::secret::Var;
use crate::yaml::check::Checker;
use crate::yaml::scalars::{opt_scalar_text, scalar_text};
use crate::yaml::secret::{var, VarFile};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// How often a heartbeat is looked at unless `check_every` says otherwise.
const DEFAULT_CHECK_EVERY: Duration = Duration::from_secs(60);
/// A token shorter than this is guessable.
const MIN_TOKEN: usize = 16;

/// A validated `heartbeat` probe.
#[derive(Debug, Clone)]
pub struct HeartbeatProbe {
    pub name: String,
    /// How often the job runs.
    pub period: Duration,
    /// How late it may be.
    pub grace: Duration,
    pub token: Var,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// How far the count may go from its normal; `None` without `above` and `below`.
    pub limits: Option<super::metric::Limits>,
    /// How often the pings are looked at (the probe's schedule).
    pub every: Duration,
    pub timeout: Duration,
}

/// What the pings of one heartbeat said, as kept in the state file (Unix milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pings {
    pub last_ok_ms: Option<i64>,
    pub last_fail_ms: Option<i64>,
    /// The count of the last ping that gave one.
    pub count: Option<f64>,
}

/// What a heartbeat check found, for the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeartbeatInfo {
    /// The last successful ping, Unix seconds. Feeds
    /// `shopwatch_heartbeat_last_ping_timestamp_seconds`.
    pub last_ok: Option<i64>,
    /// Feeds `shopwatch_heartbeat_count`.
    pub count: Option<f64>,
    /// Pings refused (wrong or missing token) since the start. Feeds
    /// `shopwatch_heartbeat_rejected_pings`.
    pub rejected: u64,
}

/// Every heartbeat's pings and what may ping it: one per process, shared by the endpoint and
/// the probes.
#[derive(Default)]
struct Registry {
    file: Option<PathBuf>,
    pings: BTreeMap<String, Pings>,
    /// The configured heartbeats' tokens, read at start and reload.
    tokens: HashMap<String, String>,
    rejected: HashMap<String, u64>,
    /// When the monitor started watching each heartbeat (the first configuration that had it).
    since_ms: HashMap<String, i64>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Takes the configuration's heartbeats: their tokens (a token that cannot be read is logged,
/// and that heartbeat refuses every ping until a reload), and, at the first call, the pings
/// kept in `state_dir`.
pub fn configure(probes: &[super::ProbeConfig], state_dir: &std::path::Path) {
    let mut r = registry();
    if r.file.is_none() {
        let file = state_dir.join("heartbeats.json");
        if let Some(pings) = super::state_file::load(&file, "heartbeat") {
            r.pings = pings;
        }
        r.file = Some(file);
    }
    r.tokens.clear();
    let now = now_ms();
    for probe in probes {
        let super::ProbeConfig::Heartbeat(h) = probe else {
            continue;
        };
        r.since_ms.entry(h.name.clone()).or_insert(now);
        let token = match &h.token {
            Var::Text(text) => Ok(text.clone()),
            Var::Secret(source) => crate::secret::read_secret(source),
        };
        match token {
            Ok(token) if token.len() < MIN_TOKEN => tracing::error!(
                "heartbeat `{}`: its token is shorter than {MIN_TOKEN} characters, guessable; its pings are refused until a longer one is set (`openssl rand -hex 32`) and shopwatch reloads",
                h.name
            ),
            Ok(token) => {
                r.tokens.insert(h.name.clone(), token);
            }
            Err(e) => tracing::error!(
                "heartbeat `{}`: its token cannot be read ({e}); its pings are refused until a reload",
                h.name
            ),
        }
    }
}

/// `/heartbeat/{name}` and `/heartbeat/{name}/fail`, GET or POST.
pub fn routes() -> axum::Router {
    axum::Router::new()
        .route("/heartbeat/{name}", get(ok_ping).post(ok_ping))
        .route("/heartbeat/{name}/fail", get(fail_ping).post(fail_ping))
}

#[derive(Deserialize)]
struct PingQuery {
    count: Option<String>,
    token: Option<String>,
}

async fn ok_ping(name: Path<String>, query: Query<PingQuery>, headers: HeaderMap) -> Response {
    ping(&name, &query, &headers, true)
}

async fn fail_ping(name: Path<String>, query: Query<PingQuery>, headers: HeaderMap) -> Response {
    ping(&name, &query, &headers, false)
}

/// Records one ping; 404 for an unknown heartbeat, 401 (counted, never logged with the token)
/// for a wrong one, 400 for a count that is not a number.
fn ping(name: &str, query: &PingQuery, headers: &HeaderMap, ok: bool) -> Response {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or(query.token.as_deref());
    let mut r = registry();
    let Some(token) = r.tokens.get(name) else {
        return (
            StatusCode::NOT_FOUND,
            "no heartbeat of that name is configured\n",
        )
            .into_response();
    };
    let right = given.is_some_and(|given| {
        aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), token.as_bytes())
            .is_ok()
    });
    if !right {
        *r.rejected.entry(name.to_string()).or_default() += 1;
        tracing::warn!(heartbeat = %name, "heartbeat ping refused: wrong or missing token");
        return (
            StatusCode::UNAUTHORIZED,
            "wrong or missing token: send `Authorization: Bearer <token>` or `?token=`\n",
        )
            .into_response();
    }
    let count = match query.count.as_deref().map(|c| c.trim().parse::<f64>()) {
        None => None,
        Some(Ok(count)) if count.is_finite() => Some(count),
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "`count` must be a number, e.g. `?count=1234`\n",
            )
                .into_response()
        }
    };
    let now = now_ms();
    let pings = r.pings.entry(name.to_string()).or_default();
    if ok {
        pings.last_ok_ms = Some(now);
    } else {
        pings.last_fail_ms = Some(now);
    }
    if count.is_some() {
        pings.count = count;
    }
    tracing::info!(heartbeat = %name, ok, ?count, "heartbeat ping");
    save(&r);
    if let (true, Some(value), Some(store)) = (ok, count, super::metric::store()) {
        store.keep(name, now, value);
    }
    (StatusCode::OK, "ok\n").into_response()
}

/// Writes the pings (a temp file renamed over the old one); a failure is logged, the pings stay
/// in memory.
fn save(r: &Registry) {
    if let Some(file) = &r.file {
        super::state_file::save(file, "heartbeat", &r.pings);
    }
}

impl HeartbeatProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let (pings, rejected, since_ms) = {
            let r = registry();
            (
                r.pings.get(&self.name).cloned().unwrap_or_default(),
                r.rejected.get(&self.name).copied().unwrap_or(0),
                r.since_ms.get(&self.name).copied().unwrap_or_else(now_ms),
            )
        };
        p.metrics.heartbeat = Some(HeartbeatInfo {
            last_ok: pings.last_ok_ms.map(|ms| ms / 1000),
            count: pings.count,
            rejected,
        });
        let due = (self.period + self.grace).as_millis() as i64;
        let now = now_ms();
        let at = |ms: i64| super::net::show_time(ms / 1000);
        let late = |since: i64| {
            humantime::format_duration(Duration::from_secs(((now - since) / 1000).max(0) as u64))
        };
        let expected = format!(
            "expected every {} + {} grace",
            humantime::format_duration(self.period),
            humantime::format_duration(self.grace)
        );
        if let Some(fail) = pings.last_fail_ms {
            if pings.last_ok_ms.is_none_or(|ok| fail > ok) {
                return Verdict::failed(format!("the job reported a failure at {}", at(fail)));
            }
        }
        match pings.last_ok_ms {
            None if now - since_ms > due => {
                return Verdict::failed(format!(
                    "no ping since shopwatch began watching at {} ({late} ago), {expected}",
                    at(since_ms),
                    late = late(since_ms)
                ))
            }
            None => return Verdict::ok(),
            Some(ok) if now - ok > due => {
                return Verdict::failed(format!(
                    "late: the last ping was {} ago at {}, {expected}",
                    late(ok),
                    at(ok)
                ))
            }
            Some(_) => {}
        }
        match pings.count {
            Some(count) if self.min.is_some_and(|min| count < min) => Verdict::failed(format!(
                "the last ping's count {count} is under min {}",
                self.min.unwrap_or_default()
            )),
            Some(count) if self.max.is_some_and(|max| count > max) => Verdict::failed(format!(
                "the last ping's count {count} is over max {}",
                self.max.unwrap_or_default()
            )),
            None if self.min.is_some() || self.max.is_some() => {
                Verdict::failed("the last ping had no count, and `min`/`max` need one (`?count=N`)")
            }
            Some(count) => self.against_normal(p, count, pings.last_ok_ms).await,
            None => Verdict::ok(),
        }
    }

    /// The last count against its normal at the time of its ping, when `above` or `below` ask.
    async fn against_normal(&self, p: &mut Probing, count: f64, at_ms: Option<i64>) -> Verdict {
        let Some(limits) = self.limits else {
            return Verdict::ok();
        };
        let Some(store) = super::metric::store() else {
            return Verdict::error(
                "no history to compare the count with: heartbeats run in `shopwatch run`",
            );
        };
        p.doing = "reading the count's normal from the history";
        let normal = store
            .normal(&self.name, &limits.baseline, at_ms.unwrap_or_else(now_ms))
            .await;
        let what = "the last ping's count";
        match normal {
            Err(e) => Verdict::error(format!("cannot read the count's normal: {e}")),
            Ok(Normal::Known(normal)) => match limits.judge(what, count, normal) {
                Some(reason) => Verdict::failed(reason),
                None => Verdict::ok(),
            },
            Ok(not_yet) => Verdict::ok_because(format!("{what} is {count}; {not_yet}")),
        }
    }
}

impl Kind for HeartbeatProbe {
    type File = HeartbeatProbeFile;
    kind_basics!(HeartbeatProbeFile);

    fn validate(c: &mut Checker, path: &str, f: &HeartbeatProbeFile) -> HeartbeatProbe {
        let period = c
            .duration(&format!("{path}.every"), &f.every)
            .unwrap_or(Duration::from_secs(3600));
        let grace = c
            .opt_duration(&format!("{path}.grace"), &f.grace)
            .unwrap_or(period / 10);
        let check_path = format!("{path}.check_every");
        let check_every = match &f.check_every {
            Some(text) => match c.duration(&check_path, text) {
                Some(d) if d < Duration::from_secs(1) => {
                    c.error_hint(
                        &check_path,
                        format!("`check_every: {text}` is shorter than 1s"),
                        "how often the pings are looked at, e.g. `check_every: 1m`",
                    );
                    DEFAULT_CHECK_EVERY
                }
                Some(d) => d,
                None => DEFAULT_CHECK_EVERY,
            },
            None => DEFAULT_CHECK_EVERY.min(period).max(Duration::from_secs(1)),
        };
        let token_path = format!("{path}.token");
        if let VarFile::Text(_) = &f.token {
            c.error_hint(
                &token_path,
                "the token is a secret: written here it would be in the file for anyone who reads it",
                "give it as a secret, e.g. `token: {secret: env:ORDER_EXPORT_TOKEN}` (`openssl rand -hex 32`)",
            );
        }
        let token = var(c, &token_path, &f.token);
        if let (Some(min), Some(max)) = (f.min, f.max) {
            if min > max {
                c.error_hint(
                    &format!("{path}.min"),
                    format!("min {min} is more than max {max}"),
                    "`min` is the lower bound of the count a ping gives",
                );
            }
        }
        if f.above.is_none() && f.below.is_none() {
            let given = [
                ("min_volume", f.min_volume.is_some()),
                ("weeks", f.weeks.is_some()),
                ("normal", f.normal.is_some()),
            ];
            if let Some((key, _)) = given.iter().find(|(_, set)| *set) {
                c.error_hint(
                    &format!("{path}.{key}"),
                    format!("`{key}` is for comparing the count with its normal, which needs `above` or `below`"),
                    "e.g. `below: 50` fails a count under half of its normal",
                );
            }
        }
        let limits = (f.above.is_some() || f.below.is_some()).then(|| {
            super::metric::limits(
                c,
                path,
                super::metric::LimitsFile {
                    above: f.above,
                    below: f.below,
                    min_volume: f.min_volume,
                    weeks: f.weeks,
                    normal: f.normal.as_deref(),
                },
            )
        });
        HeartbeatProbe {
            name: f.name.clone(),
            period,
            grace,
            token,
            min: f.min,
            max: f.max,
            limits,
            every: check_every,
            timeout: Duration::from_secs(5),
        }
    }

    fn secrets(&self) -> Vec<&Var> {
        vec![&self.token]
    }
}

/// `- heartbeat:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatProbeFile {
    pub name: String,
    /// How often the job runs (and pings).
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    /// How late a ping may be; default a tenth of `every`.
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub grace: Option<String>,
    /// `{secret: env:NAME}`.
    pub token: VarFile,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Percent over its normal the count may not go (as a metric probe's).
    pub above: Option<f64>,
    pub below: Option<f64>,
    pub min_volume: Option<f64>,
    pub weeks: Option<u32>,
    pub normal: Option<String>,
    /// How often the pings are looked at; default 1m (or `every` when shorter).
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub check_every: Option<String>,
}
