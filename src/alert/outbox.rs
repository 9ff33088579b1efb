//! The outbox: per sink, the notifications waiting to be delivered, oldest first and bounded,
//! and what the delivery workers need of it ([`Outbox`]). The queues live in the engine's state
//! (and state file), so nothing pending is lost on a restart.

use super::notification::{Event, Notification};
use super::sink::SendError;
use crate::metrics::{Metrics, NotificationResult};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use tokio::sync::watch;

/// Notifications kept per sink while it cannot be reached; beyond, the oldest reminder (else
/// the oldest) is dropped, logged and counted.
pub const MAX_QUEUE: usize = 1000;
/// Pending notifications by sink name, oldest first.
pub type Queues = BTreeMap<String, VecDeque<Pending>>;

/// A notification waiting for its sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub notification: Notification,
    pub attempts: u32,
    /// Not before this time (wall ms): the backoff after a failed attempt.
    pub not_before_ms: i64,
}

/// Adds `notification` to `sink`'s queue. A full queue drops its oldest reminder (else its
/// oldest notification), logged and counted.
pub fn push(
    queues: &mut Queues,
    sink: &str,
    notification: Notification,
    now: i64,
    metrics: &Metrics,
) {
    let queue = queues.entry(sink.to_string()).or_default();
    if queue.len() >= MAX_QUEUE {
        let victim = queue
            .iter()
            .position(|p| p.notification.event == Event::Repeat)
            .unwrap_or(0);
        if let Some(dropped) = queue.remove(victim) {
            tracing::error!(
                sink,
                "alerting: {} notifications wait for sink `{sink}`; dropped the {} of {} ({})",
                MAX_QUEUE,
                dropped.notification.event.as_str(),
                dropped.notification.key,
                dropped.notification.id
            );
            metrics.record_notification(sink, NotificationResult::Dropped);
        }
    }
    queue.push_back(Pending {
        notification,
        attempts: 0,
        not_before_ms: now,
    });
    metrics.set_notification_queue(sink, queue.len());
}

/// What a delivery worker needs: the head of its sink's queue, a way to report how sending it
/// went, the clock, and a wake-up when a queue gains a notification.
pub trait Outbox: Send + Sync {
    fn head(&self, sink: &str) -> Option<Pending>;
    /// The result of sending `id`, the head of `sink`'s queue: done, or retry later.
    fn sent(&self, sink: &str, id: &str, result: Result<(), SendError>);
    /// Wall-clock milliseconds, on the clock the queue's times are on.
    fn now_ms(&self) -> i64;
    fn queued(&self) -> watch::Receiver<u64>;
}
