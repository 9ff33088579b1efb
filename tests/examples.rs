//! The example configurations under examples/ are valid: `shopwatch validate` accepts each.

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
