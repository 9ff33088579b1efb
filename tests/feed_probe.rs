//! The feed probe against the demo shop's real documents: its sitemap (with `lastmod`), its
//! sitemap index (one child gzipped), its Google Shopping RSS feed and its CSV export, each
//! healthy and then broken by the shop's faults (empty, truncated, stale, a malformed item),
//! with a product page failing for the sampled links, and one showing another price than the
//! feed's.

mod util;

use shopwatch::probe::{parse_probes, Outcome, ProbeConfig, ProbeResult};
use std::path::Path;
use util::{start_shop, Fault, XmlFault};

/// The demo catalogue's products (`fixtures/demo-shop/src/catalog.rs`).
const PRODUCTS: u64 = 10;

fn feed(name: &str, url: &str, extra: &str) -> ProbeConfig {
    let yaml = format!(
        "probes:\n  - feed:\n      name: {name}\n      url: '{url}'\n      every: 1m\n      timeout: 10s\n{extra}"
    );
    match parse_probes(Path::new("probes.yaml"), &yaml) {
        Ok(mut probes) => probes.remove(0),
        Err(e) => panic!("{e}\n{yaml}"),
    }
}

fn reason(result: &ProbeResult) -> &str {
    result.reason.as_deref().unwrap_or("")
}

#[tokio::test]
async fn the_shopping_feed_passes_then_each_fault_fails_with_what_is_wrong() {
    let shop = start_shop().await;
    let url = format!("{}/feeds/google-shopping.xml", shop.url());
    let probe = feed(
        "shopping",
        &url,
        "      min_items: 5\n      max_drop: 20%\n      max_age: 1d\n      sample: 3\n",
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    let info = result.metrics.feed.as_ref().unwrap();
    assert_eq!(info.items, PRODUCTS);
    assert_eq!((info.invalid, info.sample_failures), (0, 0));
    assert!(info.last_modified.is_some(), "the feed's lastBuildDate");

    shop.set_faults(vec![Fault::Feed(XmlFault::Empty)]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!("0 items, fewer than min_items 5; 0 items, 100% fewer than the {PRODUCTS} of the last good run (max_drop 20%)")
    );

    shop.set_faults(vec![Fault::Feed(XmlFault::Malformed)]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with(&format!("{url}: not well-formed XML")),
        "{}",
        reason(&result)
    );

    shop.set_faults(vec![Fault::Feed(XmlFault::Invalid)]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    let why = reason(&result);
    assert!(
        why.starts_with(&format!("1 of {PRODUCTS} items are invalid: item 2 (")),
        "{why}"
    );
    assert!(
        why.contains("is not an amount with a currency (`12.50 EUR`)")
            && why.contains("availability `maybe` is not one of"),
        "{why}"
    );

    shop.set_faults(vec![Fault::Feed(XmlFault::Stale)]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).contains("(2020-01-01 00:00:00 UTC), over max_age 1day"),
        "{}",
        reason(&result)
    );
}

#[tokio::test]
async fn the_sitemap_and_its_gzipped_index_are_counted_and_dated() {
    let shop = start_shop().await;
    let sitemap = feed(
        "sitemap",
        &format!("{}/sitemap.xml", shop.url()),
        "      max_age: 1h\n      sample: 2\n",
    );
    let result = sitemap.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    let urls = result.metrics.feed.as_ref().unwrap().items;
    assert!(urls > PRODUCTS, "home, categories and products: {urls}");
    // The index lists the sitemap and the same again gzipped.
    let index = feed(
        "sitemap-index",
        &format!("{}/sitemap-index.xml", shop.url()),
        "      format: sitemap\n",
    );
    let result = index.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    assert_eq!(result.metrics.feed.as_ref().unwrap().items, 2 * urls);
    // A relative loc in the gzipped child is named with its place in the index.
    shop.set_faults(vec![Fault::Sitemap(XmlFault::Invalid)]);
    let result = index.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with("2 of ")
            && reason(&result).contains("is not an absolute http(s) URL"),
        "{}",
        reason(&result)
    );
    shop.set_faults(vec![Fault::Sitemap(XmlFault::Stale)]);
    let result = sitemap.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).contains("over max_age 1h"),
        "{}",
        reason(&result)
    );
}

#[tokio::test]
async fn the_csv_export_passes_and_a_broken_product_page_fails_the_sample() {
    let shop = start_shop().await;
    let csv = feed(
        "csv",
        &format!("{}/feeds/products.csv", shop.url()),
        &format!("      sample: {PRODUCTS}\n"),
    );
    let result = csv.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    assert_eq!(result.metrics.feed.as_ref().unwrap().items, PRODUCTS);
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/product/geisha".into(),
        code: 404,
    }]);
    let result = csv.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with(&format!(
            "1 of {PRODUCTS} sampled links failed: {}/product/geisha-reserve answered 404",
            shop.url()
        )),
        "{}",
        reason(&result)
    );
    assert_eq!(result.metrics.feed.as_ref().unwrap().sample_failures, 1);
    // A CSV without a required column names it on every line.
    let csv = feed(
        "csv-gtin",
        &format!("{}/feeds/products.csv", shop.url()),
        "      required: [id, gtin]\n",
    );
    let result = csv.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with(&format!(
            "{PRODUCTS} of {PRODUCTS} items are invalid: line 2 ("
        )),
        "{}",
        reason(&result)
    );
    assert!(reason(&result).contains("no gtin"));
}

