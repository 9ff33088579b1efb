//! The feed probe's memory: each probe's item count in its last good run, what `max_drop`
//! compares with. Kept in `<state_dir>/feed-counts.json` (written to a temp file and renamed
//! over the old one), so that a feed emptied while shopwatch restarted still fails its first
//! run after the restart instead of becoming the new normal.

use super::state_file;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, MutexGuard};

#[derive(Default)]
struct Counts {
    by_probe: BTreeMap<String, u64>,
    /// Where they are kept; `None` until [`configure`] (tests that run a probe directly, and
    /// `shopwatch check`, keep them in memory only).
    file: Option<PathBuf>,
}

/// What the log calls this state.
const WHAT: &str = "feed counts";

static COUNTS: LazyLock<Mutex<Counts>> = LazyLock::new(Mutex::default);

fn counts() -> MutexGuard<'static, Counts> {
    COUNTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads the counts kept in `state_dir`, at the first call (a reload keeps the ones in memory).
pub fn configure(state_dir: &Path) {
    let mut c = counts();
    if c.file.is_some() {
        return;
    }
    let file = state_dir.join("feed-counts.json");
    if let Some(kept) = state_file::load(&file, WHAT) {
        c.by_probe = kept;
    }
    c.file = Some(file);
}

/// The item count of the probe's last good run.
pub(super) fn last_good(probe: &str) -> Option<u64> {
    counts().by_probe.get(probe).copied()
}

/// A good run's count; written to the state file when it changed (a failure is logged, the
/// count stays in memory).
pub(super) fn remember(probe: &str, count: u64) {
    let mut c = counts();
    if c.by_probe.insert(probe.to_string(), count) == Some(count) {
        return;
    }
    if let Some(file) = &c.file {
        state_file::save(file, WHAT, &c.by_probe);
    }
}
