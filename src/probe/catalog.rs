//! The `catalog` probe: do the shop's prices and stock match the source of truth? The ERP's
//! export (CSV or JSON, from a URL or a file: SKU, price, stock) is read, and for `sample` of
//! its SKUs (a different few each run) or all, the shop's side is read: each product page
//! (`product_url` with `{sku}`, the price and stock found by CSS selectors, no browser; four
//! pages at a time) or the shop's own feed (parsed as the feed probe parses it). Then:
//! - each price within `price_tolerance` of the source's;
//! - stock by the rule: `presence` (in stock on both or out of stock on both) or `exact`;
//! - each SKU there on the shop side (a page answering 404, or no item in the feed, is missing);
//! - with `max_age`, the source itself fresh: its `exported_at` field, else `Last-Modified`
//!   (a file's modification time).
//!
//! Every problem of a run is in its reason, with a few SKUs named; `failed` when any is found
//! or the source cannot be read; `error` only for the monitor's own faults (an unreadable
//! `ca_file`).

use super::feed;
use super::product_page::{self, parse_amount, parse_data_amount, select, show_amount, Stock};
use super::{fetch, Kind, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{http_url, opt_scalar_text, scalar_text};
use futures_util::StreamExt;
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;
use url::Url;

/// Largest source read: an ERP export of a large shop is some MB.
const MAX_SOURCE: usize = 64 * 1024 * 1024;
/// SKUs named per problem in a reason at most.
const NAMED: usize = 5;
/// Product pages asked for at once: a large sample is read in a fraction of the time, and the
/// shop sees no more than a few browsing customers would make.
const PAGES_AT_ONCE: usize = 4;

/// Where the source of truth is.
#[derive(Debug, Clone)]
pub enum Source {
    Url(Url),
    /// Relative paths are taken from the configuration file's directory.
    File(PathBuf),
}

/// How the source is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// JSON when it starts with `[` or `{`, else CSV.
    Auto,
    /// Comma- or tab-separated, a header line first.
    Csv,
    /// An array of objects, or an object holding one (`items_field`).
    Json,
}

/// Where the shop's side is read.
#[derive(Debug, Clone)]
pub enum ShopSide {
    /// Each SKU's page: `template` with `{sku}` replaced.
    Pages {
        template: String,
        price_selector: Option<String>,
        price_attribute: Option<String>,
        stock_selector: Option<String>,
        stock_attribute: Option<String>,
    },
    /// The shop's feed (Google Shopping or CSV): item `id` is the SKU.
    Feed(Url),
}

/// How stock must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockRule {
    /// Both in stock or both out of stock.
    Presence,
    /// The same number.
    Exact,
}

/// How far a shop price may be from the source's: within the larger of the two.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tolerance {
    /// In the source's currency.
    pub absolute: f64,
    /// A fraction of the source's price (0.01 for `1%`).
    pub fraction: f64,
}

impl Tolerance {
    fn allows(&self, source: f64, shop: f64) -> bool {
        // A cent's rounding is never a mismatch of its own (9.9 vs 9.899999).
        (source - shop).abs() <= self.absolute.max(self.fraction * source.abs()) + 1e-6
    }
}

/// A validated `catalog` probe.
#[derive(Debug, Clone)]
pub struct CatalogProbe {
    pub name: String,
    pub source: Source,
    pub format: SourceFormat,
    pub sku_field: String,
    pub price_field: String,
    pub stock_field: String,
    pub exported_at_field: String,
    /// JSON only: the member (or JSON pointer) holding the items.
    pub items_field: Option<String>,
    pub shop: ShopSide,
    /// SKUs compared per run; `None` for all.
    pub sample: Option<usize>,
    pub tolerance: Tolerance,
    pub stock: StockRule,
    pub max_age: Option<Duration>,
    pub ca_file: Option<PathBuf>,
    /// Sent with every request to the origin of a URL `source`, never to another (the shop's
    /// pages when the export is elsewhere).
    pub headers: fetch::Headers,
    pub every: Duration,
    pub timeout: Duration,
}

