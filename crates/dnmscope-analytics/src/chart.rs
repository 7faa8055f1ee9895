//! Small, dependency-free SVG charts: line charts over time and bar charts, with axes, ticks,
//! a legend and a title. The SVG is self-contained (no scripts, no external fonts or styles),
//! so it can be inlined in an HTML report, opened on its own, or rasterised to PNG
//! ([`render_png`], pure Rust through resvg).
//!
//! Empty data is not an error: the chart is drawn with its frame and says "no data".

use std::fmt::Write;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate};

/// Series colours, in order (Okabe and Ito's palette, readable with colour-blindness).
pub const PALETTE: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#8c6d1f", "#000000",
];

/// The colour of the `index`-th series.
pub fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 380.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 64.0;
const BOTTOM: f64 = 64.0;

/// What the x values of a line chart are, which decides how ticks are placed and labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XScale {
    /// Whole numbers (crawl runs, weeks): ticks only at integers.
    Integer,
    Float,
    /// Days since 1970-01-01, labelled as dates.
    Date,
    /// Seconds since 1970-01-01T00:00Z, labelled as date and time (UTC).
    Timestamp,
}

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// (x, y) points; drawn in x order.
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_scale: XScale,
    pub series: Vec<Series>,
}

/// One group of bars (one colour) of a bar chart: a value per category, `None` where missing.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    pub label: String,
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub categories: Vec<String>,
    pub series: Vec<BarSeries>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    Line(LineChart),
    Bar(BarChart),
}

impl Chart {
    pub fn title(&self) -> &str {
        match self {
            Chart::Line(chart) => &chart.title,
            Chart::Bar(chart) => &chart.title,
        }
    }

    /// The labels of its series, in drawing (and colour) order.
    pub fn series_labels(&self) -> Vec<String> {
        match self {
            Chart::Line(chart) => chart.series.iter().map(|s| s.label.clone()).collect(),
            Chart::Bar(chart) => chart.series.iter().map(|s| s.label.clone()).collect(),
        }
    }

    /// Puts the series in the order of `labels`, adding empty ones for labels the chart lacks,
    /// so that a label has the same colour in every chart aligned to the same list (series whose
    /// label is not listed keep their place after the listed ones).
    pub fn align_series(&mut self, labels: &[String]) {
        fn align<T>(
            series: &mut Vec<T>,
            labels: &[String],
            label: impl Fn(&T) -> &str,
            empty: impl Fn(&str) -> T,
        ) {
            let mut rest: Vec<T> = std::mem::take(series);
            for wanted in labels {
                match rest.iter().position(|s| label(s) == wanted) {
                    Some(at) => series.push(rest.remove(at)),
                    None => series.push(empty(wanted)),
                }
            }
            series.extend(rest);
        }
        match self {
            Chart::Line(chart) => align(
                &mut chart.series,
                labels,
                |s| &s.label,
                |l| Series {
                    label: l.to_string(),
                    points: Vec::new(),
                },
            ),
            Chart::Bar(chart) => {
                let categories = chart.categories.len();
                align(
                    &mut chart.series,
                    labels,
                    |s| &s.label,
                    |l| BarSeries {
                        label: l.to_string(),
                        values: vec![None; categories],
                    },
                )
            }
        }
    }

    /// The chart as a standalone SVG document (also valid inline in HTML).
    pub fn to_svg(&self) -> String {
        match self {
            Chart::Line(chart) => line_svg(chart),
            Chart::Bar(chart) => bar_svg(chart),
        }
    }
}

