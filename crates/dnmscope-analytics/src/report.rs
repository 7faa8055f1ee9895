//! `dnmscope report`: a self-contained HTML report (inline CSS and SVG, no script, no font or
//! file fetched; a Content-Security-Policy forbids it) with charts, tables, the completeness of
//! every crawl and the assumptions behind the figures. Each chart is also written as SVG, PNG
//! and the CSV of the table behind it.
//!
//! A report is a list of [`Section`]s, each a few [`ChartSpec`]s and [`Table`]s with text and
//! assumptions. A chart is specified over a `Table` by column names ([`ChartSpec::line`],
//! [`ChartSpec::bar`]), so any indicator table plugs in as it is. [`basic_sections`] builds the
//! sections the store can give directly (observations per crawl and market, crawl
//! completeness, origins, market events); the analytics indicators add sections of their own.

pub mod basic;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};
use dnmscope_store::{Store, StoreError};

use crate::chart::{
    self, BarChart, BarSeries, Chart, ChartError, Fonts, LineChart, Series, XScale,
};
use crate::export::{cell_text, check_name, prepare_dir, write_csv, write_file, ExportError};
use crate::{Cell, ColumnType, Table};

/// Errors of building or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{action}")]
    Store {
        action: String,
        #[source]
        source: StoreError,
    },
    #[error("chart {chart:?}: the table {table} has no column {column}")]
    NoColumn {
        chart: String,
        table: String,
        column: String,
    },
    #[error("chart {chart:?}: column {column} is {ty:?}, which cannot be plotted on this axis")]
    Axis {
        chart: String,
        column: String,
        ty: ColumnType,
    },
    #[error("writing the report's files")]
    Files {
        #[source]
        source: ExportError,
    },
    #[error("drawing the report's charts")]
    Chart {
        #[source]
        source: ChartError,
    },
    #[error("two charts of the report are named {name:?}")]
    Duplicate { name: String },
}

impl From<ExportError> for ReportError {
    fn from(source: ExportError) -> ReportError {
        ReportError::Files { source }
    }
}

/// How a chart reads its table.
#[derive(Debug, Clone, PartialEq)]
pub enum ChartKind {
    /// One line per distinct value of `series` (or one line), `y` against `x`.
    Line {
        x: String,
        y: String,
        series: Option<String>,
        x_label: String,
        y_label: String,
    },
    /// One bar per distinct value of `category`, grouped by `series` (or one group).
    Bar {
        category: String,
        value: String,
        series: Option<String>,
        y_label: String,
    },
}

/// A chart over a table: the table is written as the chart's CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    /// File stem of the chart's SVG, PNG and CSV: lower-case letters, digits and _.
    pub name: String,
    pub title: String,
    pub kind: ChartKind,
    pub table: Table,
}

impl ChartSpec {
    /// A line chart of `y` over `x` (integer, float, date or timestamp), a line per `series`.
    pub fn line(
        name: &str,
        title: &str,
        table: Table,
        x: &str,
        y: &str,
        series: Option<&str>,
    ) -> ChartSpec {
        ChartSpec {
            name: name.to_string(),
            title: title.to_string(),
            kind: ChartKind::Line {
                x: x.to_string(),
                y: y.to_string(),
                series: series.map(str::to_string),
                x_label: x.replace('_', " "),
                y_label: y.replace('_', " "),
            },
            table,
        }
    }

    /// A bar chart of `value` per `category`, grouped by `series`.
    pub fn bar(
        name: &str,
        title: &str,
        table: Table,
        category: &str,
        value: &str,
        series: Option<&str>,
    ) -> ChartSpec {
        ChartSpec {
            name: name.to_string(),
            title: title.to_string(),
            kind: ChartKind::Bar {
                category: category.to_string(),
                value: value.to_string(),
                series: series.map(str::to_string),
                y_label: value.replace('_', " "),
            },
            table,
        }
    }

    fn column(&self, name: &str) -> Result<(usize, ColumnType), ReportError> {
        self.table
            .columns
            .iter()
            .position(|c| c.name == name)
            .map(|i| (i, self.table.columns[i].ty))
            .ok_or_else(|| ReportError::NoColumn {
                chart: self.name.clone(),
                table: self.table.name.clone(),
                column: name.to_string(),
            })
    }