/// What the catalog probe found, for the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogInfo {
    /// SKUs in the source. Feeds `shopwatch_probe_catalog_source_items`.
    pub source_items: u64,
    /// SKUs compared this run. Feeds `shopwatch_probe_catalog_compared`.
    pub compared: u64,
    /// Feeds `shopwatch_probe_catalog_price_mismatches`.
    pub price_mismatches: u64,
    /// Feeds `shopwatch_probe_catalog_stock_mismatches`.
    pub stock_mismatches: u64,
    /// SKUs the shop does not have. Feeds `shopwatch_probe_catalog_missing`.
    pub missing: u64,
    /// Seconds since the source was exported. Feeds
    /// `shopwatch_probe_catalog_source_age_seconds`.
    pub source_age: Option<i64>,
}

/// One SKU as the source or the shop has it.
#[derive(Debug, Clone, Default)]
struct Entry {
    price: Option<f64>,
    stock: Option<Stock>,
}

/// What the source held.
#[derive(Debug, Default)]
struct Export {
    /// In the source's order.
    rows: Vec<(String, Entry)>,
    /// Rows that cannot be compared, said in words.
    faults: Vec<String>,
    /// Its `exported_at`, Unix seconds.
    exported_at: Option<i64>,
}

/// Where each probe's sample starts next run, by probe name: a different few each run, every
/// SKU in turn.
static NEXT_SAMPLE: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Mutex::default);

/// The problems of one run, by kind, and how many of each.
#[derive(Default)]
struct Findings {
    price: Vec<String>,
    stock: Vec<String>,
    missing: Vec<String>,
    /// SKUs whose shop side could not be read (a page answering 500, no price on it).
    unreadable: Vec<String>,
}

