//! Journeys written as a few steps and run in both browsers, for the tests of single actions
//! (tests/actions.rs, tests/dialogs.rs, tests/actionability.rs): the runner, the per-browser test
//! pair, the way to the shipping form, and the assertions on the run's JSON report and its
//! artifacts.

use super::{require_browser, Outcome, Run, RunningShop};

/// Runs `$name(browser)` once per browser, as `$name::firefox` and `$name::chromium`.
macro_rules! in_both_browsers {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread")]
            async fn firefox() {
                super::$name("firefox").await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn chromium() {
                super::$name("chrome").await;
            }
        }
    )*};
}
pub(crate) use in_both_browsers;

/// Puts one Ethiopia Yirgacheffe in the cart and logs in, landing on the shipping form.
pub const TO_CHECKOUT: &str = r##"
  - step: to-checkout
    do:
      - open: /product/ethiopia-yirgacheffe
      - click: "#add-to-cart"
      - wait_for: { selector: ".cart-count", text: "1" }
      - open: /login?next=/checkout
      - fill: { selector: "#email", value: shopper@example.com }
      - fill: { selector: "#password", value: demo-password-123 }
      - click: "#login-button"
      - wait_url: /checkout
      - fill: { selector: "#name", value: Sam Shopper }
      - fill: { selector: "#street", value: Hauptstrasse 1 }
      - fill: { selector: "#city", value: Berlin }
      - fill: { selector: "#postcode", value: "10115" }
"##;

/// Runs `steps` (YAML, indented as list items of `steps:`) as journey `name` against `shop`.
pub async fn run_steps(shop: &RunningShop, browser: &str, name: &str, steps: &str) -> Outcome {
    require_browser(browser);
    steps_run(shop, browser, name, steps).go().await
}

/// The [`Run`] of [`run_steps`], to add arguments to before it goes.
pub fn steps_run<'a>(shop: &RunningShop, browser: &str, name: &str, steps: &str) -> Run<'a> {
    let yaml = format!(
        "journey: {name}\nbase_url: http://127.0.0.1:1\ndefaults: {{ timeout: 15s }}\nsteps:\n{steps}"
    );
    Run::journey(&yaml, &shop.url(), browser)
}

/// Asserts that the run passed, every step ok or slow.
pub fn assert_passed(out: &Outcome) {
    assert_eq!(out.code, 0, "{}", out.describe());
    for step in out.run()["steps"].as_array().expect("steps") {
        assert!(
            step["outcome"] == "ok" || step["outcome"] == "slow",
            "step {step}\n{}",
            out.describe()
        );
    }
}

/// Asserts that the run failed at step `name` with `class`, and returns its reason.
pub fn failed_at(out: &Outcome, name: &str, class: &str) -> String {
    assert_eq!(out.code, 1, "{}", out.describe());
    assert_eq!(out.run()["outcome"], "failed", "{}", out.describe());
    let step = out.step(name);
    assert_eq!(step["outcome"], "failed", "{}", out.describe());
    assert_eq!(step["reason_class"], class, "{}", out.describe());
    step["reason"].as_str().expect("reason").to_string()
}

pub fn assert_contains(reason: &str, wanted: &str) {
    assert!(
        reason.contains(wanted),
        "reason should contain {wanted:?}: {reason}"
    );
}

/// The artifact of step `name` whose file is `<name>.<extension>`, read.
pub fn artifact(out: &Outcome, name: &str, extension: &str) -> Vec<u8> {
    let artifacts = out.step(name)["artifacts"]
        .as_array()
        .unwrap_or_else(|| panic!("step {name} has artifacts\n{}", out.describe()));
    let path = artifacts
        .iter()
        .filter_map(|a| a.as_str())
        .find(|a| a.ends_with(&format!("{name}.{extension}")))
        .unwrap_or_else(|| panic!("no {extension} artifact of {name}: {artifacts:?}"));
    std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The failed step `name` has a screenshot among its artifacts, and it is a PNG.
pub fn assert_screenshot(out: &Outcome, name: &str) {
    let bytes = artifact(out, name, "png");
    assert!(
        bytes.starts_with(b"\x89PNG"),
        "the screenshot of {name} is a PNG"
    );
}
