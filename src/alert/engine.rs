//! [`Alerting`]: from run reports and probe results to notifications.
//!
//! Each alert (a name and what it is about: `JourneyStepFailed` of step `checkout` of journey
//! `demo-shop`) has a [`Tracker`]. A run or probe result is turned into one signal per alert it
//! says something about; a change of state queues notifications for the sinks whose filters let
//! the alert through:
//! - started firing: `firing` to each sink, unless a maintenance window covers it (then it
//!   goes when the window ends, if it still fires);
//! - still firing: `repeat` every `repeat` (not during maintenance), and to Alertmanager every
//!   minute (also during maintenance, so an alert it already has does not flap);
//! - resolved: `resolved` to exactly the sinks that got the `firing`.
//!
//! The trackers and the queues are written to the state file after every change (a temp file
//! renamed over it), so a restart neither sends a `firing` twice nor loses a `resolved`, and
//! pending deliveries go on where they stopped. Time comes from tokio's clock (a wall-clock
//! time fixed at start plus tokio's elapsed time), so tests run it with paused time.

use super::delivery;
use super::normal::StepVerdict;
use super::notification::{Event, Notification, FORMAT_VERSION};
use super::observations::{alert_key, probe_observations, run_observations, Detail, Observation};
use super::outbox::{self, Outbox, Pending, Queues};
use super::sink::Sink;
use super::state::{Change, Firing, Signal, Tracker};
use super::{AlertName, AlertingConfig, Severity, Subject};
use crate::journey::outcome::{Outcome, RunReport};
use crate::metrics::{Metrics, NotificationResult};
use crate::probe::{ProbeConfig, ProbeResult};
use crate::secret::redact::Redactor;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often repeats and the ends of maintenance windows are looked at.
pub const TICK: Duration = Duration::from_secs(5);
/// The version of the state file's format.
const STATE_VERSION: u32 = 1;

/// What the engine works with; replaced as a whole on reload.
#[derive(Debug, Default)]
pub struct Setup {
    /// `None`: alerting is off (nothing observed, nothing sent).
    pub config: Option<AlertingConfig>,
    pub sinks: Vec<Arc<Sink>>,
    /// Every secret of the journeys and sinks: kept out of notifications and logs.
    pub redactor: Redactor,
    pub location: Option<String>,
    /// shopwatch's address as seen from outside, for links (no trailing slash).
    pub monitor_url: Option<String>,
    pub artifacts_dir: PathBuf,
    /// The journeys and probes configured: alerts about others are resolved.
    pub journeys: Vec<String>,
    pub probes: Vec<String>,
}

/// The alerting of a running monitor. Cheap to clone.
#[derive(Clone)]
pub struct Alerting {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    state: Mutex<State>,
    setup: Mutex<Arc<Setup>>,
    clock: Clock,
    pub(super) metrics: Arc<Metrics>,
    /// Bumped when a queue gains a notification: wakes the delivery workers.
    pub(super) queued: watch::Sender<u64>,
    /// Bumped when the setup (the sinks) changes: restarts the workers.
    setup_changed: watch::Sender<u64>,
    /// Told of every delivery attempt's result (the run history keeps them).
    on_delivery: Mutex<Option<DeliveryHook>>,
}

/// What became of one attempt to send a notification.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub at_ms: i64,
    /// The alert's key.
    pub alert: String,
    pub event: &'static str,
    pub sink: String,
    pub result: NotificationResult,
    /// Why it failed, redacted.
    pub error: Option<String>,
}

/// Called with every [`Delivered`]; must not block.
pub type DeliveryHook = Arc<dyn Fn(Delivered) + Send + Sync>;

/// Wall-clock milliseconds from tokio's clock: paused time moves it too.
struct Clock {
    wall_ms: i64,
    start: tokio::time::Instant,
}

impl Clock {
    fn new() -> Self {
        Clock {
            wall_ms: chrono::Utc::now().timestamp_millis(),
            start: tokio::time::Instant::now(),
        }
    }

    fn now_ms(&self) -> i64 {
        self.wall_ms + self.start.elapsed().as_millis() as i64
    }
}

