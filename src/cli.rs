//! Command line: `shopwatch run`, `check`, `validate`, `rules` and `alert test`, and their
//! exit codes.

use crate::artifacts;
use crate::config;
use crate::daemon::{self, DaemonError};
use crate::journey::model::{Browser, Journey};
use crate::journey::outcome::{Outcome, RunReport};
use crate::journey::runner::{RunEvent, Runner};
use crate::journey::secrets::{self, LogRedaction, Redactor};
use crate::progress::{self, Progress};
use crate::report;
use crate::webdriver::{DriverPool, Endpoint};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Exit codes, documented in the README.
pub mod exit {
    /// Every journey passed (ok, degraded or flaky).
    pub const PASSED: i32 = 0;
    /// The shop failed: a journey's outcome is `failed`.
    pub const FAILED: i32 = 1;
    /// Invalid journey or usage.
    pub const INVALID: i32 = 2;
    /// The monitor failed: WebDriver unreachable, session not created, browser crashed.
    pub const MONITOR_ERROR: i32 = 3;
    /// Interrupted (Ctrl-C / SIGTERM) after closing every session.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, Parser)]
#[command(
    name = "shopwatch",
    version,
    about = "Synthetic checkout monitor: runs YAML shop journeys in real browsers over WebDriver"
)]
pub struct Cli {
    /// How log lines on stderr are written: `text` (colour codes only on a terminal without
    /// `NO_COLOR`) or `json` (one object per line).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "SHOPWATCH_LOG_FORMAT",
        value_name = "FORMAT"
    )]
    pub log_format: crate::logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the monitor: every journey and probe of the configuration on its schedule, with
    /// Prometheus metrics on `listen`. SIGHUP reloads the configuration; SIGTERM or Ctrl-C
    /// stops after running journeys finish.
    Run {
        /// The monitor configuration (YAML).
        #[arg(long, short, value_name = "FILE", default_value = "shopwatch.yaml")]
        config: PathBuf,
    },
    /// Run each journey once and report every step.
    Check(Box<CheckArgs>),
    /// Check journey files and monitor configurations (with the journeys they name) without a
    /// browser; report every error with file:line:column.
    Validate {
        /// Journey files or monitor configurations.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print Prometheus alerting rules for shopwatch's metrics (a rule file, YAML, on stdout),
    /// for alerting from Prometheus. With --config, each journey's thresholds follow its
    /// `every`.
    Rules(crate::rules::RulesArgs),
    /// Alerting commands.
    #[command(subcommand)]
    Alert(AlertCommand),
    /// Internal: the process that ends a killed shopwatch's drivers and browsers.
    #[command(name = "__guard", hide = true)]
    Guard(crate::webdriver::guard::GuardArgs),
}

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Send a clearly marked test alert through each configured sink (or one) and report
    /// whether each accepted it. Exit 0 when all did, 1 when any did not, 2 for a bad
    /// configuration.
    Test {
        /// The monitor configuration (YAML) with `alerting:`.
        #[arg(long, short, value_name = "FILE", default_value = "shopwatch.yaml")]
        config: PathBuf,
        /// Only this sink (its `name`, or its kind when unnamed).
        #[arg(long, value_name = "NAME")]
        sink: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BrowserArg {
    Firefox,
    Chrome,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Journey files, or a monitor configuration (every journey it names, with its
    /// `webdriver`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Only the journey named NAME (again for more).
    #[arg(long = "journey", value_name = "NAME")]
    pub journeys: Vec<String>,
    /// Browser for every journey, overriding the journey's `browser`.
    #[arg(long, value_enum)]
    pub browser: Option<BrowserArg>,
    /// W3C WebDriver endpoint (geckodriver, chromedriver, Selenium, Grid). Without it, shopwatch
    /// starts geckodriver or chromedriver from PATH itself.
    #[arg(long, value_name = "URL", env = "SHOPWATCH_WEBDRIVER")]
    pub webdriver: Option<url::Url>,
    /// Base URL for every journey, overriding its `base_url`.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<url::Url>,
    /// Print one JSON object per run on stdout (live step lines go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// After each step, each action's time and the WebDriver commands it sent (in the JSON
    /// report too: `steps[].actions`).
    #[arg(long)]
    pub profile: bool,
    /// Where failed steps' screenshots, HTML and console logs go.
    #[arg(long, value_name = "DIR", default_value = "shopwatch-artifacts")]
    pub artifacts: PathBuf,
}

/// Runs the parsed command; returns the process exit code. `logs` learns every secret read,
/// to keep it out of the log.
pub async fn run(cli: Cli, logs: LogRedaction) -> i32 {
    match cli.command {
        Command::Run { config } => run_monitor(config, logs).await,
        Command::Validate { files } => validate(&files),
        Command::Check(args) => check(*args, &logs).await,
        Command::Rules(args) => rules(&args),
        Command::Alert(AlertCommand::Test { config, sink }) => {
            alert_test(&config, sink.as_deref(), &logs).await
        }
        // `main` runs it before starting the async runtime; this is for other callers.
        Command::Guard(args) => crate::webdriver::guard::serve(&args),
    }
}

/// Before starting browsers: ends what an earlier shopwatch that was killed left running.
fn reap_leftovers() {
    let reaped = crate::webdriver::reaper::reap_orphans(&crate::webdriver::reaper::root());
    if !reaped.is_empty() {
        tracing::warn!(
            "cleaned up after a shopwatch that was killed: {}",
            reaped.describe()
        );
    }
}

/// `shopwatch alert test`: one test notification through each selected sink, directly (no
/// queue, no retries), each result on its own line.
async fn alert_test(file: &std::path::Path, only: Option<&str>, logs: &LogRedaction) -> i32 {
    use crate::alert::{sink::Sink, Notification};
    let config = match config::monitor::load_monitor(file) {
        Ok(config) => config,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return exit::INVALID;
        }
    };
    let Some(alerting) = &config.alerting else {
        eprintln!(
            "{}: there is no `alerting:` section, so there are no sinks to test\n  = hint: see the README's alerting reference for `alerting: {{sinks: [...]}}`",
            file.display()
        );
        return exit::INVALID;
    };
    let selected: Vec<_> = alerting
        .sinks
        .iter()
        .filter(|s| only.is_none_or(|name| s.name == name))
        .collect();
    if selected.is_empty() {
        let names: Vec<String> = alerting
            .sinks
            .iter()
            .map(|s| format!("`{}`", s.name))
            .collect();
        eprintln!(
            "{}: no sink named `{}`; the sinks are {}",
            file.display(),
            only.unwrap_or_default(),
            names.join(", ")
        );
        return exit::INVALID;
    }
    let listen = config.listen;
    let notification = Notification::test(
        config.location.clone(),
        daemon::monitor_url(&config, listen),
    );
    let http = crate::alert::sink::http_client();
    let mut failed = 0;
    for sink_config in selected {
        let label = format!("{} ({})", sink_config.name, sink_config.kind.kind());
        let sink = match Sink::build(sink_config, &http) {
            Ok(sink) => sink,
            Err(e) => {
                println!("FAILED  {label}: {}", e.problem);
                failed += 1;
                continue;
            }
        };
        let redactor = sink.redactor();
        logs.learn(&redactor);
        match sink.send(&notification).await {
            Ok(()) => println!("ok      {label}: accepted the test alert"),
            Err(e) => {
                println!("FAILED  {label}: {}", e.shown(&redactor));
                failed += 1;
            }
        }
    }
    if failed == 0 {
        exit::PASSED
    } else {
        exit::FAILED
    }
}

/// A loadable journey's warnings, on stderr.
fn say_warnings(journey: &Journey) {
    for warning in &journey.warnings {
        eprintln!("{warning}");
    }
}

/// What `check` runs: journeys, and the WebDriver endpoint a monitor configuration names.
struct Loaded {
    journeys: Vec<Journey>,
    webdriver: Option<Endpoint>,
}

/// Loads every file (a journey, or a configuration and the journeys it names), printing every
/// error; None when any is invalid.
fn load_all(files: &[PathBuf]) -> Option<Loaded> {
    let mut loaded = Loaded {
        journeys: Vec::new(),
        webdriver: None,
    };
    let mut failed = false;
    for file in files {
        let parsed =
            crate::yaml::read_source(file, "journey or configuration").and_then(|source| {
                if config::monitor::looks_like_monitor_config(&source) {
                    config::monitor::parse_monitor(file, &source)
                        .map(|monitor| (monitor.journeys, Some(monitor.webdriver)))
                } else {
                    config::parse_journey(file, &source).map(|journey| (vec![journey], None))
                }
            });
        match parsed {
            Ok((journeys, webdriver)) => {
                journeys.iter().for_each(say_warnings);
                loaded.journeys.extend(journeys);
                loaded.webdriver = loaded.webdriver.take().or(webdriver);
            }
            Err(diagnostics) => {
                failed = true;
                eprintln!("{diagnostics}");
            }
        }
    }
    (!failed).then_some(loaded)
}

/// Keeps the journeys named in `only` (all when it is empty); an unknown name is an error
/// that lists the names there are.
fn pick(journeys: Vec<Journey>, only: &[String]) -> Result<Vec<Journey>, String> {
    if let Some(unknown) = only
        .iter()
        .find(|name| !journeys.iter().any(|j| &j.name == *name))
    {
        let names: Vec<String> = journeys.iter().map(|j| format!("`{}`", j.name)).collect();
        return Err(format!(
            "--journey {unknown}: no journey has that name; the journeys are {}",
            names.join(", ")
        ));
    }
    Ok(journeys
        .into_iter()
        .filter(|j| only.is_empty() || only.contains(&j.name))
        .collect())
}

fn validate(files: &[PathBuf]) -> i32 {
    let mut code = exit::PASSED;
    for file in files {
        let source = match crate::yaml::read_source(file, "journey or configuration") {
            Ok(source) => source,
            Err(diagnostics) => {
                eprintln!("{diagnostics}");
                code = exit::INVALID;
                continue;
            }
        };
        if config::monitor::looks_like_monitor_config(&source) {
            match config::monitor::parse_monitor(file, &source) {
                Ok(monitor) => {
                    monitor.journeys.iter().for_each(say_warnings);
                    let names: Vec<&str> =
                        monitor.journeys.iter().map(|j| j.name.as_str()).collect();
                    // "0 journeys; 10 probes", not "0 journeys: ; 10 probes".
                    let journeys = match names.is_empty() {
                        true => "0 journeys".to_string(),
                        false => format!("{} journeys: {}", names.len(), names.join(", ")),
                    };
                    println!(
                        "{}: configuration is valid ({journeys}; {} probes)",
                        file.display(),
                        monitor.probes.len()
                    )
                }
                Err(diagnostics) => {
                    eprintln!("{diagnostics}");
                    code = exit::INVALID;
                }
            }
            continue;
        }
        match config::parse_journey(file, &source) {
            Ok(journey) => {
                say_warnings(&journey);
                println!(
                    "{}: journey `{}` is valid ({} steps)",
                    journey.file.display(),
                    journey.name,
                    journey.steps.len()
                )
            }
            Err(diagnostics) => {
                eprintln!("{diagnostics}");
                code = exit::INVALID;
            }
        }
    }
    code
}

/// `shopwatch rules`: the rule file on stdout; a configuration that does not load is invalid.
fn rules(args: &crate::rules::RulesArgs) -> i32 {
    match crate::rules::run(args) {
        Ok(yaml) => {
            print!("{yaml}");
            exit::PASSED
        }
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            exit::INVALID
        }
    }
}

