//! When things run: fixed-rate schedules (`every` or `cron`) with a deterministic jitter per
//! name, never overlapping themselves.
//!
//! A fixed rate means due times are computed, never accumulated: the k-th run of an `every`
//! schedule is due at `anchor + offset + k * interval`, so a slow run or a late wake-up does not
//! push later runs back (no drift). The offset is a hash of the name, so the journeys of one
//! monitor spread over the interval instead of all opening a browser at once, and the same
//! name keeps its place across restarts and reloads. So that a long interval (a certificate
//! checked hourly) does not leave the first result waiting for most of it, an `every` schedule
//! whose offset falls past the first [`START_SPREAD`] also runs once within that spread at
//! start (at `offset % START_SPREAD`), then keeps its place. A run still going when its next due time
//! passes makes that run overdue: it is skipped and counted ([`Tick::Skipped`]), never queued
//! up behind (a backlog of browser runs would only measure the past).
//!
//! Browser sessions are the expensive part; [`Sessions`] bounds how many are open at once,
//! first come first served.

use crate::journey::model::Schedule;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Every schedule has its first run within this long of the start.
pub const START_SPREAD: Duration = Duration::from_secs(60);
/// A cron schedule's runs are jittered by at most this share of the gap between two
/// occurrences...
const CRON_JITTER_SHARE: u32 = 10;
/// ...and never by more than this.
const CRON_JITTER_MAX: Duration = Duration::from_secs(300);

/// The due times of one schedule.
#[derive(Debug, Clone)]
pub enum Timing {
    /// Due at `anchor + offset + k * interval`, k = 0, 1, 2, ..., and once at
    /// `anchor + offset % START_SPREAD` when that is earlier.
    Every {
        anchor: Instant,
        interval: Duration,
        offset: Duration,
    },
    /// Due at each occurrence of the expression (in its time zone), plus `offset`.
    Cron {
        schedule: Box<crate::calendar::Cron>,
        offset: Duration,
    },
}

impl Timing {
    /// The timing of `schedule` for `name`, counted from `anchor` (the monitor's start).
    pub fn new(schedule: &Schedule, name: &str, anchor: Instant) -> Timing {
        match schedule {
            Schedule::Every(interval) => Timing::every(*interval, name, anchor),
            Schedule::Cron(schedule) => {
                let gap = crate::calendar::next_gap(schedule).unwrap_or(CRON_JITTER_MAX);
                let spread = (gap / CRON_JITTER_SHARE).min(CRON_JITTER_MAX);
                Timing::Cron {
                    schedule: schedule.clone(),
                    offset: jitter(name, spread),
                }
            }
        }
    }

    pub fn every(interval: Duration, name: &str, anchor: Instant) -> Timing {
        Timing::Every {
            anchor,
            interval,
            offset: jitter(name, interval),
        }
    }

