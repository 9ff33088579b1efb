//! `kill -9` of shopwatch: its drivers, browsers and their temp dirs do not outlive it. The
//! guard ends them at once; what is left when the guard was killed too goes at the next start,
//! and only that: a live shopwatch's browsers in the same TMPDIR are left alone.

mod util;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use util::monitor::{write, Monitor};
use util::{processes_under, repo_path, require_browser, start_shop_with, Fault, ShopConfig};

/// These tests hold one or two browsers each and kill things: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The shop with `/category` answering after 20 s: the demo journey is mid-run, browser up.
async fn slow_shop() -> util::RunningShop {
    start_shop_with(ShopConfig {
        faults: vec![Fault::Delay {
            path_prefix: "/category".to_string(),
            ms: 20_000,
        }],
        ..ShopConfig::default()
    })
    .await
}

/// A journey that keeps its browser open for two minutes.
fn holding_journey(dir: &Path, base_url: &str, browser: &str) -> PathBuf {
    write(
        dir,
        "hold.yaml",
        &format!(
            "journey: hold\nbase_url: {base_url}\nevery: 10s\ntimeout: 3m\nbrowser: {browser}\n\
             defaults: {{timeout: 150s}}\nsteps:\n  - step: hold\n    do:\n      - open: /\n      - sleep: 120s\n"
        ),
    )
}

fn work_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("shopwatch-sigkill-")
        .tempdir()
        .unwrap()
}

/// The driver temp dirs under `tmp`.
fn driver_dirs(tmp: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(tmp)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("shopwatch-driver-")
        })
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// Live processes whose TMPDIR is one of `dirs`, or whose command line names one of them:
/// Chromium's helpers (zygote, renderers, GPU) overwrite their environment with their title.
fn processes_in(dirs: &[PathBuf]) -> Vec<String> {
    let mut found: Vec<String> = dirs.iter().flat_map(|d| processes_under(d)).collect();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let named = dirs
            .iter()
            .any(|d| cmdline.contains(&format!("{}/", d.display())));
        let line = format!("{pid}: {cmdline}");
        if named && !found.contains(&line) {
            found.push(line);
        }
    }
    found
}

/// Everything of a shopwatch under `tmp`: itself, its guard, drivers and browsers.
fn everything_under(tmp: &Path) -> Vec<String> {
    let mut all = processes_under(tmp);
    for process in processes_in(&[tmp.to_path_buf()]) {
        if !all.contains(&process) {
            all.push(process);
        }
    }
    all
}

fn is_browser(process: &str) -> bool {
    // "pid: /usr/lib/chromium/chromium --type=..." or ".../firefox-esr -marionette ..."
    let program = process.split_whitespace().nth(1).unwrap_or("");
    let name = program.rsplit('/').next().unwrap_or("");
    name == "chromium" || name == "chrome" || name.starts_with("firefox")
}

/// A process that renders pages: the browser is up, not just starting.
fn is_renderer(process: &str) -> bool {
    is_browser(process)
        && (process.contains("--type=renderer") || process.contains("-isForBrowser"))
}

/// Waits until a browser, with a page renderer, runs in a driver dir under `tmp` that is not
/// in `known`; returns the new dirs.
fn wait_for_browser(tmp: &Path, known: &[PathBuf], log: impl Fn() -> String) -> Vec<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let new: Vec<PathBuf> = driver_dirs(tmp)
            .into_iter()
            .filter(|d| !known.contains(d))
            .collect();
        if processes_in(&new).iter().any(|p| is_renderer(p)) {
            // The rest of its helpers start in the moment after.
            std::thread::sleep(Duration::from_secs(1));
            return new;
        }
        assert!(Instant::now() < deadline, "no browser started:\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `done`, for at most `within`; how long it took.
fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done().then(|| started.elapsed())
}

/// The proportional memory of a process ("pid: cmdline"), in KiB; 0 once it is gone.
fn pss_kib(process: &str) -> u64 {
    let pid = process.split(':').next().unwrap_or("");
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn sigkill(pid: u32) {
    // SAFETY: kill(2) on a pid this test started (or its guard, found as its child).
    assert_eq!(
        unsafe { libc::kill(pid as i32, libc::SIGKILL) },
        0,
        "kill -9 {pid}"
    );
}

/// The guard shopwatch `pid` started: its child running `__guard`.
fn guard_of(pid: u32) -> u32 {
    let found = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            ppid == Some(pid) && String::from_utf8_lossy(&cmdline).contains("__guard")
        });
    found.unwrap_or_else(|| panic!("shopwatch {pid} has no guard process"))
}

