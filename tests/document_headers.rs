//! Documents behind a token: the feed, catalog and metric probes send their `headers` (a
//! secret, read at each run) with every request to the document's origin and to no other.
//! The servers are on 127.0.0.1: one answers 401 without the token, and each notes the
//! `Authorization` of every request it is sent. A redirect to another origin is refused, not
//! followed with the token. The monitor never shows the token.

mod util;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use shopwatch::probe::{parse_probes, Outcome, ProbeConfig, ProbeResult};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use util::monitor::{write, Monitor};

const TOKEN: &str = "Bearer erp-3f9c2a7d41b8e605";

/// What a server was asked: each path with the `Authorization` it came with.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct Served {
    pages: HashMap<String, String>,
    /// The `Authorization` every request must carry, when set.
    token: Option<&'static str>,
    seen: Seen,
}

async fn answer(State(served): State<Arc<Served>>, uri: Uri, headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap_or("?").to_string());
    served
        .seen
        .lock()
        .unwrap()
        .push((uri.path().to_string(), auth.clone()));
    if served.token.is_some() && auth.as_deref() != served.token {
        return (StatusCode::UNAUTHORIZED, "a token is needed").into_response();
    }
    match served.pages.get(uri.path()) {
        Some(body) if body.starts_with("redirect:") => (
            StatusCode::FOUND,
            [("location", body.trim_start_matches("redirect:").to_string())],
        )
            .into_response(),
        Some(body) => body.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A server with `pages` (path, body); its base URL and what it was asked.
async fn serve(pages: &[(&str, String)], token: Option<&'static str>) -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Seen::default();
    let served = Arc::new(Served {
        pages: pages
            .iter()
            .map(|(path, body)| (path.to_string(), body.replace("{base}", &base)))
            .collect(),
        token,
        seen: seen.clone(),
    });
    let app = Router::new().fallback(answer).with_state(served);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn probe(yaml: &str) -> ProbeConfig {
    match parse_probes(Path::new("probes.yaml"), yaml) {
        Ok(mut probes) => probes.remove(0),
        Err(e) => panic!("{e}\n{yaml}"),
    }
}

fn reason(result: &ProbeResult) -> &str {
    result.reason.as_deref().unwrap_or("")
}

fn asked(seen: &Seen) -> Vec<(String, Option<String>)> {
    seen.lock().unwrap().clone()
}

/// The ERP (behind the token) and the shop (elsewhere, open) of a catalog probe.
async fn erp_and_shop() -> (String, Seen, String, Seen) {
    let (erp, erp_seen) = serve(
        &[(
            "/export.csv",
            "sku,price,stock\nhouse-espresso,9.95,12\n".to_string(),
        )],
        Some(TOKEN),
    )
    .await;
    let page = "<div class=\"product-detail\"><span class=\"price\">€9.95</span><span class=\"stock\">12 in stock</span></div>";
    let (shop, shop_seen) = serve(&[("/product/house-espresso", page.to_string())], None).await;
    (erp, erp_seen, shop, shop_seen)
}

fn catalog(erp: &str, shop: &str, token_var: &str) -> ProbeConfig {
    probe(&format!(
        "probes:\n  - catalog:\n      name: erp\n      source: '{erp}/export.csv'\n      headers: {{Authorization: {{secret: 'env:{token_var}'}}}}\n      product_url: '{shop}/product/{{sku}}'\n      price_selector: .product-detail .price\n      stock_selector: .product-detail .stock\n      every: 1m\n      timeout: 5s\n"
    ))
}

#[tokio::test]
async fn the_catalog_sends_the_token_to_the_erp_and_not_to_the_shop() {
    std::env::set_var("DOC_HEADERS_ERP_TOKEN", TOKEN);
    let (erp, erp_seen, shop, shop_seen) = erp_and_shop().await;
    let result = catalog(&erp, &shop, "DOC_HEADERS_ERP_TOKEN").run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    assert_eq!(
        asked(&erp_seen),
        [("/export.csv".to_string(), Some(TOKEN.to_string()))]
    );
    assert_eq!(
        asked(&shop_seen),
        [("/product/house-espresso".to_string(), None)],
        "the shop's page must not get the ERP's token"
    );
}

#[tokio::test]
async fn a_token_the_erp_refuses_fails_and_one_not_set_is_the_monitors_error() {
    std::env::set_var("DOC_HEADERS_WRONG_TOKEN", "Bearer not-the-token-at-all");
    let (erp, _, shop, _) = erp_and_shop().await;
    let refused = catalog(&erp, &shop, "DOC_HEADERS_WRONG_TOKEN").run().await;
    assert_eq!(refused.outcome, Outcome::Failed);
    assert!(reason(&refused).contains("401"), "{}", reason(&refused));
    assert!(!reason(&refused).contains("not-the-token"));

    let unset = catalog(&erp, &shop, "DOC_HEADERS_UNSET_TOKEN").run().await;
    assert_eq!(unset.outcome, Outcome::Error);
    assert_eq!(
        reason(&unset),
        "the header `authorization`: environment variable DOC_HEADERS_UNSET_TOKEN is not set (export it, or give the secret a `default:`)"
    );
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_refused_rather_than_followed_with_the_token() {
    std::env::set_var("DOC_HEADERS_REDIRECT_TOKEN", TOKEN);
    let (elsewhere, elsewhere_seen) =
        serve(&[("/export.csv", "sku,price,stock\n".to_string())], None).await;
    let (erp, _) = serve(
        &[("/export.csv", format!("redirect:{elsewhere}/export.csv"))],
        Some(TOKEN),
    )
    .await;
    let (_, _, shop, _) = erp_and_shop().await;
    let result = catalog(&erp, &shop, "DOC_HEADERS_REDIRECT_TOKEN")
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).contains(&format!(
            "it redirects to {elsewhere}/export.csv, another origin than {erp}, where its headers are not sent: give the URL it ends at"
        )),
        "{}",
        reason(&result)
    );
    assert!(asked(&elsewhere_seen).is_empty(), "the token went along");
}

#[tokio::test]
async fn the_feed_sends_its_headers_to_its_own_origin_only() {
    std::env::set_var("DOC_HEADERS_FEED_TOKEN", TOKEN);
    let (other, other_seen) = serve(&[("/p/2", "ok".to_string())], None).await;
    let sitemap = format!(
        "<?xml version=\"1.0\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\"><url><loc>{{base}}/p/1</loc></url><url><loc>{other}/p/2</loc></url></urlset>"
    );
    let (shop, shop_seen) = serve(
        &[("/sitemap.xml", sitemap), ("/p/1", "ok".to_string())],
        Some(TOKEN),
    )
    .await;
    let feed = probe(&format!(
        "probes:\n  - feed:\n      name: sitemap\n      url: '{shop}/sitemap.xml'\n      headers: {{Authorization: {{secret: 'env:DOC_HEADERS_FEED_TOKEN'}}}}\n      sample: 2\n      every: 1m\n      timeout: 5s\n"
    ));
    let result = feed.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let mut on_shop = asked(&shop_seen);
    on_shop.sort();
    assert_eq!(
        on_shop,
        [
            ("/p/1".to_string(), Some(TOKEN.to_string())),
            ("/sitemap.xml".to_string(), Some(TOKEN.to_string())),
        ]
    );
    assert_eq!(asked(&other_seen), [("/p/2".to_string(), None)]);
}

#[tokio::test]
async fn the_metric_probe_reads_a_number_behind_a_token() {
    std::env::set_var("DOC_HEADERS_STATS_TOKEN", TOKEN);
    let (stats, seen) = serve(&[("/stats", "{\"orders\": 40}".to_string())], Some(TOKEN)).await;
    let metric = |headers: &str| {
        probe(&format!(
            "probes:\n  - metric:\n      name: orders\n      url: '{stats}/stats'\n      pointer: /orders\n{headers}      above: 200\n      every: 1m\n      timeout: 5s\n"
        ))
    };
    let without = metric("").run().await;
    assert_eq!(without.outcome, Outcome::Failed);
    assert!(
        reason(&without).contains("answered HTTP 401"),
        "{}",
        reason(&without)
    );
    let with =
        metric("      headers:\n        Authorization: {secret: 'env:DOC_HEADERS_STATS_TOKEN'}\n")
            .run()
            .await;
    // Read: it goes on to its history, which only `shopwatch run` has (the last test).
    assert_eq!(
        reason(&with),
        "no history to compare with: the metric probe runs in `shopwatch run`"
    );
    assert_eq!(asked(&seen).last().unwrap().1.as_deref(), Some(TOKEN));
}

/// In `shopwatch run`, with debug logs: the token is in neither the log nor /metrics, while
/// the probe that sends it passes.
#[tokio::test]
async fn the_monitor_never_shows_the_token() {
    let (stats, seen) = serve(&[("/stats", "{\"orders\": 40}".to_string())], Some(TOKEN)).await;
    let work = tempfile::tempdir().unwrap();
    let config = format!(
        "listen: 127.0.0.1:0\nprobes:\n  - metric:\n      name: orders\n      url: '{stats}/stats'\n      pointer: /orders\n      headers: {{Authorization: {{secret: 'env:SHOP_STATS_TOKEN'}}}}\n      above: 200\n      every: 10s\n"
    );
    let config = write(work.path(), "shopwatch.yaml", &config);
    let mut monitor = Monitor::start_with_env(&config, work, &[("SHOP_STATS_TOKEN", TOKEN)]);
    let metrics_url = monitor.metrics_url();
    let text = monitor
        .wait_for_text(
            &metrics_url,
            "shopwatch_probe_runs_total{probe=\"orders\",kind=\"metric\",outcome=\"ok\"} 1",
            Duration::from_secs(20),
        )
        .await;
    let secret = TOKEN.trim_start_matches("Bearer ");
    assert!(!text.contains(secret));
    let log = monitor.stop();
    assert!(!log.contains(secret), "{log}");
    assert_eq!(asked(&seen)[0].1.as_deref(), Some(TOKEN));
}
