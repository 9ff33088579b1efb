//! `viewport:` is what the page sees (`window.innerWidth` x `innerHeight`), the same in Firefox
//! and Chromium, whatever each browser spends on its own frame: the shipped default and a
//! journey's own size, run for real against the demo shop.

mod util;

use util::*;

/// A journey that opens the shop and fails unless the page is `width` x `height`.
async fn page_size_is(browser: &str, viewport: Option<&str>, width: u32, height: u32) {
    require_browser(browser);
    let shop = start_shop().await;
    let viewport = viewport
        .map(|v| format!("viewport: {v}\n"))
        .unwrap_or_default();
    let yaml = format!(
        r#"journey: viewport
base_url: http://127.0.0.1:1
{viewport}steps:
  - step: measure
    do:
      - open: /
      - execute:
          script: "const got = innerWidth + 'x' + innerHeight; if (got !== '{width}x{height}') throw new Error('the page is ' + got);"
"#
    );
    let out = Run::journey(&yaml, &shop.url(), browser).go().await;
    assert_eq!(out.code, 0, "{}", out.describe());
    assert_eq!(out.step("measure")["outcome"], "ok", "{}", out.describe());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_viewport_is_1280x800_in_firefox() {
    page_size_is("firefox", None, 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_viewport_is_1280x800_in_chromium() {
    page_size_is("chrome", None, 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journey_viewport_is_the_page_size_in_firefox() {
    page_size_is("firefox", Some("1024x700"), 1024, 700).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journey_viewport_is_the_page_size_in_chromium() {
    page_size_is("chrome", Some("1024x700"), 1024, 700).await;
}