    /// The first due time at or after `not_before`, and how many due times in
    /// `(after, not_before)` were passed over (runs that are skipped). `after` is the previous
    /// due time, None for the first.
    pub fn next(&self, after: Option<Instant>, not_before: Instant) -> (Instant, u64) {
        match self {
            Timing::Every {
                anchor,
                interval,
                offset,
            } => {
                let first = *anchor + *offset;
                let early = *anchor
                    + Duration::from_nanos((offset.as_nanos() % START_SPREAD.as_nanos()) as u64);
                if after.is_none() && early < first && not_before <= early {
                    return (early, 0);
                }
                let index = |t: Instant| -> u64 {
                    // The index of the first due time at or after t.
                    let since = t.saturating_duration_since(first);
                    let whole = since.as_nanos() / interval.as_nanos();
                    let exact = since.as_nanos().is_multiple_of(interval.as_nanos());
                    (whole + u128::from(!exact && t > first)) as u64
                };
                let due_at = |k: u64| first + interval.saturating_mul(k as u32);
                let earliest = match after {
                    Some(previous) if previous >= first => index(previous) + 1,
                    _ => 0,
                };
                let k = index(not_before).max(earliest);
                // Before the first run, nothing was due yet: nothing is skipped.
                let skipped = if after.is_some() { k - earliest } else { 0 };
                (due_at(k), skipped)
            }
            Timing::Cron { schedule, offset } => {
                // Cron times are wall-clock times; the offset between the clocks is taken now.
                let now = Instant::now();
                let wall_now = Utc::now();
                let to_wall = |t: Instant| -> DateTime<Utc> {
                    let ahead = t.saturating_duration_since(now);
                    let behind = now.saturating_duration_since(t);
                    wall_now + chrono::Duration::from_std(ahead).unwrap_or_default()
                        - chrono::Duration::from_std(behind).unwrap_or_default()
                };
                let jittered = |at: DateTime<Utc>| {
                    at + chrono::Duration::from_std(*offset).unwrap_or_default()
                };
                // An occurrence a moment before `not_before` (within what the two clocks'
                // readings may differ by, and well under the second between occurrences) is
                // the one due now, not one passed over.
                let from = to_wall(not_before) - chrono::Duration::milliseconds(500);
                let mut skipped = 0;
                if let Some(previous) = after {
                    // Past the previous occurrence itself, whatever rounding the clock
                    // conversion adds (occurrences are at least a second apart).
                    let previous = to_wall(previous) + chrono::Duration::milliseconds(500);
                    skipped = schedule
                        .after(&previous)
                        .map(jittered)
                        .take_while(|t| *t < from)
                        .take(10_000)
                        .count() as u64;
                }
                // The occurrence whose jittered time is at or after `from`.
                let base = from - chrono::Duration::from_std(*offset).unwrap_or_default();
                let next = schedule
                    .after(&(base - chrono::Duration::milliseconds(1)))
                    .next()
                    .map(jittered);
                let due = match next {
                    Some(at) => {
                        let ahead = (at - wall_now).to_std().unwrap_or_default();
                        now + ahead
                    }
                    // A cron expression with no future occurrence: effectively never again.
                    None => not_before + Duration::from_secs(100 * 365 * 24 * 3600),
                };
                (due.max(not_before), skipped)
            }
        }
    }
}

/// A deterministic offset in `[0, spread)` for `name`: FNV-1a, stable across runs and builds
/// (std's hasher is randomly seeded).
pub fn jitter(name: &str, spread: Duration) -> Duration {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    let nanos = spread.as_nanos() as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(hash % nanos)
}

/// What the schedule loop reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// A run starts `lag` after its due time.
    Started { lag: Duration },
    /// `count` due runs were passed over because the previous run was still going.
    Skipped { count: u64 },
}

/// Runs `job` at every due time of `timing` until `stop` is cancelled; a run in progress when
/// `stop` fires is finished, not abandoned (the job sees the token itself if it must hurry).
/// `job` gets the due time and returns when the run is over, so runs never overlap.
pub async fn run_schedule<F, Fut>(
    timing: &Timing,
    stop: &CancellationToken,
    mut on_tick: impl FnMut(Tick),
    mut job: F,
) where
    F: FnMut(Instant) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut previous: Option<Instant> = None;
    loop {
        let (due, skipped) = timing.next(previous, Instant::now());
        if skipped > 0 {
            on_tick(Tick::Skipped { count: skipped });
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(due) => {}
        }
        on_tick(Tick::Started {
            lag: Instant::now().saturating_duration_since(due),
        });
        // Boxed: a run's future is large (a probe's is about 6.5 KB: connection, TLS and
        // hyper state) and a task spends nearly all its time waiting, so only a running job
        // holds that memory. Unboxed, it sat in every task: 6.7 MB for 1,000 probes.
        Box::pin(job(due)).await;
        previous = Some(due);
        if stop.is_cancelled() {
            return;
        }
    }
}

/// A fair (first come, first served) limit on open browser sessions, resizable on reload.
#[derive(Debug, Clone)]
pub struct Sessions {
    semaphore: Arc<Semaphore>,
    limit: Arc<std::sync::Mutex<usize>>,
    open: Arc<AtomicUsize>,
    waiting: Arc<AtomicUsize>,
}

