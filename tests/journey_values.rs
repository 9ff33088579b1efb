//! `metric:` on `store_text`, `store_attr` and `http` `store`: the number read is in the run's
//! report (and so in `shopwatch_journey_value`, tested with the demo journey in
//! tests/monitor.rs), and a value outside `min`/`max` fails its step, naming value and text.

mod util;

use util::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_price_read_from_the_page_is_published_and_one_outside_its_limits_fails_the_step() {
    require_browser("firefox");
    let shop = start_shop().await;
    let yaml = r##"journey: values
base_url: http://127.0.0.1:1
steps:
  - step: product
    do:
      - open: /product/ethiopia-yirgacheffe
      - store_text: { selector: ".product-detail .price", as: price, metric: price, min: 1 }
      - store_attr: { selector: "#quantity", attr: value, as: qty, metric: quantity, max: 10 }
  - step: too-cheap
    do:
      - store_text: { selector: ".product-detail .price", as: again, metric: price, max: 5 }
"##;
    let out = Run::journey(yaml, &shop.url(), "firefox").go().await;
    assert_eq!(out.code, 1, "{}", out.describe());
    let product = out.step("product");
    assert_eq!(product["outcome"], "ok", "{}", out.describe());
    assert_eq!(
        product["values"],
        serde_json::json!([{"metric": "price", "value": 12.5}, {"metric": "quantity", "value": 1.0}]),
        "{}",
        out.describe()
    );
    // Outside its limit the value is still reported (a dashboard shows it) and the step fails.
    let cheap = out.step("too-cheap");
    assert_eq!(cheap["outcome"], "failed");
    assert_eq!(
        cheap["values"],
        serde_json::json!([{"metric": "price", "value": 12.5}])
    );
    let reason = cheap["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "store_text `.product-detail .price` as again: metric `price` is 12.5 (\"€12.50\"), over its maximum 5"
        ),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_number_from_an_api_is_published_and_text_without_one_fails() {
    let shop = start_shop().await;
    let yaml = r##"journey: api-values
base_url: http://127.0.0.1:1
vars:
  admin_token: { secret: env:VALUES_ADMIN_TOKEN }
steps:
  - step: balance
    do:
      - http:
          url: /api/gift-cards/GIFT-0500-CCCC
          headers: { Authorization: "Bearer ${admin_token}" }
          store:
            last4: code_last4
            balance: { path: balance_cents, metric: gift_card_cents, min: 100 }
  - step: no-number
    do:
      - http:
          url: /api/gift-cards/GIFT-0500-CCCC
          headers: { Authorization: "Bearer ${admin_token}" }
          store:
            code: { path: code_last4, metric: code }
"##;
    let out = Run::journey(yaml, &shop.url(), "firefox")
        .env("VALUES_ADMIN_TOKEN", "demo-admin-token")
        .go()
        .await;
    assert_eq!(out.code, 1, "{}", out.describe());
    assert_eq!(
        out.step("balance")["values"],
        serde_json::json!([{"metric": "gift_card_cents", "value": 50000.0}]),
        "{}",
        out.describe()
    );
    let failed = out.step("no-number");
    assert_eq!(failed["outcome"], "failed");
    let reason = failed["reason"].as_str().unwrap();
    assert!(
        reason.contains("no number in \"CCCC\" for metric `code`"),
        "{reason}"
    );
    assert!(failed.get("values").is_none(), "{failed}");
    // No browser was needed, and none started.
    assert!(out
        .run()
        .get("session_start_ms")
        .is_none_or(|v| v.is_null()));
}
