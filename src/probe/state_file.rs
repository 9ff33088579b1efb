//! State the probes keep across restarts (heartbeat pings, feeds' last good counts): one JSON
//! file each in `<state_dir>`, read once at start and written whole to a temp file renamed
//! over the old one, so a crash mid-write leaves the previous state rather than half a file.
//! A file that cannot be read or written is logged and the state lives on in memory: losing it
//! costs one comparison after a restart, never a probe.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// What `file` holds, or `None` when it is absent or unreadable (logged, naming `what`).
pub(super) fn load<T: DeserializeOwned>(file: &Path, what: &str) -> Option<T> {
    match std::fs::read(file) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(kept) => Some(kept),
            Err(e) => {
                tracing::error!(
                    "{what}: {} is not shopwatch's {what} state ({e}); it is replaced when next written",
                    file.display()
                );
                None
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::error!("{what}: cannot read {}: {e}", file.display());
            None
        }
    }
}

/// Writes `value` to `file` (a failure is logged).
pub(super) fn save<T: Serialize>(file: &Path, what: &str, value: &T) {
    let written = serde_json::to_vec_pretty(value)
        .map_err(std::io::Error::other)
        .and_then(|bytes| {
            let temp = file.with_extension("json.tmp");
            std::fs::write(&temp, bytes)?;
            std::fs::rename(&temp, file)
        });
    if let Err(e) = written {
        tracing::error!("{what}: cannot write {}: {e}", file.display());
    }
}
