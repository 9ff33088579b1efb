//! The `feed` probe: the documents a shop's traffic depends on besides its pages. An XML
//! sitemap (a sitemap index too, and gzip), a Google Shopping feed (RSS 2.0 with the `g:`
//! namespace, or Atom) or a CSV/TSV product feed is fetched and parsed, and then checked:
//! - at least `min_items` items, and not down more than `max_drop` since the last good run;
//! - every item has the fields its format requires, well-formed (a sitemap's absolute `loc`; a
//!   Shopping item's id, title, link, price with its currency, availability from Google's set,
//!   image_link); the bad items are named;
//! - fresh: the newest `lastmod`, the feed's own date, or else HTTP `Last-Modified`, within
//!   `max_age`;
//! - `sample` of its links (a different few each run) answer 200, and with `price_selector`
//!   each sampled page shows the item's price (`sale_price` when it has one).
//!
//! `failed` for each of those (all are reported together), for a document that does not parse
//! or a fetch that fails; `error` only for the monitor's own faults (an unreadable `ca_file`).

use super::product_page::{self, parse_amount, parse_data_amount, show_amount};
use super::{feed_counts, fetch, Kind, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{http_url, opt_scalar_text, scalar_text};
use quick_xml::events::Event;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Largest document read, after decompression: Google takes feeds up to 4 GB, but a probe
/// that reads more than this many bytes every few minutes is the wrong tool.
const MAX_DOCUMENT: usize = 64 * 1024 * 1024;
/// Child sitemaps of an index read at most.
const MAX_CHILD_SITEMAPS: usize = 50;
/// Bad items named in a reason at most.
const NAMED_ITEMS: usize = 5;
/// Google Shopping's availability values (and the older spellings with a space).
const AVAILABILITY: [&str; 8] = [
    "in_stock",
    "out_of_stock",
    "preorder",
    "backorder",
    "in stock",
    "out of stock",
    "available for order",
    "limited_availability",
];

/// What the document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Decided from the document: `<urlset>`/`<sitemapindex>`, `<rss>`, `<feed>`, else CSV.
    Auto,
    Sitemap,
    /// RSS 2.0 or Atom with Google's `g:` fields.
    Shopping,
    /// Comma- or tab-separated, a header line first.
    Csv,
}

/// A validated `feed` probe.
#[derive(Debug, Clone)]
pub struct FeedProbe {
    pub name: String,
    pub url: Url,
    pub format: Format,
    pub min_items: u64,
    /// The largest drop in items since the last good run, as a fraction (0.2 for `20%`).
    pub max_drop: Option<f64>,
    pub max_age: Option<Duration>,
    /// Links checked per run.
    pub sample: usize,
    /// Fields every Shopping or CSV item must have; default Google's required ones.
    pub required: Vec<String>,
    /// The element of a sampled product page that shows its price, compared with the item's.
    pub price_selector: Option<String>,
    pub ca_file: Option<PathBuf>,
    /// Sent with every request to the origin of `url` (the feed, a sitemap index's sitemaps,
    /// sampled links), never to another.
    pub headers: fetch::Headers,
    pub every: Duration,
    pub timeout: Duration,
}

/// One item of a feed or URL of a sitemap: its fields by (local) name, and where it is.
#[derive(Debug, Default)]
pub(super) struct Item {
    /// 1-based: the item's place in the document (for a CSV, its line).
    at: usize,
    fields: HashMap<String, String>,
}

impl Item {
    pub(super) fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .get(field)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// How a reason names it: `item 3 (id mug-42)`.
    fn shown(&self, kind: &str) -> String {
        match self.get("id").or_else(|| self.get("loc")) {
            Some(id) => format!("{kind} {} ({id})", self.at),
            None => format!("{kind} {}", self.at),
        }
    }
}

