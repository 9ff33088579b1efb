//! Delivery: one worker per sink takes the oldest pending notification from the [`Outbox`],
//! sends it, and on failure it stays at the head and is tried again after an exponential
//! backoff, so a sink gets its notifications in order and each once it answers.

use super::outbox::Outbox;
use super::sink::Sink;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The first retry waits this long; each further one twice as long as the one before.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(300);

/// The wait after the `attempts`-th failed attempt: 1 s, 2 s, 4 s, ... at most 5 min.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    (FIRST_RETRY * 2u32.pow(doublings)).min(MAX_RETRY)
}

/// Delivers `sink`'s queue until `stop` (finishing a send under way).
pub(super) async fn deliver(outbox: Arc<dyn Outbox>, sink: Arc<Sink>, stop: CancellationToken) {
    let mut queued = outbox.queued();
    loop {
        queued.borrow_and_update();
        let Some(head) = outbox.head(&sink.name) else {
            tokio::select! {
                _ = queued.changed() => continue,
                _ = stop.cancelled() => return,
            }
        };
        let wait = head.not_before_ms - outbox.now_ms();
        if wait > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = stop.cancelled() => return,
            }
            continue;
        }
        // Not raced against `stop`: a send cut off after the receiver took it would be sent
        // again later. It ends within the sink's timeout.
        let result = sink.send(&head.notification).await;
        outbox.sent(&sink.name, &head.notification.id, result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let waits: Vec<u64> = (1..=12).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX), MAX_RETRY);
    }
}