/// Everything the state file holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    version: u32,
    /// Prefix of notification ids: when this state began (hex milliseconds).
    instance: String,
    /// Notifications made so far.
    seq: u64,
    /// By alert key; only alerts firing or on a streak.
    alerts: BTreeMap<String, Record>,
    /// Pending notifications by sink name, oldest first.
    queues: Queues,
}

/// One alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    name: AlertName,
    severity: Severity,
    subject: Subject,
    step: Option<String>,
    tracker: Tracker,
    /// The latest bad observation: what the notifications tell.
    last: Option<Detail>,
    /// Held back because a dependency failed; stays so after the dependency works again until
    /// a run of its own shows it still bad (the run that fired it may be the dependency's
    /// doing).
    #[serde(default)]
    folded: bool,
}

impl Alerting {
    /// Tells `hook` of every delivery attempt from now on.
    pub fn on_delivery(&self, hook: DeliveryHook) {
        *self
            .inner
            .on_delivery
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    /// Alerting with nothing configured yet; [`Alerting::configure`] gives it its setup.
    pub fn new(metrics: Arc<Metrics>) -> Alerting {
        metrics.set_alert_kinds(
            super::AlertName::ALL
                .iter()
                .flat_map(|name| {
                    name.severities()
                        .iter()
                        .map(|s| (name.as_str(), s.as_str()))
                })
                .collect(),
        );
        Alerting {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                setup: Mutex::new(Arc::new(Setup::default())),
                clock: Clock::new(),
                metrics,
                queued: watch::channel(0).0,
                setup_changed: watch::channel(0).0,
                on_delivery: Mutex::new(None),
            }),
        }
    }

    /// Applies a (new) setup: at start it loads the state file; on reload, the queues of sinks
    /// no longer configured are dropped (logged) and alerts about journeys, steps or probes no
    /// longer configured are resolved.
    pub fn configure(&self, setup: Setup) {
        let first = self.inner.setup().config.is_none();
        let setup = Arc::new(setup);
        *self.inner.setup.lock().unwrap_or_else(|e| e.into_inner()) = setup.clone();
        let sink_names: Vec<&str> = setup.sinks.iter().map(|s| s.name.as_str()).collect();
        self.inner.metrics.set_sinks(&sink_names);
        let Some(config) = &setup.config else {
            self.inner.setup_changed.send_modify(|n| *n += 1);
            return;
        };
        let mut state = self.inner.state();
        if first {
            *state = State::load(&config.state_file);
            if state.instance.is_empty() {
                state.instance = format!("{:x}", self.inner.clock.now_ms());
                state.version = STATE_VERSION;
            }
        }
        state.queues.retain(|sink, queue| {
            let keep = sink_names.contains(&sink.as_str());
            if !keep && !queue.is_empty() {
                tracing::warn!(
                    "alerting: sink `{sink}` is no longer configured; {} notification(s) for it are dropped",
                    queue.len()
                );
            }
            keep
        });
        let gone: Vec<String> = state
            .alerts
            .iter()
            .filter(|(_, r)| match &r.subject {
                Subject::Journey(j) => !setup.journeys.contains(j),
                Subject::Probe(p) => !setup.probes.contains(p),
            })
            .map(|(key, _)| key.clone())
            .collect();
        let now = self.inner.clock.now_ms();
        for key in gone {
            self.inner
                .forget(&mut state, &setup, &key, "no longer configured", now);
        }
        self.inner.evaluate(&mut state, &setup, now);
        self.inner.save(&state, &setup);
        drop(state);
        self.inner.setup_changed.send_modify(|n| *n += 1);
        self.inner.queued.send_modify(|n| *n += 1);
    }

    /// Takes in a finished run of a journey.
    pub fn observe_run(&self, report: &RunReport) {
        self.observe_judged_run(report, &[]);
    }

    /// The `slower_than_normal` policy of a journey, when alerting watches it.
    pub fn slower_than_normal(&self, journey: &str) -> Option<super::SlowerThanNormal> {
        let setup = self.inner.setup();
        setup
            .config
            .as_ref()
            .and_then(|c| c.journey_policy(journey).slower_than_normal)
    }

    /// Takes in a finished run of a journey whose steps were judged against their normals.
    pub fn observe_judged_run(&self, report: &RunReport, verdicts: &[StepVerdict]) {
        let setup = self.inner.setup();
        let Some(config) = &setup.config else { return };
        let now = self.inner.clock.now_ms();
        let observations = run_observations(report, verdicts, config, &setup.artifacts_dir, now);
        let steps: BTreeSet<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
        let mut state = self.inner.state();
        // A step renamed or removed from the journey: its alerts resolve.
        let gone: Vec<String> = state
            .alerts
            .iter()
            .filter(|(_, r)| {
                r.subject == Subject::Journey(report.journey.clone())
                    && r.step.as_deref().is_some_and(|s| !steps.contains(s))
                    && report.outcome != Outcome::Error
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            self.inner.forget(
                &mut state,
                &setup,
                &key,
                "the step is no longer in the journey",
                now,
            );
        }
        self.inner.apply(&mut state, &setup, observations, now);
    }

    /// Takes in a finished probe run.
    pub fn observe_probe(&self, probe: &ProbeConfig, result: &ProbeResult) {
        let setup = self.inner.setup();
        let Some(config) = &setup.config else { return };
        let now = self.inner.clock.now_ms();
        let observations = probe_observations(probe, result, config, now);
        let mut state = self.inner.state();
        self.inner.apply(&mut state, &setup, observations, now);
    }

    /// Sends repeats and what a maintenance window held back, when due.
    pub fn evaluate(&self) {
        let setup = self.inner.setup();
        let now = self.inner.clock.now_ms();
        let mut state = self.inner.state();
        if self.inner.evaluate(&mut state, &setup, now) {
            self.inner.save(&state, &setup);
        }
    }

    /// Runs the delivery workers (one per sink) and the repeat ticker until `stop`.
    pub async fn run(&self, stop: CancellationToken) {
        let mut setup_changed = self.inner.setup_changed.subscribe();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let generation = stop.child_token();
            let mut workers = tokio::task::JoinSet::new();
            for sink in self.inner.setup().sinks.iter().cloned() {
                let (inner, stop) = (self.inner.clone(), generation.clone());
                workers.spawn(async move { delivery::deliver(inner, sink, stop).await });
            }
            setup_changed.borrow_and_update();
            let again = loop {
                tokio::select! {
                    _ = stop.cancelled() => break false,
                    _ = tick.tick() => self.evaluate(),
                    changed = setup_changed.changed() => break changed.is_ok(),
                }
            };
            generation.cancel();
            while workers.join_next().await.is_some() {}
            if !again {
                return;
            }
        }
    }

    /// Waits until every queue is empty, or only retries in backoff are left, or `within`
    /// has passed: what is still pending stays in the state file for the next start.
    pub async fn flush(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let now = self.inner.clock.now_ms();
            let busy = self
                .inner
                .state()
                .queues
                .values()
                .any(|q| q.front().is_some_and(|p| p.not_before_ms <= now));
            if !busy || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The notifications waiting for `sink`, oldest first.
    #[cfg(test)]
    pub(crate) fn pending(&self, sink: &str) -> Vec<Notification> {
        self.inner
            .state()
            .queues
            .get(sink)
            .map(|q| q.iter().map(|p| p.notification.clone()).collect())
            .unwrap_or_default()
    }

    /// The keys of the alerts firing now.
    #[cfg(test)]
    pub(crate) fn firing(&self) -> Vec<String> {
        self.inner
            .state()
            .alerts
            .iter()
            .filter(|(_, r)| r.tracker.is_firing())
            .map(|(key, _)| key.clone())
            .collect()
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn setup(&self) -> Arc<Setup> {
        self.setup.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records the observations, queues what their changes call for, saves.
    fn apply(&self, state: &mut State, setup: &Setup, observations: Vec<Observation>, now: i64) {
        let mut changed = false;
        let mut fired = Vec::new();
        let mut observed_bad = Vec::new();
        for o in observations {
            let key = o.key();
            // A good run of an alert with no streak: nothing to remember, nothing to write.
            if o.signal == Signal::Good && !state.alerts.contains_key(&key) {
                continue;
            }
            changed = true;
            let record = state.alerts.entry(key.clone()).or_insert_with(|| Record {
                name: o.name,
                severity: o.severity,
                subject: o.subject.clone(),
                step: o.step.clone(),
                tracker: Tracker::default(),
                last: None,
                folded: false,
            });
            if o.signal == Signal::Bad {
                record.last = Some(o.detail);
                observed_bad.push(key.clone());
            }
            let change = record
                .tracker
                .observe(o.signal, o.threshold, o.recovery, now);
            let resolved = match change {
                Change::Fired => {
                    fired.push(key.clone());
                    None
                }
                Change::Resolved(firing) => {
                    record.folded = false;
                    Some((record.clone(), firing))
                }
                Change::None => None,
            };
            if record.tracker.is_idle() {
                state.alerts.remove(&key);
            }
            if let Some((record, firing)) = resolved {
                tracing::info!(alert = %key, "alert resolved");
                self.queue_resolved(state, setup, &record, &firing, now, None);
            }
        }
        if let Some(config) = &setup.config {
            for key in observed_bad {
                let unfold = state.alerts.get(&key).is_some_and(|r| {
                    r.folded && failing_dependency(&state.alerts, config, r).is_none()
                });
                if let (true, Some(record)) = (unfold, state.alerts.get_mut(&key)) {
                    record.folded = false;
                }
            }
        }
        for key in fired {
            let folded_into = setup.config.as_ref().and_then(|config| {
                failing_dependency(&state.alerts, config, state.alerts.get(&key)?)
            });
            match folded_into {
                Some(dependency) => tracing::warn!(
                    alert = %key,
                    "alert firing, folded into {dependency}, which fails: sent only if it still fires once that works again"
                ),
                None => tracing::warn!(alert = %key, "alert firing"),
            }
        }
        let queued = self.evaluate(state, setup, now);
        if changed || queued {
            self.save(state, setup);
        }
    }

    /// Resolves and forgets an alert whose subject is gone.
    fn forget(&self, state: &mut State, setup: &Setup, key: &str, why: &str, now: i64) {
        let Some(record) = state.alerts.remove(key) else {
            return;
        };
        if let Some(firing) = &record.tracker.firing {
            tracing::info!(alert = %key, "alert resolved: {why}");
            self.queue_resolved(state, setup, &record, firing, now, Some(why));
        }
    }

    fn queue_resolved(
        &self,
        state: &mut State,
        setup: &Setup,
        record: &Record,
        firing: &Firing,
        now: i64,
        why: Option<&str>,
    ) {
        for sink in setup
            .sinks
            .iter()
            .filter(|s| firing.sent.contains_key(&s.name))
        {
            let mut notification =
                notification(state, setup, record, Some(firing), Event::Resolved, now);
            if let Some(why) = why {
                notification.summary = format!("{} ({why})", notification.summary);
            }
            self.enqueue(state, &sink.name, notification, now);
        }
    }

    /// Queues first notifications and repeats that are due; whether anything was queued.
    fn evaluate(&self, state: &mut State, setup: &Setup, now: i64) -> bool {
        let Some(config) = &setup.config else {
            return false;
        };
        let wall = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
        let folded: BTreeSet<String> = state
            .alerts
            .iter()
            .filter(|(_, r)| {
                r.tracker.is_firing() && failing_dependency(&state.alerts, config, r).is_some()
            })
            .map(|(key, _)| key.clone())
            .collect();
        let mut due = Vec::new();
        let mut firing_counts: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut folded_counts: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (key, record) in state.alerts.iter_mut() {
            let Some(firing) = record.tracker.firing.as_mut() else {
                continue;
            };
            let kind = (
                record.name.as_str().to_string(),
                record.severity.as_str().to_string(),
            );
            if folded.contains(key) {
                record.folded = true;
            }
            if record.folded {
                *folded_counts.entry(kind.clone()).or_default() += 1;
            }
            *firing_counts.entry(kind).or_default() += 1;
            // Folded into a failing dependency, an alert waits as in a maintenance window.
            let maintenance = record.folded
                || config
                    .maintenance
                    .iter()
                    .any(|w| w.covers(&record.subject, wall));
            let repeat = match &record.subject {
                Subject::Journey(j) => config.journey_policy(j).repeat,
                Subject::Probe(p) => config.probe_policy(p).repeat,
            };
            for sink in &setup.sinks {
                if !sink
                    .filter
                    .passes(record.name, record.severity, &record.subject)
                {
                    continue;
                }
                let event = match firing.sent.get(&sink.name) {
                    None if !maintenance => Event::Firing,
                    None => continue,
                    Some(&last) => {
                        let every = sink.refresh().map_or(repeat, |r| r.min(repeat));
                        let allowed = !maintenance || sink.refresh().is_some();
                        if !allowed || now - last < every.as_millis() as i64 {
                            continue;
                        }
                        Event::Repeat
                    }
                };
                firing.sent.insert(sink.name.clone(), now);
                due.push((key.clone(), sink.name.clone(), event));
            }
        }
        self.metrics.set_alerts_firing(firing_counts, folded_counts);
        let queued = !due.is_empty();
        for (key, sink, event) in due {
            let record = state.alerts[&key].clone();
            let firing = record.tracker.firing.as_ref();
            let notification = notification(state, setup, &record, firing, event, now);
            self.enqueue(state, &sink, notification, now);
        }
        queued
    }

    fn enqueue(&self, state: &mut State, sink: &str, notification: Notification, now: i64) {
        outbox::push(&mut state.queues, sink, notification, now, &self.metrics);
        self.queued.send_modify(|n| *n += 1);
    }

    /// Writes the state file (a temp file renamed over it); a failure is logged and counted,
    /// and the state stays in memory.
    fn save(&self, state: &State, setup: &Setup) {
        let Some(config) = &setup.config else { return };
        if let Err(e) = state.save(&config.state_file) {
            tracing::error!(
                "alerting: cannot write the state file {}: {e}",
                config.state_file.display()
            );
            self.metrics.record_monitor_error("alert_state");
        }
    }
}

impl Inner {
    /// Tells the delivery hook, if any.
    fn delivered(
        &self,
        n: &Notification,
        sink: &str,
        result: NotificationResult,
        error: Option<String>,
    ) {
        let hook = self
            .on_delivery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(hook) = hook {
            hook(Delivered {
                at_ms: self.clock.now_ms(),
                alert: n.key.clone(),
                event: n.event.as_str(),
                sink: sink.to_string(),
                result,
                error,
            });
        }
    }
}

impl Outbox for Inner {
    /// The first pending notification of `sink`.
    fn head(&self, sink: &str) -> Option<Pending> {
        self.state()
            .queues
            .get(sink)
            .and_then(|q| q.front().cloned())
    }

    /// Records the result of sending `id` (the head of `sink`'s queue): done, or retry later.
    fn sent(&self, sink: &str, id: &str, result: Result<(), super::sink::SendError>) {
        let setup = self.setup();
        let mut state = self.state();
        let now = self.clock.now_ms();
        let Some(queue) = state.queues.get_mut(sink) else {
            return;
        };
        if queue.front().is_none_or(|p| p.notification.id != id) {
            return;
        }
        match result {
            Ok(()) => {
                let done = queue.pop_front().expect("front");
                tracing::info!(
                    sink,
                    "alerting: {} {} sent to `{sink}`",
                    done.notification.event.as_str(),
                    done.notification.key
                );
                self.metrics
                    .record_notification(sink, NotificationResult::Sent);
                self.delivered(&done.notification, sink, NotificationResult::Sent, None);
            }
            Err(e) if e.permanent => {
                let done = queue.pop_front().expect("front");
                tracing::error!(
                    sink,
                    "alerting: `{sink}` refused the {} of {} for good, not retrying: {}",
                    done.notification.event.as_str(),
                    done.notification.key,
                    e.shown(&setup.redactor)
                );
                self.metrics
                    .record_notification(sink, NotificationResult::Rejected);
                let error = e.shown(&setup.redactor);
                self.delivered(
                    &done.notification,
                    sink,
                    NotificationResult::Rejected,
                    Some(error),
                );
            }
            Err(e) => {
                let head = queue.front_mut().expect("front");
                head.attempts += 1;
                let wait = delivery::backoff(head.attempts);
                head.not_before_ms = now + wait.as_millis() as i64;
                tracing::warn!(
                    sink,
                    "alerting: sending the {} of {} to `{sink}` failed (attempt {}), retrying in {}: {}",
                    head.notification.event.as_str(),
                    head.notification.key,
                    head.attempts,
                    humantime::format_duration(wait),
                    e.shown(&setup.redactor)
                );
                self.metrics
                    .record_notification(sink, NotificationResult::Failed);
                let (n, error) = (head.notification.clone(), e.shown(&setup.redactor));
                self.delivered(&n, sink, NotificationResult::Failed, Some(error));
            }
        }
        let length = queue.len();
        self.metrics.set_notification_queue(sink, length);
        self.save(&state, &setup);
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn queued(&self) -> watch::Receiver<u64> {
        self.queued.subscribe()
    }
}

impl State {
    /// The state in `file`; a fresh one when there is none. A file that is not state of this
    /// version is moved aside to `<name>.unreadable` (logged) rather than overwritten; one that
    /// cannot be read at all (permissions) is logged, and the next save replaces it.
    fn load(file: &Path) -> State {
        use crate::capped::{self, ReadError};
        // Bytes, not text: a file that is not UTF-8 is not ours, so it is moved aside below
        // like any other unreadable state, never overwritten.
        let text = match capped::read(file, capped::STATE_FILE) {
            Ok(text) => text,
            Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return State::default()
            }
            // Not a state file shopwatch wrote (`state_file: /dev/zero`): left as it is.
            Err(ReadError::TooLarge { cap }) => {
                tracing::error!(
                    "alerting: the state file {} holds more than {}, more than shopwatch writes; starting without it: check `state_file`",
                    file.display(),
                    capped::size(cap)
                );
                return State::default();
            }
            Err(e) => {
                tracing::error!(
                    "alerting: cannot read the state file {}: {e}; starting without it",
                    file.display()
                );
                return State::default();
            }
        };
        match serde_json::from_slice::<State>(&text) {
            Ok(state) if state.version == STATE_VERSION => {
                let firing = state
                    .alerts
                    .values()
                    .filter(|r| r.tracker.is_firing())
                    .count();
                let pending: usize = state.queues.values().map(VecDeque::len).sum();
                tracing::info!(
                    "alerting: state loaded from {}: {firing} alert(s) firing, {pending} notification(s) pending",
                    file.display()
                );
                state
            }
            Ok(_) | Err(_) => {
                let aside = file.with_extension("unreadable");
                tracing::error!(
                    "alerting: the state file {} is not one this version reads; moved to {} and starting afresh",
                    file.display(),
                    aside.display()
                );
                let _ = std::fs::rename(file, &aside);
                State::default()
            }
        }
    }

    fn save(&self, file: &Path) -> std::io::Result<()> {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let temp = file.with_extension("tmp");
        std::fs::write(&temp, json)?;
        std::fs::rename(&temp, file)
    }
}

/// A notification of `event` for `record`, numbered from the state.
fn notification(
    state: &mut State,
    setup: &Setup,
    record: &Record,
    firing: Option<&Firing>,
    event: Event,
    now: i64,
) -> Notification {
    // Ids are `<instance>-<seq>`: at the end of the counter, a new instance keeps them unique.
    state.seq = match state.seq.checked_add(1) {
        Some(seq) => seq,
        None => {
            state.instance = format!("{}x{:x}", state.instance, now);
            1
        }
    };
    let last = record.last.clone().unwrap_or_else(|| Detail {
        summary: record.name.as_str().to_string(),
        outcome: String::new(),
        reason: None,
        reason_class: None,
        run_id: None,
        at_ms: now,
        steps: Vec::new(),
        screenshot: None,
    });
    let time = |ms: i64| {
        super::notification::rfc3339(
            chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default(),
        )
    };
    let (journey, probe) = match &record.subject {
        Subject::Journey(j) => (Some(j.clone()), None),
        Subject::Probe(p) => (None, Some(p.clone())),
    };
    let redact = |text: String| setup.redactor.redact(&text);
    let summary = match event {
        Event::Resolved => format!("resolved: {}", last.summary),
        _ => last.summary.clone(),
    };
    Notification {
        version: FORMAT_VERSION,
        id: format!("{}-{}", state.instance, state.seq),
        event,
        status: event.status().to_string(),
        alert: record.name.as_str().to_string(),
        severity: record.severity.as_str().to_string(),
        key: alert_key(
            record.name,
            &record.subject,
            record.step.as_deref(),
            record.severity,
        ),
        summary: redact(summary),
        journey,
        step: record.step.clone(),
        probe,
        location: setup.location.clone(),
        outcome: last.outcome.clone(),
        reason: last.reason.clone().map(redact),
        reason_class: last.reason_class.clone(),
        run_id: last.run_id.clone(),
        first_failed_at: time(firing.map_or(last.at_ms, |f| f.since_ms)),
        last_failed_at: time(last.at_ms),
        resolved_at: (event == Event::Resolved).then(|| time(now)),
        failed_runs: record.tracker.bad_streak,
        steps: last.steps.clone(),
        screenshot_url: match (&setup.monitor_url, &last.screenshot) {
            (Some(base), Some(path)) => Some(artifact_url(base, path)),
            _ => None,
        },
        monitor_url: setup.monitor_url.clone(),
        affected: match &setup.config {
            Some(config) if event != Event::Resolved && FOLDED.contains(&record.name) => {
                affected(&state.alerts, config, &record.subject)
            }
            _ => Vec::new(),
        },
        sent_at: time(now),
    }
}

/// The alerts that fold into a failing dependency: what a broken dependency causes. Not the
/// monitor's own faults, nor an expiring certificate, which no dependency causes.
const FOLDED: [AlertName; 5] = [
    AlertName::JourneyStepFailed,
    AlertName::JourneyStepSlow,
    AlertName::JourneyStepSlowerThanNormal,
    AlertName::ProbeFailed,
    AlertName::CertificateInvalid,
];

/// Whether `subject` fails now: one of its failure alerts fires or its last run was bad.
fn fails(alerts: &BTreeMap<String, Record>, subject: &Subject) -> bool {
    alerts.values().any(|r| {
        r.subject == *subject
            && r.name != AlertName::JourneyStepSlow
            && r.name != AlertName::JourneyStepSlowerThanNormal
            && FOLDED.contains(&r.name)
            && (r.tracker.is_firing() || r.tracker.bad_streak > 0)
    })
}

/// The nearest dependency of `record`'s subject that fails now, if the alert folds.
fn failing_dependency<'a>(
    alerts: &BTreeMap<String, Record>,
    config: &'a AlertingConfig,
    record: &Record,
) -> Option<&'a Subject> {
    if !FOLDED.contains(&record.name) {
        return None;
    }
    config
        .dependencies(&record.subject)
        .iter()
        .find(|d| fails(alerts, d))
}

/// The keys of the failing alerts of the journeys and probes that depend on `subject`.
fn affected(
    alerts: &BTreeMap<String, Record>,
    config: &AlertingConfig,
    subject: &Subject,
) -> Vec<String> {
    alerts
        .iter()
        .filter(|(_, r)| {
            FOLDED.contains(&r.name)
                && (r.tracker.is_firing() || r.tracker.bad_streak > 0)
                && config.dependencies(&r.subject).contains(subject)
        })
        .map(|(key, _)| key.clone())
        .collect()
}

/// `{base}/artifacts/{path}`, each path segment percent-encoded.
pub fn artifact_url(base: &str, relative: &str) -> String {
    let mut url = format!("{}/artifacts", base.trim_end_matches('/'));
    for segment in relative.split('/').filter(|s| !s.is_empty()) {
        url.push('/');
        url.extend(
            url::form_urlencoded::byte_serialize(segment.as_bytes()).map(|s| {
                // form encoding writes spaces as `+`; a path wants `%20`.
                if s == "+" {
                    "%20"
                } else {
                    s
                }
            }),
        );
    }
    url
}

#[cfg(test)]
mod tests;
