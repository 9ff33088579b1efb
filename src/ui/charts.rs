//! Charts as inline SVG, drawn on the server: the pages need no script to show them. Every
//! text put into a chart (a step name, a time) is escaped here, since the templates insert
//! the SVG as it is.

use std::fmt::Write;

/// `text` safe inside SVG/HTML text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// The colour class of an outcome (the page's CSS gives each its colour).
pub fn outcome_class(outcome: &str) -> &'static str {
    match outcome {
        "ok" => "ok",
        "degraded" | "flaky" | "slow" => "warn",
        "failed" => "bad",
        "error" => "err",
        _ => "none",
    }
}

/// Milliseconds for people: `850 ms`, `2.4 s`, `1 min 5 s`.
pub fn duration(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        let s = (ms / 1000.0).round() as i64;
        format!("{} min {} s", s / 60, s % 60)
    }
}

/// Unix milliseconds as `2026-12-03 10:51:24 UTC`.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// Unix milliseconds as `2026-12-03`.
pub fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// A share as `99.95%`, or `no runs`.
pub fn percent(share: Option<f64>) -> String {
    match share {
        Some(x) if x >= 1.0 => "100%".to_string(),
        Some(x) => {
            let p = x * 100.0;
            // Never round a failure up to 100%.
            let p = (p * 100.0).floor() / 100.0;
            format!("{p:.2}%")
        }
        None => "no runs".to_string(),
    }
}

/// One series of a line chart.
pub struct Line<'a> {
    pub class: &'a str,
    pub label: &'a str,
    /// (x, y): x in any unit that increases, y in milliseconds.
    pub points: Vec<(f64, f64)>,
}