/// `shopwatch run`: the monitor, steered by signals.
async fn run_monitor(config: PathBuf, logs: LogRedaction) -> i32 {
    reap_leftovers();
    let shutdown = CancellationToken::new();
    let hurry = CancellationToken::new();
    let (reload_tx, reload) = tokio::sync::mpsc::channel(1);
    let signals = tokio::spawn(monitor_signals(shutdown.clone(), hurry.clone(), reload_tx));
    let control = daemon::Control {
        shutdown,
        hurry,
        reload,
    };
    let result = daemon::run(config, control, logs).await;
    signals.abort();
    match result {
        Ok(()) => exit::PASSED,
        Err(e @ (DaemonError::Config(_) | DaemonError::Secret(_) | DaemonError::SinkSecret(_))) => {
            eprintln!("{e}");
            exit::INVALID
        }
        Err(e) => {
            eprintln!("{e}");
            exit::MONITOR_ERROR
        }
    }
}

/// SIGTERM or Ctrl-C: stop (a second one: stop now). SIGHUP: reload.
async fn monitor_signals(
    shutdown: CancellationToken,
    hurry: CancellationToken,
    reload: tokio::sync::mpsc::Sender<()>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot listen for signals: SIGTERM and SIGHUP will not work");
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
            _ = hup.recv() => {
                let _ = reload.try_send(());
                continue;
            }
        }
        if shutdown.is_cancelled() {
            hurry.cancel();
        } else {
            shutdown.cancel();
        }
    }
}