/// What a document held ([`read`] hands its items on instead of keeping them).
#[derive(Debug, Default)]
pub(super) struct Document {
    format: Option<Format>,
    pub(super) items: Vec<Item>,
    /// The feed's own date (RSS lastBuildDate/pubDate, Atom updated), newest `lastmod` of a
    /// sitemap; Unix seconds.
    newest: Option<i64>,
    /// A sitemap index's child sitemaps.
    children: Vec<String>,
}

/// What the probe keeps of a feed's items while it reads them.
#[derive(Debug, Default)]
struct Tally {
    count: u64,
    invalid: u64,
    /// The first [`NAMED_ITEMS`] bad items, as the reason names them.
    named: Vec<String>,
    /// Each link with the price its page should show, when links are sampled: the rotating
    /// start of the sample needs them all.
    links: Vec<(String, Option<String>)>,
}

/// What the feed probe found, for the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedInfo {
    /// Items (or URLs). Feeds `shopwatch_probe_feed_items`.
    pub items: u64,
    /// Items missing a required field or with a malformed one. Feeds
    /// `shopwatch_probe_feed_invalid_items`.
    pub invalid: u64,
    /// The date freshness was judged by, Unix seconds. Feeds
    /// `shopwatch_probe_feed_last_modified_timestamp_seconds`.
    pub last_modified: Option<i64>,
    /// Sampled links that did not answer 200. Feeds `shopwatch_probe_feed_sample_failures`.
    pub sample_failures: u64,
    /// Sampled pages (with `price_selector`) that do not show the item's price. Feeds
    /// `shopwatch_probe_feed_price_mismatches`; `None` without `price_selector`.
    pub price_mismatches: Option<u64>,
}

