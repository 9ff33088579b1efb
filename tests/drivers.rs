//! Local drivers kept between sessions: one geckodriver serves every run of a `check` and of a
//! monitor (each run still gets a fresh browser), one that dies while idle is replaced, and
//! none is left when shopwatch stops.

mod util;

use std::time::{Duration, Instant};
use util::monitor::{write, Monitor};
use util::*;

#[tokio::test(flavor = "multi_thread")]
async fn one_driver_serves_every_journey_of_a_check_and_is_gone_after() {
    require_browser("firefox");
    let shop = start_shop().await;
    let gift = repo_path("journeys/demo-shop.yaml");
    let card = repo_path("journeys/demo-shop-card.yaml");
    // `go` also asserts that no driver, browser or temp dir is left once `check` exits.
    let out = Run::new(&[
        "check",
        gift.to_str().unwrap(),
        card.to_str().unwrap(),
        "--base-url",
        &shop.url(),
        "--browser",
        "firefox",
    ])
    .env("SHOPWATCH_LOG", "shopwatch=debug")
    .go()
    .await;
    assert_eq!(out.code, 0, "{}", out.describe());
    assert_eq!(out.runs.len(), 2);
    let started = out.stderr.matches("started geckodriver at").count();
    assert_eq!(started, 1, "{}", out.describe());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_driver_that_died_while_idle_is_replaced_for_the_next_run() {
    require_browser("firefox");
    let _slot = browser_slot().await;
    let shop = start_shop().await;
    let work = tempfile::tempdir().unwrap();
    let journey = write(
        work.path(),
        "home.yaml",
        &format!(
            "journey: home\nbase_url: {}\nevery: 10s\nbrowser: firefox\nsteps:\n  - step: home\n    do:\n      - open: /\n      - wait_for: h1\n",
            shop.url()
        ),
    );
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\njourneys:\n  - {}\nartifacts:\n  dir: {}\n",
            journey.display(),
            work.path().join("artifacts").display()
        ),
    );
    let mut monitor = Monitor::start(&config, tempfile::tempdir().unwrap());
    let ok_runs = |log: &str| {
        log.lines()
            .filter(|l| l.contains("journey=home") && l.contains(" ok in "))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while ok_runs(&monitor.log()) == 0 {
        assert!(
            Instant::now() < deadline,
            "no run passed:\n{}",
            monitor.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Between runs the idle driver runs under the monitor's TMPDIR, and no browser: kill it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let driver = loop {
        let found = processes_under(&monitor.tmp);
        let drivers: Vec<&String> = found.iter().filter(|p| p.contains("geckodriver")).collect();
        let browsers = found.iter().any(|p| p.contains("firefox"));
        if let ([only], false) = (drivers.as_slice(), browsers) {
            break only.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no lone idle geckodriver: {found:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let pid: i32 = driver.split(':').next().unwrap().trim().parse().unwrap();
    let passed_before = ok_runs(&monitor.log());
    // SAFETY: kill(2) on a geckodriver our monitor started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    monitor.wait_for_log(
        "geckodriver had exited while idle; starting a new one",
        Duration::from_secs(60),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while ok_runs(&monitor.log()) == passed_before {
        assert!(Instant::now() < deadline, "{}", monitor.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    // `stop` asserts that no driver, browser or driver temp dir is left.
    let log = monitor.stop();
    assert!(
        !log.lines()
            .any(|l| l.contains("journey=home") && l.contains(" error")),
        "the dead driver is never a failed run: {log}"
    );
    assert_eq!(log.matches("started geckodriver at").count(), 2, "{log}");
}

/// A page's cookies and storage from the run before: `execute` fails the step when it finds
/// any, then leaves some for the next run to find.
const NEW_VISITOR: &str = r#"
steps:
  - step: new-visitor
    do:
      - open: /
      - execute: |
          if (document.cookie.includes('seen=') || localStorage.getItem('seen')) {
            throw new Error('state from an earlier run: ' + document.cookie);
          }
          document.cookie = 'seen=1; path=/; max-age=86400';
          localStorage.setItem('seen', '1');
"#;

#[tokio::test(flavor = "multi_thread")]
async fn firefox_starts_from_a_template_of_its_first_profile_and_each_run_is_a_new_visitor() {
    require_browser("firefox");
    let shop = start_shop().await;
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let journeys: Vec<String> = ["first", "second"]
        .iter()
        .map(|name| {
            let yaml = format!("journey: {name}\nbase_url: {}\n{NEW_VISITOR}", shop.url());
            let file = write(work.path(), &format!("{name}.yaml"), &yaml);
            file.to_str().unwrap().to_string()
        })
        .collect();
    let out = Run::new(&["check", &journeys[0], &journeys[1], "--browser", "firefox"])
        .env("XDG_CACHE_HOME", cache.to_str().unwrap())
        .env("SHOPWATCH_LOG", "shopwatch::webdriver=debug")
        .go()
        .await;
    assert_eq!(out.code, 0, "{}", out.describe());
    // The first session started from nothing and its caches were kept; the second used them.
    let kept = "kept what Firefox built on its first start as the profile template";
    assert_eq!(out.stderr.matches(kept).count(), 1, "{}", out.describe());
    let warmed = "Firefox starts from the profile template";
    assert_eq!(out.stderr.matches(warmed).count(), 1, "{}", out.describe());

    let templates: Vec<_> = std::fs::read_dir(cache.join("shopwatch"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    let [template] = templates.as_slice() else {
        panic!("one template, no staging dir left: {templates:?}");
    };
    let name = template.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("firefox-1"), "named by the build: {name}");
    let mut files: Vec<String> = std::fs::read_dir(template)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert!(files.contains(&"startupCache".to_string()), "{files:?}");
    for kept in &files {
        assert!(
            [
                "addonStartup.json.lz4",
                "compatibility.ini",
                "extension-preferences.json",
                "extensions.json",
                "startupCache"
            ]
            .contains(&kept.as_str()),
            "nothing a page can write is in the template: {files:?}"
        );
    }
}