impl CatalogProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let source_url = match &self.source {
            Source::Url(url) => Some(url),
            Source::File(_) => None,
        };
        let ca_file = self.ca_file.as_deref();
        let clients = match fetch::Clients::new(self.timeout, ca_file, &self.headers, source_url) {
            Ok(clients) => clients,
            Err(e) => return Verdict::error(e),
        };
        p.doing = "reading the source";
        let (body, modified) = match self.read_source(&clients).await {
            Ok(read) => read,
            Err(e) => return Verdict::failed(e),
        };
        let export = match self.parse_source(&body) {
            Ok(export) => export,
            Err(e) => return Verdict::failed(format!("{}: {e}", self.source_shown())),
        };
        let mut problems = Vec::new();
        if !export.faults.is_empty() {
            problems.push(format!(
                "{} rows of the source cannot be compared: {}",
                export.faults.len(),
                named(&export.faults)
            ));
        }
        let dated = export.exported_at.or(modified);
        let now = chrono::Utc::now().timestamp();
        if let Some(max_age) = self.max_age {
            match dated {
                None => problems.push(format!(
                    "the source has no date to judge its age by (no `{}`, no Last-Modified)",
                    self.exported_at_field
                )),
                Some(at) if now - at > max_age.as_secs() as i64 => problems.push(format!(
                    "the source was exported {} ago ({}), over max_age {}",
                    humantime::format_duration(Duration::from_secs((now - at) as u64 / 60 * 60)),
                    super::net::show_time(at),
                    humantime::format_duration(max_age)
                )),
                Some(_) => {}
            }
        }
        let chosen = self.choose(&export.rows);
        p.doing = "reading the shop's side";
        let mut found = Findings::default();
        match &self.shop {
            ShopSide::Feed(url) => {
                let shop = match feed_entries(clients.to(url.as_str()), url).await {
                    Ok(shop) => shop,
                    Err(e) => return Verdict::failed(format!("the shop's feed: {e}")),
                };
                for (sku, source) in &chosen {
                    match shop.get(sku.as_str()) {
                        Some(entry) => self.compare(sku, source, entry, &mut found),
                        None => found.missing.push(format!("{sku} (not in the feed)")),
                    }
                }
            }
            ShopSide::Pages { .. } => {
                // The reads made before they are streamed: a stream's closure over borrowed
                // SKUs would make the probe's future not `Send`.
                let reads: Vec<_> = chosen
                    .iter()
                    .map(|(sku, _)| self.read_page(&clients, sku))
                    .collect();
                let pages: Vec<_> = futures_util::stream::iter(reads)
                    .buffered(PAGES_AT_ONCE)
                    .collect()
                    .await;
                for ((sku, source), page) in chosen.iter().copied().zip(pages) {
                    match page {
                        Ok(Some(entry)) => self.compare(sku, source, &entry, &mut found),
                        Ok(None) => found
                            .missing
                            .push(format!("{sku} ({})", self.page_url(sku))),
                        Err(e) => found.unreadable.push(format!("{sku}: {e}")),
                    }
                }
            }
        }
        let compared = chosen.len() as u64;
        let differ = |what: &str, list: &[String]| {
            format!("{} of {compared} SKUs {what}: {}", list.len(), named(list))
        };
        if !found.price.is_empty() {
            problems.push(differ("differ in price from the source", &found.price));
        }
        if !found.stock.is_empty() {
            problems.push(differ("differ in stock from the source", &found.stock));
        }
        if !found.missing.is_empty() {
            problems.push(differ("are missing on the shop", &found.missing));
        }
        if !found.unreadable.is_empty() {
            problems.push(differ("cannot be read on the shop", &found.unreadable));
        }
        p.metrics.catalog = Some(CatalogInfo {
            source_items: export.rows.len() as u64,
            compared,
            price_mismatches: found.price.len() as u64,
            stock_mismatches: found.stock.len() as u64,
            missing: found.missing.len() as u64,
            source_age: dated.map(|at| (now - at).max(0)),
        });
        if problems.is_empty() {
            Verdict::ok()
        } else {
            Verdict::failed(problems.join("; "))
        }
    }

    /// How reasons name the source.
    fn source_shown(&self) -> String {
        match &self.source {
            Source::Url(url) => url.to_string(),
            Source::File(path) => path.display().to_string(),
        }
    }

    /// The source's bytes and when it last changed (`Last-Modified`, a file's mtime).
    async fn read_source(
        &self,
        clients: &fetch::Clients,
    ) -> Result<(Vec<u8>, Option<i64>), String> {
        match &self.source {
            Source::Url(url) => feed::get(clients.to(url.as_str()), url).await,
            Source::File(path) => {
                let shown = path.display();
                let meta = tokio::fs::metadata(path)
                    .await
                    .map_err(|e| format!("cannot read {shown}: {e}"))?;
                if meta.len() > MAX_SOURCE as u64 {
                    return Err(format!("{shown} is over {} MiB", MAX_SOURCE >> 20));
                }
                let body = tokio::fs::read(path)
                    .await
                    .map_err(|e| format!("cannot read {shown}: {e}"))?;
                let modified = meta
                    .modified()
                    .ok()
                    .map(|t| chrono::DateTime::<chrono::Utc>::from(t).timestamp());
                Ok((body, modified))
            }
        }
    }

    fn parse_source(&self, body: &[u8]) -> Result<Export, String> {
        let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
        let text = text.trim_start_matches('\u{feff}');
        let json = match self.format {
            SourceFormat::Json => true,
            SourceFormat::Csv => false,
            SourceFormat::Auto => text.trim_start().starts_with(['[', '{']),
        };
        if json {
            self.parse_json(text)
        } else {
            self.parse_csv(text)
        }
    }

    fn parse_csv(&self, text: &str) -> Result<Export, String> {
        let header = text.lines().next().unwrap_or("");
        let delimiter = if header.contains('\t') { b'\t' } else { b',' };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| format!("the CSV header does not parse: {e}"))?
            .iter()
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        let column = |name: &str| columns.iter().position(|c| *c == name.to_ascii_lowercase());
        let Some(sku_at) = column(&self.sku_field) else {
            return Err(format!(
                "no `{}` column (the header has {})",
                self.sku_field,
                columns.join(", ")
            ));
        };
        let (price_at, stock_at) = (column(&self.price_field), column(&self.stock_field));
        if price_at.is_none() && stock_at.is_none() {
            return Err(format!(
                "neither a `{}` nor a `{}` column: nothing to compare",
                self.price_field, self.stock_field
            ));
        }
        let exported_at = column(&self.exported_at_field);
        let mut export = Export::default();
        for record in reader.records() {
            let record = record.map_err(|e| format!("the CSV does not parse: {e}"))?;
            let line = record.position().map_or(0, |p| p.line());
            let cell = |at: Option<usize>| {
                at.and_then(|i| record.get(i))
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
            };
            let Some(sku) = cell(Some(sku_at)) else {
                export
                    .faults
                    .push(format!("line {line} has no {}", self.sku_field));
                continue;
            };
            if let Some(at) = cell(exported_at).and_then(feed::parse_date) {
                export.exported_at = export.exported_at.max(Some(at));
            }
            let entry = self.entry(sku, cell(price_at), cell(stock_at), &mut export.faults);
            export.rows.push((sku.to_string(), entry));
        }
        Ok(export)
    }

    fn parse_json(&self, text: &str) -> Result<Export, String> {
        let document: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let items = match (&self.items_field, &document) {
            (Some(field), _) if field.starts_with('/') => document.pointer(field),
            (Some(field), _) => document.get(field),
            (None, serde_json::Value::Array(_)) => Some(&document),
            (None, _) => ["products", "items", "data"]
                .iter()
                .find_map(|f| document.get(f).filter(|v| v.is_array())),
        };
        let Some(items) = items.and_then(|v| v.as_array()) else {
            return Err(match &self.items_field {
                Some(field) => format!("no array at `{field}`"),
                None => "no items: neither an array nor an object with `products` or `items` (say where with `items_field`)".to_string(),
            });
        };
        let mut export = Export {
            exported_at: document
                .get(&self.exported_at_field)
                .and_then(|v| v.as_str())
                .and_then(feed::parse_date),
            ..Export::default()
        };
        // A number as the export wrote it: `9.9`, `"9.90"`, `true`.
        let text = |item: &serde_json::Value, field: &str| match item.get(field) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                Some(s.trim().to_string())
            }
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        };
        for (i, item) in items.iter().enumerate() {
            let Some(sku) = text(item, &self.sku_field) else {
                export
                    .faults
                    .push(format!("item {} has no {}", i + 1, self.sku_field));
                continue;
            };
            let entry = self.entry(
                &sku,
                text(item, &self.price_field).as_deref(),
                text(item, &self.stock_field).as_deref(),
                &mut export.faults,
            );
            export.rows.push((sku, entry));
        }
        Ok(export)
    }

    /// One source row; what does not read as a price or stock goes to `faults`.
    fn entry(
        &self,
        sku: &str,
        price: Option<&str>,
        stock: Option<&str>,
        faults: &mut Vec<String>,
    ) -> Entry {
        let price = price.and_then(|text| {
            let amount = parse_data_amount(text);
            if amount.is_none() {
                faults.push(format!("{sku}: price `{text}` is not an amount"));
            }
            amount
        });
        let stock = stock.and_then(|text| {
            let level = Stock::parse(text);
            if level.is_none() {
                faults.push(format!(
                    "{sku}: stock `{text}` is not a number or availability"
                ));
            }
            level
        });
        Entry { price, stock }
    }

    /// The SKUs of this run: all, or the next `sample` (wrapping around).
    fn choose<'a>(&self, rows: &'a [(String, Entry)]) -> Vec<&'a (String, Entry)> {
        let Some(sample) = self.sample.filter(|&n| n < rows.len()) else {
            return rows.iter().collect();
        };
        let mut next = NEXT_SAMPLE.lock().unwrap_or_else(|e| e.into_inner());
        let start = next.get(&self.name).copied().unwrap_or(0) % rows.len();
        next.insert(self.name.clone(), (start + sample) % rows.len());
        rows.iter().cycle().skip(start).take(sample).collect()
    }

    fn page_url(&self, sku: &str) -> String {
        match &self.shop {
            ShopSide::Pages { template, .. } => {
                let escaped: String =
                    url::form_urlencoded::byte_serialize(sku.as_bytes()).collect();
                template.replace("{sku}", &escaped)
            }
            ShopSide::Feed(url) => url.to_string(),
        }
    }

    /// The price and stock a SKU's page shows; `None` when the page is not there (404, 410).
    async fn read_page(
        &self,
        clients: &fetch::Clients,
        sku: &str,
    ) -> Result<Option<Entry>, String> {
        let ShopSide::Pages {
            price_selector,
            price_attribute,
            stock_selector,
            stock_attribute,
            ..
        } = &self.shop
        else {
            return Ok(None);
        };
        let url = self.page_url(sku);
        let response = clients.to(&url).get(&url).send().await.map_err(|e| {
            format!(
                "{url} cannot be fetched: {}",
                crate::error_chain::error_chain(&e.without_url())
            )
        })?;
        let status = response.status();
        if matches!(status.as_u16(), 404 | 410) {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        let html = product_page::read(response, &url).await?;
        let mut entry = Entry::default();
        if let Some(css) = price_selector {
            let text = select(&html, css, price_attribute.as_deref())
                .ok_or_else(|| format!("the page has no `{css}`"))?;
            entry.price = Some(
                parse_amount(&text)
                    .ok_or_else(|| format!("the price `{text}` on the page is not an amount"))?,
            );
        }
        if let Some(css) = stock_selector {
            let text = select(&html, css, stock_attribute.as_deref())
                .ok_or_else(|| format!("the page has no `{css}`"))?;
            entry.stock =
                Some(Stock::parse(&text).ok_or_else(|| {
                    format!("the stock `{text}` on the page is not a stock level")
                })?);
        }
        Ok(Some(entry))
    }

    /// The source's `want` against the shop's `have`; what differs goes to `found`.
    fn compare(&self, sku: &str, want: &Entry, have: &Entry, found: &mut Findings) {
        if let (Some(want), Some(have)) = (want.price, have.price) {
            if !self.tolerance.allows(want, have) {
                found.price.push(format!(
                    "{sku} ({} in the source, {} on the shop)",
                    show_amount(want),
                    show_amount(have)
                ));
            }
        }
        if let (Some(want), Some(have)) = (want.stock, have.stock) {
            let differs = match self.stock {
                StockRule::Presence => want.in_stock() != have.in_stock(),
                StockRule::Exact => want.count() != have.count(),
            };
            if differs {
                let show = |s: Stock| match (self.stock, s.count()) {
                    (StockRule::Exact, Some(n)) => n.to_string(),
                    _ => s.shown(),
                };
                found.stock.push(format!(
                    "{sku} ({} in the source, {} on the shop)",
                    show(want),
                    show(have)
                ));
            }
        }
    }
}