/// Text escaped for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// About `count` evenly spaced round values (steps of 1, 2 or 5 times a power of ten) covering
/// `min..=max`.
pub fn nice_ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    if !min.is_finite() || !max.is_finite() || count == 0 {
        return Vec::new();
    }
    let (min, max) = if min == max {
        (min - 1.0, max + 1.0)
    } else {
        (min.min(max), max.max(min))
    };
    let raw = (max - min) / count as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (min / step).floor() * step;
    let precision = 10f64.powi((-step.log10().floor()).max(0.0) as i32);
    let mut ticks = Vec::new();
    let mut index = 0;
    loop {
        let tick = first + step * index as f64;
        if tick > max + step * 0.5 || index > 1000 {
            break;
        }
        // Snap away float noise (0.6000000000000001) at the step's precision.
        ticks.push((tick * precision).round() / precision);
        if tick >= max {
            break;
        }
        index += 1;
    }
    ticks
}

/// A number for an axis label: no trailing zeros, thousands as k and millions as M.
pub fn format_number(value: f64) -> String {
    let abs = value.abs();
    if abs >= 1e6 {
        trim(format!("{:.2}", value / 1e6)) + "M"
    } else if abs >= 1e4 {
        trim(format!("{:.1}", value / 1e3)) + "k"
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else if abs >= 1.0 {
        trim(format!("{value:.2}"))
    } else {
        trim(format!("{value:.3}"))
    }
}

fn trim(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn x_tick_label(scale: XScale, value: f64) -> String {
    match scale {
        XScale::Integer | XScale::Float => format_number(value),
        XScale::Date => NaiveDate::from_num_days_from_ce_opt(value.round() as i32 + 719_163)
            .map_or_else(
                || format_number(value),
                |d| d.format("%Y-%m-%d").to_string(),
            ),
        XScale::Timestamp => DateTime::from_timestamp(value.round() as i64, 0).map_or_else(
            || format_number(value),
            |t| t.format("%m-%d %H:%M").to_string(),
        ),
    }
}

struct Frame {
    out: String,
}

impl Frame {
    fn new(title: &str, kind: &str) -> Frame {
        let mut out = String::new();
        let _ = write!(
            out,
            r##"<svg xmlns="http://www.w3.org/2000/svg" class="dnm-chart dnm-chart-{kind}" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{t}" font-family="DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif" font-size="12"><title>{t}</title><rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/><text x="{x}" y="22" font-size="15" font-weight="bold" fill="#222222">{t}</text>"##,
            t = escape(title),
            x = LEFT,
        );
        Frame { out }
    }

    fn legend(&mut self, labels: &[&str]) {
        let mut x = LEFT;
        for (index, label) in labels.iter().enumerate() {
            let _ = write!(
                self.out,
                r##"<rect x="{x}" y="34" width="12" height="12" fill="{c}"/><text x="{tx}" y="44.5" fill="#333333">{l}</text>"##,
                c = colour(index),
                tx = x + 16.0,
                l = escape(label),
            );
            // Roughly 7 px per character at 12 px.
            x += 16.0 + 7.0 * label.chars().count() as f64 + 18.0;
        }
    }

    fn y_axis(&mut self, ticks: &[f64], y_of: impl Fn(f64) -> f64, label: &str) {
        for tick in ticks {
            let y = y_of(*tick);
            let _ = write!(
                self.out,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{tx}" y="{ty:.1}" text-anchor="end" fill="#444444">{l}</text>"##,
                x2 = WIDTH - RIGHT,
                tx = LEFT - 6.0,
                ty = y + 4.0,
                l = format_number(*tick),
            );
        }
        let middle = TOP + (HEIGHT - TOP - BOTTOM) / 2.0;
        let _ = write!(
            self.out,
            r##"<text x="16" y="{middle:.1}" transform="rotate(-90 16 {middle:.1})" text-anchor="middle" fill="#444444">{l}</text>"##,
            l = escape(label),
        );
    }

    fn axes(&mut self) {
        let _ = write!(
            self.out,
            r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="#888888"/><line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="#888888"/>"##,
            b = HEIGHT - BOTTOM,
            r = WIDTH - RIGHT,
        );
    }

    fn no_data(&mut self) {
        let _ = write!(
            self.out,
            r##"<text class="dnm-no-data" x="{x}" y="{y}" text-anchor="middle" fill="#777777" font-size="14">no data</text>"##,
            x = LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
            y = TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
        );
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// Maps `min..=max` onto `from..=to`.
fn scale(min: f64, max: f64, from: f64, to: f64) -> impl Fn(f64) -> f64 {
    let span = if max > min { max - min } else { 1.0 };
    move |v| from + (v - min) / span * (to - from)
}

fn y_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        min = min.min(v);
        max = max.max(v);
    }
    if !min.is_finite() {
        return (0.0, 1.0);
    }
    // Counts and shares read best from zero.
    let min = min.min(0.0);
    let max = if max <= min { min + 1.0 } else { max };
    (min, max)
}

fn line_svg(chart: &LineChart) -> String {
    let mut frame = Frame::new(&chart.title, "line");
    let labels: Vec<&str> = chart.series.iter().map(|s| s.label.as_str()).collect();
    frame.legend(&labels);
    let points = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let (y_min, y_max) = y_range(points().map(|p| p.1));
    let y_ticks = nice_ticks(y_min, y_max, 5);
    let y_lo = y_ticks.first().copied().unwrap_or(y_min).min(y_min);
    let y_hi = y_ticks.last().copied().unwrap_or(y_max).max(y_max);
    let y_of = scale(y_lo, y_hi, HEIGHT - BOTTOM, TOP);
    frame.y_axis(&y_ticks, &y_of, &chart.y_label);

    let (mut x_min, mut x_max) = (f64::INFINITY, f64::NEG_INFINITY);
    for (x, _) in points() {
        x_min = x_min.min(*x);
        x_max = x_max.max(*x);
    }
    let empty = !x_min.is_finite();
    if empty {
        (x_min, x_max) = (0.0, 1.0);
    }
    // A single x value sits in the middle of the axis.
    if x_max <= x_min {
        (x_min, x_max) = (x_min - 1.0, x_max + 1.0);
    }
    let mut x_ticks = match chart.x_scale {
        XScale::Date => nice_ticks(x_min, x_max, 6)
            .into_iter()
            .filter(|t| t.fract() == 0.0)
            .collect(),
        XScale::Integer => nice_ticks(x_min, x_max, 8)
            .into_iter()
            .filter(|t| t.fract() == 0.0)
            .collect(),
        XScale::Float | XScale::Timestamp => nice_ticks(x_min, x_max, 6),
    };
    x_ticks.retain(|t| *t >= x_min - 1e-9 && *t <= x_max + 1e-9);
    let x_of = scale(x_min, x_max, LEFT + 12.0, WIDTH - RIGHT - 12.0);
    for tick in &x_ticks {
        let x = x_of(*tick);
        let _ = write!(
            frame.out,
            r##"<line x1="{x:.1}" y1="{b}" x2="{x:.1}" y2="{b2}" stroke="#888888"/><text x="{x:.1}" y="{ty}" text-anchor="middle" fill="#444444">{l}</text>"##,
            b = HEIGHT - BOTTOM,
            b2 = HEIGHT - BOTTOM + 5.0,
            ty = HEIGHT - BOTTOM + 19.0,
            l = escape(&x_tick_label(chart.x_scale, *tick)),
        );
    }
    let _ = write!(
        frame.out,
        r##"<text x="{x}" y="{y}" text-anchor="middle" fill="#444444">{l}</text>"##,
        x = LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        y = HEIGHT - 16.0,
        l = escape(&chart.x_label),
    );
    frame.axes();
    if empty {
        frame.no_data();
    }
    for (index, series) in chart.series.iter().enumerate() {
        let mut points: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let c = colour(index);
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", x_of(*x), y_of(*y)))
            .collect();
        let _ = write!(
            frame.out,
            r##"<g class="dnm-series" data-label="{l}">"##,
            l = escape(&series.label)
        );
        // A single point is a dot only (a one-point polyline is invalid SVG).
        if points.len() > 1 {
            let _ = write!(
                frame.out,
                r##"<polyline fill="none" stroke="{c}" stroke-width="2.5" stroke-linejoin="round" points="{p}"/>"##,
                p = path.join(" "),
            );
        }
        for (x, y) in &points {
            let _ = write!(
                frame.out,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{c}"><title>{}: {}</title></circle>"##,
                x_of(*x),
                y_of(*y),
                escape(&x_tick_label(chart.x_scale, *x)),
                format_number(*y),
            );
        }
        frame.out.push_str("</g>");
    }
    frame.finish()
}

fn bar_svg(chart: &BarChart) -> String {
    let mut frame = Frame::new(&chart.title, "bar");
    let labels: Vec<&str> = chart.series.iter().map(|s| s.label.as_str()).collect();
    if chart.series.len() > 1 {
        frame.legend(&labels);
    }
    let values = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
    };
    let (y_min, y_max) = y_range(values());
    let y_ticks = nice_ticks(y_min, y_max, 5);
    let y_lo = y_ticks.first().copied().unwrap_or(y_min).min(y_min);
    let y_hi = y_ticks.last().copied().unwrap_or(y_max).max(y_max);
    let y_of = scale(y_lo, y_hi, HEIGHT - BOTTOM, TOP);
    frame.y_axis(&y_ticks, &y_of, &chart.y_label);
    frame.axes();
    let empty = chart.categories.is_empty() || values().next().is_none();
    if empty {
        frame.no_data();
        return frame.finish();
    }
    let groups = chart.categories.len() as f64;
    let group_width = (WIDTH - LEFT - RIGHT) / groups;
    let series_count = chart.series.len().max(1) as f64;
    let bar_width = (group_width * 0.8 / series_count).max(1.0);
    let rotate = chart.categories.len() > 8;
    for (category_index, category) in chart.categories.iter().enumerate() {
        let group_x = LEFT + group_width * category_index as f64;
        let label_x = group_x + group_width / 2.0;
        let label_y = HEIGHT - BOTTOM + 16.0;
        let shown: String = category.chars().take(18).collect();
        if rotate {
            let _ = write!(
                frame.out,
                r##"<text x="{label_x:.1}" y="{label_y:.1}" text-anchor="end" transform="rotate(-40 {label_x:.1} {label_y:.1})" fill="#444444" font-size="10">{l}</text>"##,
                l = escape(&shown),
            );
        } else {
            let _ = write!(
                frame.out,
                r##"<text x="{label_x:.1}" y="{label_y:.1}" text-anchor="middle" fill="#444444">{l}</text>"##,
                l = escape(&shown),
            );
        }
    }
    let zero = y_of(0f64.clamp(y_lo, y_hi));
    for (index, series) in chart.series.iter().enumerate() {
        let c = colour(index);
        let _ = write!(
            frame.out,
            r##"<g class="dnm-series" data-label="{l}">"##,
            l = escape(&series.label)
        );
        for (category_index, value) in series.values.iter().enumerate() {
            let Some(value) = value.filter(|v| v.is_finite()) else {
                continue;
            };
            let Some(category) = chart.categories.get(category_index) else {
                continue;
            };
            let x = LEFT
                + group_width * category_index as f64
                + group_width * 0.1
                + bar_width * index as f64;
            let y = y_of(value);
            let (top, height) = if y < zero {
                (y, zero - y)
            } else {
                (zero, y - zero)
            };
            let _ = write!(
                frame.out,
                r##"<rect x="{x:.1}" y="{top:.1}" width="{bar_width:.1}" height="{h:.1}" fill="{c}"><title>{cat}: {v}</title></rect>"##,
                h = height.max(0.5),
                cat = escape(category),
                v = format_number(value),
            );
        }
        frame.out.push_str("</g>");
    }
    frame.finish()
}

/// Errors of rasterising a chart.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot read the SVG of chart {chart:?}")]
    Svg {
        chart: String,
        #[source]
        source: resvg::usvg::Error,
    },
    #[error("cannot make a {width}x{height} image for chart {chart:?}")]
    Pixmap {
        chart: String,
        width: u32,
        height: u32,
    },
    #[error("cannot encode chart {chart:?} as PNG: {reason}")]
    Png { chart: String, reason: String },
}

