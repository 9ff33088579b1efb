//! Plain HTTP GETs for the kinds that read a document rather than time a request (domain,
//! feed): a reqwest client trusting the system roots and an optional `ca_file`, and a body
//! read up to a cap.

use std::path::Path;
use std::time::Duration;

/// A client whose every request gives up after `timeout`.
pub(super) fn client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("shopwatch/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout);
    if let Some(file) = ca_file {
        let pem = std::fs::read(file)
            .map_err(|e| format!("cannot read ca_file {}: {e}", file.display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_file {}: {e}", file.display()))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))
}

/// The body, refused past `max` bytes.
pub(super) async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, String> {
    // Sized by Content-Length (within `max`): grown by doubling, a large body would take up to
    // twice its size.
    let expected = response.content_length().unwrap_or(0).min(max as u64) as usize;
    let mut body = Vec::with_capacity(expected);
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            return Err(format!("the answer is over {} MiB", max >> 20));
        }
    }
    Ok(body)
}
