//! `shopwatch rules`: Prometheus alerting rules for shopwatch's metrics, for those who alert
//! from Prometheus (Alertmanager) rather than from shopwatch itself.
//!
//! The rule file is built as typed values ([`RuleFile`]) and written with serde-saphyr, so
//! quoting is never done by hand; PromQL string literals are escaped by [`promql_string`].
//!
//! # Design
//! - Every selector carries `job="<--job>"`: another exporter's `probe_success` (a real
//!   blackbox_exporter) must not raise shopwatch's alerts.
//! - Journey alerts depend on how often a journey runs, which the metrics do not say. With
//!   `--config`, each journey's `every` (for `cron`, the longest gap between two runs) is its
//!   interval; other journeys get one from `--no-runs-after` (a third of it). Journeys with
//!   the same interval share one rule per alert; the fallback rule takes every journey the
//!   others do not name, so journeys added later are covered too. From the interval `I`:
//!   - ShopwatchNoRuns: no run finished for `3 × I` (`--no-runs-after` for the fallback);
//!   - ShopwatchJourneyStepFailing looks back `max(15m, 2 × I)` for failed steps, so a failing
//!     journey stays firing between its runs (it only resolves on a passing run);
//!   - ShopwatchJourneyStepSlow looks at the runs of the last `max(30m, 3 × I)`.
//! - ShopwatchJourneyStepSlowerThanNormal is the Prometheus side of `slower_than_normal`, as
//!   far as PromQL goes: a step's median over the window against `factor` x its average in the
//!   same hour a week ago (shopwatch's own takes the median over `weeks` weeks from its
//!   history). A step without series a week ago has no such average: nothing fires.
//! - ShopwatchFailingInManyLocations counts the locations where ShopwatchJourneyStepFailing's
//!   condition holds, not those whose last run did not pass: an `error` run (the monitors'
//!   shared Selenium Grid down) does not pass either, and is no shop failure.
//! - A step's failure counter is born at 1 on its first failure (only counters seen before
//!   exist at 0), which `increase()` cannot see: the failing-step and monitor-error rules also
//!   take series younger than their window (`x unless x offset W`).

use crate::config::monitor::load_monitor;
use crate::journey::model::{Journey, Schedule};
use crate::journey::outcome::ReasonClass;
use crate::metrics;
use crate::yaml::diagnostic::Diagnostics;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `shopwatch rules`.
#[derive(Debug, Clone, clap::Args)]
pub struct RulesArgs {
    /// The monitor configuration: each journey's `every` (or cron) sets its thresholds
    /// (ShopwatchNoRuns after 3 intervals). Without it, every journey gets the
    /// --no-runs-after fallback.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// ShopwatchFailingInManyLocations fires when a journey's last run failed in at least this
    /// many locations (distinct `location` labels).
    #[arg(long, value_name = "N", default_value = "2", value_parser = parse_locations)]
    pub locations: u32,
    /// `for:` of ShopwatchJourneyStepFailing and ShopwatchFailingInManyLocations: how long a
    /// journey must keep failing before they fire (0s: on the first failed run; a run passing
    /// on a retry is `flaky`, not failed).
    #[arg(long = "for", value_name = "DURATION", default_value = "0s", value_parser = parse_for)]
    pub for_: Duration,
    /// ShopwatchNoRuns threshold for journeys whose interval is unknown (no --config, not in
    /// it): no run finished for this long. Their failure and slowness windows assume they run
    /// at least every third of it.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_no_runs_after)]
    pub no_runs_after: Duration,
    /// The Prometheus job scraping shopwatch (`job_name` in prometheus.yml): the rules select
    /// only its series.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "shopwatch",
        value_parser = clap::builder::NonEmptyStringValueParser::new()
    )]
    pub job: String,
}

/// A Prometheus rule file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<AlertRule>,
}

/// One alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    pub labels: Labels,
    pub annotations: Annotations,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Labels {
    pub severity: Severity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotations {
    pub summary: String,
    pub description: String,
}

/// What the rules are made from.
#[derive(Debug, Clone)]
pub struct Settings {
    pub job: String,
    pub locations: u32,
    pub for_: Duration,
    pub no_runs_after: Duration,
    /// The journeys whose interval is known, and the file they came from (named in the
    /// annotations).
    pub known: Vec<KnownJourney>,
    pub source: Option<String>,
    /// ShopwatchJourneyStepSlowerThanNormal: `alerting.slower_than_normal.factor`, or its default.
    pub slower_factor: f64,
}

/// A journey of the configuration and how often it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownJourney {
    pub name: String,
    /// `every`, or for a cron schedule the longest gap between two of its runs.
    pub interval: Duration,
    pub cron: bool,
}