/// The fonts PNG rendering draws text with (the system's; loading them takes a moment, so load
/// once and reuse). Without any font installed, PNGs are drawn without their text.
#[derive(Debug, Clone)]
pub struct Fonts(Arc<resvg::usvg::fontdb::Database>);

impl Fonts {
    pub fn system() -> Fonts {
        let mut database = resvg::usvg::fontdb::Database::new();
        database.load_system_fonts();
        if database.is_empty() {
            tracing::debug!("no system fonts found: chart PNGs will have no text");
        }
        Fonts(Arc::new(database))
    }
}

/// Rasterises an SVG chart to PNG bytes at `scale` times its size.
pub fn render_png(name: &str, svg: &str, fonts: &Fonts, scale: f32) -> Result<Vec<u8>, ChartError> {
    let options = resvg::usvg::Options {
        fontdb: fonts.0.clone(),
        ..resvg::usvg::Options::default()
    };
    let tree = resvg::usvg::Tree::from_str(svg, &options).map_err(|source| ChartError::Svg {
        chart: name.to_string(),
        source,
    })?;
    let size = tree.size();
    let width = (size.width() * scale).ceil() as u32;
    let height = (size.height() * scale).ceil() as u32;
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(width, height).ok_or_else(|| ChartError::Pixmap {
            chart: name.to_string(),
            width,
            height,
        })?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|err| ChartError::Png {
        chart: name.to_string(),
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_colour(hex: &str) -> (u8, u8, u8) {
        let value = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
        ((value >> 16) as u8, (value >> 8) as u8, value as u8)
    }

    /// Pixels of the PNG with exactly this colour.
    fn pixels_of(png: &[u8], hex: &str) -> usize {
        let pixmap = resvg::tiny_skia::Pixmap::decode_png(png).unwrap();
        let (r, g, b) = parse_colour(hex);
        pixmap
            .pixels()
            .iter()
            .filter(|p| p.red() == r && p.green() == g && p.blue() == b && p.alpha() == 255)
            .count()
    }

    fn two_lines() -> Chart {
        Chart::Line(LineChart {
            title: "Listings per crawl & market".to_string(),
            x_label: "crawl run".to_string(),
            y_label: "listings".to_string(),
            x_scale: XScale::Integer,
            series: vec![
                Series {
                    label: "nightshade".to_string(),
                    points: vec![(1.0, 120.0), (2.0, 140.0), (3.0, 0.0)],
                },
                Series {
                    label: "cobalt <b>".to_string(),
                    points: vec![(3.0, 90.0), (1.0, 80.0), (2.0, 85.0)],
                },
            ],
        })
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 140.0, 5), vec![0.0, 50.0, 100.0, 150.0]);
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(5.0, 5.0, 4), vec![4.0, 4.5, 5.0, 5.5, 6.0]);
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
        assert_eq!(format_number(12_500.0), "12.5k");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(x_tick_label(XScale::Date, 20_454.0), "2026-01-01");
    }

    #[test]
    fn a_line_chart_has_axes_legend_and_one_polyline_per_series() {
        let svg = two_lines().to_svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains("Listings per crawl &amp; market"));
        assert!(svg.contains("cobalt &lt;b&gt;"), "labels are escaped");
        assert!(svg.contains(PALETTE[0]) && svg.contains(PALETTE[1]));
        // x ticks at whole crawl numbers only, y ticks round.
        for tick in [">1</text>", ">2</text>", ">3</text>", ">150</text>"] {
            assert!(svg.contains(tick), "{tick} missing");
        }
        assert!(!svg.contains(">1.5</text>"));
        assert!(!svg.contains("no data"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn aligned_series_keep_one_colour_per_label() {
        let mut chart = two_lines();
        let labels = ["alpha", "cobalt <b>", "nightshade"].map(String::from);
        chart.align_series(&labels);
        assert_eq!(chart.series_labels(), labels);
        let svg = chart.to_svg();
        // alpha has no points: a legend entry, no line; cobalt takes the second colour.
        assert_eq!(svg.matches("<polyline").count(), 2);
        let cobalt = svg.find("data-label=\"cobalt &lt;b&gt;\"").unwrap();
        assert!(svg[cobalt..].starts_with(&format!(
            "data-label=\"cobalt &lt;b&gt;\"><polyline fill=\"none\" stroke=\"{}\"",
            PALETTE[1]
        )));
    }

    #[test]
    fn a_single_point_is_a_dot_without_a_line() {
        let chart = Chart::Line(LineChart {
            title: "One crawl".to_string(),
            x_label: "crawl".to_string(),
            y_label: "listings".to_string(),
            x_scale: XScale::Integer,
            series: vec![Series {
                label: "a".to_string(),
                points: vec![(3.0, 7.0)],
            }],
        });
        let svg = chart.to_svg();
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(!svg.contains("<polyline"));
        assert!(svg.contains(">3</text>"), "the x tick of the only point");
    }

    #[test]
    fn empty_charts_say_no_data() {
        for chart in [
            Chart::Line(LineChart {
                title: "Nothing".to_string(),
                x_label: "day".to_string(),
                y_label: "count".to_string(),
                x_scale: XScale::Date,
                series: Vec::new(),
            }),
            Chart::Bar(BarChart {
                title: "Nothing".to_string(),
                y_label: "share".to_string(),
                categories: Vec::new(),
                series: vec![BarSeries {
                    label: "x".to_string(),
                    values: Vec::new(),
                }],
            }),
            Chart::Line(LineChart {
                title: "Unplottable values only".to_string(),
                x_label: "day".to_string(),
                y_label: "count".to_string(),
                x_scale: XScale::Float,
                series: vec![Series {
                    label: "broken".to_string(),
                    points: vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)],
                }],
            }),
        ] {
            let svg = chart.to_svg();
            assert!(svg.contains("no data"), "{svg}");
            assert!(!svg.contains("NaN"), "{svg}");
            render_png("empty", &svg, &Fonts(Arc::default()), 1.0).unwrap();
        }
    }

    #[test]
    fn a_bar_chart_draws_one_bar_per_value() {
        let chart = Chart::Bar(BarChart {
            title: "Origins".to_string(),
            y_label: "share of listings".to_string(),
            categories: vec!["NL".to_string(), "DE".to_string(), "US".to_string()],
            series: vec![
                BarSeries {
                    label: "nightshade".to_string(),
                    values: vec![Some(0.5), Some(0.3), None],
                },
                BarSeries {
                    label: "cobalt".to_string(),
                    values: vec![Some(0.1), Some(0.6), Some(0.3)],
                },
            ],
        });
        let svg = chart.to_svg();
        assert_eq!(
            svg.matches("<rect x=").count(),
            1 + 2 + 5,
            "background, legend, bars"
        );
        assert!(svg.contains(">NL</text>") && svg.contains(">US</text>"));
        assert!(svg.contains("<title>DE: 0.6</title>"));
    }

    #[test]
    fn png_rendering_shows_every_series_colour() {
        let svg = two_lines().to_svg();
        let png = render_png("two lines", &svg, &Fonts::system(), 1.0).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        for hex in &PALETTE[..2] {
            assert!(pixels_of(&png, hex) > 50, "too few pixels of {hex}");
        }
        assert_eq!(
            pixels_of(&png, PALETTE[2]),
            0,
            "a third colour from nowhere"
        );
        let big = render_png("two lines", &svg, &Fonts::system(), 2.0).unwrap();
        let pixmap = resvg::tiny_skia::Pixmap::decode_png(&big).unwrap();
        assert_eq!((pixmap.width(), pixmap.height()), (1520, 760));
    }
}
