//! One timed series: exact cumulative buckets for a Prometheus histogram, and a sliding window
//! of HDR histograms for the quantiles of a summary.
//!
//! The window is split into [`SLICES`] time slices plus one running window histogram
//! (`Histogram<u32>`, 3 significant figures, unit milliseconds, auto-resizing) that holds every
//! value of the live slices: a value goes into the current slice and into the window histogram;
//! when a slice expires its values are taken out of the window histogram. A scrape never merges
//! slices: it computes the quantiles in one pass over the window histogram or, while the window
//! holds few values (all in raw slices), by sorting those, with the same result; cached until
//! the series changes (a value recorded, a slice expired).
//!
//! A slice keeps its values as they are (4 bytes each) up to [`RAW_SLICE_MAX`] values, and only
//! past that turns into an HDR histogram. An HDR histogram of 3 significant figures takes at
//! least 8 KiB (2048 counts) and 12 to 16 KiB for values of a few seconds, while a slice of a
//! journey run once a minute holds 10 values: raw slices make a series of the default window
//! about 6 times smaller (measured in `benches/metrics.rs`), and a slice never takes more than
//! an HDR histogram would. When a raw slice expires, the window histogram is rebuilt from the
//! live slices (a few hundred values at most, once per slice length); an HDR slice is
//! subtracted.
//!
//! Time is counted in slice numbers (epochs) since an origin the caller keeps: a value recorded
//! in epoch `e` stays in the window while the current epoch is below `e + SLICES`, that is for
//! between 5/6 of the window and the whole window.

use hdrhistogram::Histogram;

/// Time slices per window.
pub const SLICES: usize = 6;

/// The quantiles exported, ascending; `1` is the maximum.
pub const QUANTILES: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 1.0];

/// Values a slice keeps as they are before it turns into an HDR histogram: as many bytes as
/// the smallest HDR histogram of 3 significant figures.
pub const RAW_SLICE_MAX: usize = 2048;

/// Up to this many values in the window (all in raw slices), quantiles are taken by sorting
/// them; above, from the window histogram.
const SORT_QUANTILES_MAX: usize = 256;

/// Largest value the window takes, in milliseconds (about 49 days); larger values are clamped
/// to it (they still count exactly in the buckets, `_sum` and `_count`).
const MAX_MS: f64 = u32::MAX as f64;

/// Significant figures of the HDR histograms.
const SIGFIG: u8 = 3;

fn new_hdr() -> Histogram<u32> {
    Histogram::new(SIGFIG).expect("3 significant figures are valid")
}

/// Records `ms`, growing the histogram as needed (values up to `MAX_MS` always fit).
fn record(h: &mut Histogram<u32>, ms: u32) {
    if h.record(u64::from(ms)).is_err() {
        h.saturating_record(u64::from(ms));
    }
}

/// A value as the metrics take it: a finite, non-negative number of seconds (anything else
/// counts as 0, so one bad value cannot poison a `_sum` forever).
pub(crate) fn sane_seconds(seconds: f64) -> f64 {
    if seconds.is_finite() && seconds > 0.0 {
        seconds
    } else {
        0.0
    }
}

/// Cumulative Prometheus histogram buckets, counted when a value is recorded against the
/// configured upper bounds (`le` semantics: a value equal to a bound counts in that bucket),
/// plus the exact all-time `_sum` (seconds) and `_count`. Never reset except when the bounds
/// change.
#[derive(Debug, Clone)]
pub struct Buckets {
    /// Values per bucket, not yet cumulative: `counts[i]` holds the values in
    /// `(bounds[i-1], bounds[i]]`; values above the last bound are only in `count` (`+Inf`).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Buckets {
    pub fn new(bounds: usize) -> Self {
        Buckets {
            counts: vec![0; bounds],
            sum: 0.0,
            count: 0,
        }
    }

