//! The artifacts directory with the real binary: retention deletes shopwatch's old runs and
//! nothing beside them, a folder of other files is refused, journey names cannot lead out of
//! the directory, `/artifacts/` follows no link, and a full disk (a real 64 KiB tmpfs) leaves no
//! empty file and is counted as the monitor's error, not the shop's.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};
use util::alerting::WebhookReceiver;
use util::monitor::{get_text, write, Monitor};
use util::{require_browser, start_shop, Fault, Run};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A journey named `name` that fails at its first step: the shop answers 500 to everything.
fn failing_journey(name: &str) -> String {
    format!("journey: \"{name}\"\nbase_url: http://127.0.0.1:1\nevery: 10s\nsteps:\n  - step: home\n    do:\n      - open: /\n")
}

/// Sets the modification time of `path` and everything under it to `when`.
fn age(path: &Path, when: SystemTime) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            age(&entry.unwrap().path(), when);
        }
    }
    std::fs::File::open(path)
        .unwrap()
        .set_modified(when)
        .unwrap_or_else(|e| panic!("set the time of {}: {e}", path.display()));
}

/// Files a user keeps: `data/important/` (30 days old) and `alice/thesis/draft.pdf` (700 kB).
fn foreign_files(dir: &Path) -> [PathBuf; 2] {
    let notes = dir.join("data/important/notes.txt");
    let draft = dir.join("alice/thesis/draft.pdf");
    for (file, bytes) in [(&notes, 100), (&draft, 700_000)] {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, vec![b'x'; bytes]).unwrap();
    }
    age(&dir.join("data"), SystemTime::now() - 30 * DAY);
    [notes, draft]
}

/// `<artifacts>/<journey>/<run id>` of every run, by journey directory name.
fn runs(artifacts: &Path, journey: &str) -> Vec<PathBuf> {
    std::fs::read_dir(artifacts.join(journey))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// Every file under `dir` (links not followed), with its size.
fn files_under(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let metadata = std::fs::symlink_metadata(entry.path()).unwrap();
        if metadata.is_dir() {
            found.extend(files_under(&entry.path()));
        } else {
            found.push((entry.path(), metadata.len()));
        }
    }
    found
}

/// The value of the sample `series` (name and labels exactly) in the metrics text.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The brief's scenario: `artifacts: {dir: ., max_size: 1MB}` in a folder that holds other
/// things. `validate` and `run` refuse it, located at the key, and delete nothing.
#[test]
fn a_folder_of_other_files_is_refused_as_the_artifacts_directory() {
    let folder = tempfile::tempdir().unwrap();
    let [notes, draft] = foreign_files(folder.path());
    let config = "probes:\n  - http: {name: shop, url: \"http://127.0.0.1:9/\", every: 10s}\nartifacts: {dir: ., max_size: 1MB}\n";
    write(folder.path(), "shopwatch.yaml", config);
    for args in [
        &["validate", "shopwatch.yaml"][..],
        &["run", "--config", "shopwatch.yaml"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_shopwatch"))
            .args(args)
            .current_dir(folder.path())
            .env("SHOPWATCH_LOG", "shopwatch=debug")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(
                "shopwatch.yaml:3:18: the artifacts directory `.` holds this configuration file\n  hint: shopwatch deletes old runs in its artifacts directory"
            ),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("metrics on"), "{args:?} started: {stderr}");
    }
    assert!(notes.exists() && draft.exists());
    assert_eq!(std::fs::metadata(&draft).unwrap().len(), 700_000);
    assert!(!folder.path().join(".shopwatch-artifacts").exists());

    // The same folder given from beside it: not the configuration's, but still not shopwatch's.
    let beside = tempfile::tempdir().unwrap();
    let config = format!(
        "probes:\n  - http: {{name: shop, url: \"http://127.0.0.1:9/\", every: 10s}}\nartifacts:\n  dir: {}\n",
        folder.path().display()
    );
    let file = write(beside.path(), "shopwatch.yaml", &config);
    let output = Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .args(["validate", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "shopwatch.yaml:4:8: the artifacts directory `{}` already holds files shopwatch did not write (`alice`, `data`, `shopwatch.yaml`)",
            folder.path().display()
        )),
        "{stderr}"
    );
    assert!(notes.exists() && draft.exists());
}