    fn number(&self, cell: &Cell) -> Option<f64> {
        match cell {
            Cell::Integer(i) => Some(*i as f64),
            Cell::Float(f) if f.is_finite() => Some(*f),
            Cell::Date(d) => Some(f64::from(d.num_days_from_ce() - 719_163)),
            Cell::Timestamp(t) => Some(t.timestamp() as f64),
            _ => None,
        }
    }

    fn series_key(&self, row: &[Cell], series: Option<usize>) -> String {
        series
            .and_then(|i| cell_text(&row[i]))
            .unwrap_or_else(|| match series {
                Some(_) => "(none)".to_string(),
                None => self.title.clone(),
            })
    }

    fn has_series_column(&self) -> bool {
        matches!(
            &self.kind,
            ChartKind::Line {
                series: Some(_),
                ..
            } | ChartKind::Bar {
                series: Some(_),
                ..
            }
        )
    }

    /// The chart drawn from the table.
    pub fn to_chart(&self) -> Result<Chart, ReportError> {
        match &self.kind {
            ChartKind::Line {
                x,
                y,
                series,
                x_label,
                y_label,
            } => {
                let (x_index, x_type) = self.column(x)?;
                let (y_index, y_type) = self.column(y)?;
                let x_scale = match x_type {
                    ColumnType::Integer => XScale::Integer,
                    ColumnType::Float => XScale::Float,
                    ColumnType::Date => XScale::Date,
                    ColumnType::Timestamp => XScale::Timestamp,
                    ty => {
                        return Err(ReportError::Axis {
                            chart: self.name.clone(),
                            column: x.clone(),
                            ty,
                        })
                    }
                };
                if !matches!(y_type, ColumnType::Integer | ColumnType::Float) {
                    return Err(ReportError::Axis {
                        chart: self.name.clone(),
                        column: y.clone(),
                        ty: y_type,
                    });
                }
                let series_index = series.as_deref().map(|s| self.column(s)).transpose()?;
                let mut lines: Vec<Series> = Vec::new();
                for row in &self.table.rows {
                    let (Some(xv), Some(yv)) =
                        (self.number(&row[x_index]), self.number(&row[y_index]))
                    else {
                        continue;
                    };
                    let label = self.series_key(row, series_index.map(|s| s.0));
                    match lines.iter_mut().find(|l| l.label == label) {
                        Some(line) => line.points.push((xv, yv)),
                        None => lines.push(Series {
                            label,
                            points: vec![(xv, yv)],
                        }),
                    }
                }
                Ok(Chart::Line(LineChart {
                    title: self.title.clone(),
                    x_label: x_label.clone(),
                    y_label: y_label.clone(),
                    x_scale,
                    series: lines,
                }))
            }
            ChartKind::Bar {
                category,
                value,
                series,
                y_label,
            } => {
                let (category_index, _) = self.column(category)?;
                let (value_index, value_type) = self.column(value)?;
                if !matches!(value_type, ColumnType::Integer | ColumnType::Float) {
                    return Err(ReportError::Axis {
                        chart: self.name.clone(),
                        column: value.clone(),
                        ty: value_type,
                    });
                }
                let series_index = series.as_deref().map(|s| self.column(s)).transpose()?;
                let mut categories: Vec<String> = Vec::new();
                let mut groups: Vec<(String, BTreeMap<usize, f64>)> = Vec::new();
                for row in &self.table.rows {
                    let Some(v) = self.number(&row[value_index]) else {
                        continue;
                    };
                    let name =
                        cell_text(&row[category_index]).unwrap_or_else(|| "(none)".to_string());
                    let at = match categories.iter().position(|c| *c == name) {
                        Some(at) => at,
                        None => {
                            categories.push(name);
                            categories.len() - 1
                        }
                    };
                    let label = self.series_key(row, series_index.map(|s| s.0));
                    match groups.iter_mut().find(|g| g.0 == label) {
                        Some(group) => {
                            *group.1.entry(at).or_default() += v;
                        }
                        None => groups.push((label, BTreeMap::from([(at, v)]))),
                    }
                }
                let series = groups
                    .into_iter()
                    .map(|(label, values)| BarSeries {
                        label,
                        values: (0..categories.len())
                            .map(|i| values.get(&i).copied())
                            .collect(),
                    })
                    .collect();
                Ok(Chart::Bar(BarChart {
                    title: self.title.clone(),
                    y_label: y_label.clone(),
                    categories,
                    series,
                }))
            }
        }
    }
}

