//! A real Selenium Grid on 127.0.0.1: a hub and two nodes (Firefox through geckodriver,
//! Chromium through chromedriver) from the Selenium 3.141.59 standalone server (the npm package
//! `selenium-server`; `scripts/install-deps` fetches it) on the machine's Java. `shopwatch run`
//! with the README's Grid configuration runs a Firefox and a Chromium journey through the hub,
//! both sessions open at once (`max_sessions: 2`). A node killed in the middle of a run makes
//! that run an `error` (the monitor's fault), never `failed`, and the runs go on through the
//! node that is left.

mod util;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use util::monitor::{free_port, get_text, write, Monitor};
use util::{repo_path, require_browser, start_shop, Fault};

const SELENIUM_JAR: &str = "selenium-server-standalone-3.141.59.jar";

/// The Selenium server jar: `SHOPWATCH_SELENIUM_JAR`, or where `scripts/install-deps` puts it.
fn selenium_jar() -> PathBuf {
    let jar = std::env::var_os("SHOPWATCH_SELENIUM_JAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache")
                });
            cache.join("shopwatch").join(SELENIUM_JAR)
        });
    assert!(
        jar.is_file(),
        "the Selenium server jar is not at {}: run `bash scripts/install-deps` (or set SHOPWATCH_SELENIUM_JAR)",
        jar.display()
    );
    jar
}

fn on_path(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(program))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{program} is not on PATH: run `bash scripts/install-deps`"))
}

/// One Selenium server process (hub or node) in its own process group, with its own TMPDIR
/// (where its drivers put their browser profiles) and its log in a file.
struct Server {
    child: Child,
    tmp: PathBuf,
    log: PathBuf,
}

impl Server {
    fn start(
        dir: &Path,
        name: &str,
        java_props: &[String],
        args: &[String],
        env: &[(&str, &str)],
    ) -> Server {
        let tmp = dir.join(format!("{name}-tmp"));
        std::fs::create_dir_all(&tmp).unwrap();
        let log = dir.join(format!("{name}.log"));
        let mut command = Command::new(on_path("java"));
        command
            .arg(format!("-Djava.io.tmpdir={}", tmp.display()))
            .args(java_props)
            .arg("-jar")
            .arg(selenium_jar())
            .args(args)
            .env("TMPDIR", &tmp)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join(format!("{name}.err"))).unwrap())
            .process_group(0);
        let child = command.spawn().expect("start java");
        Server { child, tmp, log }
    }

    fn log(&self) -> String {
        let out = std::fs::read_to_string(&self.log).unwrap_or_default();
        let err = std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default();
        format!("{out}{err}")
    }

    /// Sessions the node started so far, by its log.
    fn sessions_started(&self) -> usize {
        self.log().matches("Started new session").count()
    }

    /// SIGKILL to the Java process alone, as a crashed node (its drivers and browsers stay).
    fn kill_java(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = self.child.id() as i32;
        // SAFETY: kill(2) on the process group of a child this test started.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.wait();
        // A killed node's drivers and browsers, wherever they went.
        util::kill_processes_under(&self.tmp);
    }
}

/// A hub with a Firefox and a Chromium node, one session each; the hub's URL.
struct Grid {
    hub: Server,
    firefox: Server,
    chrome: Server,
    url: String,
    _dir: tempfile::TempDir,
}

