//! `shopwatch run`: the monitor. Loads the configuration, serves `/metrics`, and runs every
//! journey and probe on its schedule until told to stop; reloads on request.
//!
//! A *generation* is what one configuration runs: a task per journey and per probe. A reload
//! that validates starts a new generation and tells the old one to stop scheduling; runs
//! already going finish in the background. What outlives generations: the metrics, the session
//! limit, the schedule anchor (a journey keeps its place in the interval), and a lock per
//! journey name, so a journey never overlaps itself even across a reload.
//!
//! Stopping: no new runs start; running journeys get `shutdown_grace` to finish; then the
//! runner is cancelled (steps end, sessions close, local drivers stop) and the tasks are
//! awaited once more before returning.

use crate::alert::engine::Setup;
use crate::alert::normal::StepVerdict;
use crate::alert::sink::{Sink, SinkSecretError};
use crate::alert::Alerting;
use crate::artifacts;
use crate::config::monitor::{load_monitor, MonitorConfig};
use crate::history::{self, History, ProbeRecord, Record, RunRecord};
use crate::journey::model::{Action, Journey};
use crate::journey::outcome::{Outcome, RunReport, StepOutcome};
use crate::journey::runner::panicked_run;
use crate::journey::runner::Runner;
use crate::journey::secrets::{self, LogRedaction, Redactor, SecretError};
use crate::metrics::{Metrics, SkipReason};
use crate::probe::{ProbeConfig, ProbeResult};
use crate::schedule::{run_schedule, Sessions, Tick, Timing};
use crate::server::{self, Health};
use crate::webdriver::DriverPool;
use crate::yaml::diagnostic::{Diagnostic, Diagnostics};
use futures_util::FutureExt;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long running journeys may go on after a stop request before they are cancelled.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// After cancelling, how long closing sessions and stopping drivers may take.
const CANCEL_GRACE: Duration = Duration::from_secs(15);
/// How often artifacts retention runs.
const SWEEP_EVERY: Duration = Duration::from_secs(300);
/// At stop, how long alert notifications still queued may take to go out; what is left stays
/// in the alert state file for the next start.
const FLUSH_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(Diagnostics),
    #[error("{0}")]
    Secret(#[from] SecretError),
    #[error("{0}")]
    SinkSecret(#[from] SinkSecretError),
    #[error("{0}")]
    Access(String),
    #[error("internal error while loading the configuration: {0}")]
    Internal(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// How the outside world steers the monitor: signals in `main`, channels in tests.
pub struct Control {
    /// Stop: finish running journeys (up to the grace), close everything, return.
    pub shutdown: CancellationToken,
    /// Stop now: cancel running journeys (a second Ctrl-C).
    pub hurry: CancellationToken,
    /// Reload the configuration file.
    pub reload: mpsc::Receiver<()>,
}

/// A journey ready to run: its secrets resolved.
struct Armed {
    journey: Journey,
    values: HashMap<String, String>,
    redactor: Redactor,
    needs_browser: bool,
}

/// A validated configuration with every journey's and sink's secrets resolved.
struct Loaded {
    config: MonitorConfig,
    journeys: Vec<Arc<Armed>>,
    sinks: Vec<Arc<Sink>>,
    /// Every secret of the journeys, sinks, history and `ui.auth`.
    redactor: Redactor,
    /// Who may read the API (its secrets read).
    access: crate::ui::auth::Access,
    /// The PostgreSQL history's password, read from its secret.
    history_password: Option<String>,
}

fn load(file: &Path) -> Result<Loaded, DaemonError> {
    let config = load_monitor(file).map_err(DaemonError::Config)?;
    for warning in config.journeys.iter().flat_map(|j| &j.warnings) {
        tracing::warn!("{warning}");
    }
    let mut journeys = Vec::new();
    let mut all_secrets = Redactor::default();
    let http = crate::alert::sink::http_client();
    let mut sinks = Vec::new();
    for sink in config.alerting.iter().flat_map(|a| &a.sinks) {
        let sink = Sink::build(sink, &http)?;
        all_secrets.extend(&sink.redactor());
        sinks.push(Arc::new(sink));
    }
    // A probe reads its secrets at each run (one not readable yet makes that run an `error`);
    // those readable now are redacted from the logs from the start.
    for value in config.probes.iter().flat_map(|p| p.secrets()) {
        let read = match value {
            crate::secret::Var::Text(text) => Ok(text.clone()),
            crate::secret::Var::Secret(source) => crate::secret::read_secret(source),
        };
        if let Ok(secret) = read {
            all_secrets.add(&secret);
        }
    }
    let (access, auth_secrets) =
        crate::ui::auth::Access::resolve(&config.auth).map_err(DaemonError::Access)?;
    all_secrets.extend(&auth_secrets);
    let history_password = match &config.history.target {
        history::config::Target::Postgres {
            password: Some(crate::secret::Var::Secret(source)),
            ..
        } => {
            let password = crate::secret::read_secret(source).map_err(|e| {
                DaemonError::Access(format!("history.password: cannot read the secret: {e}"))
            })?;
            all_secrets.add(&password);
            Some(password)
        }
        _ => None,
    };
    for journey in &config.journeys {
        let (values, redactor) = secrets::resolve_vars(journey)?;
        all_secrets.extend(&redactor);
        let needs_browser = journey
            .steps
            .iter()
            .flat_map(|s| &s.actions)
            .any(Action::needs_browser);
        journeys.push(Arc::new(Armed {
            journey: journey.clone(),
            values,
            redactor,
            needs_browser,
        }));
    }
    Ok(Loaded {
        config,
        journeys,
        sinks,
        redactor: all_secrets,
        access,
        history_password,
    })
}

/// What all generations share.
struct Shared {
    metrics: Arc<Metrics>,
    sessions: Sessions,
    anchor: Instant,
    /// One lock per journey name: held while it runs.
    running: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Cancels running journeys (the runner's token).
    hurry: CancellationToken,
    alerting: Alerting,
    /// Where the monitor listens (for links in alerts, unless `external_url` says otherwise).
    listen: std::net::SocketAddr,
    health: Arc<Mutex<Health>>,
    /// Local drivers kept between runs, across reloads too.
    drivers: Arc<DriverPool>,
    /// Where finished runs, probe results and notifications are kept.
    history: History,
    /// The artifacts directory taken at start (history keeps paths relative to it).
    artifacts_dir: PathBuf,
    /// The journeys of the running configuration, for the API.
    journey_names: Arc<Mutex<Vec<String>>>,
    /// What the UI and status pages show (replaced on reload).
    ui_configured: Arc<Mutex<crate::ui::Configured>>,
}

impl Shared {
    fn journey_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// A panic in a run: the run became an `error` (counted with it) and the task goes on;
    /// logged and shown on `/healthz`, since it is a bug to report.
    fn note_panic(&self, task: &str, message: &str) {
        tracing::error!("a panic in {task} (its task goes on; please report this bug): {message}");
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        health.panics += 1;
        health.last_panic = Some(format!("{task}: {message}"));
    }

    fn update_sessions(&self) {
        self.metrics
            .set_sessions(self.sessions.open(), self.sessions.waiting());
    }
}

/// Runs the monitor for the configuration in `file` until `control.shutdown`. `logs` learns
/// the secrets of each configuration loaded.
pub async fn run(
    file: PathBuf,
    mut control: Control,
    logs: LogRedaction,
) -> Result<(), DaemonError> {
    let mut loaded = load(&file)?;
    claim_artifacts(&loaded.config)?;
    logs.learn(&loaded.redactor);
    let listen = loaded.config.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| DaemonError::Listen {
            addr: listen,
            source,
        })?;
    let listen = listener.local_addr().unwrap_or(listen);

    let metrics = Arc::new(Metrics::new(
        loaded.config.metrics.clone(),
        loaded.config.location.clone(),
    ));
    let stop_history = CancellationToken::new();
    let (history, history_writer) = History::start(
        loaded.config.history.clone(),
        loaded.history_password.clone(),
        loaded.config.location.clone(),
        metrics.clone(),
        loaded.config.artifacts.dir.clone(),
        stop_history.clone(),
    )
    .await;
    crate::probe::metric::use_store(Arc::new(history.clone()));
    let journey_names: Arc<Mutex<Vec<String>>> = Arc::default();
    let ui_configured: Arc<Mutex<crate::ui::Configured>> = Arc::default();
    let access = Arc::new(std::mem::replace(
        &mut loaded.access,
        crate::ui::auth::Access::resolve(&Default::default())
            .expect("an unset auth reads no secret")
            .0,
    ));
    let api = history::api::routes(history::api::ApiState {
        history: history.clone(),
        access: access.clone(),
        journeys: journey_names.clone(),
        redaction: logs.clone(),
    })
    .merge(crate::ui::routes(crate::ui::UiState::new(
        history.clone(),
        access,
        ui_configured.clone(),
        logs.clone(),
        metrics.clone(),
    )))
    .merge(crate::probe::heartbeat::routes());
    let health = Arc::new(Mutex::new(Health {
        config: file.display().to_string(),
        last_reload_ok: true,
        history: Some(history.status.clone()),
        ..Health::default()
    }));
    let shared = Arc::new(Shared {
        metrics: metrics.clone(),
        sessions: Sessions::new(loaded.config.max_sessions),
        anchor: Instant::now(),
        running: Mutex::new(HashMap::new()),
        hurry: control.hurry.clone(),
        alerting: Alerting::new(metrics.clone()),
        listen,
        health: health.clone(),
        drivers: Arc::default(),
        history,
        artifacts_dir: loaded.config.artifacts.dir.clone(),
        journey_names,
        ui_configured,
    });
    {
        let writer = shared.history.writer.clone();
        let location = shared.history.location.clone();
        shared.alerting.on_delivery(Arc::new(move |d| {
            writer.send(Record::Notification(history::NotificationRecord {
                at_ms: d.at_ms,
                alert: d.alert,
                event: d.event.to_string(),
                sink: d.sink,
                location: location.clone(),
                result: d.result.as_str().to_string(),
                error: d.error,
            }));
        }));
    }
    let stop_serving = CancellationToken::new();
    let (reload_over_http, mut http_reloads) = mpsc::channel(4);
    let server = tokio::spawn(server::serve(
        listener,
        metrics.clone(),
        health.clone(),
        loaded.config.artifacts.dir.clone(),
        reload_over_http,
        api,
        stop_serving.clone(),
    ));
    tracing::info!(
        "shopwatch {} monitoring from {}: metrics on http://{listen}/metrics",
        env!("CARGO_PKG_VERSION"),
        file.display()
    );

    let mut tasks = JoinSet::new();
    // What a reload cannot change (not a copy of the whole configuration: with 1,000 probes
    // that is half a megabyte).
    let mut current = (loaded.config.listen, loaded.config.location.clone());
    let history_at_start = (
        loaded.config.history.describe(),
        loaded.config.history.max_age,
    );
    // The directory taken at start is the one served; runs stay there.
    let artifacts_dir = loaded.config.artifacts.dir.clone();
    let mut generation = start(&shared, loaded, &mut tasks, &health);
    let stop_alerting = CancellationToken::new();
    let alerting = {
        let (alerting, stop) = (shared.alerting.clone(), stop_alerting.clone());
        tokio::spawn(async move { alerting.run(stop).await })
    };
    loop {
        // A reload from SIGHUP (no one to answer) or from `POST /-/reload` (the reply).
        let reply = tokio::select! {
            _ = control.shutdown.cancelled() => break,
            Some(()) = control.reload.recv() => None,
            Some(reply) = http_reloads.recv() => Some(reply),
            // Reap finished tasks as they end, so the set does not grow over reloads.
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    if e.is_panic() {
                        tracing::error!("a monitor task panicked: {e}");
                        metrics.record_monitor_error("panic");
                    }
                }
                continue;
            }
        };
        // Off the async workers: reading and validating may take a while (many journeys, a
        // slow disk), and runs, probes and scrapes must not wait for it.
        let reading = file.clone();
        let loaded = tokio::task::spawn_blocking(move || load(&reading))
            .await
            .unwrap_or_else(|panic| Err(DaemonError::Internal(panic.to_string())));
        let result = match loaded {
            Ok(mut loaded) => {
                logs.learn(&loaded.redactor);
                if loaded.config.listen != current.0 || loaded.config.location != current.1 {
                    tracing::warn!(
                        "reload: `listen` and `location` changes take effect after a restart"
                    );
                }
                if (
                    loaded.config.history.describe(),
                    loaded.config.history.max_age,
                ) != history_at_start
                {
                    tracing::warn!(
                        "reload: `history` and `state_dir` changes take effect after a restart"
                    );
                }
                if loaded.config.artifacts.dir != artifacts_dir {
                    tracing::warn!(
                        "reload: an `artifacts.dir` change takes effect after a restart"
                    );
                    loaded.config.artifacts.dir = artifacts_dir.clone();
                }
                generation.cancel();
                current = (loaded.config.listen, loaded.config.location.clone());
                generation = start(&shared, loaded, &mut tasks, &health);
                metrics.set_reload_result(true);
                tracing::info!("reloaded {}", file.display());
                Ok(())
            }
            Err(e) => {
                metrics.set_reload_result(false);
                metrics.record_monitor_error("config_reload");
                let errors = e.to_string();
                {
                    let mut health = health.lock().unwrap_or_else(|e| e.into_inner());
                    health.last_reload_ok = false;
                    health.last_reload_error = errors.lines().next().map(str::to_string);
                }
                tracing::error!("reload rejected, the running configuration stays:\n{errors}");
                Err(errors)
            }
        };
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
    }
    health.lock().unwrap_or_else(|e| e.into_inner()).ready = false;
    // Reloads asked while stopping hear 503.
    drop(http_reloads);

    tracing::info!(
        "stopping: no new runs; running journeys have {}s to finish",
        SHUTDOWN_GRACE.as_secs()
    );
    generation.cancel();
    let drained = tokio::select! {
        _ = drain(&mut tasks) => true,
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => false,
        _ = control.hurry.cancelled() => false,
    };
    if !drained {
        tracing::warn!("cancelling running journeys and closing their sessions");
        shared.hurry.cancel();
        if tokio::time::timeout(CANCEL_GRACE, drain(&mut tasks))
            .await
            .is_err()
        {
            tracing::error!("some runs did not end in time; aborting them");
            tasks.abort_all();
        }
    }
    shared.drivers.stop_all().await;
    shared.alerting.flush(FLUSH_GRACE).await;
    stop_alerting.cancel();
    let _ = alerting.await;
    // What is queued is written before the end (bounded: a store that hangs is left).
    stop_history.cancel();
    if tokio::time::timeout(FLUSH_GRACE, history_writer)
        .await
        .is_err()
    {
        tracing::warn!("history: the last records were not written in time");
    }
    stop_serving.cancel();
    let _ = server.await;
    tracing::info!("stopped");
    Ok(())
}

/// Takes the artifacts directory before anything runs: creates it, or marks an empty one or
/// one of an earlier shopwatch. What validation could not know yet (the directory changed
/// since) is reported as a configuration error at `artifacts.dir`.
fn claim_artifacts(config: &MonitorConfig) -> Result<(), DaemonError> {
    artifacts::root::claim(&config.artifacts.dir, Some(&config.file))
        .map(|_| ())
        .map_err(|refusal| {
            DaemonError::Config(Diagnostics(vec![Diagnostic::new(
                &config.file,
                config.artifacts_at,
                refusal.message,
            )
            .with_hint(refusal.hint)]))
        })
}

/// What the journeys that open a browser need from WebDriver, for `/healthz`.
fn webdriver_need(
    endpoint: &crate::webdriver::Endpoint,
    journeys: &[Arc<Armed>],
) -> Option<crate::webdriver::status::Need> {
    let mut browsers = Vec::new();
    for armed in journeys.iter().filter(|a| a.needs_browser) {
        if !browsers.contains(&armed.journey.browser) {
            browsers.push(armed.journey.browser);
        }
    }
    (!browsers.is_empty()).then(|| crate::webdriver::status::Need {
        endpoint: endpoint.clone(),
        browsers,
    })
}

/// `dir` under `root`, `/`-separated, as the history keeps artifact paths.
fn relative(root: &Path, dir: &Path) -> Option<String> {
    let rel = dir.strip_prefix(root).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

async fn drain(tasks: &mut JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}

/// Starts a generation; returns the token that stops its scheduling.
fn start(
    shared: &Arc<Shared>,
    loaded: Loaded,
    tasks: &mut JoinSet<()>,
    health: &Mutex<Health>,
) -> CancellationToken {
    let Loaded {
        config,
        journeys,
        sinks,
        redactor,
        ..
    } = loaded;
    let stop = CancellationToken::new();
    let names: Vec<&str> = journeys.iter().map(|a| a.journey.name.as_str()).collect();
    let probe_names: Vec<&str> = config.probes.iter().map(ProbeConfig::name).collect();
    shared.metrics.set_config(config.metrics.clone());
    shared.metrics.set_configured(&names, &probe_names);
    crate::probe::heartbeat::configure(&config.probes, &config.history.state_dir);
    crate::probe::feed_counts::configure(&config.history.state_dir);
    *shared
        .journey_names
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = names.iter().map(|n| n.to_string()).collect();
    *shared
        .ui_configured
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = crate::ui::Configured {
        journeys: names.iter().map(|n| n.to_string()).collect(),
        probes: config
            .probes
            .iter()
            .map(|p| (p.name().to_string(), p.kind().to_string()))
            .collect(),
        status_pages: config.status_pages.clone(),
    };
    shared.sessions.resize(config.max_sessions);
    shared.alerting.configure(Setup {
        monitor_url: monitor_url(&config, shared.listen),
        config: config.alerting.clone(),
        sinks,
        redactor,
        location: config.location.clone(),
        artifacts_dir: config.artifacts.dir.clone(),
        journeys: names.iter().map(|n| n.to_string()).collect(),
        probes: probe_names.iter().map(|n| n.to_string()).collect(),
    });
    {
        let mut health = health.lock().unwrap_or_else(|e| e.into_inner());
        health.journeys = journeys.len();
        health.probes = config.probes.len();
        health.last_reload_ok = true;
        health.last_reload_error = None;
        health.ready = true;
        health.webdriver = webdriver_need(&config.webdriver, &journeys);
    }

    let runner = Arc::new(Runner::new(
        config.webdriver.clone(),
        Some(config.artifacts.dir.clone()),
        shared.hurry.clone(),
        shared.drivers.clone(),
    ));
    for armed in journeys {
        let (shared, stop, runner) = (shared.clone(), stop.clone(), runner.clone());
        tasks.spawn(async move { journey_task(&shared, &stop, &runner, &armed).await });
    }
    for probe in config.probes {
        let (shared, stop) = (shared.clone(), stop.clone());
        tasks.spawn(async move { probe_task(&shared, &stop, &probe).await });
    }
    let (shared2, stop2, artifacts) = (shared.clone(), stop.clone(), config.artifacts.clone());
    tasks.spawn(async move {
        let timing = Timing::every(SWEEP_EVERY, "artifacts", shared2.anchor);
        run_schedule(
            &timing,
            &stop2,
            |_| {},
            |_| {
                let (artifacts, metrics) = (artifacts.clone(), shared2.metrics.clone());
                let shared2 = shared2.clone();
                async move {
                    let swept = tokio::task::spawn_blocking(move || {
                        artifacts::retention::sweep(&artifacts, SystemTime::now())
                    })
                    .await;
                    match swept {
                        Ok(Ok(usage)) => {
                            metrics.set_artifacts(usage.files, usage.bytes);
                            if !usage.removed.is_empty() {
                                shared2.history.writer.send(Record::ArtifactsGone(
                                    usage
                                        .removed
                                        .iter()
                                        .filter_map(|dir| relative(&shared2.artifacts_dir, dir))
                                        .collect(),
                                ));
                            }
                        }
                        Ok(Err(e)) => {
                            tracing::error!("artifacts retention: {e}");
                            metrics.record_monitor_error("artifacts");
                        }
                        Err(_) => metrics.record_monitor_error("artifacts"),
                    }
                }
            },
        )
        .await;
    });
    stop
}

async fn journey_task(shared: &Shared, stop: &CancellationToken, runner: &Runner, armed: &Armed) {
    let name = armed.journey.name.as_str();
    let timing = Timing::new(&armed.journey.schedule, name, shared.anchor);
    let on_tick = |tick| {
        if let Tick::Skipped { count } = tick {
            tracing::warn!(
                "journey {name}: {count} run(s) skipped: the previous run was still going"
            );
            for _ in 0..count {
                shared.metrics.record_skipped(name, SkipReason::Overlap);
            }
        }
    };
    run_schedule(&timing, stop, on_tick, |due| {
        guarded(shared, "journey", name, async move {
            // A run of the previous generation may still be going.
            let lock = shared.journey_lock(name);
            let Ok(_running) = lock.try_lock_owned() else {
                shared.metrics.record_skipped(name, SkipReason::Overlap);
                return;
            };
            let slot = if armed.needs_browser {
                let waiting = shared.sessions.acquire();
                shared.update_sessions();
                let slot = tokio::select! {
                    slot = waiting => slot,
                    _ = stop.cancelled() => {
                        shared.metrics.record_skipped(name, SkipReason::Shutdown);
                        shared.update_sessions();
                        return;
                    }
                };
                shared.update_sessions();
                Some(slot)
            } else {
                None
            };
            shared
                .metrics
                .record_schedule_lag(name, Instant::now().saturating_duration_since(due));
            let started = SystemTime::now();
            let mut ignore = |_: crate::journey::runner::RunEvent<'_>| {};
            let run = runner.run(&armed.journey, &armed.values, &armed.redactor, &mut ignore);
            let report = match AssertUnwindSafe(run).catch_unwind().await {
                Ok(report) => report,
                Err(panic) => {
                    let message = armed.redactor.redact(&panic_message(panic.as_ref()));
                    shared.note_panic(&format!("journey {name}"), &message);
                    panicked_run(&armed.journey, started, &message)
                }
            };
            drop(slot);
            shared.update_sessions();
            let verdicts = shared.judge_steps(&report).await;
            shared.finished(Finished::Journey(&report, &verdicts));
        })
    })
    .await;
}

/// Runs one scheduled job; a panic in it is noted and the schedule goes on (the backstop: a
/// panic in a run itself already became that run's `error` report).
async fn guarded(
    shared: &Shared,
    kind: &str,
    name: &str,
    job: impl std::future::Future<Output = ()>,
) {
    if let Err(panic) = AssertUnwindSafe(job).catch_unwind().await {
        shared.metrics.record_monitor_error("panic");
        shared.note_panic(&format!("{kind} {name}"), &panic_message(panic.as_ref()));
    }
}

/// shopwatch's address for links in alerts: `alerting.external_url`, else the `listen`
/// address when it is a specific one (not `0.0.0.0`).
pub(crate) fn monitor_url(config: &MonitorConfig, listen: std::net::SocketAddr) -> Option<String> {
    let external = config
        .alerting
        .as_ref()
        .and_then(|a| a.external_url.as_ref());
    match external {
        Some(url) => Some(url.as_str().trim_end_matches('/').to_string()),
        None if listen.ip().is_unspecified() => None,
        None => Some(format!("http://{listen}")),
    }
}

/// A run that has finished, on its way out.
enum Finished<'a> {
    /// With its steps judged against their normals (`slower_than_normal`).
    Journey(&'a RunReport, &'a [StepVerdict]),
    Probe {
        probe: &'a ProbeConfig,
        result: &'a ProbeResult,
        /// The probe panicked: its `error` is counted as a panic, not a probe error.
        panicked: bool,
    },
}

impl Shared {
    /// Each passed step of `report` against its normal from the history, when alerting watches
    /// `slower_than_normal` for the journey; read before the run itself is kept.
    async fn judge_steps(&self, report: &RunReport) -> Vec<StepVerdict> {
        if report.outcome == Outcome::Error || self.hurry.is_cancelled() {
            return Vec::new();
        }
        let Some(policy) = self.alerting.slower_than_normal(&report.journey) else {
            return Vec::new();
        };
        history::baseline::judge_steps(&self.history.reader, report, policy, history::now_ms())
            .await
    }

    /// The one place a finished run goes out: the log, metrics and alerting (what is kept of
    /// runs plugs in here too).
    fn finished(&self, finished: Finished) {
        match finished {
            Finished::Journey(report, verdicts) => {
                log_run(report);
                // Each logged where it failed; the run's outcome is the shop's, as it was.
                // Counted before the run, so a scrape that sees the run sees them too.
                for _ in 0..report.artifact_errors {
                    self.metrics.record_monitor_error("artifacts");
                }
                self.metrics.record_run(report);
                self.metrics.record_step_normals(
                    &report.journey,
                    verdicts
                        .iter()
                        .map(|v| (v.step.as_str(), v.normal.value().zip(v.slower()))),
                );
                self.history
                    .writer
                    .send(Record::Run(Box::new(RunRecord::from_report(
                        report,
                        &self.history.location,
                        &self.artifacts_dir,
                    ))));
                // A run cut short by shutdown says nothing about the shop or the monitor's
                // health.
                if !self.hurry.is_cancelled() {
                    self.alerting.observe_judged_run(report, verdicts);
                }
            }
            Finished::Probe {
                probe,
                result,
                panicked,
            } => {
                log_probe(probe, result);
                if result.outcome == Outcome::Error {
                    self.metrics
                        .record_monitor_error(if panicked { "panic" } else { "probe" });
                }
                self.metrics.record_probe(probe, result);
                self.history
                    .writer
                    .send(Record::Probe(ProbeRecord::from_result(
                        probe.name(),
                        &self.history.location,
                        result,
                    )));
                self.alerting.observe_probe(probe, result);
            }
        }
    }
}

fn log_probe(probe: &ProbeConfig, result: &ProbeResult) {
    let reason = result.reason.as_deref().unwrap_or("");
    match result.outcome {
        Outcome::Ok => {}
        Outcome::Error => tracing::error!(probe = probe.name(), "monitor error: {reason}"),
        _ => tracing::warn!(
            probe = probe.name(),
            "{}: {reason}",
            result.outcome.as_str()
        ),
    }
}

fn log_run(report: &RunReport) {
    // A run that passed on a retry still hid a failure: say which, so that a flaky step (or a
    // driver killed once) leaves a trace.
    for attempt in &report.previous_attempts {
        let failed = attempt
            .steps
            .iter()
            .find(|s| matches!(s.outcome, StepOutcome::Failed | StepOutcome::Error));
        let reason = failed
            .and_then(|s| s.reason.as_deref())
            .or(attempt.error.as_deref())
            .unwrap_or("");
        let at = failed
            .map(|s| format!(" at step `{}`", s.name))
            .unwrap_or_default();
        tracing::warn!(
            journey = %report.journey, run_id = %report.run_id,
            "attempt {} of {} {}{at}: {reason}",
            attempt.attempt, report.attempts, attempt.outcome.as_str()
        );
    }
    let took = format!("{:.1}s", report.duration_ms / 1000.0);
    let failed_step = report.first_failure();
    let reason = failed_step
        .and_then(|s| s.reason.as_deref())
        .or(report.error.as_deref())
        .unwrap_or("");
    let at = failed_step
        .map(|s| format!(" at step `{}`", s.name))
        .unwrap_or_default();
    match report.outcome {
        Outcome::Ok | Outcome::Degraded | Outcome::Flaky => tracing::info!(
            journey = %report.journey, run_id = %report.run_id,
            "{} in {took}", report.outcome.as_str()
        ),
        Outcome::Failed | Outcome::Error => tracing::warn!(
            journey = %report.journey, run_id = %report.run_id,
            "{}{at} in {took}: {reason}", report.outcome.as_str()
        ),
    }
}

async fn probe_task(shared: &Shared, stop: &CancellationToken, probe: &ProbeConfig) {
    let timing = Timing::every(probe.every(), probe.name(), shared.anchor);
    run_schedule(
        &timing,
        stop,
        |_| {},
        |_| {
            guarded(shared, "probe", probe.name(), async {
                let (result, panicked) = match AssertUnwindSafe(probe.run()).catch_unwind().await {
                    Ok(result) => (result, false),
                    Err(panic) => {
                        let message = panic_message(panic.as_ref());
                        shared.note_panic(&format!("probe {}", probe.name()), &message);
                        (ProbeResult::panicked(&message), true)
                    }
                };
                shared.finished(Finished::Probe {
                    probe,
                    result: &result,
                    panicked,
                });
            })
        },
    )
    .await;
}

/// The text of a panic's payload (`panic!` with a literal or with formatting).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