/// One part of a report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// Anchor in the page: lower-case letters, digits, - and _.
    pub id: String,
    pub title: String,
    /// A paragraph introducing the section (plain text).
    pub text: String,
    pub charts: Vec<ChartSpec>,
    pub tables: Vec<Table>,
    /// What the figures assume, printed next to them.
    pub assumptions: Vec<String>,
}

/// A whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub title: String,
    pub generated_at: DateTime<Utc>,
    /// Where the data came from (shown in the header).
    pub source: String,
    pub sections: Vec<Section>,
}

/// What [`write`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFiles {
    pub index: PathBuf,
    /// Per chart: its SVG, PNG and CSV.
    pub charts: Vec<(PathBuf, PathBuf, PathBuf)>,
}

/// Table rows shown in the HTML; the rest are in the CSV files.
const ROWS_SHOWN: usize = 60;

/// The sections the store gives directly: what each crawl observed per market, crawl
/// completeness, listings by origin, market events.
pub async fn basic_sections(store: &Store) -> Result<Vec<Section>, ReportError> {
    let context = |action: &str| {
        let action = action.to_string();
        move |source| ReportError::Store { action, source }
    };
    let observed = basic::observed_per_crawl(store)
        .await
        .map_err(context("counting observations per crawl"))?;
    let completeness = basic::crawl_completeness(store)
        .await
        .map_err(context("reading crawl accounting"))?;
    let origins = basic::listings_by_origin(store)
        .await
        .map_err(context("counting listings by origin"))?;
    let events = basic::market_events(store)
        .await
        .map_err(context("reading market events"))?;
    let prices = basic::usd_per_gram(store)
        .await
        .map_err(context("computing prices per gram"))?;

    let observed_section = Section {
        id: "observed".to_string(),
        title: "Listings and vendors observed".to_string(),
        text: "What each crawl run saw on each market: distinct listings and vendors, forum posts, and feedback \
               entries seen for the first time (the basis of sales estimates)."
            .to_string(),
        charts: vec![
            ChartSpec::line("listings_per_crawl", "Listings observed per crawl run", observed.clone(), "crawl_id", "listings", Some("market")),
            ChartSpec::line("vendors_per_crawl", "Vendors observed per crawl run", observed.clone(), "crawl_id", "vendors", Some("market")),
            ChartSpec::line("new_feedback_per_crawl", "Feedback entries first seen per crawl run", observed.clone(), "crawl_id", "new_feedback", Some("market")),
        ],
        tables: vec![observed],
        assumptions: vec![
            "A listing or vendor counts as observed in a run when any page of that run showed it; an incomplete run \
             (see crawl completeness) under-counts."
                .to_string(),
            "Feedback entries are identified by their content; an entry first seen in a run may have been left \
             earlier, while the market was not crawled."
                .to_string(),
        ],
    };
    let completeness_section = Section {
        id: "completeness".to_string(),
        title: "Crawl completeness".to_string(),
        text: "For every crawl run and market, what the crawler attempted and got. Availability is pages fetched \
               per attempt; listing coverage is listing pages fetched per listing announced on index pages."
            .to_string(),
        charts: vec![
            ChartSpec::line("availability_per_crawl", "Availability per crawl run (pages fetched per attempt)", completeness.clone(), "crawl_id", "availability", Some("market")),
            ChartSpec::bar("listing_coverage", "Listing coverage per crawl run", completeness.clone(), "crawl_id", "listing_coverage", Some("market")),
        ],
        tables: vec![completeness],
        assumptions: vec![
            "A market that shows a seizure banner or stops answering yields no observations for the rest of the run."
                .to_string(),
        ],
    };
    let prices_section = Section {
        id: "prices".to_string(),
        title: "Prices per gram".to_string(),
        text: "Median USD price per gram per crawl run and market, over listings priced in USD with a \
               quantity by weight (g, mg, ug, kg, oz, lb)."
            .to_string(),
        charts: vec![ChartSpec::line(
            "usd_per_gram",
            "Median USD per gram per crawl run",
            prices.clone(),
            "crawl_id",
            "median_usd_per_gram",
            Some("market"),
        )],
        tables: vec![prices],
        assumptions: vec![
            "Only listings priced in USD count here; listings priced in BTC or other currencies need the \
             exchange rates of their day and are left out, so markets that price in BTC may show no line."
                .to_string(),
            "All substances are pooled: a market's median moves with its mix of products as much as with \
             prices."
                .to_string(),
        ],
    };
    let origins_section = Section {
        id: "origins".to_string(),
        title: "Origins".to_string(),
        text: "Share of each market's listings by the country they ship from, over all crawl runs.".to_string(),
        charts: vec![ChartSpec::bar("origin_shares", "Share of listings by origin", origins.clone(), "ships_from", "share", Some("market"))],
        tables: vec![origins],
        assumptions: vec![
            "Origins are as the listings state them; vendors may misstate them. Region words (WW, EU) are kept as \
             they are."
                .to_string(),
        ],
    };
    let events_section = Section {
        id: "events".to_string(),
        title: "Market events".to_string(),
        text: "Seizure banners, exit scams, outages and takedowns as observed by the crawler.".to_string(),
        charts: Vec::new(),
        tables: vec![events],
        assumptions: vec![
            "An outage is recorded when a market stops answering during a run; short outages between runs are not seen."
                .to_string(),
        ],
    };
    Ok(vec![
        observed_section,
        completeness_section,
        prices_section,
        origins_section,
        events_section,
    ])
}