/// Step failure reason classes that are the monitor's fault, not the shop's: left to
/// ShopwatchMonitorErrors.
pub const MONITOR_FAULT_REASONS: [ReasonClass; 5] = [
    ReasonClass::Webdriver,
    ReasonClass::BrowserCrashed,
    ReasonClass::Artifacts,
    ReasonClass::Cancelled,
    ReasonClass::Resources,
];

/// Failure lookback floor of ShopwatchJourneyStepFailing.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Lookback floor of ShopwatchJourneyStepSlow.
const SLOW_WINDOW: Duration = Duration::from_secs(30 * 60);
/// `for:` of ShopwatchJourneyStepSlowerThanNormal.
const SLOWER_FOR: Duration = Duration::from_secs(15 * 60);
/// Lookback of ShopwatchMonitorErrors.
const MONITOR_ERRORS_WINDOW: Duration = Duration::from_secs(15 * 60);

/// `shopwatch rules`: the rule file as YAML, with a comment header. A configuration that does
/// not load gives its located errors.
pub fn run(args: &RulesArgs) -> Result<String, Diagnostics> {
    let mut slower_factor = crate::alert::SlowerThanNormal::default().factor;
    let (known, source) = match &args.config {
        Some(file) => {
            let config = load_monitor(file)?;
            if let Some(slower) = config
                .alerting
                .as_ref()
                .and_then(|a| a.defaults.slower_than_normal)
            {
                slower_factor = slower.factor;
            }
            (known_journeys(&config.journeys), Some(file_label(file)))
        }
        None => (Vec::new(), None),
    };
    let settings = Settings {
        job: args.job.clone(),
        locations: args.locations,
        for_: args.for_,
        no_runs_after: args.no_runs_after,
        known,
        source,
        slower_factor,
    };
    Ok(render(
        &settings,
        &rule_file(&settings),
        args.config.as_deref(),
    ))
}

/// The rule file as YAML after a comment saying how it was made.
pub fn render(settings: &Settings, file: &RuleFile, config: Option<&Path>) -> String {
    let mut command = format!(
        "shopwatch rules --job {} --locations {} --no-runs-after {}",
        shell_word(&settings.job),
        settings.locations,
        prom_duration(settings.no_runs_after)
    );
    if !settings.for_.is_zero() {
        command.push_str(&format!(" --for {}", prom_duration(settings.for_)));
    }
    if let Some(config) = config {
        command.push_str(&format!(
            " --config {}",
            shell_word(&config.display().to_string())
        ));
    }
    let yaml = serde_saphyr::to_string(file).expect("rule structs always serialize");
    format!(
        "# Prometheus alerting rules for shopwatch {}, made by:\n#   {}\n# Check with `promtool check rules FILE`; load with `rule_files:` in prometheus.yml.\n{yaml}",
        env!("CARGO_PKG_VERSION"),
        command.replace('\n', " ")
    )
}

/// `word` as one shell word, quoted when needed (for the header comment).
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:=+,@".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The journeys of a configuration with a known interval: `every`, or a cron schedule's
/// longest gap (a cron that never runs again is left to the fallback).
pub fn known_journeys(journeys: &[Journey]) -> Vec<KnownJourney> {
    journeys
        .iter()
        .filter_map(|j| {
            let (interval, cron) = match &j.schedule {
                Schedule::Every(every) => (*every, false),
                Schedule::Cron(schedule) => (crate::calendar::longest_gap(schedule)?, true),
            };
            Some(KnownJourney {
                name: j.name.clone(),
                interval,
                cron,
            })
        })
        .collect()
}

/// Which journeys a rule is about.
#[derive(Debug, Clone, PartialEq)]
enum JourneySet {
    /// These (known) journeys.
    Only(Vec<String>),
    /// Every journey but these.
    AllBut(Vec<String>),
}

