//! `history.max_age`: runs older go with their steps, the aggregates of their hours and days
//! (a day partly kept stays whole), probe
//! results and notifications of that time, and the artifacts directories the runs point to.
//! The rows go first, then the directories: a directory that cannot be deleted is left to the
//! artifacts' own retention, and nothing in the store points to a deleted file.
//!
//! The artifacts' own retention (`artifacts.max_age`, `max_size`) deletes run directories
//! sooner: the writer then forgets those runs' artifacts (`Record::ArtifactsGone`), keeping
//! the runs.

use super::config::HistoryConfig;
use super::db::{Db, DbError, Stmt};
use super::hour_of;
use std::path::Path;

/// What a prune removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub runs: u64,
    pub artifact_dirs: u64,
}

pub async fn prune(
    db: &mut Db,
    config: &HistoryConfig,
    artifacts_dir: &Path,
    now_ms: i64,
) -> Result<Pruned, DbError> {
    let cutoff = now_ms - i64::try_from(config.max_age.as_millis()).unwrap_or(i64::MAX);
    let dirs: Vec<String> = db
        .query(
            "SELECT artifacts_dir FROM runs WHERE started_ms < ? AND artifacts_dir IS NOT NULL",
            vec![cutoff.into()],
        )
        .await?
        .iter()
        .map(|r| r[0].text())
        .collect();
    let runs = db
        .query(
            "SELECT COUNT(*) FROM runs WHERE started_ms < ?",
            vec![cutoff.into()],
        )
        .await?
        .first()
        .map_or(0, |r| r[0].int()) as u64;
    let hour = hour_of(cutoff);
    let stmt = |sql: &'static str, at: i64| Stmt {
        sql,
        params: vec![at.into()],
    };
    db.batch(vec![
        stmt(
            "DELETE FROM steps WHERE run IN (SELECT id FROM runs WHERE started_ms < ?)",
            cutoff,
        ),
        stmt("DELETE FROM runs WHERE started_ms < ?", cutoff),
        stmt("DELETE FROM run_hours WHERE hour_ms < ?", hour),
        stmt("DELETE FROM step_hours WHERE hour_ms < ?", hour),
        stmt("DELETE FROM series_hours WHERE hour_ms < ?", hour),
        stmt(
            "DELETE FROM step_days WHERE day_ms < ?",
            super::day_of(cutoff),
        ),
        stmt("DELETE FROM probe_minutes WHERE minute_ms < ?", cutoff),
        stmt(
            "DELETE FROM probe_days WHERE day_ms < ?",
            super::day_of(cutoff),
        ),
        stmt("DELETE FROM probe_changes WHERE at_ms < ?", cutoff),
        stmt("DELETE FROM notifications WHERE at_ms < ?", cutoff),
    ])
    .await?;
    let mut artifact_dirs = 0;
    for dir in dirs {
        match remove_run_dir(artifacts_dir, &dir) {
            Ok(true) => artifact_dirs += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(
                "history retention: cannot delete the artifacts of a pruned run, {}: {e} (artifacts retention will)",
                artifacts_dir.join(&dir).display()
            ),
        }
    }
    if runs > 0 {
        tracing::info!(
            "history retention: {runs} run(s) older than max_age {} deleted, with {artifact_dirs} artifacts directories",
            humantime::format_duration(config.max_age)
        );
    }
    Ok(Pruned {
        runs,
        artifact_dirs,
    })
}

/// Deletes `<root>/<dir>` if it is a run directory shopwatch wrote (it holds the marker, and
/// `dir` stays under `root`); `false` when there is nothing to delete.
fn remove_run_dir(root: &Path, dir: &str) -> std::io::Result<bool> {
    let safe = dir
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != "..");
    if !safe {
        return Ok(false);
    }
    let path = root.join(dir);
    let marked = std::fs::symlink_metadata(path.join(crate::artifacts::RUN_MARKER))
        .is_ok_and(|m| m.is_file());
    if !marked {
        return Ok(false);
    }
    std::fs::remove_dir_all(&path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_marked_run_directories_under_the_root_go() {
        let root = tempfile::tempdir().unwrap();
        let run = root.path().join("shop/20261203T010203-0001");
        std::fs::create_dir_all(&run).unwrap();
        assert!(!remove_run_dir(root.path(), "shop/20261203T010203-0001").unwrap());
        std::fs::write(run.join(crate::artifacts::RUN_MARKER), b"").unwrap();
        assert!(!remove_run_dir(root.path(), "shop/../shop/20261203T010203-0001").unwrap());
        assert!(remove_run_dir(root.path(), "shop/20261203T010203-0001").unwrap());
        assert!(!run.exists());
    }
}
