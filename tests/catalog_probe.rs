//! The catalog probe against the demo shop: its ERP export (`/erp/export.csv`,
//! `/erp/export.json`, and the CSV as a file) compared with its product pages and with its
//! Google Shopping feed, healthy and then under each ERP fault (a price, a stock level, a
//! stock count, an unknown SKU, a stale export) and a product page showing another price; the
//! price tolerance, both stock rules, the rotating sample, pages read four at a time, and
//! `shopwatch run`'s series.

mod util;

use demo_shop::ErpFault;
use shopwatch::probe::{parse_probes, Outcome, ProbeConfig, ProbeResult};
use std::path::Path;
use util::{start_shop, Fault};

/// The demo catalogue's products (`fixtures/demo-shop/src/catalog.rs`).
const PRODUCTS: u64 = 10;

fn catalog(name: &str, source: &str, extra: &str) -> ProbeConfig {
    let yaml = format!(
        "probes:\n  - catalog:\n      name: {name}\n      source: '{source}'\n      every: 1m\n      timeout: 20s\n{extra}"
    );
    match parse_probes(Path::new("probes.yaml"), &yaml) {
        Ok(mut probes) => probes.remove(0),
        Err(e) => panic!("{e}\n{yaml}"),
    }
}

/// The shop side as product pages: the price's text, the stock's words.
fn pages(shop: &str) -> String {
    format!("      product_url: '{shop}/product/{{sku}}'\n      price_selector: .product-detail .price\n      stock_selector: .product-detail .stock\n")
}

fn reason(result: &ProbeResult) -> &str {
    result.reason.as_deref().unwrap_or("")
}

fn counts(result: &ProbeResult) -> (u64, u64, u64, u64) {
    let info = result.metrics.catalog.as_ref().expect("catalog metrics");
    (
        info.compared,
        info.price_mismatches,
        info.stock_mismatches,
        info.missing,
    )
}