impl JourneySet {
    fn matchers(&self) -> Vec<String> {
        match self {
            JourneySet::Only(names) if names.len() == 1 => {
                vec![format!("journey={}", promql_string(&names[0]))]
            }
            JourneySet::Only(names) => {
                let alternatives: Vec<String> = names.iter().map(|n| re2_escape(n)).collect();
                vec![format!(
                    "journey=~{}",
                    promql_string(&alternatives.join("|"))
                )]
            }
            JourneySet::AllBut(names) => names
                .iter()
                .map(|n| format!("journey!={}", promql_string(n)))
                .collect(),
        }
    }
}

/// Journeys sharing an interval, and so thresholds.
#[derive(Debug, Clone)]
struct Cohort {
    journeys: JourneySet,
    interval: Duration,
    no_runs_after: Duration,
    /// Where the interval comes from, for the annotations.
    basis: String,
}

impl Cohort {
    fn failure_window(&self) -> Duration {
        FAILURE_WINDOW.max(self.interval * 2)
    }

    fn slow_window(&self) -> Duration {
        SLOW_WINDOW.max(self.interval * 3)
    }
}

fn cohorts(settings: &Settings) -> Vec<Cohort> {
    let mut by_interval: BTreeMap<(Duration, bool), Vec<String>> = BTreeMap::new();
    for journey in &settings.known {
        by_interval
            .entry((journey.interval, journey.cron))
            .or_default()
            .push(journey.name.clone());
    }
    let source = settings.source.as_deref().unwrap_or("the configuration");
    let mut cohorts: Vec<Cohort> = by_interval
        .into_iter()
        .map(|((interval, cron), names)| {
            let how = if cron {
                format!("runs at most {} apart (cron", prom_duration(interval))
            } else {
                format!("runs every {} (`every`", prom_duration(interval))
            };
            let who = if names.len() == 1 {
                "it".to_string()
            } else {
                "each".to_string()
            };
            Cohort {
                journeys: JourneySet::Only(names),
                interval,
                no_runs_after: interval * 3,
                basis: format!("{who} {how} in {source})"),
            }
        })
        .collect();
    let known: Vec<String> = settings.known.iter().map(|j| j.name.clone()).collect();
    let assumed = settings.no_runs_after / 3;
    let basis = if settings.source.is_some() {
        format!(
            "it is not in {source}, so it is assumed to run at least every {} (a third of `--no-runs-after {}`)",
            prom_duration(assumed),
            prom_duration(settings.no_runs_after)
        )
    } else {
        format!(
            "it is assumed to run at least every {} (a third of `--no-runs-after {}`; `shopwatch rules --config` knows each journey's interval)",
            prom_duration(assumed),
            prom_duration(settings.no_runs_after)
        )
    };
    cohorts.push(Cohort {
        journeys: JourneySet::AllBut(known),
        interval: assumed,
        no_runs_after: settings.no_runs_after,
        basis,
    });
    cohorts
}

/// Every rule, in three groups: journeys, probes, the monitor itself.
pub fn rule_file(settings: &Settings) -> RuleFile {
    let cohorts = cohorts(settings);
    RuleFile {
        groups: vec![
            RuleGroup {
                name: "shopwatch-journeys".into(),
                rules: vec![
                    step_failing(settings, &cohorts),
                    step_slow(settings, &cohorts),
                    step_slower_than_normal(settings),
                    failing_in_many_locations(settings, &cohorts),
                ],
            },
            RuleGroup {
                name: "shopwatch-probes".into(),
                rules: vec![
                    probe_failed(settings),
                    certificate_expiring(settings, Severity::Warning),
                    certificate_expiring(settings, Severity::Critical),
                    certificate_invalid(settings),
                ],
            },
            RuleGroup {
                name: "shopwatch-monitor".into(),
                rules: vec![
                    no_runs(settings, &cohorts),
                    monitor_down(settings),
                    monitor_errors(settings),
                    config_reload_failed(settings),
                ],
            },
        ],
    }
}

/// One expression over every cohort: each cohort's own (parenthesized when there are several),
/// joined with `or` (their journeys do not overlap). One rule per alert, so that
/// `promtool check rules` sees no duplicates.
fn per_cohort_expr(cohorts: &[Cohort], expr: impl Fn(&Cohort) -> String) -> String {
    if let [cohort] = cohorts {
        return expr(cohort);
    }
    cohorts
        .iter()
        .map(|c| format!("(\n{}\n)", indent(&expr(c))))
        .collect::<Vec<_>>()
        .join("\nor\n")
}