impl FeedProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let ca_file = self.ca_file.as_deref();
        let clients =
            match fetch::Clients::new(self.timeout, ca_file, &self.headers, Some(&self.url)) {
                Ok(clients) => clients,
                Err(e) => return Verdict::error(e),
            };
        p.doing = "fetching the feed";
        let (body, last_modified) = match get(clients.to(self.url.as_str()), &self.url).await {
            Ok(fetched) => fetched,
            Err(e) => return Verdict::failed(e),
        };
        p.doing = "parsing the feed";
        let mut tally = Tally::default();
        let mut document = match read(&body, self.format, &mut |format, item| {
            self.tally_item(&mut tally, format, item)
        }) {
            Ok(document) => document,
            Err(e) => return Verdict::failed(format!("{}: {e}", self.url)),
        };
        drop(body);
        // A child sitemap's items are checked as the index's.
        let format = document.format.unwrap_or(Format::Csv);
        for (i, child) in std::mem::take(&mut document.children).iter().enumerate() {
            if i == MAX_CHILD_SITEMAPS {
                return Verdict::failed(format!(
                    "the sitemap index lists over {MAX_CHILD_SITEMAPS} sitemaps: give the probe one of them"
                ));
            }
            p.doing = "fetching a sitemap of the index";
            let Ok(url) = self.url.join(child) else {
                return Verdict::failed(format!("the sitemap index lists `{child}`: not a URL"));
            };
            // The child's items are numbered on from those before it.
            let offset = tally.count as usize;
            let parsed = match get(clients.to(url.as_str()), &url).await {
                Ok((body, _)) => read(&body, Format::Sitemap, &mut |_, mut item| {
                    item.at += offset;
                    self.tally_item(&mut tally, format, item)
                }),
                Err(e) => return Verdict::failed(format!("the sitemap index's {e}")),
            };
            match parsed {
                Ok(sitemap) => document.newest = document.newest.max(sitemap.newest),
                Err(e) => return Verdict::failed(format!("{url} (in the sitemap index): {e}")),
            }
        }
        let mut problems = Vec::new();
        let count = tally.count;
        if count < self.min_items {
            problems.push(format!(
                "{count} items, fewer than min_items {}",
                self.min_items
            ));
        }
        let last_good = feed_counts::last_good(&self.name);
        if let (Some(max_drop), Some(before)) = (self.max_drop, last_good) {
            if before > 0 && (count as f64) < before as f64 * (1.0 - max_drop) {
                let dropped = 100.0 * (1.0 - count as f64 / before as f64);
                problems.push(format!(
                    "{count} items, {dropped:.0}% fewer than the {before} of the last good run (max_drop {:.0}%)",
                    max_drop * 100.0
                ));
            }
        }
        if tally.invalid > 0 {
            problems.push(format!(
                "{} of {count} items are invalid: {}{}",
                tally.invalid,
                tally.named.join("; "),
                if tally.invalid > NAMED_ITEMS as u64 {
                    "; ..."
                } else {
                    ""
                }
            ));
        }
        let dated = document.newest.or(last_modified);
        if let Some(max_age) = self.max_age {
            match dated {
                None => problems.push(
                    "no date to judge freshness by (no lastmod, no feed date, no Last-Modified header)"
                        .to_string(),
                ),
                Some(at) => {
                    let age = chrono::Utc::now().timestamp() - at;
                    if age > max_age.as_secs() as i64 {
                        problems.push(format!(
                            "last changed {} ago ({}), over max_age {}",
                            humantime::format_duration(Duration::from_secs(age as u64 / 60 * 60)),
                            super::net::show_time(at),
                            humantime::format_duration(max_age)
                        ));
                    }
                }
            }
        }
        p.doing = "fetching the sampled links";
        let (sample_failures, price_mismatches) = self
            .check_sample(&clients, &tally.links, &mut problems)
            .await;
        p.metrics.feed = Some(FeedInfo {
            items: count,
            invalid: tally.invalid,
            last_modified: dated,
            sample_failures,
            price_mismatches,
        });
        if problems.is_empty() {
            feed_counts::remember(&self.name, count);
            Verdict::ok()
        } else {
            Verdict::failed(problems.join("; "))
        }
    }

    /// Counts one item as it is read, names it if it is bad (the first few), and keeps its
    /// link when links are sampled; the item itself is dropped.
    fn tally_item(&self, tally: &mut Tally, format: Format, item: Item) {
        tally.count += 1;
        let faults = self.item_faults(format, &item);
        if !faults.is_empty() {
            tally.invalid += 1;
            if tally.named.len() < NAMED_ITEMS {
                let kind = if format == Format::Csv {
                    "line"
                } else {
                    "item"
                };
                tally
                    .named
                    .push(format!("{}: {}", item.shown(kind), faults.join(", ")));
            }
        }
        if self.sample == 0 {
            return;
        }
        let field = if format == Format::Sitemap {
            "loc"
        } else {
            "link"
        };
        if let Some(link) = item.get(field) {
            let price = item.get("sale_price").or(item.get("price"));
            tally
                .links
                .push((link.to_string(), price.map(str::to_string)));
        }
    }

    /// What is wrong with one item, by its format.
    fn item_faults(&self, format: Format, item: &Item) -> Vec<String> {
        if format == Format::Sitemap {
            return match item.get("loc").map(Url::parse) {
                Some(Ok(url)) if matches!(url.scheme(), "http" | "https") => Vec::new(),
                Some(_) => vec![format!(
                    "loc `{}` is not an absolute http(s) URL",
                    item.get("loc").unwrap_or("")
                )],
                None => vec!["no loc".to_string()],
            };
        }
        let mut faults = Vec::new();
        for field in &self.required {
            let Some(value) = item.get(field) else {
                faults.push(format!("no {field}"));
                continue;
            };
            match field.as_str() {
                "price" | "sale_price" if !is_price(value) => faults.push(format!(
                    "{field} `{value}` is not an amount with a currency (`12.50 EUR`)"
                )),
                "availability" if !AVAILABILITY.contains(&value.to_ascii_lowercase().as_str()) => {
                    faults.push(format!(
                        "availability `{value}` is not one of in_stock, out_of_stock, preorder, backorder"
                    ))
                }
                "link" | "image_link" if Url::parse(value).is_err() => {
                    faults.push(format!("{field} `{value}` is not an absolute URL"))
                }
                _ => {}
            }
        }
        faults
    }

    /// GETs `sample` links (a different few each run), and with `price_selector` reads the
    /// price on each page; the failures and the pages showing another price.
    async fn check_sample(
        &self,
        clients: &fetch::Clients,
        links: &[(String, Option<String>)],
        problems: &mut Vec<String>,
    ) -> (u64, Option<u64>) {
        if links.is_empty() || self.sample == 0 {
            return (0, self.price_selector.as_ref().map(|_| 0));
        }
        // A rotating start: over the runs every link is sampled, without a random generator.
        let start = (chrono::Utc::now().timestamp() as usize / 60) % links.len();
        let mut failures = Vec::new();
        let mut mismatches = Vec::new();
        for (link, price) in links
            .iter()
            .cycle()
            .skip(start)
            .take(self.sample.min(links.len()))
        {
            let answer = match Url::parse(link) {
                Ok(url) => clients.to(link).get(url).send().await,
                Err(_) => continue,
            };
            match answer {
                Ok(response) if response.status() == reqwest::StatusCode::OK => {
                    let (Some(css), Some(want)) = (
                        &self.price_selector,
                        price.as_deref().and_then(parse_data_amount),
                    ) else {
                        continue;
                    };
                    let shown = product_page::read(response, link).await.and_then(|html| {
                        let text = product_page::select(&html, css, None)
                            .ok_or_else(|| format!("{link} has no `{css}`"))?;
                        parse_amount(&text)
                            .ok_or_else(|| format!("{link} shows `{text}`, not an amount"))
                    });
                    match shown {
                        // Rounding to the cent is not a different price.
                        Ok(shown) if (shown - want).abs() < 0.005 => {}
                        Ok(shown) => mismatches.push(format!(
                            "{link} shows {}, the feed {}",
                            show_amount(shown),
                            price.as_deref().unwrap_or_default()
                        )),
                        Err(e) => mismatches.push(e),
                    }
                }
                Ok(response) => failures.push(format!("{link} answered {}", response.status())),
                Err(e) => failures.push(format!(
                    "{link}: {}",
                    crate::error_chain::error_chain(&e.without_url())
                )),
            }
        }
        if !failures.is_empty() {
            problems.push(format!(
                "{} of {} sampled links failed: {}",
                failures.len(),
                self.sample.min(links.len()),
                failures.join("; ")
            ));
        }
        if !mismatches.is_empty() {
            problems.push(format!(
                "{} of {} sampled pages do not show the feed's price: {}",
                mismatches.len(),
                self.sample.min(links.len()),
                mismatches.join("; ")
            ));
        }
        let mismatched = mismatches.len() as u64;
        (
            failures.len() as u64,
            self.price_selector.as_ref().map(|_| mismatched),
        )
    }
}