/// Lines on shared axes, `width` x `height` pixels; the y axis starts at 0 and its top is
/// labelled; the x axis spans `x_range` (the period shown, so a gap reads as one), else the
/// points'. With `labels`, a legend and the x range (`from` .. `to`) are written under it.
pub fn lines(
    lines: &[Line],
    width: f64,
    height: f64,
    x_range: Option<(f64, f64)>,
    labels: Option<(&str, &str)>,
) -> String {
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (min_x, max_x) = x_range.unwrap_or_else(|| {
        all().fold((f64::MAX, f64::MIN), |(lo, hi), (x, _)| {
            (lo.min(*x), hi.max(*x))
        })
    });
    let max_y = all().fold(0.0f64, |hi, (_, y)| hi.max(*y)).max(1.0);
    let (pad_top, pad_bottom) = if labels.is_some() {
        (14.0, 30.0)
    } else {
        (2.0, 2.0)
    };
    let plot_h = (height - pad_top - pad_bottom).max(1.0);
    let span = (max_x - min_x).max(1.0);
    let mut svg = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">"
    );
    if labels.is_some() {
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"0\" y1=\"{y}\" x2=\"{width}\" y2=\"{y}\"/><text x=\"2\" y=\"10\">{}</text>",
            esc(&duration(max_y)),
            y = pad_top + plot_h
        );
    }
    for line in lines {
        if line.points.is_empty() {
            continue;
        }
        let coords: Vec<String> = line
            .points
            .iter()
            .map(|(x, y)| {
                let px = if x_range.is_none() && lines.iter().all(|l| l.points.len() <= 1) {
                    width / 2.0
                } else {
                    (x - min_x) / span * (width - 4.0) + 2.0
                };
                let py = pad_top + plot_h - y / max_y * plot_h;
                format!("{px:.1},{py:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"{}\" points=\"{}\"><title>{}</title></polyline>",
            esc(line.class),
            coords.join(" "),
            esc(line.label)
        );
        if coords.len() == 1 {
            let (x, y) = coords[0].split_once(',').unwrap_or(("0", "0"));
            let _ = write!(
                svg,
                "<circle class=\"{}\" cx=\"{x}\" cy=\"{y}\" r=\"2.5\"/>",
                esc(line.class)
            );
        }
    }
    if let Some((from, to)) = labels {
        let y = height - 16.0;
        let _ = write!(
            svg,
            "<text x=\"2\" y=\"{y}\">{}</text><text x=\"{width}\" y=\"{y}\" text-anchor=\"end\">{}</text>",
            esc(from),
            esc(to)
        );
        let mut x = 2.0;
        for line in lines {
            let _ = write!(
                svg,
                "<rect class=\"key {}\" x=\"{x}\" y=\"{}\" width=\"10\" height=\"4\"/><text x=\"{}\" y=\"{}\">{}</text>",
                esc(line.class),
                height - 7.0,
                x + 14.0,
                height - 3.0,
                esc(line.label)
            );
            x += 20.0 + 7.0 * line.label.chars().count() as f64;
        }
    }
    svg.push_str("</svg>");
    svg
}

/// One cell of a strip: a run or a day.
pub struct Cell {
    pub class: &'static str,
    pub title: String,
    /// Where a click goes (a run's page), if anywhere.
    pub href: Option<String>,
}

/// Cells side by side, oldest left, each `cell` pixels wide.
pub fn strip(cells: &[Cell], cell: f64, height: f64) -> String {
    let width = (cells.len() as f64 * cell).max(cell);
    let mut svg = format!(
        "<svg class=\"strip\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">"
    );
    for (i, c) in cells.iter().enumerate() {
        let rect = format!(
            "<rect class=\"{}\" x=\"{:.1}\" y=\"0\" width=\"{:.1}\" height=\"{height}\" rx=\"1.5\"><title>{}</title></rect>",
            c.class,
            i as f64 * cell,
            (cell - 2.0).max(1.0),
            esc(&c.title)
        );
        match &c.href {
            Some(href) => {
                let _ = write!(svg, "<a href=\"{}\">{rect}</a>", esc(href));
            }
            None => svg.push_str(&rect),
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A step of a run's waterfall.
pub struct Bar {
    pub label: String,
    pub class: &'static str,
    /// Milliseconds from the run's start, and long.
    pub start: f64,
    pub length: f64,
}

/// Steps one under the other, each at its offset from the run's start.
pub fn waterfall(bars: &[Bar], width: f64) -> String {
    const ROW: f64 = 22.0;
    const LABEL: f64 = 170.0;
    let total = bars
        .iter()
        .map(|b| b.start + b.length)
        .fold(0.0f64, f64::max)
        .max(1.0);
    let height = ROW * bars.len() as f64 + 4.0;
    let plot = width - LABEL - 80.0;
    let mut svg = format!(
        "<svg class=\"waterfall\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">"
    );
    for (i, b) in bars.iter().enumerate() {
        let y = i as f64 * ROW + 2.0;
        let x = LABEL + b.start / total * plot;
        let w = (b.length / total * plot).max(2.0);
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.1}\">{}</text><rect class=\"{}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\"><title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y + 14.0,
            esc(&b.label),
            b.class,
            ROW - 6.0,
            esc(&b.label),
            esc(&duration(b.length)),
            x + w + 4.0,
            y + 14.0,
            esc(&duration(b.length))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A shields.io-style badge: `label | value`, the value's field in `colour`.
pub fn badge(label: &str, value: &str, colour: &str) -> String {
    // About 6.5 px per character of 11 px Verdana, as shields.io measures.
    let text_width = |t: &str| 10.0 + 6.5 * t.chars().count() as f64;
    let (lw, vw) = (text_width(label), text_width(value));
    let width = lw + vw;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"20\" role=\"img\" aria-label=\"{l}: {v}\">\
<title>{l}: {v}</title>\
<rect width=\"{lw:.0}\" height=\"20\" fill=\"#555\"/><rect x=\"{lw:.0}\" width=\"{vw:.0}\" height=\"20\" fill=\"{colour}\"/>\
<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,DejaVu Sans,sans-serif\" font-size=\"11\">\
<text x=\"{lx:.1}\" y=\"14\">{l}</text><text x=\"{vx:.1}\" y=\"14\">{v}</text></g></svg>",
        l = esc(label),
        v = esc(value),
        colour = esc(colour),
        lx = lw / 2.0,
        vx = lw + vw / 2.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_in_charts_is_escaped() {
        let svg = strip(
            &[Cell {
                class: "bad",
                title: "<script>alert(1)</script>".into(),
                href: Some("/ui/runs/\"x".into()),
            }],
            8.0,
            20.0,
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;") && svg.contains("&quot;x"));
        let svg = badge("a<b", "ok", "#4c1");
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"));
    }

    #[test]
    fn shares_never_round_up_to_a_clean_record() {
        assert_eq!(percent(Some(0.99999)), "99.99%");
        assert_eq!(percent(Some(1.0)), "100%");
        assert_eq!(percent(None), "no runs");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(850.0), "850 ms");
        assert_eq!(duration(2400.0), "2.4 s");
        assert_eq!(duration(65_000.0), "1 min 5 s");
    }
}