/// Writes the report to `out_dir` (created if needed; files of an earlier report there are
/// replaced): `index.html` and `charts/<name>.{svg,png,csv}`.
pub fn write(report: &Report, out_dir: &Path, fonts: &Fonts) -> Result<ReportFiles, ReportError> {
    prepare_dir(out_dir, false)?;
    let charts_dir = out_dir.join("charts");
    prepare_dir(&charts_dir, false)?;
    let mut names = std::collections::BTreeSet::new();
    let mut files = ReportFiles {
        index: out_dir.join("index.html"),
        charts: Vec::new(),
    };
    let mut drawn: BTreeMap<String, String> = BTreeMap::new();
    let specs: Vec<&ChartSpec> = report.sections.iter().flat_map(|s| &s.charts).collect();
    let mut charts = Vec::new();
    for spec in &specs {
        check_name(&spec.name)?;
        if !names.insert(spec.name.clone()) {
            return Err(ReportError::Duplicate {
                name: spec.name.clone(),
            });
        }
        charts.push(spec.to_chart()?);
    }
    // One colour per series label (market) across every chart of the report.
    let labels: std::collections::BTreeSet<String> = specs
        .iter()
        .zip(&charts)
        .filter(|(spec, _)| spec.has_series_column())
        .flat_map(|(_, chart)| chart.series_labels())
        .collect();
    let labels: Vec<String> = labels.into_iter().collect();
    for (spec, chart) in specs.iter().zip(charts.iter_mut()) {
        if spec.has_series_column() {
            chart.align_series(&labels);
        }
    }
    for (spec, chart) in specs.into_iter().zip(charts) {
        let svg = chart.to_svg();
        let svg_path = charts_dir.join(format!("{}.svg", spec.name));
        let png_path = charts_dir.join(format!("{}.png", spec.name));
        let csv_path = charts_dir.join(format!("{}.csv", spec.name));
        write_file(&svg_path, svg.as_bytes())?;
        let png = chart::render_png(&spec.name, &svg, fonts, 2.0)
            .map_err(|source| ReportError::Chart { source })?;
        write_file(&png_path, &png)?;
        write_csv(&csv_path, &spec.table)?;
        files.charts.push((svg_path, png_path, csv_path));
        drawn.insert(spec.name.clone(), svg);
    }
    write_file(&files.index, html(report, &drawn).as_bytes())?;
    Ok(files)
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif; color: #222; margin: 0; background: #f6f6f4; }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 2px solid #0072b2; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.meta { color: #555; margin: 0 0 12px; }
nav a { margin-right: 14px; color: #0072b2; }
figure { margin: 16px 0; background: #fff; border: 1px solid #ddd; padding: 8px; display: inline-block; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #555; margin-top: 4px; }
figcaption a { color: #0072b2; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12px; width: 100%; }
th, td { border-bottom: 1px solid #eee; padding: 4px 8px; text-align: left; white-space: nowrap; }
th { background: #f0f0ee; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.null { color: #aaa; }
p.note { font-size: 12px; color: #666; }
ul.assumptions { background: #fffbe6; border-left: 4px solid #e69f00; padding: 8px 8px 8px 28px; font-size: 13px; }
footer { max-width: 1100px; margin: 40px auto; padding: 0 24px; font-size: 12px; color: #777; }
";

fn esc(text: &str) -> String {
    chart::escape(text)
}

fn html_cell(cell: &Cell) -> String {
    match cell {
        Cell::Null => "<td class=\"null\">-</td>".to_string(),
        Cell::Integer(i) => format!("<td class=\"num\">{i}</td>"),
        Cell::Float(f) if f.is_finite() => {
            format!("<td class=\"num\">{}</td>", chart::format_number(*f))
        }
        Cell::Timestamp(t) => format!("<td>{}</td>", t.format("%Y-%m-%d %H:%M:%S")),
        other => format!("<td>{}</td>", esc(&cell_text(other).unwrap_or_default())),
    }
}

fn html_table(out: &mut String, table: &Table) {
    let _ = write!(
        out,
        "<h3>{}</h3><p class=\"note\">{}</p><div class=\"table-wrap\"><table class=\"dnm-table\" data-table=\"{}\"><thead><tr>",
        esc(&table.name.replace('_', " ")),
        esc(&table.description),
        esc(&table.name)
    );
    for column in &table.columns {
        let _ = write!(
            out,
            "<th title=\"{}\">{}</th>",
            esc(column.description),
            esc(column.name)
        );
    }
    out.push_str("</tr></thead><tbody>");
    for row in table.rows.iter().take(ROWS_SHOWN) {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&html_cell(cell));
        }
        out.push_str("</tr>");
    }
    if table.rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\">no rows</td></tr>",
            table.columns.len().max(1)
        );
    }
    out.push_str("</tbody></table></div>");
    if table.rows.len() > ROWS_SHOWN {
        let _ = write!(
            out,
            "<p class=\"note\">First {ROWS_SHOWN} of {} rows; export the store for all of them.</p>",
            table.rows.len()
        );
    }
}

/// The report page. `charts` maps chart names to their SVG.
pub fn html(report: &Report, charts: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title><style>{STYLE}</style></head><body>\
         <header><h1>{t}</h1><p class=\"meta\">Generated {g} from {s}.</p><nav>",
        t = esc(&report.title),
        g = report.generated_at.format("%Y-%m-%d %H:%M UTC"),
        s = esc(&report.source),
    );
    for section in &report.sections {
        let _ = write!(
            out,
            "<a href=\"#{}\">{}</a>",
            esc(&section.id),
            esc(&section.title)
        );
    }
    out.push_str("<a href=\"#assumptions\">Assumptions</a></nav></header><main>");
    for section in &report.sections {
        let _ = write!(
            out,
            "<section id=\"{}\"><h2>{}</h2><p>{}</p>",
            esc(&section.id),
            esc(&section.title),
            esc(&section.text)
        );
        for spec in &section.charts {
            let svg = charts
                .get(&spec.name)
                .map(String::as_str)
                .unwrap_or_default();
            let _ = write!(
                out,
                "<figure class=\"chart\" id=\"chart-{n}\">{svg}<figcaption>{t}: \
                 <a href=\"charts/{n}.csv\">data (CSV)</a> · <a href=\"charts/{n}.svg\">SVG</a> · \
                 <a href=\"charts/{n}.png\">PNG</a></figcaption></figure>",
                n = esc(&spec.name),
                t = esc(&spec.title),
            );
        }
        for table in &section.tables {
            html_table(&mut out, table);
        }
        if !section.assumptions.is_empty() {
            out.push_str("<ul class=\"assumptions\">");
            for assumption in &section.assumptions {
                let _ = write!(out, "<li>{}</li>", esc(assumption));
            }
            out.push_str("</ul>");
        }
        out.push_str("</section>");
    }
    out.push_str("<section id=\"assumptions\"><h2>Assumptions</h2><ul class=\"assumptions\">");
    for section in &report.sections {
        for assumption in &section.assumptions {
            let _ = write!(
                out,
                "<li><strong>{}:</strong> {}</li>",
                esc(&section.title),
                esc(assumption)
            );
        }
    }
    out.push_str(
        "<li><strong>Data:</strong> buyers are never stored; forum authors who are not vendors appear only as keyed \
         pseudonyms. Every figure is traceable to stored raw pages.</li></ul></section></main>",
    );
    let _ = writeln!(
        out,
        "<footer>dnmscope report · {} sections · {} charts</footer></body></html>",
        report.sections.len(),
        charts.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Column;

    fn table() -> Table {
        let mut table = Table::new(
            "per_crawl",
            "Per crawl.",
            vec![
                Column::new("crawl_id", ColumnType::Integer, "Crawl."),
                Column::new("market", ColumnType::Text, "Market."),
                Column::new("listings", ColumnType::Integer, "Listings."),
            ],
        );
        for (crawl, market, listings) in [(1, "a", 10), (1, "b", 5), (2, "a", 12), (2, "b", 0)] {
            table.push(vec![
                Cell::Integer(crawl),
                Cell::Text(market.to_string()),
                Cell::Integer(listings),
            ]);
        }
        table.push(vec![
            Cell::Null,
            Cell::Text("a".to_string()),
            Cell::Integer(1),
        ]);
        table
    }

    #[test]
    fn a_line_spec_splits_its_table_into_series() {
        let spec = ChartSpec::line(
            "l",
            "Listings",
            table(),
            "crawl_id",
            "listings",
            Some("market"),
        );
        let Chart::Line(chart) = spec.to_chart().unwrap() else {
            panic!("not a line chart");
        };
        assert_eq!(chart.x_scale, XScale::Integer);
        assert_eq!(chart.series.len(), 2);
        assert_eq!(chart.series[0].label, "a");
        assert_eq!(
            chart.series[0].points,
            vec![(1.0, 10.0), (2.0, 12.0)],
            "null x skipped"
        );
        assert_eq!(chart.series[1].points, vec![(1.0, 5.0), (2.0, 0.0)]);
    }

    #[test]
    fn a_bar_spec_groups_categories_and_series() {
        let spec = ChartSpec::bar("b", "Listings", table(), "market", "listings", None);
        let Chart::Bar(chart) = spec.to_chart().unwrap() else {
            panic!("not a bar chart");
        };
        assert_eq!(chart.categories, vec!["a", "b"]);
        assert_eq!(chart.series.len(), 1);
        assert_eq!(chart.series[0].values, vec![Some(23.0), Some(5.0)]);
    }

    #[test]
    fn a_spec_naming_a_missing_or_text_column_is_an_error() {
        let spec = ChartSpec::line("l", "L", table(), "crawl_id", "nope", None);
        let err = spec.to_chart().unwrap_err().to_string();
        assert!(err.contains("no column nope"), "{err}");
        let spec = ChartSpec::line("l", "L", table(), "market", "listings", None);
        let err = spec.to_chart().unwrap_err().to_string();
        assert!(err.contains("cannot be plotted"), "{err}");
    }

    #[test]
    fn the_page_is_self_contained_and_escapes_text() {
        let report = Report {
            title: "Report <1>".to_string(),
            generated_at: DateTime::from_timestamp(1_767_268_800, 0).unwrap(),
            source: "test.sqlite".to_string(),
            sections: vec![Section {
                id: "s".to_string(),
                title: "S & T".to_string(),
                text: "Text.".to_string(),
                charts: vec![ChartSpec::line(
                    "l",
                    "L",
                    table(),
                    "crawl_id",
                    "listings",
                    Some("market"),
                )],
                tables: vec![table()],
                assumptions: vec!["One feedback, one sale.".to_string()],
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let files = write(&report, dir.path(), &Fonts::system()).unwrap();
        let page = std::fs::read_to_string(&files.index).unwrap();
        assert!(page.contains("Report &lt;1&gt;") && page.contains("S &amp; T"));
        assert_eq!(page.matches("<svg").count(), 1);
        assert!(!page.contains("<script"));
        for external in ["src=\"http", "href=\"http", "@import", "url("] {
            assert!(!page.contains(external), "the page loads {external}");
        }
        assert!(page.contains("One feedback, one sale."));
        assert_eq!(files.charts.len(), 1);
        let (svg, png, csv) = &files.charts[0];
        assert!(std::fs::read_to_string(svg).unwrap().starts_with("<svg"));
        assert!(std::fs::read(png).unwrap().starts_with(b"\x89PNG"));
        assert_eq!(
            std::fs::read_to_string(csv).unwrap(),
            "crawl_id,market,listings\r\n1,a,10\r\n1,b,5\r\n2,a,12\r\n2,b,0\r\n,a,1\r\n"
        );
        // Written again over the same directory: replaced, not refused.
        write(&report, dir.path(), &Fonts::system()).unwrap();
    }
}