/// `12.50 EUR`, `12 USD`, `1,299.00 SEK`: an amount and an ISO 4217 code.
fn is_price(text: &str) -> bool {
    let mut parts = text.split_whitespace();
    let (Some(amount), Some(currency), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    amount
        .replace(',', "")
        .parse::<f64>()
        .is_ok_and(|a| a >= 0.0)
        && currency.len() == 3
        && currency.chars().all(|c| c.is_ascii_uppercase())
}

/// The body (gunzipped when it is gzip) and its `Last-Modified`, Unix seconds.
pub(super) async fn get(
    client: &reqwest::Client,
    url: &Url,
) -> Result<(Vec<u8>, Option<i64>), String> {
    let response = client.get(url.clone()).send().await.map_err(|e| {
        format!(
            "{url} cannot be fetched: {}",
            crate::error_chain::error_chain(&e.without_url())
        )
    })?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let last_modified = response
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.timestamp());
    let body = fetch::read_capped(response, MAX_DOCUMENT)
        .await
        .map_err(|e| format!("reading {url}: {e}"))?;
    if body.starts_with(&[0x1f, 0x8b]) {
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(body.as_slice())
            .take(MAX_DOCUMENT as u64 + 1)
            .read_to_end(&mut unzipped)
            .map_err(|e| format!("{url} is gzip that does not decompress: {e}"))?;
        if unzipped.len() > MAX_DOCUMENT {
            return Err(format!(
                "{url} decompresses to over {} MiB",
                MAX_DOCUMENT >> 20
            ));
        }
        return Ok((unzipped, last_modified));
    }
    Ok((body, last_modified))
}