/// The shop's feed as entries by item id.
async fn feed_entries(
    client: &reqwest::Client,
    url: &Url,
) -> Result<HashMap<String, Entry>, String> {
    let (body, _) = feed::get(client, url).await?;
    let document = feed::parse(&body, feed::Format::Auto).map_err(|e| format!("{url}: {e}"))?;
    Ok(document
        .items
        .iter()
        .filter_map(|item| {
            let entry = Entry {
                price: item.get("price").and_then(parse_data_amount),
                stock: item.get("availability").and_then(Stock::parse),
            };
            Some((item.get("id")?.to_string(), entry))
        })
        .collect())
}

/// A few of `list`, and `...` for the rest.
fn named(list: &[String]) -> String {
    let shown: Vec<&str> = list.iter().take(NAMED).map(String::as_str).collect();
    format!(
        "{}{}",
        shown.join(", "),
        if list.len() > NAMED { ", ..." } else { "" }
    )
}

impl Kind for CatalogProbe {
    type File = CatalogProbeFile;
    kind_basics!(CatalogProbeFile);

    fn validate(c: &mut Checker, path: &str, f: &CatalogProbeFile) -> CatalogProbe {
        let source = source(c, &format!("{path}.source"), &f.source);
        let format = match f.format.as_deref().map(str::trim) {
            None | Some("auto") => SourceFormat::Auto,
            Some("csv") => SourceFormat::Csv,
            Some("json") => SourceFormat::Json,
            Some(other) => {
                c.error_hint(
                    &format!("{path}.format"),
                    format!("unknown source format `{other}`"),
                    "`auto` (the default: JSON when it starts with `[` or `{`, else CSV), `csv` or `json`",
                );
                SourceFormat::Auto
            }
        };
        let shop = shop_side(c, path, f);
        let stock = match f.stock.as_deref().map(str::trim) {
            None | Some("presence") => StockRule::Presence,
            Some("exact") => StockRule::Exact,
            Some(other) => {
                c.error_hint(
                    &format!("{path}.stock"),
                    format!("unknown stock rule `{other}`"),
                    "`presence` (the default: in stock on both or out of stock on both) or `exact` (the same number)",
                );
                StockRule::Presence
            }
        };
        if stock == StockRule::Exact && matches!(shop, ShopSide::Feed(_)) {
            c.error_hint(
                &format!("{path}.stock"),
                "`stock: exact` needs numbers, and a feed says only in or out of stock",
                "use `stock: presence` with `feed`, or read the number on the product page (`product_url` and `stock_selector`)",
            );
        }
        let sample = f.sample.as_deref().and_then(|text| match text.trim() {
            "all" => None,
            number => match number.parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    c.error_hint(
                        &format!("{path}.sample"),
                        format!("`sample: {text}` is neither a number of SKUs nor `all`"),
                        "e.g. `sample: 20` (a different 20 each run) or `sample: all` (the default)",
                    );
                    None
                }
            },
        });
        let mut tolerance = Tolerance::default();
        for (i, text) in f.price_tolerance.iter().flatten().enumerate() {
            let at = if f.price_tolerance.as_ref().is_some_and(|t| t.len() > 1) {
                format!("{path}.price_tolerance[{i}]")
            } else {
                format!("{path}.price_tolerance")
            };
            let trimmed = text.trim();
            let percent = trimmed.strip_suffix('%').map(str::trim);
            match (percent, percent.unwrap_or(trimmed).parse::<f64>()) {
                (Some(_), Ok(n)) if (0.0..100.0).contains(&n) => tolerance.fraction = n / 100.0,
                (None, Ok(n)) if n >= 0.0 && n.is_finite() => tolerance.absolute = n,
                _ => c.error_hint(
                    &at,
                    format!("`price_tolerance: {text}` is neither an amount nor a percentage"),
                    "an amount in the source's currency (`0.05`), a percentage under 100 (`1%`), or both (`[0.05, 1%]`: within either)",
                ),
            }
        }
        let headers = fetch::Headers::validate(c, path, &f.headers);
        if !headers.is_empty() && matches!(source, Source::File(_)) {
            c.key_error_hint(
                &format!("{path}.headers"),
                "headers are sent with a URL source; this source is a file",
                "remove `headers`, or give the export's URL as `source`",
            );
        }
        let (every, timeout) = c.schedule(path, &f.every, &f.timeout);
        let field = |given: &Option<String>, default: &str| {
            given.clone().unwrap_or_else(|| default.to_string())
        };
        CatalogProbe {
            name: f.name.clone(),
            source,
            format,
            sku_field: field(&f.sku_field, "sku"),
            price_field: field(&f.price_field, "price"),
            stock_field: field(&f.stock_field, "stock"),
            exported_at_field: field(&f.exported_at_field, "exported_at"),
            items_field: f.items_field.clone(),
            shop,
            sample,
            tolerance,
            stock,
            max_age: c.opt_duration(&format!("{path}.max_age"), &f.max_age),
            ca_file: c.ca_file(&format!("{path}.ca_file"), &f.ca_file),
            headers,
            every,
            timeout,
        }
    }

    fn secrets(&self) -> Vec<&crate::secret::Var> {
        self.headers.secrets().collect()
    }
}