#[tokio::test]
async fn the_csv_export_against_the_product_pages_passes_then_each_fault_names_the_sku() {
    let shop = start_shop().await;
    let probe = catalog(
        "erp-pages",
        &format!("{}/erp/export.csv", shop.url()),
        &format!("{}      max_age: 1d\n", pages(&shop.url())),
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    assert_eq!(counts(&result), (PRODUCTS, 0, 0, 0));
    let age = result.metrics.catalog.as_ref().unwrap().source_age.unwrap();
    assert!((0..60).contains(&age), "exported just now: {age}");

    shop.set_faults(vec![Fault::Erp(ErpFault::Price)]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!("1 of {PRODUCTS} SKUs differ in price from the source: house-espresso (9.95 in the source, 9.90 on the shop)")
    );
    assert_eq!(counts(&result), (PRODUCTS, 1, 0, 0));

    shop.set_faults(vec![Fault::Erp(ErpFault::Stock)]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!("1 of {PRODUCTS} SKUs differ in stock from the source: colombia-huila (out of stock in the source, in stock on the shop)")
    );
    assert_eq!(counts(&result), (PRODUCTS, 0, 1, 0));

    shop.set_faults(vec![Fault::Erp(ErpFault::UnknownSku)]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!(
            "1 of {} SKUs are missing on the shop: kenya-aa ({}/product/kenya-aa)",
            PRODUCTS + 1,
            shop.url()
        )
    );
    assert_eq!(counts(&result), (PRODUCTS + 1, 0, 0, 1));

    shop.set_faults(vec![Fault::Erp(ErpFault::Stale)]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with("the source was exported ")
            && reason(&result).ends_with("ago (2020-01-01 00:00:00 UTC), over max_age 1day"),
        "{}",
        reason(&result)
    );
    assert!(result.metrics.catalog.as_ref().unwrap().source_age.unwrap() > 365 * 86_400);

    // The other side: the ERP is right, the shop's page shows another price.
    shop.set_faults(vec![Fault::PagePrice]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!("1 of {PRODUCTS} SKUs differ in price from the source: house-espresso (9.90 in the source, 10.90 on the shop)")
    );
}

#[tokio::test]
async fn the_json_export_against_the_shopping_feed() {
    let shop = start_shop().await;
    let probe = catalog(
        "erp-feed",
        &format!("{}/erp/export.json", shop.url()),
        &format!(
            "      feed: '{}/feeds/google-shopping.xml'\n      max_age: 1h\n",
            shop.url()
        ),
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    assert_eq!(counts(&result), (PRODUCTS, 0, 0, 0));

    shop.set_faults(vec![Fault::Erp(ErpFault::Price)]);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!("1 of {PRODUCTS} SKUs differ in price from the source: house-espresso (9.95 in the source, 9.90 on the shop)")
    );

    shop.set_faults(vec![Fault::Erp(ErpFault::Stock)]);
    let result = probe.run().await;
    assert_eq!(counts(&result), (PRODUCTS, 0, 1, 0));
    assert!(
        reason(&result)
            .contains("colombia-huila (out of stock in the source, in stock on the shop)"),
        "{}",
        reason(&result)
    );

    shop.set_faults(vec![Fault::Erp(ErpFault::UnknownSku)]);
    let result = probe.run().await;
    assert_eq!(
        reason(&result),
        format!(
            "1 of {} SKUs are missing on the shop: kenya-aa (not in the feed)",
            PRODUCTS + 1
        )
    );

    // The JSON's own `exported_at`, not only Last-Modified, says how old it is.
    shop.set_faults(vec![Fault::Erp(ErpFault::Stale)]);
    let result = probe.run().await;
    assert!(
        reason(&result).ends_with("(2020-01-01 00:00:00 UTC), over max_age 1h"),
        "{}",
        reason(&result)
    );

    // An empty feed: every SKU is missing, five named.
    shop.set_faults(vec![Fault::Feed(util::XmlFault::Empty)]);
    let result = probe.run().await;
    assert_eq!(counts(&result), (PRODUCTS, 0, 0, PRODUCTS));
    assert!(
        reason(&result).starts_with(&format!("{PRODUCTS} of {PRODUCTS} SKUs are missing on the shop: ethiopia-yirgacheffe (not in the feed), "))
            && reason(&result).ends_with(", ..."),
        "{}",
        reason(&result)
    );
}

#[tokio::test]
async fn a_price_within_the_tolerance_passes_and_one_outside_fails() {
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Erp(ErpFault::Price)]);
    let source = format!("{}/erp/export.csv", shop.url());
    let feed = format!("      feed: '{}/feeds/google-shopping.xml'\n", shop.url());
    // 9.95 in the ERP, 9.90 in the shop: 0.05 apart, 0.5% of the price.
    for (tolerance, outcome) in [
        ("0.05", Outcome::Ok),
        ("0.04", Outcome::Failed),
        ("1%", Outcome::Ok),
        ("0.4%", Outcome::Failed),
        ("[0.01, 1%]", Outcome::Ok),
    ] {
        let probe = catalog(
            "erp-tolerance",
            &source,
            &format!("{feed}      price_tolerance: {tolerance}\n"),
        );
        let result = probe.run().await;
        assert_eq!(result.outcome, outcome, "{tolerance}: {}", reason(&result));
    }
}

#[tokio::test]
async fn presence_ignores_a_count_that_exact_catches() {
    let shop = start_shop().await;
    let source = format!("{}/erp/export.csv", shop.url());
    // The product page's `data-stock` attribute holds the number.
    let exact = catalog(
        "erp-exact",
        &source,
        &format!(
            "      product_url: '{}/product/{{sku}}'\n      stock_selector: .product-detail\n      stock_attribute: data-stock\n      stock: exact\n",
            shop.url()
        ),
    );
    let presence = catalog("erp-presence", &source, &pages(&shop.url()));
    assert_eq!(exact.run().await.outcome, Outcome::Ok);
    shop.set_faults(vec![Fault::Erp(ErpFault::StockCount)]);
    let result = presence.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    let result = exact.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!("1 of {PRODUCTS} SKUs differ in stock from the source: colombia-huila (38 in the source, 40 on the shop)")
    );
    // The words on the page carry no number: `exact` says so instead of guessing.
    let words = catalog(
        "erp-exact-words",
        &source,
        &format!("{}      stock: exact\n", pages(&shop.url())),
    );
    let result = words.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with(&format!("{} of {PRODUCTS} SKUs differ in stock from the source: ethiopia-yirgacheffe (50 in the source, in stock on the shop), ", PRODUCTS - 1)),
        "{}",
        reason(&result)
    );
}

