//! `check --profile`: every WebDriver command an action sent, named as the specification
//! names it and timed, under each step on the console and in the JSON report (`steps[].actions`);
//! without `--profile` the report keeps only each step's sum (`steps[].webdriver`). The
//! `shopwatch` binary in Firefox and Chromium against the demo shop.

mod util;

use util::steps::*;
use util::*;

in_both_browsers!(
    each_action_s_commands_are_named_timed_and_summed_per_step,
    without_profile_the_report_keeps_only_each_step_s_sum,
    a_field_with_text_is_cleared_before_typing_and_an_empty_one_is_not,
);

const LOGIN: &str = r##"
journey: profiled-login
base_url: http://127.0.0.1:1
vars:
  password: { secret: env:PROFILE_TEST_PASSWORD }
steps:
  - step: login
    do:
      - open: /login?next=/cart
      - fill: { selector: "#email", value: shopper@example.com }
      - fill: { selector: "#password", value: "${password}" }
      - click: "#login-button"
      - wait_url: /cart
"##;

async fn profiled(browser: &str, profile: bool) -> Outcome {
    require_browser(browser);
    let shop = start_shop().await;
    let mut run =
        Run::journey(LOGIN, &shop.url(), browser).env("PROFILE_TEST_PASSWORD", "demo-password-123");
    if profile {
        run.args.push("--profile".to_string());
    }
    let out = run.go().await;
    assert_passed(&out);
    out
}

/// The commands of the action named `action` in step `login`.
fn commands_of<'a>(out: &'a Outcome, action: &str) -> Vec<&'a str> {
    let actions = out.step("login")["actions"].as_array().expect("actions");
    let found = actions
        .iter()
        .find(|a| {
            a["action"]
                .as_str()
                .is_some_and(|name| name.starts_with(action))
        })
        .unwrap_or_else(|| panic!("no action {action} in {actions:?}"));
    found["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .map(|c| c["command"].as_str().expect("command name"))
        .collect()
}

async fn each_action_s_commands_are_named_timed_and_summed_per_step(browser: &str) {
    let out = profiled(browser, true).await;
    let step = out.step("login");
    let actions = step["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 5, "one entry per action: {actions:?}");
    assert!(commands_of(&out, "open /login").contains(&"Navigate To"));
    // Chromium types and clicks as input actions (chromedriver's Send Keys and Element Click
    // cost more), Firefox with Send Keys and Element Click (geckodriver's actions cost more, and
    // do not wait for the page a click loads); one command a field or click either way.
    let (typing, clicking) = match browser {
        "firefox" => ("Element Send Keys", "Element Click"),
        _ => ("Perform Actions", "Perform Actions"),
    };
    assert!(commands_of(&out, "fill `#email`").contains(&typing));
    assert!(commands_of(&out, "click `#login-button`").contains(&clicking));
    // The step's sum is the sum of its actions'.
    let listed: usize = actions
        .iter()
        .map(|a| a["commands"].as_array().expect("commands").len())
        .sum();
    assert_eq!(
        step["webdriver"]["commands"].as_u64(),
        Some(listed as u64),
        "{step}"
    );
    let send_keys = step["webdriver"]["by_command"]
        .as_array()
        .expect("by_command")
        .iter()
        .find(|c| c["command"] == typing)
        .unwrap_or_else(|| panic!("{typing} in {step}"));
    // Two fields, and in Chromium the click too.
    let expected = if typing == clicking { 3 } else { 2 };
    assert_eq!(send_keys["count"], expected, "{step}");
    for action in actions {
        let ms = action["ms"].as_f64().expect("ms");
        let in_driver: f64 = action["commands"]
            .as_array()
            .expect("commands")
            .iter()
            .map(|c| c["ms"].as_f64().expect("command ms"))
            .sum();
        assert!(
            in_driver <= ms + 1.0,
            "commands fit in their action: {action}"
        );
    }
    // The console shows the same, under the step; the password only as its template.
    assert!(
        out.stderr.contains("WebDriver commands, ") && out.stderr.contains(clicking),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("fill `#password` with \"${password}\""),
        "{}",
        out.describe()
    );
    assert!(
        !out.stderr.contains("demo-password-123"),
        "{}",
        out.describe()
    );
    assert!(
        !out.stdout.contains("demo-password-123"),
        "{}",
        out.describe()
    );
}

async fn without_profile_the_report_keeps_only_each_step_s_sum(browser: &str) {
    let out = profiled(browser, false).await;
    let step = out.step("login");
    assert!(step.get("actions").is_none(), "{step}");
    assert!(
        step["webdriver"]["commands"].as_u64().unwrap_or(0) >= 5,
        "{step}"
    );
    assert!(
        !out.stderr.contains("WebDriver commands, "),
        "{}",
        out.describe()
    );
}

/// A fill replaces what a field holds: a field the page filled is cleared first (the login then
/// works with the typed address), an empty one is typed into at once.
async fn a_field_with_text_is_cleared_before_typing_and_an_empty_one_is_not(browser: &str) {
    require_browser(browser);
    let shop = start_shop().await;
    let yaml = r##"
journey: prefilled
base_url: http://127.0.0.1:1
steps:
  - step: login
    do:
      - open: /login?next=/cart
      - execute: "document.querySelector('#email').value = 'someone-else@example.com'"
      - fill: { selector: "#email", value: shopper@example.com }
      - fill: { selector: "#password", value: demo-password-123 }
      - click: "#login-button"
      - wait_url: /cart
"##;
    let mut run = Run::journey(yaml, &shop.url(), browser);
    run.args.push("--profile".to_string());
    let out = run.go().await;
    assert_passed(&out);
    assert!(
        commands_of(&out, "fill `#email`").contains(&"Element Clear"),
        "{}",
        out.describe()
    );
    assert!(
        !commands_of(&out, "fill `#password`").contains(&"Element Clear"),
        "{}",
        out.describe()
    );
}