/// `source:` an http(s) URL, or a file path (relative to the configuration file's directory).
fn source(c: &mut Checker, path: &str, text: &str) -> Source {
    if let Some((scheme, _)) = text.split_once("://") {
        return match http_url("the source", text) {
            Ok(url) => Source::Url(url),
            Err(message) if matches!(scheme, "http" | "https") => {
                c.error(path, message);
                Source::File(PathBuf::new())
            }
            Err(_) => {
                c.error_hint(
                    path,
                    format!("the source must be an http(s) URL or a file path, not `{scheme}://`"),
                    "e.g. `https://erp.example/export.csv`, or `exports/products.csv` (from the configuration file's directory)",
                );
                Source::File(PathBuf::new())
            }
        };
    }
    if text.trim().is_empty() {
        c.error(path, "empty source: give the ERP export's URL or file path");
    }
    let given = std::path::Path::new(text);
    Source::File(match c.file.parent() {
        Some(dir) if given.is_relative() => dir.join(given),
        _ => given.to_path_buf(),
    })
}

/// The shop's side: `product_url` with selectors, or `feed`.
fn shop_side(c: &mut Checker, path: &str, f: &CatalogProbeFile) -> ShopSide {
    let placeholder = || ShopSide::Pages {
        template: String::new(),
        price_selector: None,
        price_attribute: None,
        stock_selector: None,
        stock_attribute: None,
    };
    match (&f.product_url, &f.feed) {
        (Some(_), Some(_)) => {
            c.error_hint(
                &format!("{path}.feed"),
                "give `product_url` or `feed`, not both",
                "`product_url` reads each SKU's page; `feed` reads the shop's feed once per run",
            );
            placeholder()
        }
        (None, None) => {
            c.key_error_hint(
                path,
                "the catalog probe needs the shop's side: `product_url` or `feed`",
                "`product_url: https://shop.example/products/{sku}` with `price_selector` and `stock_selector`, or `feed: https://shop.example/feeds/google-shopping.xml`",
            );
            placeholder()
        }
        (None, Some(text)) => match http_url("the feed", text) {
            Ok(url) => ShopSide::Feed(url),
            Err(message) => {
                c.error(&format!("{path}.feed"), message);
                placeholder()
            }
        },
        (Some(template), None) => {
            let at = format!("{path}.product_url");
            if !template.contains("{sku}") {
                c.error_hint(
                    &at,
                    "`product_url` has no `{sku}`: every SKU would be the same page",
                    "e.g. `https://shop.example/products/{sku}`",
                );
            } else if let Err(message) = http_url("product_url", &template.replace("{sku}", "x")) {
                c.error(&at, message);
            }
            let price_selector =
                c.page_selector(&format!("{path}.price_selector"), &f.price_selector);
            let stock_selector =
                c.page_selector(&format!("{path}.stock_selector"), &f.stock_selector);
            if f.price_selector.is_none() && f.stock_selector.is_none() {
                c.error_hint(
                    &at,
                    "a product page needs `price_selector`, `stock_selector` or both: nothing would be compared",
                    "CSS selectors for the elements that show them, e.g. `price_selector: .product .price`",
                );
            }
            ShopSide::Pages {
                template: template.clone(),
                price_selector,
                price_attribute: f.price_attribute.clone(),
                stock_selector,
                stock_attribute: f.stock_attribute.clone(),
            }
        }
    }
}

