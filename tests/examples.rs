//! The example configurations under examples/ are valid: `shopwatch validate` accepts each.

mod util;

use std::process::Command;

#[test]
fn every_example_configuration_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let output = Command::new(env!("CARGO_BIN_EXE_shopwatch"))
            .arg("validate")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{} does not validate:\n{}{}",
            path.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 1, "no example under {}", dir.display());
}

/// The demo monitor's shop probes (the feed and the ERP export, in shopwatch.yaml) pass against
/// the demo shop as shipped: the demo starts green.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_configuration_s_feed_and_catalog_probes_pass_against_the_demo_shop() {
    let shop = util::start_shop().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("shopwatch.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:8088", &shop.url());
    let config = shopwatch::config::monitor::parse_monitor(&root.join("shopwatch.yaml"), &text)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut checked = Vec::new();
    for probe in &config.probes {
        if !["shop-feed", "erp-catalog"].contains(&probe.name()) {
            continue;
        }
        let result = probe.run().await;
        assert_eq!(
            result.outcome,
            shopwatch::probe::Outcome::Ok,
            "{}: {:?}",
            probe.name(),
            result.reason
        );
        checked.push(probe.name().to_string());
    }
    assert_eq!(checked, ["shop-feed", "erp-catalog"]);
}