/// `shopwatch check` as a plain child with TMPDIR `tmp`, its stderr to a file.
fn spawn_check(journey: &Path, tmp: &Path, work: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .arg("check")
        .arg(journey)
        .arg("--artifacts")
        .arg(work.join("artifacts"))
        .env("TMPDIR", tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("check.log")).unwrap())
        .spawn()
        .expect("spawn shopwatch check")
}

/// `kill -9` of `shopwatch run` mid-journey: within a few seconds no driver, browser or temp
/// dir of it is left, and it is said so in the log.
async fn sigkill_of_run_leaves_nothing(browser: &str) {
    require_browser(browser);
    let _serial = SERIAL.lock().await;
    let _slot = util::browser_slot().await;
    let shop = slow_shop().await;
    let work = work_dir();
    let demo = std::fs::read_to_string(repo_path("journeys/demo-shop.yaml")).unwrap();
    let shipped = "\nbase_url: http://127.0.0.1:8088\n";
    assert!(demo.contains(shipped) && demo.contains("\nevery: 1m\n"));
    assert!(demo.contains("\nbrowser: firefox\n"));
    let demo = demo
        .replace(shipped, &format!("\nbase_url: {}\n", shop.url()))
        .replace("\nevery: 1m\n", "\nevery: 10s\n")
        .replace("\nbrowser: firefox\n", &format!("\nbrowser: {browser}\n"));
    let journey = write(work.path(), "demo-shop.yaml", &demo);
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!("listen: 127.0.0.1:0\njourneys: [{}]\n", journey.display()),
    );
    let mut monitor = Monitor::start(&config, work);
    let metrics_url = monitor.metrics_url();
    monitor.wait_for_open_session(&metrics_url).await;
    let tmp = monitor.tmp.clone();
    let dirs = wait_for_browser(&tmp, &[], || monitor.log());
    let before = processes_in(&dirs);
    assert!(before.len() >= 2, "a driver and a browser: {before:#?}");

    let memory_mib = before.iter().map(|p| pss_kib(p)).sum::<u64>() / 1024;

    monitor.signal(libc::SIGKILL);
    let killed = Instant::now();
    monitor.wait_exit(Duration::from_secs(5));
    let browsers_gone = wait_until(Duration::from_secs(10), || processes_in(&dirs).is_empty());
    let all_gone = wait_until(Duration::from_secs(10), || {
        everything_under(&tmp).is_empty() && driver_dirs(&tmp).is_empty()
    });
    assert!(
        browsers_gone.is_some() && all_gone.is_some(),
        "left behind {:?} after kill -9: {:#?}, dirs {:?}\n{}",
        killed.elapsed(),
        everything_under(&tmp),
        driver_dirs(&tmp),
        monitor.log()
    );
    eprintln!(
        "{browser}: {} processes ({memory_mib} MiB PSS) gone {:?} after kill -9; guard and \
         temp dir gone after {:?}",
        before.len(),
        browsers_gone.unwrap(),
        killed.elapsed()
    );
    let log = monitor.log();
    assert!(
        log.contains(util::GUARD_CLEANED_UP) && log.contains("1 temp dir removed"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_run_leaves_no_chromium_chromedriver_or_profile() {
    sigkill_of_run_leaves_nothing("chrome").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_run_leaves_no_firefox_geckodriver_or_profile() {
    sigkill_of_run_leaves_nothing("firefox").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_check_leaves_no_browser_driver_or_profile() {
    require_browser("chrome");
    let _serial = SERIAL.lock().await;
    let _slot = util::browser_slot().await;
    let shop = slow_shop().await;
    let work = work_dir();
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let journey = holding_journey(work.path(), &shop.url(), "chrome");
    let mut check = spawn_check(&journey, &tmp, work.path());
    let log = || std::fs::read_to_string(work.path().join("check.log")).unwrap_or_default();
    wait_for_browser(&tmp, &[], log);

    sigkill(check.id());
    check.wait().unwrap();
    let gone = wait_until(Duration::from_secs(10), || {
        everything_under(&tmp).is_empty() && driver_dirs(&tmp).is_empty()
    });
    assert!(
        gone.is_some(),
        "left behind: {:#?}, dirs {:?}\n{}",
        everything_under(&tmp),
        driver_dirs(&tmp),
        log()
    );
}

/// The guard is killed too (as `kill -9` of everything or an OOM kill may do): the leftovers
/// stay, and the next start removes them, and only them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_start_reaps_what_a_killed_shopwatch_and_guard_left_and_nothing_live() {
    require_browser("chrome");
    let _serial = SERIAL.lock().await;
    let _slot = util::browser_slot().await;
    let shop = slow_shop().await;

    // A live monitor whose browser shares the TMPDIR: it must survive all that follows.
    let live_work = work_dir();
    let live_journey = holding_journey(live_work.path(), &shop.url(), "chrome");
    let live_config = write(
        live_work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\njourneys: [{}]\n",
            live_journey.display()
        ),
    );
    let mut live = Monitor::start(&live_config, live_work);
    let tmp = live.tmp.clone();
    let live_dirs = wait_for_browser(&tmp, &[], || live.log());
    // The driver and the browser's main process: renderers come and go as the page navigates.
    let live_processes: Vec<String> = processes_in(&live_dirs)
        .into_iter()
        .filter(|p| !p.contains("--type="))
        .collect();

    // A dir of ours without an owner file (an older shopwatch's): not provably dead, kept.
    let unowned = tmp.join("shopwatch-driver-unowned");
    std::fs::create_dir(&unowned).unwrap();

    // A `shopwatch check` whose guard and then itself are killed.
    let work = work_dir();
    let journey = holding_journey(work.path(), &shop.url(), "chrome");
    let mut check = spawn_check(&journey, &tmp, work.path());
    let log = || std::fs::read_to_string(work.path().join("check.log")).unwrap_or_default();
    let mut known = live_dirs.clone();
    known.push(unowned.clone());
    let dead_dirs = wait_for_browser(&tmp, &known, log);
    let guard = guard_of(check.id());
    sigkill(guard);
    assert!(
        wait_until(Duration::from_secs(5), || !Path::new(&format!(
            "/proc/{guard}/cmdline"
        ))
        .exists()
            || std::fs::read(format!("/proc/{guard}/cmdline"))
                .is_ok_and(|c| c.is_empty()))
        .is_some(),
        "the guard died"
    );
    sigkill(check.id());
    check.wait().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let leaked = processes_in(&dead_dirs);
    assert!(
        leaked.iter().any(|p| is_browser(p)),
        "without its guard, a killed shopwatch leaks its browser: {leaked:#?}"
    );

    // The next start: a `shopwatch check` of a journey without a browser.
    let next_work = work_dir();
    let quick = write(
        next_work.path(),
        "quick.yaml",
        &format!(
            "journey: quick\nbase_url: {}\nsteps:\n  - step: wait\n    do:\n      - sleep: 10ms\n",
            shop.url()
        ),
    );
    let started = Instant::now();
    let mut next = spawn_check(&quick, &tmp, next_work.path());
    let code = next.wait().unwrap().code();
    let next_log = std::fs::read_to_string(next_work.path().join("check.log")).unwrap();
    eprintln!(
        "the next start cleaned up and ran in {:?}",
        started.elapsed()
    );
    assert_eq!(code, Some(0), "{next_log}");
    assert!(
        next_log.contains("cleaned up after a shopwatch that was killed")
            && next_log.contains(&format!("left by shopwatch pid {}", check.id())),
        "{next_log}"
    );
    assert!(
        processes_in(&dead_dirs).is_empty(),
        "{:#?}",
        processes_in(&dead_dirs)
    );
    assert!(dead_dirs.iter().all(|d| !d.exists()), "{dead_dirs:?}");

    // The live monitor's browser and dir, and the unowned dir, are untouched.
    assert!(unowned.exists());
    assert!(live_dirs.iter().all(|d| d.exists()));
    let still: Vec<String> = processes_in(&live_dirs);
    for process in &live_processes {
        assert!(
            still.contains(process),
            "{process} of the live monitor was killed\n{}",
            live.log()
        );
    }
    std::fs::remove_dir(&unowned).unwrap();
    live.signal(libc::SIGTERM);
    live.wait_for_log("stopping: no new runs", Duration::from_secs(10));
    live.signal(libc::SIGTERM);
    assert_eq!(live.wait_exit(Duration::from_secs(30)), 0, "{}", live.log());
    live.assert_nothing_left();
    assert!(
        !live.log().contains(util::GUARD_CLEANED_UP),
        "{}",
        live.log()
    );
}