/// Retention in an artifacts directory that also holds other files: shopwatch's run past
/// `max_age` goes (and the deletion is logged), its recent run stays, and the user's files
/// beside them stay, whatever their age or size, and do not count towards `max_size`.
#[tokio::test(flavor = "multi_thread")]
async fn retention_deletes_old_runs_of_shopwatch_and_nothing_beside_them() {
    require_browser("chrome");
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/".into(),
        code: 500,
    }]);
    // Two real runs, written by `shopwatch check` into a new artifacts directory.
    let journeys = tempfile::tempdir().unwrap();
    let old = write(journeys.path(), "old.yaml", &failing_journey("old-shop"));
    let new = write(journeys.path(), "new.yaml", &failing_journey("new-shop"));
    let out = Run::new(&[
        "check",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--base-url",
        &shop.url(),
        "--browser",
        "chrome",
    ])
    .go()
    .await;
    assert_eq!(out.code, 1, "{}", out.describe());
    let artifacts = out.artifacts_dir();
    let (old_runs, new_runs) = (runs(&artifacts, "old-shop"), runs(&artifacts, "new-shop"));
    assert_eq!(
        (old_runs.len(), new_runs.len()),
        (1, 1),
        "{}",
        out.describe()
    );
    let (old_run, new_run) = (&old_runs[0], &new_runs[0]);
    assert!(new_run.join("attempt-1/home.png").is_file());
    age(old_run, SystemTime::now() - 30 * DAY);
    let [notes, draft] = foreign_files(&artifacts);

    let config = write(
        out.work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\nprobes:\n  - http: {{name: shop, url: \"{}/\", every: 10s}}\nartifacts: {{dir: artifacts, max_size: 1MB}}\n",
            shop.url()
        ),
    );
    let mut monitor = Monitor::start(&config, tempfile::tempdir().unwrap());
    let metrics_url = monitor.metrics_url();
    // The first sweep comes within a minute of the start; the gauges say it is done.
    let deadline = Instant::now() + Duration::from_secs(90);
    let counted = loop {
        if let Some(bytes) = sample(&get_text(&metrics_url).await, "shopwatch_artifacts_bytes") {
            break bytes;
        }
        assert!(
            Instant::now() < deadline,
            "no sweep in 90 s:\n{}",
            monitor.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(notes.exists(), "30 days old, but not shopwatch's");
    assert_eq!(std::fs::metadata(&draft).unwrap().len(), 700_000);
    assert!(!old_run.exists(), "the old run is deleted");
    assert!(
        new_run.join("attempt-1/home.png").is_file(),
        "the new run stays"
    );
    // What the sweep counted: the new run only, not the 700 kB beside it.
    let new_bytes: u64 = files_under(new_run).iter().map(|(_, bytes)| bytes).sum();
    assert_eq!(counted, new_bytes as f64);
    let deleted = monitor.wait_for_log("artifacts retention: deleted run", Duration::from_secs(1));
    assert!(
        deleted.contains(&old_run.display().to_string())
            && deleted.contains("reason=\"age\"")
            && deleted.contains("bytes="),
        "{deleted}"
    );
    let log = monitor.stop();
    assert_eq!(
        log.matches("artifacts retention: deleted run").count(),
        1,
        "{log}"
    );
}

/// A journey named `..` has its artifacts in `<dir>/_./`, not beside the directory; the alert's
/// screenshot link is where the file is, over real HTTP; and `/artifacts/` serves regular files
/// only: no link (to /etc, to /etc/passwd, to another directory), pipe, directory or hidden file.
#[tokio::test(flavor = "multi_thread")]
async fn artifacts_stay_inside_and_are_served_without_following_links() {
    require_browser("chrome");
    let _slot = util::browser_slot().await;
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/".into(),
        code: 500,
    }]);
    let hook = WebhookReceiver::start().await;
    let work = tempfile::tempdir().unwrap();
    let journey = write(
        work.path(),
        "journey.yaml",
        &failing_journey("..").replace(
            "base_url: http://127.0.0.1:1\n",
            "base_url: http://127.0.0.1:1\nbrowser: chrome\n",
        ),
    );
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\njourneys:\n  - file: {}\n    base_url: {}\nartifacts: {{dir: artifacts}}\nalerting:\n  failure_threshold: 1\n  sinks:\n    - webhook: {{url: \"{}/hook\"}}\n",
            journey.display(),
            shop.url(),
            hook.url
        ),
    );
    let mut monitor = Monitor::start(&config, tempfile::tempdir().unwrap());
    let base = monitor
        .metrics_url()
        .trim_end_matches("/metrics")
        .to_string();
    let received = hook.wait_for(1, Duration::from_secs(90)).await;
    let body = received[0].json();
    assert_eq!(body["journey"], "..", "{body}");
    let screenshot = body["screenshot_url"].as_str().expect("a screenshot link");
    let relative = screenshot
        .strip_prefix(&format!("{base}/artifacts/"))
        .unwrap_or_else(|| panic!("{screenshot} is under {base}/artifacts/"));
    assert!(
        relative.starts_with("_./") && relative.ends_with("/attempt-1/home.png"),
        "{relative}"
    );
    let artifacts = work.path().join("artifacts");
    assert!(artifacts.join(relative).is_file(), "{relative} is on disk");
    // Nothing was written beside the artifacts directory.
    let mut beside: Vec<String> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "shopwatch-alerts.json")
        .collect();
    beside.sort();
    // `shopwatch-state`: the run history's directory, beside the configuration by default.
    assert_eq!(
        beside,
        [
            "artifacts",
            "journey.yaml",
            "shopwatch-state",
            "shopwatch.yaml"
        ]
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let get = |path: String| {
        let client = client.clone();
        async move { client.get(&path).send().await.expect("GET") }
    };
    let response = get(screenshot.to_string()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(&response.bytes().await.unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    let attempt = relative.trim_end_matches("/home.png");
    std::fs::write(artifacts.join("notes.json"), "{}").unwrap();
    for (file, content_type) in [
        (format!("{attempt}/home.html"), "text/html; charset=utf-8"),
        (format!("{attempt}/home.txt"), "text/plain; charset=utf-8"),
        ("notes.json".to_string(), "application/json"),
    ] {
        let response = get(format!("{base}/artifacts/{file}")).await;
        assert_eq!(response.status(), 200, "{file}");
        assert_eq!(response.headers()["content-type"], content_type, "{file}");
    }

    // Links planted in the directory lead nowhere.
    let attempt_dir = artifacts.join(attempt);
    let run_dir = attempt_dir.parent().unwrap();
    std::os::unix::fs::symlink("/etc", artifacts.join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", attempt_dir.join("passwd.txt")).unwrap();
    std::os::unix::fs::symlink(run_dir, artifacts.join("latest")).unwrap();
    let fifo = attempt_dir.join("pipe.txt");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let run_path = attempt.trim_end_matches("/attempt-1");
    for path in [
        "etc/passwd".to_string(),
        "etc/hostname".to_string(),
        format!("{attempt}/passwd.txt"),
        "latest/attempt-1/home.png".to_string(),
        format!("{attempt}/pipe.txt"),
        format!("{attempt}/"),
        attempt.to_string(),
        run_path.to_string(),
        format!("{run_path}/.shopwatch-run"),
        ".shopwatch-artifacts".to_string(),
        String::new(),
        "..%2F..%2F..%2Fetc%2Fpasswd".to_string(),
        format!("{attempt}/..%2F..%2F..%2F..%2Fshopwatch.yaml"),
        "_.%2F..%2F..%2Fshopwatch.yaml".to_string(),
    ] {
        let response = get(format!("{base}/artifacts/{path}")).await;
        assert_eq!(response.status(), 404, "/artifacts/{path}");
    }
    monitor.stop();
}

/// Unmounts a tmpfs on drop, also when the test fails.
struct Mounted(PathBuf);

impl Mounted {
    /// A tmpfs of `size` at `dir`, or a failure saying why it cannot be made here.
    fn tmpfs(dir: &Path, size: &str) -> Mounted {
        std::fs::create_dir_all(dir).unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            output.status.success(),
            "this test needs a real full file system: mount a {size} tmpfs at {} (as root): {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        Mounted(dir.to_path_buf())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A full disk: the failed step's screenshot, page and log cannot be written. No empty or
/// half-written file is left, each failed write is logged and counted as a monitor error
/// (`kind="artifacts"`), and the run stays `failed` for the shop's reason, not `error`.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_leaves_no_empty_artifacts_and_is_the_monitors_error() {
    require_browser("chrome");
    let _slot = util::browser_slot().await;
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/".into(),
        code: 500,
    }]);
    let work = tempfile::tempdir().unwrap();
    let artifacts = work.path().join("artifacts");
    let mounted = Mounted::tmpfs(&artifacts, "64k");
    let journey = write(
        work.path(),
        "journey.yaml",
        &failing_journey("full-disk").replace(
            "base_url: http://127.0.0.1:1\n",
            "base_url: http://127.0.0.1:1\nbrowser: chrome\n",
        ),
    );
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\njourneys:\n  - file: {}\n    base_url: {}\nartifacts: {{dir: artifacts}}\n",
            journey.display(),
            shop.url()
        ),
    );
    let mut monitor = Monitor::start(&config, tempfile::tempdir().unwrap());
    let metrics_url = monitor.metrics_url();
    // Fill what is left of the 64 KiB.
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(artifacts.join("filler")).unwrap();
        let chunk = [0u8; 4096];
        let full = loop {
            if let Err(e) = filler.write_all(&chunk).and_then(|()| filler.sync_all()) {
                break e;
            }
        };
        assert_eq!(full.raw_os_error(), Some(libc::ENOSPC), "{full}");
    }

    let failed = monitor.wait_for_log("failed at step `home`", Duration::from_secs(60));
    assert!(failed.contains("HTTP 500"), "the shop's reason: {failed}");
    // Nothing but the markers and the filler: no empty, partial or temporary file.
    let is_marker_or_filler = |path: &Path| {
        matches!(
            path.file_name().and_then(|n| n.to_str()),
            Some(".shopwatch-artifacts" | ".shopwatch-run" | "filler")
        )
    };
    let left: Vec<(PathBuf, u64)> = files_under(&artifacts)
        .into_iter()
        .filter(|(path, _)| !is_marker_or_filler(path))
        .collect();
    assert!(left.is_empty(), "left on the full disk: {left:?}");

    let metrics = get_text(&metrics_url).await;
    let series = |outcome: &str| {
        format!("shopwatch_journey_runs_total{{journey=\"full-disk\",outcome=\"{outcome}\"}}")
    };
    let failed_runs = sample(&metrics, &series("failed")).expect("failed runs");
    assert!(failed_runs >= 1.0, "{metrics}");
    assert_eq!(sample(&metrics, &series("error")), Some(0.0), "{metrics}");
    let errors = sample(
        &metrics,
        "shopwatch_monitor_errors_total{kind=\"artifacts\"}",
    )
    .expect("artifacts errors");
    // Screenshot, page and log of each failed run.
    assert!(
        errors >= 3.0 * failed_runs,
        "{errors} for {failed_runs} runs\n{metrics}"
    );
    let log = monitor.stop();
    let no_space = log
        .lines()
        .find(|l| l.contains("artifacts: screenshot home: cannot write"))
        .unwrap_or_else(|| panic!("the failed write is logged:\n{log}"));
    assert!(no_space.contains("No space left on device"), "{no_space}");
    // The directory was taken at start, the run marked when its directory was made.
    assert!(artifacts.join(".shopwatch-artifacts").is_file());
    let run_markers = files_under(&artifacts)
        .into_iter()
        .filter(|(path, _)| path.ends_with(".shopwatch-run"))
        .count();
    assert!(run_markers >= 1, "the run directory was marked");
    drop(mounted);
}