/// Parses the document as `format` (or as what it looks like, with `Auto`), its items kept.
pub(super) fn parse(body: &[u8], format: Format) -> Result<Document, String> {
    let mut items = Vec::new();
    let mut document = read(body, format, &mut |_, item| items.push(item))?;
    document.items = items;
    Ok(document)
}

/// Parses the document as `format` (or as what it looks like, with `Auto`), handing each item
/// to `each` with the document's format as soon as it is read, so that a large feed is never
/// held as items; the document returned has no items.
pub(super) fn read(
    body: &[u8],
    format: Format,
    each: &mut dyn FnMut(Format, Item),
) -> Result<Document, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let text = text.trim_start_matches('\u{feff}');
    let looks_xml = text.trim_start().starts_with('<');
    match format {
        Format::Csv => parse_csv(text, each),
        Format::Auto if !looks_xml => parse_csv(text, each),
        _ => parse_xml(text, format, each),
    }
}

/// A sitemap, sitemap index, RSS or Atom document: items are `<url>`, `<item>` or `<entry>`,
/// their fields the child elements by local name (`g:price` is `price`; Atom's
/// `<link href=...>` is `link`).
fn parse_xml(
    text: &str,
    wanted: Format,
    each: &mut dyn FnMut(Format, Item),
) -> Result<Document, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut document = Document::default();
    let mut items_read = 0;
    let mut depth = 0usize;
    let mut root: Option<String> = None;
    let mut item: Option<(usize, Item)> = None;
    let mut field: Option<String> = None;
    let mut value = String::new();
    // Where in the document it went wrong, for the reason.
    let at = |reader: &quick_xml::Reader<&[u8]>| reader.buffer_position();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not well-formed XML at byte {}: {e}", at(&reader)))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).to_ascii_lowercase();
                if root.is_none() {
                    let format = match name.as_str() {
                        "urlset" | "sitemapindex" => Format::Sitemap,
                        "rss" | "feed" => Format::Shopping,
                        other => {
                            return Err(format!(
                                "the document is `<{other}>`, not a sitemap (`<urlset>`), an RSS (`<rss>`) or Atom (`<feed>`) feed"
                            ))
                        }
                    };
                    if wanted != Format::Auto && wanted != format {
                        return Err(format!(
                            "the document is `<{name}>`, not the format the probe is told"
                        ));
                    }
                    document.format = Some(format);
                    root = Some(name.clone());
                }
                let is_item = matches!(name.as_str(), "url" | "item" | "entry" | "sitemap");
                match &mut item {
                    None if is_item && !empty => {
                        item = Some((
                            depth,
                            Item {
                                at: items_read + document.children.len() + 1,
                                fields: HashMap::from([("_kind".to_string(), name.clone())]),
                            },
                        ))
                    }
                    Some((item_depth, it)) if depth == *item_depth + 1 => {
                        if name == "link" {
                            if let Some(href) = e
                                .try_get_attribute("href")
                                .ok()
                                .flatten()
                                .and_then(|a| a.unescape_value().ok())
                            {
                                it.fields.insert("link".into(), href.to_string());
                            }
                        }
                        if !empty {
                            field = Some(name.clone());
                            value.clear();
                        }
                    }
                    _ => {}
                }
                if !empty {
                    depth += 1;
                    if item.is_none()
                        && matches!(name.as_str(), "lastbuilddate" | "pubdate" | "updated")
                    {
                        field = Some(name);
                        value.clear();
                    }
                }
            }
            Event::Text(t) if field.is_some() => {
                let text = t
                    .decode()
                    .map_err(|e| format!("bad text at byte {}: {e}", at(&reader)))?;
                value.push_str(&text);
            }
            Event::GeneralRef(r) if field.is_some() => {
                let name = r
                    .decode()
                    .map_err(|e| format!("bad text at byte {}: {e}", at(&reader)))?;
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&name).map(str::to_string),
                };
                match resolved {
                    Some(text) => value.push_str(&text),
                    None => {
                        return Err(format!("unknown entity `&{name};` at byte {}", at(&reader)))
                    }
                }
            }
            Event::CData(t) if field.is_some() => {
                value.push_str(&String::from_utf8_lossy(&t));
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                match (&mut item, field.take()) {
                    (Some((item_depth, _)), None) if depth == *item_depth => {
                        let (_, done) = item.take().expect("an item");
                        if let Some(done) = finish_item(&mut document, done) {
                            items_read += 1;
                            each(document.format.unwrap_or(wanted), done);
                        }
                    }
                    (Some((_, it)), Some(name)) => {
                        it.fields
                            .entry(name)
                            .or_insert_with(|| value.trim().to_string());
                    }
                    (None, Some(_)) => {
                        let date = parse_date(value.trim());
                        document.newest = document.newest.max(date);
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 || item.is_some() {
        return Err(format!(
            "not well-formed XML: it ends inside an element (at byte {}): truncated?",
            text.len()
        ));
    }
    if root.is_none() {
        return Err("the document is empty".to_string());
    }
    Ok(document)
}

/// An item ends: a sitemap index's `<sitemap>` is a child to fetch; a `lastmod` counts for
/// freshness. The item, unless it was a child sitemap.
fn finish_item(document: &mut Document, item: Item) -> Option<Item> {
    if let Some(date) = item.get("lastmod").or_else(|| item.get("updated")) {
        document.newest = document.newest.max(parse_date(date));
    }
    if item.fields.get("_kind").is_some_and(|k| k == "sitemap") {
        if let Some(loc) = item.get("loc") {
            document.children.push(loc.to_string());
        }
        return None;
    }
    Some(item)
}

/// W3C datetime (`2026-11-30`, `2026-11-30T10:00:00+01:00`) or RFC 2822 (RSS), Unix seconds.
pub(super) fn parse_date(text: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp());
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc2822(text) {
        return Some(t.timestamp());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// A CSV (or, when the header has tabs, TSV) feed; column names lowercased.
fn parse_csv(text: &str, each: &mut dyn FnMut(Format, Item)) -> Result<Document, String> {
    let header = text.lines().next().unwrap_or("");
    let delimiter = if header.contains('\t') { b'\t' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the CSV header does not parse: {e}"))?
        .iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    if columns.len() < 2 {
        return Err("not a product feed: neither XML nor a CSV/TSV with a header line".to_string());
    }
    let document = Document {
        format: Some(Format::Csv),
        ..Document::default()
    };
    for record in reader.records() {
        let record = record.map_err(|e| format!("the CSV does not parse: {e}"))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        each(
            Format::Csv,
            Item {
                at: line,
                fields: columns
                    .iter()
                    .cloned()
                    .zip(record.iter().map(str::to_string))
                    .collect(),
            },
        );
    }
    Ok(document)
}

impl Kind for FeedProbe {
    type File = FeedProbeFile;
    kind_basics!(FeedProbeFile);

    fn validate(c: &mut Checker, path: &str, f: &FeedProbeFile) -> FeedProbe {
        let url = match http_url("url", &f.url) {
            Ok(url) => url,
            Err(message) => {
                c.error(&format!("{path}.url"), message);
                Url::parse("http://invalid.invalid/").expect("a valid URL")
            }
        };
        let format = match f.format.as_deref().map(str::trim) {
            None | Some("auto") => Format::Auto,
            Some("sitemap") => Format::Sitemap,
            Some("google_shopping") => Format::Shopping,
            Some("csv") => Format::Csv,
            Some(other) => {
                c.error_hint(
                    &format!("{path}.format"),
                    format!("unknown feed format `{other}`"),
                    "`auto` (the default), `sitemap`, `google_shopping` or `csv`",
                );
                Format::Auto
            }
        };
        let max_drop = f.max_drop.as_deref().and_then(|text| {
            let number = text.trim().strip_suffix('%').map(str::trim);
            match number.and_then(|n| n.parse::<f64>().ok()) {
                Some(n) if (0.0..100.0).contains(&n) => Some(n / 100.0),
                _ => {
                    c.error_hint(
                        &format!("{path}.max_drop"),
                        format!("`max_drop: {text}` is not a percentage under 100"),
                        "how far the item count may fall since the last good run, e.g. `20%`",
                    );
                    None
                }
            }
        });
        let (every, timeout) = c.schedule(path, &f.every, &f.timeout);
        FeedProbe {
            name: f.name.clone(),
            url,
            format,
            min_items: f.min_items.unwrap_or(1),
            max_drop,
            max_age: c.opt_duration(&format!("{path}.max_age"), &f.max_age),
            sample: f.sample.unwrap_or(0),
            required: f.required.clone().unwrap_or_else(|| {
                ["id", "title", "link", "price", "availability", "image_link"]
                    .map(String::from)
                    .to_vec()
            }),
            price_selector: c.page_selector(&format!("{path}.price_selector"), &f.price_selector),
            ca_file: c.ca_file(&format!("{path}.ca_file"), &f.ca_file),
            headers: fetch::Headers::validate(c, path, &f.headers),
            every,
            timeout,
        }
    }

    fn secrets(&self) -> Vec<&crate::secret::Var> {
        self.headers.secrets().collect()
    }
}

/// `- feed:` as written; values stay text until [`super::validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedProbeFile {
    pub name: String,
    pub url: String,
    /// `auto`, `sitemap`, `google_shopping` or `csv`.
    pub format: Option<String>,
    pub min_items: Option<u64>,
    /// `20%`.
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub max_drop: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub max_age: Option<String>,
    pub sample: Option<usize>,
    /// The fields each Shopping or CSV item must have.
    pub required: Option<Vec<String>>,
    /// CSS selector of the price on a sampled product page.
    pub price_selector: Option<String>,
    pub ca_file: Option<String>,
    #[serde(default)]
    pub headers: fetch::HeadersFile,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_need_an_amount_and_a_currency() {
        assert!(is_price("12.50 EUR"));
        assert!(is_price("1,299.00 SEK"));
        assert!(!is_price("12.50"));
        assert!(!is_price("EUR 12.50"));
        assert!(!is_price("12.50 eur"));
    }

    #[test]
    fn atom_links_and_namespaced_fields_are_read() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0"><updated>2026-11-30T10:00:00Z</updated><entry><g:id>a</g:id><title>A</title><link href="https://shop.example/a"/><g:price>1.00 EUR</g:price></entry></feed>"#;
        let document = parse(atom.as_bytes(), Format::Auto).unwrap();
        assert_eq!(document.format, Some(Format::Shopping));
        let item = &document.items[0];
        assert_eq!(item.get("link"), Some("https://shop.example/a"));
        assert_eq!(item.get("price"), Some("1.00 EUR"));
        assert_eq!(document.newest, parse_date("2026-11-30T10:00:00Z"));
    }
}
