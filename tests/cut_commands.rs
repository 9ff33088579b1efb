//! A step its deadline cuts inside a WebDriver command, run for real in Firefox and Chromium:
//! the failed step still has its screenshot and HTML, and its reason names the command that
//! was running and for how long. Only a browser that does not answer within the grace is said
//! not to answer (and then there are no artifacts).

mod util;

use util::steps::*;
use util::*;

in_both_browsers!(
    a_page_load_cut_by_the_deadline_keeps_its_artifacts,
    a_command_running_past_the_deadline_gets_a_grace_for_the_artifacts,
    a_browser_that_never_answers_is_said_not_to_answer,
);

/// The page load starts 1.5 s into a 3 s step and never ends (the shop hangs on `/checkout`):
/// the deadline cuts it, and the page it left is captured.
async fn a_page_load_cut_by_the_deadline_keeps_its_artifacts(browser: &str) {
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Hang {
        path_prefix: "/checkout".into(),
    }]);
    let out = run_steps(
        &shop,
        browser,
        "cut",
        r#"
  - step: home
    do:
      - open: /
  - step: late-open
    timeout: 3s
    do:
      - sleep: 1500ms
      - open: /checkout
  - step: after
    always: true
    do:
      - open: /help
"#,
    )
    .await;
    let reason = failed_at(&out, "late-open", "timeout");
    assert_contains(
        &reason,
        "open /checkout: the page load was still running after 1.",
    );
    assert_contains(&reason, "(the step timeout (3s) ran out)");
    assert!(!reason.contains("did not answer"), "{reason}");
    assert_screenshot(&out, "late-open");
    let html = String::from_utf8_lossy(&artifact(&out, "late-open", "html")).to_string();
    assert!(
        html.contains("Welcome to Demo Shop"),
        "the page left: {html}"
    );
    let took = out.step("late-open")["duration_ms"]
        .as_f64()
        .expect("duration");
    assert!(
        (3000.0..4500.0).contains(&took),
        "cut at its deadline: {took} ms"
    );
    // The session stayed usable: the cleanup step ran in it.
    assert_eq!(out.step("after")["outcome"], "ok", "{}", out.describe());
}

/// A script busy for 3 s from 1.5 s into a 3 s step outlasts the deadline and its backstop;
/// it ends within the grace, and then the artifacts are taken.
async fn a_command_running_past_the_deadline_gets_a_grace_for_the_artifacts(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(&shop, browser, "cut", &busy_steps(3000)).await;
    let reason = failed_at(&out, "busy", "timeout");
    assert_contains(
        &reason,
        "execute script: the script was still running after 2.",
    );
    assert_contains(&reason, "(the step timeout (3s) ran out)");
    assert!(!reason.contains("did not answer"), "{reason}");
    assert_screenshot(&out, "busy");
    let html = String::from_utf8_lossy(&artifact(&out, "busy", "html")).to_string();
    assert!(html.contains("Welcome to Demo Shop"), "the page: {html}");
}

/// A script busy for 60 s does not end within the grace: the browser really does not answer,
/// the reason says so, there are no artifacts, and the next step gets a fresh session.
async fn a_browser_that_never_answers_is_said_not_to_answer(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(&shop, browser, "cut", &busy_steps(60_000)).await;
    let reason = failed_at(&out, "busy", "timeout");
    assert_contains(
        &reason,
        "execute script: the script was still running after 2.",
    );
    assert_contains(
        &reason,
        "(the step timeout (3s) ran out); the browser did not answer for 5 s more, so its session was ended without artifacts",
    );
    assert!(
        out.step("busy").get("artifacts").is_none(),
        "{}",
        out.describe()
    );
    assert_eq!(out.step("after")["outcome"], "ok", "{}", out.describe());
    // The script runs 60 s: ending before it shows it was not waited for, with room for a
    // loaded machine (a first bound of 40 s failed once while another build ran).
    assert!(
        out.elapsed < std::time::Duration::from_secs(55),
        "the stuck browser was not waited for: {:?}",
        out.elapsed
    );
}

/// A 3 s step that starts a script busy for `ms` 1.5 s in, then a cleanup step.
fn busy_steps(ms: u32) -> String {
    format!(
        r#"
  - step: home
    do:
      - open: /
  - step: busy
    timeout: 3s
    do:
      - sleep: 1500ms
      - execute: "const t = Date.now(); while (Date.now() - t < {ms}) {{}}"
  - step: after
    always: true
    do:
      - open: /help
"#
    )
}