async fn check(args: CheckArgs, logs: &LogRedaction) -> i32 {
    reap_leftovers();
    let Some(loaded) = load_all(&args.files) else {
        return exit::INVALID;
    };
    let mut journeys = match pick(loaded.journeys, &args.journeys) {
        Ok(journeys) => journeys,
        Err(problem) => {
            eprintln!("{problem}");
            return exit::INVALID;
        }
    };
    for journey in &mut journeys {
        if let Some(browser) = args.browser {
            journey.browser = match browser {
                BrowserArg::Firefox => Browser::Firefox,
                BrowserArg::Chrome => Browser::Chrome,
            };
        }
        if let Some(base_url) = &args.base_url {
            journey.base_url = base_url.clone();
        }
    }
    let mut resolved = Vec::new();
    // Every journey's secrets, for what is written about all of them (JUnit, the log).
    let mut all_secrets = Redactor::default();
    for journey in &journeys {
        match secrets::resolve_vars(journey) {
            Ok(vars) => {
                all_secrets.extend(&vars.1);
                resolved.push(vars);
            }
            Err(e) => {
                eprintln!("{e}");
                return exit::INVALID;
            }
        }
    }
    logs.learn(&all_secrets);

    let cancel = CancellationToken::new();
    let signals = tokio::spawn(cancel_on_signal(cancel.clone()));
    // The command line's endpoint, else the configuration's, else drivers started here.
    let endpoint = match &args.webdriver {
        Some(url) => Endpoint::Remote(url.to_string()),
        None => loaded.webdriver.unwrap_or(Endpoint::Local),
    };
    // A new or empty directory is marked as shopwatch's, so that `run` may later take it;
    // any other is only written into (`check` deletes nothing).
    let _ = artifacts::root::claim(&args.artifacts, None);
    let drivers = Arc::new(DriverPool::default());
    let runner = Runner::new(
        endpoint,
        Some(args.artifacts.clone()),
        cancel.clone(),
        drivers.clone(),
    );
    let mut reports: Vec<RunReport> = Vec::new();
    let live = Progress::for_check(args.json);
    for (journey, (values, redactor)) in journeys.iter().zip(&resolved) {
        if cancel.is_cancelled() {
            break;
        }
        live.line(&format!(
            "{} · {} · {}",
            journey.name,
            journey.browser.name(),
            journey.file.display()
        ));
        let mut on_event = |event: RunEvent<'_>| match event {
            RunEvent::AttemptStarted { attempt } if attempt > 1 => {
                live.line(&format!("  attempt {attempt} (fresh browser session)"));
            }
            RunEvent::Busy { activity, .. } => {
                live.busy(redactor.redact(&progress::describe(&activity)));
            }
            RunEvent::StepFinished { step, .. } => {
                live.idle();
                live.line(&redactor.redact(&report::step_line(step)));
                if args.profile {
                    live.line(&redactor.redact(&report::profile_lines(step)));
                }
            }
            RunEvent::AttemptFinished {
                attempt,
                outcome,
                retrying,
            } => {
                live.idle();
                if retrying {
                    live.line(&format!(
                        "  attempt {attempt} {}; retrying",
                        outcome.as_str()
                    ));
                }
            }
            _ => {}
        };
        let mut run = runner.run(journey, values, redactor, &mut on_event).await;
        if !args.profile {
            run.drop_action_profiles();
        }
        live.line(&redactor.redact(&report::summary_line(&run)));
        if args.json {
            match serde_json::to_string(&run) {
                Ok(json) => println!("{}", redactor.redact(&json)),
                Err(e) => eprintln!("cannot write JSON for {}: {e}", run.journey),
            }
        }
        reports.push(run);
    }
    drivers.stop_all().await;
    drop(live);
    signals.abort();

    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, all_secrets.redact(&report::junit(&reports))) {
            eprintln!("cannot write JUnit report {}: {e}", path.display());
            return exit::INVALID;
        }
    }
    if cancel.is_cancelled() {
        eprintln!("interrupted: every browser session was closed");
        return exit::INTERRUPTED;
    }
    exit_code(&reports)
}

/// The worst outcome decides: a monitor error beats a shop failure (it means the result is
/// not to be trusted).
pub fn exit_code(reports: &[RunReport]) -> i32 {
    let worst = reports
        .iter()
        .map(|r| r.outcome)
        .max()
        .unwrap_or(Outcome::Ok);
    match worst {
        Outcome::Ok | Outcome::Degraded | Outcome::Flaky => exit::PASSED,
        Outcome::Failed => exit::FAILED,
        Outcome::Error => exit::MONITOR_ERROR,
    }
}

/// Ctrl-C or SIGTERM: stop, closing every session on the way out.
async fn cancel_on_signal(cancel: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    eprintln!("stopping: closing browser sessions");
    cancel.cancel();
}