/// A session slot; free again when dropped.
#[derive(Debug)]
pub struct SessionSlot {
    _permit: OwnedSemaphorePermit,
    open: Arc<AtomicUsize>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Sessions {
    pub fn new(limit: usize) -> Sessions {
        Sessions {
            semaphore: Arc::new(Semaphore::new(limit)),
            limit: Arc::new(std::sync::Mutex::new(limit)),
            open: Arc::new(AtomicUsize::new(0)),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Waits for a free session slot, in arrival order.
    pub async fn acquire(&self) -> SessionSlot {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let permit = self.semaphore.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        self.open.fetch_add(1, Ordering::SeqCst);
        SessionSlot {
            _permit: permit.expect("the session semaphore is never closed"),
            open: self.open.clone(),
        }
    }

    /// Slots held now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Runs waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Changes the limit. Lowering it waits (in the queue like everyone) for the slots to free
    /// up, so the number open never goes over either the old or the new limit.
    pub fn resize(&self, new_limit: usize) {
        let mut limit = self.limit.lock().unwrap_or_else(|e| e.into_inner());
        let old = *limit;
        *limit = new_limit;
        if new_limit > old {
            self.semaphore.add_permits(new_limit - old);
        } else if new_limit < old {
            let semaphore = self.semaphore.clone();
            let surplus = (old - new_limit) as u32;
            tokio::spawn(async move {
                if let Ok(permits) = semaphore.acquire_many_owned(surplus).await {
                    permits.forget();
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn no_drift_over_a_thousand_intervals() {
        let anchor = Instant::now();
        let timing = Timing::every(Duration::from_secs(60), "checkout", anchor);
        let Timing::Every { offset, .. } = timing else {
            unreachable!()
        };
        let starts = Mutex::new(Vec::new());
        let stop = CancellationToken::new();
        let mut ticks = Vec::new();
        run_schedule(
            &timing,
            &stop,
            |tick| ticks.push(tick),
            |due| {
                starts.lock().unwrap().push((due, Instant::now()));
                // Each run takes a while and the clock wakes a little late: neither may add up.
                let stop = stop.clone();
                let n = starts.lock().unwrap().len();
                async move {
                    tokio::time::sleep(Duration::from_millis(7_300)).await;
                    if n == 1000 {
                        stop.cancel();
                    }
                }
            },
        )
        .await;
        let starts = starts.into_inner().unwrap();
        assert_eq!(starts.len(), 1000);
        for (k, (due, started)) in starts.iter().enumerate() {
            let expected = anchor + offset + Duration::from_secs(60) * k as u32;
            assert_eq!(*due, expected, "run {k} due at the fixed rate");
            // tokio's timer has millisecond ticks: a wake-up may be up to 1 ms late, and
            // that lateness must not add up.
            let late = *started - expected;
            assert!(
                late < Duration::from_millis(1),
                "run {k} started {late:?} late"
            );
        }
        assert!(ticks
            .iter()
            .all(|t| matches!(t, Tick::Started { lag } if *lag < Duration::from_millis(1))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_interval_runs_once_early_then_keeps_its_place() {
        let anchor = Instant::now();
        let hour = Duration::from_secs(3600);
        let timing = Timing::every(hour, "shop-cert", anchor);
        let Timing::Every { offset, .. } = timing else {
            unreachable!()
        };
        assert!(
            offset > START_SPREAD,
            "this name's offset is past the spread: {offset:?}"
        );
        let (first, skipped) = timing.next(None, anchor);
        assert_eq!(
            (first - anchor, skipped),
            (
                Duration::from_nanos((offset.as_nanos() % START_SPREAD.as_nanos()) as u64),
                0
            )
        );
        assert!(first - anchor < START_SPREAD);
        let (second, skipped) = timing.next(Some(first), first + Duration::from_secs(1));
        assert_eq!((second, skipped), (anchor + offset, 0));
        let (third, skipped) = timing.next(Some(second), second + Duration::from_secs(1));
        assert_eq!((third, skipped), (anchor + offset + hour, 0));
        // Started late (the early run's moment passed): straight to the grid, nothing skipped.
        let (due, skipped) = timing.next(None, anchor + START_SPREAD);
        assert_eq!((due, skipped), (anchor + offset, 0));
    }

    #[test]
    fn jitter_is_deterministic_within_the_interval_and_spreads_names() {
        let interval = Duration::from_secs(60);
        let offsets: Vec<Duration> = (0..200)
            .map(|i| jitter(&format!("journey-{i}"), interval))
            .collect();
        assert!(offsets.iter().all(|o| *o < interval));
        assert_eq!(
            jitter("journey-7", interval),
            offsets[7],
            "same name, same offset"
        );
        // Spread: every tenth of the interval holds some of the 200 names.
        for tenth in 0..10u32 {
            let (lo, hi) = (interval * tenth / 10, interval * (tenth + 1) / 10);
            assert!(
                offsets.iter().any(|o| *o >= lo && *o < hi),
                "no offset in [{lo:?}, {hi:?})"
            );
        }
        assert_eq!(jitter("x", Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn an_overdue_run_is_skipped_and_counted_never_overlapping() {
        let anchor = Instant::now();
        let timing = Timing::every(Duration::from_secs(10), "slow-shop", anchor);
        let running = AtomicUsize::new(0);
        let max_running = AtomicUsize::new(0);
        let runs = AtomicUsize::new(0);
        let mut skipped = 0;
        let stop = CancellationToken::new();
        run_schedule(
            &timing,
            &stop,
            |tick| {
                if let Tick::Skipped { count } = tick {
                    skipped += count;
                }
            },
            |_| {
                let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                let now_running = running.fetch_add(1, Ordering::SeqCst) + 1;
                max_running.fetch_max(now_running, Ordering::SeqCst);
                let (running, stop) = (&running, stop.clone());
                async move {
                    // 25 s runs on a 10 s schedule: two of every three due times are overdue.
                    tokio::time::sleep(Duration::from_secs(25)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    if n == 10 {
                        stop.cancel();
                    }
                }
            },
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 10);
        assert_eq!(
            max_running.load(Ordering::SeqCst),
            1,
            "a schedule never overlaps itself"
        );
        // Runs at due 0, 3, 6, ... (each 25 s run passes over two due times).
        assert_eq!(skipped, 18);
    }

    #[tokio::test(start_paused = true)]
    async fn late_start_reports_the_lag() {
        let anchor = Instant::now();
        let timing = Timing::every(Duration::from_secs(10), "queued", anchor);
        let stop = CancellationToken::new();
        let mut lags = Vec::new();
        run_schedule(
            &timing,
            &stop,
            |tick| {
                if let Tick::Started { lag } = tick {
                    lags.push(lag)
                }
            },
            |_| {
                stop.cancel();
                async {}
            },
        )
        .await;
        assert_eq!(lags.len(), 1);
        assert!(lags[0] < Duration::from_millis(1), "on time: {lags:?}");
        // A due time in the past (the loop woke late): the lag is how late.
        let (due, skipped) = timing.next(None, anchor + Duration::from_secs(35));
        assert!(due >= anchor + Duration::from_secs(35));
        assert_eq!(skipped, 0, "nothing ran before: nothing was skipped");
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_waits_for_the_running_job_and_starts_no_more() {
        let timing = Timing::every(SECOND * 10, "stopping", Instant::now());
        let stop = CancellationToken::new();
        let finished = AtomicUsize::new(0);
        let started = AtomicUsize::new(0);
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(SECOND * 25).await;
            stopper.cancel();
        });
        run_schedule(
            &timing,
            &stop,
            |_| {},
            |_| {
                started.fetch_add(1, Ordering::SeqCst);
                let finished = &finished;
                async move {
                    tokio::time::sleep(SECOND * 8).await;
                    finished.fetch_add(1, Ordering::SeqCst);
                }
            },
        )
        .await;
        assert_eq!(
            started.load(Ordering::SeqCst),
            finished.load(Ordering::SeqCst)
        );
        assert!(started.load(Ordering::SeqCst) >= 2);
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_never_exceed_the_limit_and_are_served_in_order() {
        let sessions = Sessions::new(2);
        let open = Arc::new(AtomicUsize::new(0));
        let max_open = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        // Twelve journeys every 10 s whose runs take 6 s: far more demand than two sessions.
        for i in 0..12 {
            let (sessions, open, max_open, order, stop) = (
                sessions.clone(),
                open.clone(),
                max_open.clone(),
                order.clone(),
                stop.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let timing = Timing::every(SECOND * 10, &format!("journey-{i}"), Instant::now());
                run_schedule(
                    &timing,
                    &stop,
                    |_| {},
                    |_| {
                        let (sessions, open, max_open, order) = (
                            sessions.clone(),
                            open.clone(),
                            max_open.clone(),
                            order.clone(),
                        );
                        async move {
                            let asked = Instant::now();
                            let _permit = sessions.acquire().await;
                            order.lock().unwrap().push((asked, Instant::now()));
                            let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
                            max_open.fetch_max(now_open, Ordering::SeqCst);
                            assert!(sessions.open() <= 2);
                            tokio::time::sleep(SECOND * 6).await;
                            open.fetch_sub(1, Ordering::SeqCst);
                        }
                    },
                )
                .await;
            }));
        }
        tokio::time::sleep(SECOND * 300).await;
        // Lower the limit to 1 mid-way: never more than 1 open after the running ones end.
        sessions.resize(1);
        tokio::time::sleep(SECOND * 120).await;
        max_open.store(open.load(Ordering::SeqCst), Ordering::SeqCst);
        tokio::time::sleep(SECOND * 300).await;
        stop.cancel();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(max_open.load(Ordering::SeqCst) <= 1, "after resize to 1");
        // First come, first served: grants happen in the order of asking.
        let order = order.lock().unwrap();
        assert!(order.len() > 40, "sessions were used: {}", order.len());
        assert!(order.windows(2).all(|w| w[0].0 <= w[1].0), "FIFO");
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_peak_is_the_limit() {
        let sessions = Sessions::new(3);
        let open = Arc::new(AtomicUsize::new(0));
        let max_open = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (sessions, open, max_open) = (sessions.clone(), open.clone(), max_open.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = sessions.acquire().await;
                let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
                max_open.fetch_max(now_open, Ordering::SeqCst);
                tokio::time::sleep(SECOND).await;
                open.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(max_open.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn cron_jitter_is_a_tenth_of_the_gap_at_most() {
        let every_minute = crate::calendar::Cron::parse_utc("0 * * * * *").unwrap();
        let timing = Timing::new(
            &Schedule::Cron(Box::new(every_minute)),
            "nightly",
            Instant::now(),
        );
        let Timing::Cron { offset, .. } = timing else {
            unreachable!()
        };
        assert!(offset < Duration::from_secs(6), "{offset:?}");
    }

    #[tokio::test]
    async fn cron_next_is_the_next_occurrence_plus_offset() {
        let every_minute = crate::calendar::Cron::parse_utc("0 * * * * *").unwrap();
        let timing = Timing::Cron {
            schedule: Box::new(every_minute),
            offset: Duration::ZERO,
        };
        let now = Instant::now();
        let (due, skipped) = timing.next(None, now);
        assert_eq!(skipped, 0);
        let wait = due - now;
        assert!(wait <= Duration::from_secs(60), "{wait:?}");
        let seconds_now = Utc::now().timestamp() % 60;
        let expected = 60 - seconds_now;
        // Modulo a minute: the clock may tick into the next minute between the two readings
        // (a loaded machine), which makes a wait of 59 s and an expected 0 s the same answer.
        let off = (wait.as_secs() as i64 - expected).rem_euclid(60);
        assert!(
            off <= 1 || off >= 59,
            "due at the next full minute: waits {wait:?}, expected ~{expected}s"
        );
        // Ten minutes after the previous due time: nine occurrences were passed over.
        let (_, skipped) = timing.next(Some(due), due + Duration::from_secs(600));
        assert_eq!(skipped, 9);
    }
}