impl Grid {
    async fn start() -> Grid {
        let dir = tempfile::Builder::new()
            .prefix("shopwatch-grid-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        // A new session no node can take fails after 5 s instead of waiting for ever.
        let hub = Server::start(
            dir.path(),
            "hub",
            &[],
            &strings(&[
                "-role",
                "hub",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
                "-newSessionWaitTimeout",
                "5000",
            ]),
            &[],
        );
        let node = |browser: &str, property: String, env: &[(&str, &str)]| {
            Server::start(
                dir.path(),
                browser,
                &[property],
                &strings(&[
                    "-role",
                    "node",
                    "-host",
                    "127.0.0.1",
                    "-port",
                    &free_port().to_string(),
                    "-hub",
                    &format!("{url}/grid/register"),
                    "-browser",
                    &format!("browserName={browser},maxInstances=1"),
                    "-maxSession",
                    "1",
                    "-registerCycle",
                    "1000",
                    // The hub notices a dead node within seconds, not after a minute.
                    "-nodePolling",
                    "1000",
                    "-downPollingLimit",
                    "1",
                    "-unregisterIfStillDownAfter",
                    "3000",
                ]),
                env,
            )
        };
        let firefox = node(
            "firefox",
            format!(
                "-Dwebdriver.gecko.driver={}",
                on_path("geckodriver").display()
            ),
            // Selenium 3 does not pass `moz:firefoxOptions` args on to geckodriver: the node
            // runs Firefox headless by its environment, as a Grid node without a display must.
            &[("MOZ_HEADLESS", "1")],
        );
        let chrome = node(
            "chrome",
            format!(
                "-Dwebdriver.chrome.driver={}",
                on_path("chromedriver").display()
            ),
            &[],
        );
        let grid = Grid {
            hub,
            firefox,
            chrome,
            url,
            _dir: dir,
        };
        grid.wait_for_slots(2, Duration::from_secs(60)).await;
        grid
    }

    /// The hub's slots (total, free).
    async fn slots(&self) -> Option<(u64, u64)> {
        let answer: serde_json::Value = reqwest::get(format!("{}/grid/api/hub", self.url))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let counts = &answer["slotCounts"];
        Some((counts["total"].as_u64()?, counts["free"].as_u64()?))
    }

    async fn wait_for_slots(&self, total: u64, within: Duration) {
        let deadline = Instant::now() + within;
        while self.slots().await.is_none_or(|(t, _)| t != total) {
            assert!(
                Instant::now() < deadline,
                "the Grid has not {total} slots within {within:?}: {:?}\nhub:\n{}\nfirefox node:\n{}\nchrome node:\n{}",
                self.slots().await,
                self.hub.log(),
                self.firefox.log(),
                self.chrome.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn logs(&self) -> String {
        format!(
            "hub:\n{}\nfirefox node:\n{}\nchrome node:\n{}",
            self.hub.log(),
            self.firefox.log(),
            self.chrome.log()
        )
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The README's Grid configuration (after `<!-- grid-config -->`), its hub address replaced.
fn readme_grid_config(hub: &str) -> String {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let block = readme
        .split("<!-- grid-config -->")
        .nth(1)
        .and_then(|rest| rest.split("```yaml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a ```yaml block after <!-- grid-config -->");
    let written = "http://selenium-hub:4444/wd/hub";
    assert!(block.contains(written), "{block}");
    assert!(block.contains("max_sessions: 2"), "{block}");
    block.replace(written, &format!("{hub}/wd/hub"))
}

/// A journey file in `dir` named `name`: browse to a product page of `shop`, in `browser`.
fn journey(dir: &Path, name: &str, browser: &str, shop: &str) -> PathBuf {
    write(
        dir,
        &format!("{name}.yaml"),
        &format!(
            "journey: {name}\nbase_url: {shop}\nevery: 10s\ntimeout: 1m\nbrowser: {browser}\nsteps:\n  - step: browse\n    do:\n      - open: /\n      - click: \"a.category[href='/category/coffee']\"\n      - wait_for: \".product-card\"\n  - step: product\n    do:\n      - click: {{ link_text: Ethiopia Yirgacheffe }}\n      - assert_text: {{ selector: h1.product-name, equals: Ethiopia Yirgacheffe }}\n"
        ),
    )
}

/// The sum of the series `name` whose labels include `labels` in an exposition (0 when none).
fn value(exposition: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn runs(exposition: &str, journey: &str, outcome: &str) -> f64 {
    value(
        exposition,
        "shopwatch_journey_runs_total",
        &[("journey", journey), ("outcome", outcome)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journeys_run_through_a_grid_in_parallel_and_a_dead_node_is_a_monitor_error() {
    require_browser("firefox");
    require_browser("chrome");
    let _slots = util::browser_slots(2).await;
    let mut grid = Grid::start().await;
    let shop = start_shop().await;
    // The product page takes 4 s: each run is long enough that the two journeys' runs (every
    // 10 s) are open at the same time.
    shop.set_faults(vec![Fault::Delay {
        path_prefix: "/product".to_string(),
        ms: 4000,
    }]);
    let work = tempfile::Builder::new()
        .prefix("shopwatch-grid-run-")
        .tempdir()
        .unwrap();
    journey(work.path(), "grid-firefox", "firefox", &shop.url());
    journey(work.path(), "grid-chrome", "chrome", &shop.url());
    let config = readme_grid_config(&grid.url)
        .replace("journeys/*.yaml", "grid-*.yaml")
        .replace("listen: 0.0.0.0:9464", "listen: 127.0.0.1:0");
    let config = write(work.path(), "shopwatch.yaml", &config);
    let mut monitor = Monitor::start(&config, work);
    let metrics = monitor.metrics_url();

    // Both journeys pass through the hub, with both sessions open at once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut both_open = false;
    loop {
        let exposition = get_text(&metrics).await;
        both_open |= value(
            &exposition,
            "shopwatch_browser_sessions",
            &[("state", "active")],
        ) == 2.0;
        let passed = |journey: &str| runs(&exposition, journey, "ok") >= 1.0;
        if both_open && passed("grid-firefox") && passed("grid-chrome") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no passing run of each journey with both sessions open (both open: {both_open}):\n{exposition}\n{}\n{}",
            monitor.log(),
            grid.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // `/healthz` asks the hub's W3C status endpoint, under `/wd/hub`.
    let health: serde_json::Value =
        serde_json::from_str(&get_text(&metrics.replace("/metrics", "/healthz")).await)
            .expect("/healthz JSON");
    assert_eq!(health["webdriver_reachable"], true, "{health}");
    assert_eq!(health["status"], "ok", "{health}");
    assert!(grid.firefox.sessions_started() >= 1, "{}", grid.logs());
    assert!(grid.chrome.sessions_started() >= 1, "{}", grid.logs());

    // The Chromium node dies in the middle of a run: that run is the monitor's error.
    let started = grid.chrome.sessions_started();
    let deadline = Instant::now() + Duration::from_secs(30);
    while grid.chrome.sessions_started() == started {
        assert!(
            Instant::now() < deadline,
            "no new Chromium session:\n{}",
            grid.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The run is now in its first step, or waiting 4 s for the product page.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before = get_text(&metrics).await;
    let firefox_ok = runs(&before, "grid-firefox", "ok");
    grid.chrome.kill_java();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let exposition = get_text(&metrics).await;
        let errors = runs(&exposition, "grid-chrome", "error");
        let ok_after = runs(&exposition, "grid-firefox", "ok");
        // The Firefox node takes the next runs: they pass.
        if errors >= 2.0 && ok_after >= firefox_ok + 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the kill: {errors} error runs of grid-chrome, {ok_after} passing runs of grid-firefox (before: {firefox_ok}):\n{exposition}\n{}\n{}",
            monitor.log(),
            grid.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let exposition = get_text(&metrics).await;
    // Never the shop's failure, in either journey.
    for journey in ["grid-chrome", "grid-firefox"] {
        assert_eq!(
            runs(&exposition, journey, "failed"),
            0.0,
            "{journey} counted a failure:\n{exposition}\n{}",
            monitor.log()
        );
    }
    assert!(
        value(&exposition, "shopwatch_monitor_errors_total", &[]) >= 2.0,
        "{exposition}"
    );
    let log = monitor.log();
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("grid-chrome") && l.contains(" error"))
        .collect();
    assert!(!errors.is_empty(), "{log}");
    // The killed run was under way: a command of its live session could not reach the node
    // (not only a session the hub could not create).
    assert!(
        errors
            .iter()
            .any(|l| l.contains("cannot forward the request")),
        "{errors:#?}"
    );
    eprintln!("grid-chrome after the kill:\n{}", errors.join("\n"));
    // The refusal names the hub's reason in one line, without Selenium's Java stack trace.
    assert!(!log.contains("\tat org.openqa"), "{log}");
    assert!(!log.contains("failed at step"), "{log}");
    monitor.stop();
}