/// One text or a list of them, each any scalar: `price_tolerance: 0.05`, `[0.05, 1%]`.
fn scalar_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    struct Text(String);
    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            scalar_text(d).map(Text)
        }
    }
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an amount, a percentage, or a list of them")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<S: de::SeqAccess<'de>>(self, seq: S) -> Result<Vec<String>, S::Error> {
            Vec::<Text>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                .map(|list| list.into_iter().map(|t| t.0).collect())
        }
    }
    Ok(Some(d.deserialize_any(V)?))
}

/// `- catalog:` as written; values stay text until [`super::validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogProbeFile {
    pub name: String,
    /// The ERP export: an http(s) URL or a file path.
    pub source: String,
    /// `auto`, `csv` or `json`.
    pub format: Option<String>,
    pub sku_field: Option<String>,
    pub price_field: Option<String>,
    pub stock_field: Option<String>,
    pub exported_at_field: Option<String>,
    pub items_field: Option<String>,
    /// `https://shop.example/products/{sku}`.
    pub product_url: Option<String>,
    pub price_selector: Option<String>,
    pub price_attribute: Option<String>,
    pub stock_selector: Option<String>,
    pub stock_attribute: Option<String>,
    pub feed: Option<String>,
    /// A number or `all`.
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub sample: Option<String>,
    #[serde(default, deserialize_with = "scalar_list")]
    pub price_tolerance: Option<Vec<String>>,
    /// `presence` or `exact`.
    pub stock: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub max_age: Option<String>,
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
    fn a_price_is_within_the_larger_tolerance() {
        let both = Tolerance {
            absolute: 0.05,
            fraction: 0.01,
        };
        assert!(both.allows(9.90, 9.95));
        assert!(both.allows(9.90, 9.98), "1% of 9.90 is more than 0.05");
        assert!(!both.allows(9.90, 10.00));
        assert!(both.allows(100.0, 101.0));
        assert!(!Tolerance::default().allows(9.90, 9.91));
        assert!(Tolerance::default().allows(9.9, 9.899_999_9));
    }
}