#[tokio::test]
async fn a_sample_compares_a_different_few_each_run() {
    let shop = start_shop().await;
    // The export's 11th SKU is unknown to the shop: only the run whose sample holds it fails.
    shop.set_faults(vec![Fault::Erp(ErpFault::UnknownSku)]);
    let probe = catalog(
        "erp-sample",
        &format!("{}/erp/export.csv", shop.url()),
        &format!("{}      sample: 4\n", pages(&shop.url())),
    );
    let outcomes: Vec<(Outcome, u64)> = {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let result = probe.run().await;
            seen.push((result.outcome, counts(&result).0));
        }
        seen
    };
    assert_eq!(
        outcomes,
        [(Outcome::Ok, 4), (Outcome::Ok, 4), (Outcome::Failed, 4)]
    );
}

#[tokio::test]
async fn the_export_as_a_file_is_dated_by_its_modification_time() {
    let shop = start_shop().await;
    let csv = reqwest::get(format!("{}/erp/export.csv", shop.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    std::fs::write(&file, csv).unwrap();
    let probe = catalog(
        "erp-file",
        &file.display().to_string(),
        &format!("{}      max_age: 1h\n", pages(&shop.url())),
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    assert_eq!(counts(&result), (PRODUCTS, 0, 0, 0));
    // The export job stopped writing it: the file is gone.
    std::fs::remove_file(&file).unwrap();
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with(&format!("cannot read {}: ", file.display())),
        "{}",
        reason(&result)
    );
}

/// A shop whose product pages each take 200 ms: the most asked for at once, and the pages.
async fn slow_pages() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let seen = most.clone();
    let app = axum::Router::new().route(
        "/product/{sku}",
        axum::routing::get(move || {
            let (now, most) = (now.clone(), most.clone());
            async move {
                let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(at_once, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                "<p class=\"price\">€1.00</p><p class=\"stock\">in stock</p>"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

#[tokio::test]
async fn product_pages_are_read_four_at_a_time() {
    let (shop, most) = slow_pages().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    let rows: String = (1..=10).map(|i| format!("sku-{i},1.00,5\n")).collect();
    std::fs::write(&file, format!("sku,price,stock\n{rows}")).unwrap();
    let probe = catalog(
        "erp-many",
        &file.display().to_string(),
        &format!("      product_url: '{shop}/product/{{sku}}'\n      price_selector: .price\n      stock_selector: .stock\n"),
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", reason(&result));
    assert_eq!(counts(&result), (10, 0, 0, 0));
    // Not one after the other, and never more than four at once on the shop.
    assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[test]
fn a_probe_without_the_shops_side_is_a_located_error() {
    let yaml = "probes:\n  - catalog:\n      name: erp\n      source: https://erp.example/export.csv\n      every: 1h\n";
    let error = parse_probes(Path::new("probes.yaml"), yaml)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            "probes.yaml:2:5: the catalog probe needs the shop's side: `product_url` or `feed`"
        ),
        "{error}"
    );
}

/// In `shopwatch run`: the catalog series are exported and pass promtool, and a fault shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_exports_the_catalog_series() {
    use std::time::Duration;
    use util::monitor::{promtool_check_metrics, run_probe};
    let shop = start_shop().await;
    let (monitor, metrics, text) = run_probe(
        &format!(
            "- catalog: {{name: erp, source: '{0}/erp/export.json', feed: '{0}/feeds/google-shopping.xml', max_age: 1d, every: 10s}}",
            shop.url()
        ),
        &format!("shopwatch_probe_catalog_compared{{probe=\"erp\"}} {PRODUCTS}"),
    )
    .await;
    for zero in ["price_mismatches", "stock_mismatches", "missing"] {
        assert!(
            text.contains(&format!(
                "shopwatch_probe_catalog_{zero}{{probe=\"erp\"}} 0\n"
            )),
            "{zero}: {text}"
        );
    }
    assert!(text.contains(&format!(
        "shopwatch_probe_catalog_source_items{{probe=\"erp\"}} {PRODUCTS}\n"
    )));
    assert!(text.contains("shopwatch_probe_catalog_source_age_seconds{probe=\"erp\"} "));
    promtool_check_metrics(&text);
    shop.set_faults(vec![Fault::Erp(ErpFault::Price)]);
    monitor
        .wait_for_text(
            &metrics,
            "shopwatch_probe_catalog_price_mismatches{probe=\"erp\"} 1",
            Duration::from_secs(20),
        )
        .await;
    monitor.stop();
}
