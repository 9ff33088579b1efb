//! A large feed through the feed probe (issue 13): a generated Google Shopping feed (RSS 2.0 with
//! the `g:` fields) and a sitemap, each of 100,000 items, served on 127.0.0.1, fetched, parsed
//! and checked by one run of the probe; time per run and the most memory the run holds.
//!
//! ```text
//! cargo bench --bench feed_parse
//! FEED_BENCH_ITEMS=1000000 FEED_BENCH_ROUNDS=3 cargo bench --bench feed_parse
//! ```
//!
//! Settings (environment): `FEED_BENCH_ITEMS` (100000), `FEED_BENCH_ROUNDS` (runs per document,
//! 5), `FEED_BENCH_SAMPLE` (the probe's `sample`, 3; with 0 no links are kept).
//!
//! Method: the documents are generated in memory (every item valid, with a link back to the
//! bench's server) and served by a small HTTP/1.1 server on a thread of this process. Each round
//! runs the probe once (`sample: 3`: three links are fetched too) on a current-thread tokio
//! runtime. A counting global allocator records the most bytes live at once during the run,
//! over what was live before it (the documents the server holds are not counted); that peak
//! includes the fetched body, which the probe reads into one buffer. The run must pass and count
//! every item, or the bench fails (exit 1). Reported: median, fastest and slowest wall time,
//! and the largest peak of the rounds.

use shopwatch::probe::feed::{FeedProbe, Format};
use shopwatch::probe::{Outcome, ProbeConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The system allocator, counting the bytes live and the most live since the last reset.
struct CountingAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl CountingAllocator {
    fn grow(size: usize) {
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::grow(layout.size());
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::grow(layout.size());
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            Self::grow(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here.
    }
    if let Err(e) = bench() {
        eprintln!("feed_parse: FAILED: {e}");
        std::process::exit(1);
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bench() -> Result<(), String> {
    let items = env_number("FEED_BENCH_ITEMS", 100_000);
    let rounds = env_number("FEED_BENCH_ROUNDS", 5).max(1);
    let sample = env_number("FEED_BENCH_SAMPLE", 3);
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let shopping = Arc::new(shopping_feed(&base, items));
    let sitemap = Arc::new(sitemap(&base, items));
    let documents = [
        ("google_shopping", "/feed.xml", Format::Shopping, shopping),
        ("sitemap", "/sitemap.xml", Format::Sitemap, sitemap),
    ];
    let served: Vec<(String, Arc<String>)> = documents
        .iter()
        .map(|(_, path, _, body)| (path.to_string(), body.clone()))
        .collect();
    std::thread::spawn(move || serve(listener, served));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    println!("feed_parse: {items} items, sample {sample}, {rounds} rounds per document");
    for (name, path, format, body) in &documents {
        let probe = ProbeConfig::Feed(Box::new(probe(
            name,
            &format!("{base}{path}"),
            *format,
            sample,
        )));
        let mut times = Vec::new();
        let mut peak = 0;
        for _ in 0..rounds {
            let before = LIVE.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let started = Instant::now();
            let result = runtime.block_on(probe.run());
            times.push(started.elapsed());
            peak = peak.max(PEAK.load(Ordering::Relaxed) - before);
            let counted = result.metrics.feed.as_ref().map(|f| f.items);
            if result.outcome != Outcome::Ok || counted != Some(items as u64) {
                return Err(format!(
                    "{name}: {:?} with {counted:?} items: {}",
                    result.outcome,
                    result.reason.unwrap_or_default()
                ));
            }
        }
        times.sort();
        println!(
            "{name}: document {:.1} MiB; run {} (fastest {}, slowest {}); peak {:.1} MiB held",
            body.len() as f64 / 1048576.0,
            millis(times[times.len() / 2]),
            millis(times[0]),
            millis(times[times.len() - 1]),
            peak as f64 / 1048576.0
        );
    }
    Ok(())
}

fn millis(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn probe(name: &str, url: &str, format: Format, sample: usize) -> FeedProbe {
    FeedProbe {
        name: format!("bench-{name}"),
        url: url.parse().expect("the bench's URL"),
        format,
        min_items: 1,
        max_drop: None,
        max_age: Some(Duration::from_secs(86_400)),
        sample,
        required: ["id", "title", "link", "price", "availability", "image_link"]
            .map(String::from)
            .to_vec(),
        price_selector: None,
        ca_file: None,
        headers: Default::default(),
        every: Duration::from_secs(300),
        timeout: Duration::from_secs(600),
    }
}

/// RSS 2.0 with Google's `g:` fields, as shops export them: each item with its description.
fn shopping_feed(base: &str, items: usize) -> String {
    let now = chrono::Utc::now().to_rfc2822();
    let mut feed = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:g=\"http://base.google.com/ns/1.0\"><channel><title>Bench shop</title><link>{base}/</link><lastBuildDate>{now}</lastBuildDate>\n"
    );
    for i in 0..items {
        feed.push_str(&format!(
            "<item><g:id>sku-{i}</g:id><title>Mug number {i} &amp; saucer</title><link>{base}/p/{i}</link><description><![CDATA[A stoneware mug, {i} of a kind, holds 350 ml.]]></description><g:price>{}.{:02} EUR</g:price><g:availability>in_stock</g:availability><g:image_link>{base}/img/{i}.jpg</g:image_link><g:brand>Bench</g:brand><g:condition>new</g:condition></item>\n",
            5 + i % 95,
            i % 100
        ));
    }
    feed.push_str("</channel></rss>\n");
    feed
}

fn sitemap(base: &str, urls: usize) -> String {
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let mut sitemap = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for i in 0..urls {
        sitemap.push_str(&format!(
            "<url><loc>{base}/p/{i}</loc><lastmod>{today}</lastmod><changefreq>daily</changefreq></url>\n"
        ));
    }
    sitemap.push_str("</urlset>\n");
    sitemap
}

/// Answers each request on its own connection: a served document by its path, else a small page.
fn serve(listener: TcpListener, documents: Vec<(String, Arc<String>)>) {
    for stream in listener.incoming().flatten() {
        let documents = documents.clone();
        std::thread::spawn(move || answer(stream, &documents));
    }
}

fn answer(mut stream: TcpStream, documents: &[(String, Arc<String>)]) {
    let mut request_line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // The rest of the request head, up to its blank line.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let page = "<html><body>a product</body></html>";
    let (content_type, body) = match documents.iter().find(|(p, _)| p == path) {
        Some((_, document)) => ("application/xml", document.as_bytes()),
        None => ("text/html", page.as_bytes()),
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}