    /// Counts `seconds` (already sane) against `bounds` (ascending, finite, as many as this was
    /// made for).
    pub fn observe(&mut self, bounds: &[f64], seconds: f64) {
        let i = bounds.partition_point(|b| *b < seconds);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// The cumulative count of each bound, in order (the `+Inf` bucket is `count()`).
    pub fn cumulative(&self) -> impl Iterator<Item = u64> + '_ {
        self.counts.iter().scan(0u64, |total, c| {
            *total += c;
            Some(*total)
        })
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Starts over with `bounds` buckets.
    pub fn reset(&mut self, bounds: usize) {
        *self = Buckets::new(bounds);
    }

    fn heap_bytes(&self) -> usize {
        self.counts.capacity() * std::mem::size_of::<u64>()
    }
}

/// The values of one time slice.
#[derive(Debug, Clone)]
enum Values {
    /// Up to [`RAW_SLICE_MAX`] values in milliseconds, as recorded.
    Raw(Vec<u32>),
    /// More.
    Hdr(Histogram<u32>),
}

#[derive(Debug, Clone)]
struct Slice {
    epoch: u64,
    values: Values,
}

impl Slice {
    fn len(&self) -> u64 {
        match &self.values {
            Values::Raw(v) => v.len() as u64,
            Values::Hdr(h) => h.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record(&mut self, ms: u32) {
        match &mut self.values {
            Values::Raw(v) if v.len() < RAW_SLICE_MAX => v.push(ms),
            Values::Raw(v) => {
                let mut h = new_hdr();
                for x in v.iter() {
                    record(&mut h, *x);
                }
                record(&mut h, ms);
                self.values = Values::Hdr(h);
            }
            Values::Hdr(h) => record(h, ms),
        }
    }

    /// Adds the values to `total`.
    fn add_to(&self, total: &mut Histogram<u32>) {
        match &self.values {
            Values::Raw(v) => v.iter().for_each(|x| record(total, *x)),
            // Cannot fail: `total` auto-resizes and has the same precision.
            Values::Hdr(h) => {
                let _ = total.add(h);
            }
        }
    }

    /// Empties the slice, keeping what it allocated (a high-rate series keeps its HDR
    /// histogram).
    fn clear(&mut self) {
        match &mut self.values {
            Values::Raw(v) => v.clear(),
            Values::Hdr(h) => h.reset(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match &self.values {
            Values::Raw(v) => v.capacity() * std::mem::size_of::<u32>(),
            Values::Hdr(h) => h.distinct_values() * std::mem::size_of::<u32>(),
        }
    }
}

/// The sliding window of one series. The window histogram is allocated on the first value;
/// slices keep their allocation when they expire, to be reused.
#[derive(Debug, Clone, Default)]
pub struct Window {
    slices: [Option<Slice>; SLICES],
    /// Every value of the live slices.
    total: Option<Histogram<u32>>,
    /// Quantiles of `total` in seconds, in the order of [`QUANTILES`]; `None`: not computed
    /// since the last change.
    cache: Option<Option<[f64; QUANTILES.len()]>>,
}

impl Window {
    /// Takes the slices that are out of the window at `epoch` out of it.
    pub fn expire(&mut self, epoch: u64) {
        let Some(total) = self.total.as_mut() else {
            return;
        };
        let mut rebuild = false;
        let mut changed = false;
        for slice in self.slices.iter_mut().flatten() {
            if !slice.is_empty() && slice.epoch.saturating_add(SLICES as u64) <= epoch {
                match &slice.values {
                    // Cannot fail: `total` holds every value of the slice. Should it ever, the
                    // window histogram is rebuilt.
                    Values::Hdr(h) => rebuild |= total.subtract(h).is_err(),
                    Values::Raw(_) => rebuild = true,
                }
                slice.clear();
                changed = true;
            }
        }
        if rebuild {
            total.reset();
            for slice in self.slices.iter().flatten() {
                slice.add_to(total);
            }
        }
        if changed {
            self.cache = None;
        }
    }

    /// Records `ms` in the slice of `epoch` and in the window histogram.
    pub fn record(&mut self, ms: u32, epoch: u64) {
        self.expire(epoch);
        let slot = &mut self.slices[(epoch % SLICES as u64) as usize];
        let slice = slot.get_or_insert_with(|| Slice {
            epoch,
            values: Values::Raw(Vec::new()),
        });
        // After `expire`, a slot holding an older epoch (`epoch - k * SLICES`) is empty. A
        // newer one only when `now` went backwards: then the value goes into that slice.
        if slice.is_empty() {
            slice.epoch = epoch;
        }
        slice.record(ms);
        record(self.total.get_or_insert_with(new_hdr), ms);
        self.cache = None;
    }

    /// The quantiles of the window in seconds, in the order of [`QUANTILES`], or `None` when
    /// the window is empty. Call [`Window::expire`] first.
    pub fn quantiles(&mut self) -> Option<[f64; QUANTILES.len()]> {
        if let Some(cached) = self.cache {
            return cached;
        }
        let computed = self
            .total
            .as_ref()
            .and_then(|total| match self.raw_values(total) {
                Some(mut values) => quantiles_of_values(total, &mut values),
                None => quantiles_of(total),
            });
        self.cache = Some(computed);
        computed
    }

    /// Every value of the window as recorded, when all live slices hold them raw and they
    /// are few ([`SORT_QUANTILES_MAX`]): sorting them is then cheaper than walking the
    /// window histogram's counts (thousands of them for values of a few seconds).
    fn raw_values(&self, total: &Histogram<u32>) -> Option<Vec<u32>> {
        if total.len() > SORT_QUANTILES_MAX as u64 {
            return None;
        }
        let mut values = Vec::with_capacity(total.len() as usize);
        for slice in self.slices.iter().flatten() {
            match &slice.values {
                Values::Raw(v) => values.extend_from_slice(v),
                // An expired busy slice keeps its (empty) histogram.
                Values::Hdr(h) if h.is_empty() => {}
                Values::Hdr(_) => return None,
            }
        }
        Some(values)
    }

    /// Whether the quantiles are cached (for tests).
    #[cfg(test)]
    pub(crate) fn is_cached(&self) -> bool {
        self.cache.is_some()
    }

    /// Values in the window.
    pub fn len(&self) -> u64 {
        self.total.as_ref().map_or(0, Histogram::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn heap_bytes(&self) -> usize {
        let slices: usize = self.slices.iter().flatten().map(Slice::heap_bytes).sum();
        let total = self
            .total
            .as_ref()
            .map_or(0, |h| h.distinct_values() * std::mem::size_of::<u32>());
        slices + total
    }
}

/// The quantiles of `h` (milliseconds) in seconds, in one pass over its counts, each as
/// `Histogram::value_at_quantile` has it: the highest value equivalent to the smallest recorded
/// value at or below which at least that part of the values are (3 significant figures: at most
/// 0.1% above the true value; exact below 2048 ms).
fn quantiles_of(h: &Histogram<u32>) -> Option<[f64; QUANTILES.len()]> {
    if h.is_empty() {
        return None;
    }
    let mut out = [0.0; QUANTILES.len()];
    for (slot, value) in out.iter_mut().zip(h.value_at_quantiles(QUANTILES)) {
        *slot = value as f64 / 1000.0;
    }
    Some(out)
}

/// The quantiles of `values` (every value `total` holds, in any order) exactly as
/// [`quantiles_of`] has them from `total`: the value of rank ⌈q·n⌉ (at least 1) in sorted
/// order, as the highest value equivalent to it in `total` (the lowest for q = 0).
fn quantiles_of_values(
    total: &Histogram<u32>,
    values: &mut [u32],
) -> Option<[f64; QUANTILES.len()]> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len() as u64;
    let mut out = [0.0; QUANTILES.len()];
    for (slot, q) in out.iter_mut().zip(QUANTILES) {
        // The rank as `Histogram::value_at_quantiles` computes it.
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).clamp(1, n);
        let value = u64::from(values[rank as usize - 1]);
        let value = if q == 0.0 {
            total.lowest_equivalent(value)
        } else {
            total.highest_equivalent(value)
        };
        *slot = value as f64 / 1000.0;
    }
    Some(out)
}

/// A duration series: exact buckets, `_sum` and `_count` for the histogram, a sliding window
/// for the quantiles of the summary.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct DurationSeries {
    pub buckets: Buckets,
    pub window: Window,
}

impl DurationSeries {
    /// A series for `bounds` bucket bounds.
    pub fn new(bounds: usize) -> Self {
        DurationSeries {
            buckets: Buckets::new(bounds),
            window: Window::default(),
        }
    }

    /// Records `seconds` at `epoch` (the slice number): into the buckets against `bounds`
    /// (ascending, finite, as many as the series was made for) and into the window.
    pub fn record(&mut self, bounds: &[f64], seconds: f64, epoch: u64) {
        let seconds = sane_seconds(seconds);
        self.buckets.observe(bounds, seconds);
        let ms = (seconds * 1000.0).round().min(MAX_MS) as u32;
        self.window.record(ms, epoch);
    }

    /// The window's quantiles at `epoch`, see [`Window::quantiles`].
    pub fn quantiles(&mut self, epoch: u64) -> Option<[f64; QUANTILES.len()]> {
        self.window.expire(epoch);
        self.window.quantiles()
    }

    /// Heap bytes of the series: the HDR counts arrays (4 bytes per distinct value), the raw
    /// slices and the bucket counts.
    pub fn heap_bytes(&self) -> usize {
        self.window.heap_bytes() + self.buckets.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: [f64; 3] = [0.1, 0.25, 1.0];

    #[test]
    fn quantiles_are_exact_for_known_data() {
        let mut s = DurationSeries::new(BOUNDS.len());
        for ms in 1..=1000 {
            s.record(&BOUNDS, ms as f64 / 1000.0, 0);
        }
        let q = s.quantiles(0).unwrap();
        assert_eq!(q, [0.5, 0.9, 0.99, 0.999, 1.0]);
        // The same as hdrhistogram's own, one quantile at a time.
        let total = s.window.total.as_ref().unwrap();
        for (i, quantile) in QUANTILES.iter().enumerate() {
            assert_eq!(q[i], total.value_at_quantile(*quantile) as f64 / 1000.0);
        }
    }

    #[test]
    fn quantiles_within_hdr_precision_for_large_values() {
        let mut s = DurationSeries::new(0);
        for ms in 1..=100_000u64 {
            s.record(&[], ms as f64 / 1000.0, 0);
        }
        let q = s.quantiles(0).unwrap();
        for (i, exact) in [50.0, 90.0, 99.0, 99.9, 100.0].iter().enumerate() {
            let err = (q[i] - exact).abs() / exact;
            assert!(
                err <= 0.001,
                "quantile {}: {} vs {exact}",
                QUANTILES[i],
                q[i]
            );
        }
    }

    #[test]
    fn slices_expire_and_the_window_stays_their_sum() {
        let mut s = DurationSeries::new(0);
        for epoch in 0..20u64 {
            s.record(&[], (epoch + 1) as f64 / 1000.0, epoch);
            let live: u64 = s.window.slices.iter().flatten().map(Slice::len).sum();
            assert_eq!(s.window.len(), live);
            assert_eq!(s.window.len(), (epoch + 1).min(SLICES as u64));
        }
        // Epochs 14..=19 are live; at 24 only 19's value remains, at 25 none.
        assert_eq!(s.quantiles(24).unwrap(), [0.02; 5]);
        assert_eq!(s.quantiles(25), None);
        assert_eq!(s.buckets.count(), 20);
    }

    #[test]
    fn busy_slices_turn_into_hdr_and_expire_by_subtraction() {
        let mut s = DurationSeries::new(0);
        let n = RAW_SLICE_MAX as u64 + 10;
        for i in 0..n {
            s.record(&[], (i % 500 + 1) as f64 / 1000.0, 0);
        }
        let first = s.window.slices[0].as_ref().unwrap();
        assert!(matches!(first.values, Values::Hdr(_)));
        assert_eq!(first.len(), n);
        s.record(&[], 2.0, 1);
        assert_eq!(s.window.len(), n + 1);
        assert!(s.quantiles(5).unwrap()[0] < 0.5);
        assert_eq!(s.quantiles(6).unwrap(), [2.0; 5]);
        assert_eq!(s.window.len(), 1);
        // The emptied HDR slice is reused for its next epoch.
        s.record(&[], 0.003, 6);
        assert!(matches!(
            s.window.slices[0].as_ref().unwrap().values,
            Values::Hdr(_)
        ));
        assert_eq!(s.quantiles(6).unwrap()[0], 0.003);
    }

    #[test]
    fn the_window_always_matches_a_histogram_of_the_live_values() {
        let mut s = DurationSeries::new(0);
        let mut recorded: Vec<(u64, u32)> = Vec::new();
        let mut x: u64 = 12345;
        for epoch in 0..40u64 {
            // A varying number of values per slice, some busy enough to become HDR.
            let count = [3, 0, 50, 2100, 1, 7][(epoch % 6) as usize];
            for _ in 0..count {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let ms = ((x >> 33) % 20_000) as u32;
                s.record(&[], f64::from(ms) / 1000.0, epoch);
                recorded.push((epoch, ms));
            }
            let mut reference = new_hdr();
            for (e, ms) in &recorded {
                if e + SLICES as u64 > epoch {
                    record(&mut reference, *ms);
                }
            }
            assert_eq!(
                s.quantiles(epoch),
                quantiles_of(&reference),
                "epoch {epoch}"
            );
            assert_eq!(s.window.len(), reference.len());
        }
    }

    #[test]
    fn sorted_values_give_the_window_histograms_quantiles() {
        let mut x: u64 = 99;
        for n in [1usize, 2, 3, 7, 10, 60, 199, 255, SORT_QUANTILES_MAX] {
            let mut s = DurationSeries::new(0);
            for i in 0..n {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Above 2048 ms values share HDR buckets: the equivalence must match too.
                let ms = ((x >> 33) % 100_000) as u32;
                s.record(&[], f64::from(ms) / 1000.0, (i % SLICES) as u64);
            }
            s.window.expire(0);
            let total = s.window.total.as_ref().unwrap();
            let mut values = s.window.raw_values(total).expect("few raw values");
            assert_eq!(values.len(), n);
            assert_eq!(
                quantiles_of_values(total, &mut values),
                quantiles_of(total),
                "{n} values"
            );
        }
        let mut s = DurationSeries::new(0);
        for ms in 0..=SORT_QUANTILES_MAX {
            s.record(&[], ms as f64 / 1000.0, 0);
        }
        let total = s.window.total.as_ref().unwrap();
        assert!(s.window.raw_values(total).is_none(), "too many to sort");
    }

    #[test]
    fn bad_values_count_as_zero() {
        let mut s = DurationSeries::new(BOUNDS.len());
        s.record(&BOUNDS, f64::NAN, 0);
        s.record(&BOUNDS, -1.0, 0);
        s.record(&BOUNDS, f64::INFINITY, 0);
        assert_eq!(s.buckets.sum(), 0.0);
        assert_eq!(s.buckets.cumulative().collect::<Vec<_>>(), [3, 3, 3]);
        assert_eq!(s.quantiles(0).unwrap(), [0.0; 5]);
    }
}