#[tokio::test]
async fn each_sampled_product_page_must_show_the_feeds_price() {
    let shop = start_shop().await;
    let probe = feed(
        "shopping-prices",
        &format!("{}/feeds/google-shopping.xml", shop.url()),
        &format!("      sample: {PRODUCTS}\n      price_selector: .product-detail .price\n"),
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    assert_eq!(
        result.metrics.feed.as_ref().unwrap().price_mismatches,
        Some(0)
    );
    // The page of one product shows €10.90; the feed (and the catalogue) say 9.90.
    shop.set_faults(vec![Fault::PagePrice]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!(
            "1 of {PRODUCTS} sampled pages do not show the feed's price: {}/product/house-espresso shows 10.90, the feed 9.90 EUR",
            shop.url()
        )
    );
    assert_eq!(
        result.metrics.feed.as_ref().unwrap().price_mismatches,
        Some(1)
    );
    // A page without the price element is named, not passed.
    let probe = feed(
        "shopping-no-price",
        &format!("{}/feeds/google-shopping.xml", shop.url()),
        "      sample: 1\n      price_selector: .product-detail .sale-price\n",
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with("1 of 1 sampled pages do not show the feed's price: ")
            && reason(&result).ends_with(" has no `.product-detail .sale-price`"),
        "{}",
        reason(&result)
    );
    // Without `price_selector` the pages' prices are not read, and not exported.
    let plain = feed(
        "shopping-plain",
        &format!("{}/feeds/google-shopping.xml", shop.url()),
        &format!("      sample: {PRODUCTS}\n"),
    );
    let result = plain.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    assert_eq!(result.metrics.feed.as_ref().unwrap().price_mismatches, None);
}

#[tokio::test]
async fn what_is_not_a_feed_or_not_there_fails_saying_so() {
    let shop = start_shop().await;
    let result = feed("home", &format!("{}/", shop.url()), "").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result)
            .contains("not a sitemap (`<urlset>`), an RSS (`<rss>`) or Atom (`<feed>`) feed")
            || reason(&result).contains("not well-formed XML"),
        "{}",
        reason(&result)
    );
    let result = feed("gone", &format!("{}/feeds/none.xml", shop.url()), "")
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!("{}/feeds/none.xml answered 404 Not Found", shop.url())
    );
}

/// In `shopwatch run`: the feed's series are exported and pass promtool, and a fault shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_exports_the_feed_series() {
    use std::time::Duration;
    use util::monitor::{promtool_check_metrics, run_probe};
    let shop = start_shop().await;
    let (monitor, metrics, text) = run_probe(
        &format!(
            "- feed: {{name: shopping, url: '{}/feeds/google-shopping.xml', sample: 2, price_selector: .product-detail .price, max_age: 1d, every: 10s}}",
            shop.url()
        ),
        &format!("shopwatch_probe_feed_items{{probe=\"shopping\"}} {PRODUCTS}"),
    )
    .await;
    assert!(text.contains("shopwatch_probe_feed_invalid_items{probe=\"shopping\"} 0"));
    assert!(text.contains("shopwatch_probe_feed_sample_failures{probe=\"shopping\"} 0"));
    assert!(text.contains("shopwatch_probe_feed_price_mismatches{probe=\"shopping\"} 0"));
    assert!(
        text.contains("shopwatch_probe_feed_last_modified_timestamp_seconds{probe=\"shopping\"} ")
    );
    promtool_check_metrics(&text);
    shop.set_faults(vec![Fault::Feed(XmlFault::Invalid)]);
    monitor
        .wait_for_text(
            &metrics,
            "shopwatch_probe_feed_invalid_items{probe=\"shopping\"} 1",
            Duration::from_secs(20),
        )
        .await;
    monitor.stop();
}

/// The last good item count survives a restart: a feed emptied while shopwatch was down fails
/// `max_drop` in the first run after it, instead of becoming the new normal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_good_count_survives_a_restart() {
    use std::time::Duration;
    use util::monitor::{write, Monitor};
    let shop = start_shop().await;
    let state = tempfile::tempdir().unwrap();
    // `min_items: 0`: only the drop since the last good run can fail the empty feed.
    let config = |dir: &Path| {
        write(
            dir,
            "shopwatch.yaml",
            &format!(
                "listen: 127.0.0.1:0\nstate_dir: '{}'\nprobes:\n  - feed: {{name: shopping, url: '{}/feeds/google-shopping.xml', min_items: 0, max_drop: 20%, every: 10s}}\n",
                state.path().display(),
                shop.url()
            ),
        )
    };
    let work = tempfile::tempdir().unwrap();
    let mut monitor = Monitor::start(&config(work.path()), work);
    let metrics = monitor.metrics_url();
    monitor
        .wait_for_text(
            &metrics,
            "probe_success{probe=\"shopping\"} 1",
            Duration::from_secs(20),
        )
        .await;
    monitor.stop();
    let kept = std::fs::read_to_string(state.path().join("feed-counts.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&kept).unwrap(),
        serde_json::json!({"shopping": PRODUCTS})
    );

    shop.set_faults(vec![Fault::Feed(XmlFault::Empty)]);
    let work = tempfile::tempdir().unwrap();
    let mut monitor = Monitor::start(&config(work.path()), work);
    let metrics = monitor.metrics_url();
    monitor
        .wait_for_text(
            &metrics,
            "probe_success{probe=\"shopping\"} 0",
            Duration::from_secs(20),
        )
        .await;
    monitor.wait_for_log(
        &format!("0 items, 100% fewer than the {PRODUCTS} of the last good run (max_drop 20%)"),
        Duration::from_secs(5),
    );
    monitor.stop();
}