/// `/artifacts/` of the server itself, on a directory with links planted in it: no link is
/// followed, nor a pipe opened; what is there is served with its content type.
#[tokio::test]
async fn the_server_follows_no_link_out_of_the_artifacts_directory() {
    let dir = tempfile::tempdir().unwrap();
    let attempt = dir.path().join("shop/20261121T063445-25a4/attempt-1");
    std::fs::create_dir_all(&attempt).unwrap();
    std::fs::write(attempt.join("checkout.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    std::fs::write(attempt.join("checkout.txt"), "url: /checkout\n").unwrap();
    std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", attempt.join("passwd.txt")).unwrap();
    std::os::unix::fs::symlink("/", attempt.join("root")).unwrap();
    assert!(Command::new("mkfifo")
        .arg(attempt.join("pipe.txt"))
        .status()
        .unwrap()
        .success());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/artifacts", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(shopwatch::server::serve(
        listener,
        std::sync::Arc::new(shopwatch::metrics::Metrics::new(Default::default(), None)),
        Default::default(),
        dir.path().to_path_buf(),
        tokio::sync::mpsc::channel(1).0,
        axum::Router::new(),
        stop.clone(),
    ));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let attempt = "shop/20261121T063445-25a4/attempt-1";
    for path in [
        "etc/passwd".to_string(),
        format!("{attempt}/passwd.txt"),
        format!("{attempt}/root/etc/passwd"),
        format!("{attempt}/pipe.txt"),
        attempt.to_string(),
        String::new(),
    ] {
        let response = client.get(format!("{base}/{path}")).send().await;
        let status = response.map(|r| r.status().as_u16());
        assert_eq!(status.ok(), Some(404), "/artifacts/{path}");
    }
    for (path, content_type) in [
        ("checkout.png", "image/png"),
        ("checkout.txt", "text/plain; charset=utf-8"),
    ] {
        let response = client
            .get(format!("{base}/{attempt}/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
    }
    stop.cancel();
    server.await.unwrap().unwrap();
}