/// Annotation text per cohort: a template choosing by `$labels.journey`, the fallback last.
fn per_cohort_text(cohorts: &[Cohort], text: impl Fn(&Cohort) -> String) -> String {
    if let [cohort] = cohorts {
        return text(cohort);
    }
    let mut out = String::new();
    for (i, cohort) in cohorts.iter().enumerate() {
        match &cohort.journeys {
            JourneySet::Only(names) => {
                let names: Vec<String> = names.iter().map(|n| go_string(n)).collect();
                let keyword = if i == 0 { "if" } else { "else if" };
                out.push_str(&format!(
                    "{{{{ {keyword} eq $labels.journey {} }}}}",
                    names.join(" ")
                ));
            }
            JourneySet::AllBut(_) => out.push_str("{{ else }}"),
        }
        out.push_str(&text(cohort));
    }
    out.push_str("{{ end }}");
    out
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// ` (from <location>)` when the alert has a location.
const FROM_LOCATION: &str = "{{ with $labels.location }} (from {{ . }}){{ end }}";

fn rule(
    alert: &str,
    severity: Severity,
    expr: String,
    for_: Option<Duration>,
    summary: String,
    description: String,
) -> AlertRule {
    AlertRule {
        alert: alert.into(),
        expr,
        for_: for_.filter(|d| !d.is_zero()).map(prom_duration),
        labels: Labels { severity },
        annotations: Annotations {
            summary,
            description,
        },
    }
}

fn job_matcher(settings: &Settings) -> String {
    format!("job={}", promql_string(&settings.job))
}

/// `metric{matchers}`.
fn selector(metric: &str, matchers: &[String]) -> String {
    format!("{metric}{{{}}}", matchers.join(", "))
}

/// The journeys (per job, instance, location) whose last run failed with a step the shop
/// failed (not a monitor fault) within the cohort's failure window: the condition of
/// ShopwatchJourneyStepFailing, and what ShopwatchFailingInManyLocations counts.
fn shop_failing_expr(settings: &Settings, cohort: &Cohort) -> String {
    let faults: Vec<&str> = MONITOR_FAULT_REASONS.iter().map(|r| r.as_str()).collect();
    let window = prom_duration(cohort.failure_window());
    let mut matchers = vec![job_matcher(settings)];
    matchers.extend(cohort.journeys.matchers());
    let last_run = selector(metrics::JOURNEY_LAST_RUN_PASSED, &matchers);
    matchers.push(format!("reason!~{}", promql_string(&faults.join("|"))));
    let failures = selector(metrics::STEP_FAILURES, &matchers);
    format!(
        "(\n  increase({failures}[{window}]) > 0\n  or\n  (\n    {failures}\n    unless\n    {failures} offset {window}\n  ) > 0\n)\nand on (job, instance, location, journey)\n({last_run} == 0)"
    )
}

fn step_failing(settings: &Settings, cohorts: &[Cohort]) -> AlertRule {
    let faults: Vec<&str> = MONITOR_FAULT_REASONS.iter().map(|r| r.as_str()).collect();
    let expr = per_cohort_expr(cohorts, |cohort| shop_failing_expr(settings, cohort));
    let window = per_cohort_text(cohorts, |c| prom_duration(c.failure_window()));
    let basis = per_cohort_text(cohorts, |c| c.basis.clone());
    rule(
        "ShopwatchJourneyStepFailing",
        Severity::Critical,
        expr,
        Some(settings.for_),
        format!(
            "Journey {{{{ $labels.journey }}}} fails at step {{{{ $labels.step }}}}{FROM_LOCATION}"
        ),
        format!(
            "The last run of journey {{{{ $labels.journey }}}}{FROM_LOCATION} failed, and step {{{{ $labels.step }}}} failed ({{{{ $labels.reason }}}}) within the last {window}: customers probably cannot get through it. Resolves when a run of the journey passes. The window is max(15m, 2 intervals): {basis}. Monitor faults ({faults}) are left to ShopwatchMonitorErrors.",
            faults = faults.join(", "),
        ),
    )
}

fn step_slow(settings: &Settings, cohorts: &[Cohort]) -> AlertRule {
    let expr = per_cohort_expr(cohorts, |cohort| {
        let window = prom_duration(cohort.slow_window());
        let mut matchers = vec![job_matcher(settings)];
        matchers.extend(cohort.journeys.matchers());
        let all = selector(metrics::JOURNEY_RUNS, &matchers);
        matchers.push("outcome=\"degraded\"".into());
        let degraded = selector(metrics::JOURNEY_RUNS, &matchers);
        format!(
            "(\n  increase({degraded}[{window}])\n  / ignoring (outcome)\n  sum without (outcome) (increase({all}[{window}]))\n) >= 0.5\nand ignoring (outcome)\nincrease({degraded}[{window}]) >= 2"
        )
    });
    let window = per_cohort_text(cohorts, |c| prom_duration(c.slow_window()));
    let basis = per_cohort_text(cohorts, |c| c.basis.clone());
    rule(
        "ShopwatchJourneyStepSlow",
        Severity::Warning,
        expr,
        None,
        format!("Journey {{{{ $labels.journey }}}} is slow{FROM_LOCATION}"),
        format!(
            "{{{{ $value | humanizePercentage }}}} of the runs of journey {{{{ $labels.journey }}}}{FROM_LOCATION} in the last {window} (and at least 2) were degraded: they passed, but a step took longer than its own `slow` budget from the journey file. Which step: shopwatch_step_duration_window_seconds{{journey=\"{{{{ $labels.journey }}}}\"}}. The window is max(30m, 3 intervals): {basis}.",
        ),
    )
}

/// A step whose median over the window is over `factor` x its average in the same hour a week
/// ago, for 15 minutes (a few slow runs move the window's median only for a while).
fn step_slower_than_normal(settings: &Settings) -> AlertRule {
    let median = selector(
        metrics::STEP_DURATION_WINDOW,
        &[job_matcher(settings), "quantile=\"0.5\"".into()],
    );
    let factor = settings.slower_factor;
    rule(
        "ShopwatchJourneyStepSlowerThanNormal",
        Severity::Warning,
        format!("{median}\n> {factor} * avg_over_time({median}[1h] offset 1w)"),
        Some(SLOWER_FOR),
        format!(
            "Step {{{{ $labels.step }}}} of journey {{{{ $labels.journey }}}} is slower than normal{FROM_LOCATION}"
        ),
        format!(
            "The median time of step {{{{ $labels.step }}}} of journey {{{{ $labels.journey }}}}{FROM_LOCATION} is {{{{ $value | humanizeDuration }}}}, more than {factor} x its average in the same hour a week ago, for {}: it may still be under its `slow` budget, but customers notice. shopwatch's own JourneyStepSlowerThanNormal (alerting.slower_than_normal) compares with the median over several weeks of its history.",
            prom_duration(SLOWER_FOR)
        ),
    )
}

/// Counts the locations where the shop failed the journey's last run. A monitor fault (every
/// location's runs through one Selenium Grid that is down) is no shop failure: those runs
/// are not `passed` either, but they page nobody as the shop's.
fn failing_in_many_locations(settings: &Settings, cohorts: &[Cohort]) -> AlertRule {
    let n = settings.locations;
    let expr = per_cohort_expr(cohorts, |cohort| {
        format!(
            "count by (job, journey) (\n  count by (job, journey, location) (\n{}\n  )\n) >= {n}",
            indent(&indent(&shop_failing_expr(settings, cohort)))
        )
    });
    let total = format!(
        "{{{{ with printf \"count(count by (location) ({}{{job=%q, journey=%q}}))\" $labels.job $labels.journey | query }}}} of {{{{ . | first | value }}}}{{{{ end }}}}",
        metrics::JOURNEY_LAST_RUN_PASSED
    );
    rule(
        "ShopwatchFailingInManyLocations",
        Severity::Critical,
        expr,
        Some(settings.for_),
        format!(
            "Journey {{{{ $labels.journey }}}} fails in {{{{ $value }}}}{total} locations"
        ),
        format!(
            "The last run of journey {{{{ $labels.journey }}}} failed in {{{{ $value }}}}{total} locations (distinct `location` labels; this alert fires from {n}), with a step the shop failed (monitor faults are left to ShopwatchMonitorErrors): the shop is broken, not one monitor's network."
        ),
    )
}

fn no_runs(settings: &Settings, cohorts: &[Cohort]) -> AlertRule {
    let expr = per_cohort_expr(cohorts, |cohort| {
        let mut matchers = vec![job_matcher(settings)];
        matchers.extend(cohort.journeys.matchers());
        let last_run = selector(metrics::JOURNEY_LAST_RUN, &matchers);
        format!(
            "time() - {last_run} > {}",
            seconds_literal(cohort.no_runs_after)
        )
    });
    let why = per_cohort_text(cohorts, |cohort| match cohort.journeys {
        JourneySet::Only(_) => format!(
            "{} = 3 intervals: {}",
            prom_duration(cohort.no_runs_after),
            cohort.basis
        ),
        JourneySet::AllBut(_) => {
            format!("{}: {}", prom_duration(cohort.no_runs_after), cohort.basis)
        }
    });
    rule(
        "ShopwatchNoRuns",
        Severity::Warning,
        expr,
        None,
        format!("Journey {{{{ $labels.journey }}}} has not run for {{{{ $value | humanizeDuration }}}}{FROM_LOCATION}"),
        format!(
            "No run of journey {{{{ $labels.journey }}}} finished for {{{{ $value | humanizeDuration }}}}, more than {why}. shopwatch answers scrapes but does not run it: runs waiting for a browser session (webdriver.max_sessions, shopwatch_schedule_lag_seconds), hanging, or skipped (shopwatch_skipped_runs_total). Its results are stale, so its other alerts cannot be trusted."
        ),
    )
}

fn monitor_down(settings: &Settings) -> AlertRule {
    let up = selector("up", &[job_matcher(settings)]);
    rule(
        "ShopwatchMonitorDown",
        Severity::Warning,
        format!("{up} == 0\nor\nabsent({up})"),
        Some(Duration::from_secs(120)),
        "{{ with $labels.instance }}shopwatch {{ . }} is down{{ else }}No shopwatch target in job {{ $labels.job }}{{ end }}".into(),
        "{{ with $labels.instance }}Prometheus has not scraped shopwatch at {{ . }} (job {{ $labels.job }}) for 2m{{ else }}Prometheus has had no target in job {{ $labels.job }} for 2m (service discovery or prometheus.yml lost shopwatch, or the job has another name: `shopwatch rules --job`){{ end }}: no journey or probe results arrive, so no other shopwatch alert can fire for it.".into(),
    )
}

fn monitor_errors(settings: &Settings) -> AlertRule {
    let window = prom_duration(MONITOR_ERRORS_WINDOW);
    let errors = selector(metrics::MONITOR_ERRORS, &[job_matcher(settings)]);
    let expr = format!(
        "increase({errors}[{window}]) > 0\nor\n(\n  {errors}\n  unless\n  {errors} offset {window}\n) > 0"
    );
    rule(
        "ShopwatchMonitorErrors",
        Severity::Warning,
        expr,
        None,
        format!("shopwatch fails itself: {{{{ $labels.kind }}}} errors{FROM_LOCATION}"),
        format!(
            "shopwatch at {{{{ $labels.instance }}}}{FROM_LOCATION} counted {{{{ $labels.kind }}}} errors in the last {window} (shopwatch_monitor_errors_total): the monitor itself failed (WebDriver unreachable, session not created, browser crashed, artifacts not written, configuration reload rejected, probe error), not the shop. Runs it spoiled say nothing about the shop; see shopwatch's log."
        ),
    )
}

fn config_reload_failed(settings: &Settings) -> AlertRule {
    rule(
        "ShopwatchConfigReloadFailed",
        Severity::Warning,
        format!(
            "{}{{{}}} == 0",
            metrics::CONFIG_RELOAD_SUCCESSFUL,
            job_matcher(settings)
        ),
        None,
        format!("shopwatch rejected its configuration{FROM_LOCATION}"),
        "The last configuration reload (SIGHUP) of shopwatch at {{ $labels.instance }} was rejected; the previous configuration keeps running, so the change is not in effect. `shopwatch validate` on the file shows every error.".into(),
    )
}

fn probe_failed(settings: &Settings) -> AlertRule {
    rule(
        "ShopwatchProbeFailed",
        Severity::Critical,
        format!("{}{{{}}} == 0", metrics::PROBE_SUCCESS, job_matcher(settings)),
        Some(Duration::from_secs(120)),
        format!("Probe {{{{ $labels.probe }}}} fails{FROM_LOCATION}"),
        "The last runs of probe {{ $labels.probe }} failed for 2m (probe_success 0): refused, wrong status, body mismatch, timeout, certificate or host name not verifying, certificate expired, or the probe could not run (shopwatch_probe_runs_total{outcome=\"error\"}).".into(),
    )
}

fn certificate_expiring(settings: &Settings, severity: Severity) -> AlertRule {
    let expiry = selector(metrics::PROBE_SSL_EARLIEST_EXPIRY, &[job_matcher(settings)]);
    let (expr, within) = match severity {
        Severity::Critical => (format!("{expiry} - time() < 7 * 86400"), "7 days"),
        Severity::Warning => (
            format!("{expiry} - time() < 14 * 86400\nand\n{expiry} - time() >= 7 * 86400"),
            "14 days (under 7 days it is critical instead)",
        ),
    };
    let when = "{{ if lt $value 0.0 }}has expired{{ else }}expires in {{ $value | humanizeDuration }}{{ end }}";
    rule(
        "ShopwatchCertificateExpiring",
        severity,
        expr,
        None,
        format!("The certificate of probe {{{{ $labels.probe }}}} {when}"),
        format!(
            "A certificate presented to probe {{{{ $labels.probe }}}}{FROM_LOCATION} {when} (probe_ssl_earliest_cert_expiry: the earliest of the chain): within {within}. Renew it; which one: shopwatch_probe_cert_expiry_timestamp_seconds{{probe=\"{{{{ $labels.probe }}}}\"}}."
        ),
    )
}

fn certificate_invalid(settings: &Settings) -> AlertRule {
    rule(
        "ShopwatchCertificateInvalid",
        Severity::Critical,
        format!(
            "{}{{{}}} == 0",
            metrics::PROBE_TLS_CHAIN_VERIFIED,
            job_matcher(settings)
        ),
        None,
        format!("The certificate of probe {{{{ $labels.probe }}}} does not verify{FROM_LOCATION}"),
        "In its last run, probe {{ $labels.probe }} was presented a certificate chain that does not verify against the trusted roots or not for the host name: browsers refuse the shop. (A probe trusting a private CA needs its `ca_file`.)".into(),
    )
}

/// A Go template string literal (journey names are ASCII letters, digits, `-`, `_`, `.`).
fn go_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A PromQL string literal: double quotes, with `\`, `"` and line breaks escaped.
pub fn promql_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` matching itself literally in an RE2 regular expression (Prometheus' `=~`).
fn re2_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A duration as Prometheus writes it: `15m`, `1h30m`, `1d`, `1500ms`; `0s` for zero.
pub fn prom_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Seconds as a PromQL number: `180`, `0.5`.
fn seconds_literal(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}", d.as_millis() as f64 / 1000.0)
    }
}

/// A duration flag: humantime (`15m`, `1h 30m`, `90s`), whole milliseconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("expected a duration such as 2m, 15m or 1h30m ({e})"))?;
    if d > crate::yaml::check::MAX_DURATION {
        return Err("too long: the longest is 366d".into());
    }
    if d.subsec_nanos() % 1_000_000 != 0 {
        return Err("Prometheus durations are whole milliseconds".into());
    }
    Ok(d)
}

fn parse_locations(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(0) => Err("must be at least 1: the number of locations that must fail".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("expected a whole number of locations, such as 2".into()),
    }
}

fn parse_for(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

fn parse_no_runs_after(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_secs(30) {
        return Err("must be at least 30s (3 runs of the shortest `every`, 10s)".into());
    }
    Ok(d)
}

/// The file's name for annotations (Go template text: no `{{`/`}}`, which would be actions).
fn file_label(file: &Path) -> String {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.is_empty() || name.contains("{{") || name.contains("}}") {
        "the configuration".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(known: Vec<KnownJourney>) -> Settings {
        Settings {
            job: "shopwatch".into(),
            locations: 2,
            for_: Duration::ZERO,
            no_runs_after: Duration::from_secs(900),
            source: (!known.is_empty()).then(|| "shopwatch.yaml".to_string()),
            known,
            slower_factor: 2.0,
        }
    }

    fn known(name: &str, secs: u64) -> KnownJourney {
        KnownJourney {
            name: name.into(),
            interval: Duration::from_secs(secs),
            cron: false,
        }
    }

    #[test]
    fn durations_are_written_as_prometheus_reads_them() {
        assert_eq!(prom_duration(Duration::ZERO), "0s");
        assert_eq!(prom_duration(Duration::from_secs(180)), "3m");
        assert_eq!(prom_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(prom_duration(Duration::from_secs(86_400 * 2 + 1)), "2d1s");
        assert_eq!(prom_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(seconds_literal(Duration::from_secs(180)), "180");
        assert_eq!(seconds_literal(Duration::from_millis(1500)), "1.5");
    }

    #[test]
    fn strings_and_regexes_are_escaped() {
        assert_eq!(promql_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(re2_escape("shop.v2-a_b"), r"shop\.v2-a_b");
        let set = JourneySet::Only(vec!["a.b".into(), "c".into()]);
        assert_eq!(set.matchers(), vec![r#"journey=~"a\\.b|c""#.to_string()]);
        let set = JourneySet::AllBut(vec!["a".into(), "b".into()]);
        assert_eq!(set.matchers(), vec![r#"journey!="a""#, r#"journey!="b""#]);
        assert!(JourneySet::AllBut(vec![]).matchers().is_empty());
    }

    #[test]
    fn flags_parse_or_say_what_is_wrong() {
        assert_eq!(parse_for("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_for("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_for("nonsense")
            .unwrap_err()
            .contains("expected a duration"));
        assert!(parse_no_runs_after("10s")
            .unwrap_err()
            .contains("at least 30s"));
    }

    #[test]
    fn journeys_with_one_interval_share_rules_and_the_rest_fall_back() {
        let s = settings(vec![known("a", 60), known("b", 600), known("c", 60)]);
        let cohorts = cohorts(&s);
        assert_eq!(cohorts.len(), 3);
        assert_eq!(
            cohorts[0].journeys,
            JourneySet::Only(vec!["a".into(), "c".into()])
        );
        assert_eq!(cohorts[0].no_runs_after, Duration::from_secs(180));
        assert_eq!(cohorts[0].failure_window(), Duration::from_secs(900));
        assert_eq!(cohorts[0].slow_window(), Duration::from_secs(1800));
        assert_eq!(cohorts[1].no_runs_after, Duration::from_secs(1800));
        assert_eq!(cohorts[1].failure_window(), Duration::from_secs(1200));
        assert_eq!(cohorts[1].slow_window(), Duration::from_secs(1800));
        assert_eq!(
            cohorts[2].journeys,
            JourneySet::AllBut(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(cohorts[2].no_runs_after, Duration::from_secs(900));
    }

    #[test]
    fn cron_interval_is_the_longest_gap() {
        // Weekdays at 09:00: the weekend makes the longest gap 3 days.
        let weekdays = crate::calendar::Cron::parse_utc("0 0 9 * * Mon-Fri").unwrap();
        assert_eq!(
            crate::calendar::longest_gap(&weekdays),
            Some(Duration::from_secs(3 * 86_400))
        );
        let every_five = crate::calendar::Cron::parse_utc("0 */5 * * * *").unwrap();
        assert_eq!(
            crate::calendar::longest_gap(&every_five),
            Some(Duration::from_secs(300))
        );
        let past = crate::calendar::Cron::parse_utc("0 0 0 1 1 * 2001").unwrap();
        assert_eq!(crate::calendar::longest_gap(&past), None);
    }

    #[test]
    fn every_rule_has_severity_summary_and_description() {
        let file = rule_file(&settings(vec![known("a", 60)]));
        let rules: Vec<&AlertRule> = file.groups.iter().flat_map(|g| &g.rules).collect();
        for name in [
            "ShopwatchJourneyStepFailing",
            "ShopwatchJourneyStepSlow",
            "ShopwatchFailingInManyLocations",
            "ShopwatchProbeFailed",
            "ShopwatchCertificateExpiring",
            "ShopwatchCertificateInvalid",
            "ShopwatchNoRuns",
            "ShopwatchMonitorDown",
            "ShopwatchMonitorErrors",
            "ShopwatchConfigReloadFailed",
        ] {
            assert!(rules.iter().any(|r| r.alert == name), "{name} missing");
        }
        for r in rules {
            assert!(!r.annotations.summary.is_empty() && !r.annotations.description.is_empty());
            assert!(
                r.expr.contains("job=\"shopwatch\""),
                "{}: {}",
                r.alert,
                r.expr
            );
        }
    }
}
