//! `dnmscope export` and `dnmscope report`: the store's tables, views and indicators written out
//! for analysts, and the HTML report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use dnmscope_analytics::chart::Fonts;
use dnmscope_analytics::export::{ExportOptions, Format};
use dnmscope_analytics::report::{self, Report, ReportFiles};
use dnmscope_analytics::report::{ChartSpec, Section};
use dnmscope_analytics::{compute_all, Cell, Column, ColumnType, Filter, Indicators, Table};
use dnmscope_store::{Store, StoreOptions};

pub async fn export(
    options: &StoreOptions,
    format: Option<&str>,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (Some(format), Some(out)) = (format, out) else {
        bail!("export needs --format csv|jsonl|parquet and --out DIR (or `export warc`)");
    };
    let format: Format = format.parse()?;
    let store = Store::open(options).await.context("opening the store")?;
    // Every indicator, as plain Tables beside the store's tables.
    let indicators: Vec<Table> = compute_all(&store, &Filter::default())
        .await
        .context("computing the indicators")?
        .tables;
    let export_options = ExportOptions {
        format,
        out_dir: out.to_path_buf(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at: Utc::now(),
    };
    let summary = dnmscope_analytics::export::export(&store, &indicators, &export_options)
        .await
        .with_context(|| format!("exporting {} to {}", store.location(), out.display()))?;
    store.close().await;
    let rows: u64 = summary.entries.iter().map(|e| e.rows).sum();
    println!(
        "exported {} tables, views and indicators ({rows} rows) as {} to {}",
        summary.entries.len(),
        format.extension(),
        out.display()
    );
    println!(
        "{} files with checksums in SHA256SUMS; columns in data_dictionary.md; datasheet.md to complete",
        summary.checksums.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn report(options: &StoreOptions, out: &Path) -> anyhow::Result<ExitCode> {
    let store = Store::open(options).await.context("opening the store")?;
    let files = write_report(&store, out, Vec::new()).await?;
    store.close().await;
    println!(
        "report: {} ({} charts, each also as SVG, PNG and CSV in {})",
        files.index.display(),
        files.charts.len(),
        out.join("charts").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Builds the report from the store, with `extra` sections at its end, and writes it to `out`.
pub async fn write_report(
    store: &Store,
    out: &Path,
    extra: Vec<Section>,
) -> anyhow::Result<ReportFiles> {
    let mut sections = report::basic_sections(store)
        .await
        .context("building the report")?;
    let indicators = compute_all(store, &Filter::default())
        .await
        .context("computing the indicators")?;
    sections.extend(indicator_sections(&indicators));
    sections.extend(extra);
    let report = Report {
        title: "dnmscope report".to_string(),
        generated_at: Utc::now(),
        source: format!("the store {}", store.location()),
        sections,
    };
    let fonts = Fonts::system();
    report::write(&report, out, &fonts)
        .with_context(|| format!("writing the report to {}", out.display()))
}

/// Where the demo writes its report: `demo-report/` beside a SQLite file, else in the current
/// directory.
pub fn demo_report_dir(options: &StoreOptions) -> PathBuf {
    match &options.location {
        dnmscope_store::Location::SqliteFile(path) => path
            .parent()
            .map_or_else(|| PathBuf::from("demo-report"), |p| p.join("demo-report")),
        _ => PathBuf::from("demo-report"),
    }
}

/// The report's sections for the analytics indicators: charts over the time series, the largest
/// rows of the long tables (the exports carry every row), and the assumptions.
pub fn indicator_sections(indicators: &Indicators) -> Vec<Section> {
    let get = |name: &str| indicators.table(name).cloned();
    let mut sections = Vec::new();
    let section = |id: &str, title: &str, text: &str| Section {
        id: id.to_string(),
        title: title.to_string(),
        text: text.to_string(),
        charts: Vec::new(),
        tables: Vec::new(),
        assumptions: Vec::new(),
    };

    let mut activity = section(
        "activity",
        "Listings and vendors over time",
        "Distinct listings and vendors observed per market and week, vendors arriving and leaving, and how many of each week's vendors are still seen later.",
    );
    if let Some(table) = get("activity") {
        activity.charts.push(ChartSpec::line(
            "activity_listings",
            "Listings per week",
            table.clone(),
            "period_start",
            "listings",
            Some("market"),
        ));
        activity.charts.push(ChartSpec::line(
            "activity_vendors",
            "Active vendors per week",
            table.clone(),
            "period_start",
            "active_vendors",
            Some("market"),
        ));
        activity.tables.push(table);
    }
    activity.tables.extend(
        ["vendor_flow", "vendor_survival"]
            .into_iter()
            .filter_map(get),
    );
    sections.push(activity);

    let mut sales = section(
        "sales",
        "Estimated sales and revenue",
        "Sales estimated from feedback, per market and week; the largest vendors and listings.",
    );
    if let Some(table) = get("sales_by_country") {
        let per_market = sum_by(
            &table,
            "estimated_sales_per_market",
            "Estimated sales per market and week (all origins).",
            &["market", "period_start"],
            &["estimated_sales", "estimated_revenue_usd"],
        );
        sales.charts.push(ChartSpec::line(
            "sales_per_week",
            "Estimated sales per week",
            per_market.clone(),
            "period_start",
            "estimated_sales",
            Some("market"),
        ));
        sales.charts.push(ChartSpec::line(
            "revenue_per_week",
            "Estimated revenue per week (USD)",
            per_market.clone(),
            "period_start",
            "estimated_revenue_usd",
            Some("market"),
        ));
        sales.tables.push(per_market);
    }
    for name in ["sales_by_vendor", "sales_by_listing", "sales_by_category"] {
        if let Some(table) = get(name) {
            sales.tables.push(top(table, "estimated_sales", 25));
        }
    }
    sales.assumptions = indicators.assumptions.clone();
    sections.push(sales);

    let mut prices = section(
        "prices",
        "Prices per unit",
        "Median and spread of USD prices per gram, millilitre or piece, per market, week and substance (converted at the observation date).",
    );
    if let Some(table) = get("prices") {
        prices.tables.push(top(table, "listings", 40));
    }
    sections.push(prices);

    let mut origins = section(
        "origins",
        "Origins and flows",
        "Where listings ship from, and the origin-to-destination pairs they offer.",
    );
    if let Some(table) = get("origin_shares") {
        let by_origin = sum_by(
            &table,
            "listings_by_origin_all_weeks",
            "Listing observations per origin and market, summed over the weeks.",
            &["origin", "market"],
            &["listings"],
        );
        origins.charts.push(ChartSpec::bar(
            "origin_listings",
            "Listings by origin (summed over weeks)",
            top(by_origin, "listings", 30),
            "origin",
            "listings",
            Some("market"),
        ));
    }
    if let Some(table) = get("origin_destination_flows") {
        origins.tables.push(top(table, "listings", 30));
    }
    sections.push(origins);

    let mut concentration = section(
        "concentration",
        "Market concentration",
        "Shares of the largest vendors (by listings and by estimated revenue) and the Herfindahl-Hirschman index.",
    );
    if let Some(table) = get("concentration") {
        let by_listings = filter_rows(&table, "basis", "listings");
        concentration.charts.push(ChartSpec::line(
            "concentration_top5",
            "Share of the five largest vendors (by listings)",
            by_listings,
            "period_start",
            "top5_share",
            Some("market"),
        ));
        concentration.tables.push(table);
    }
    sections.push(concentration);

    let mut events = section(
        "events",
        "Events and migration",
        "What each market event cost (vendors and listings lost) and where the vendors reappeared.",
    );
    events.tables.extend(
        ["event_impact", "event_migrations"]
            .into_iter()
            .filter_map(get),
    );
    sections.push(events);

    let mut links = section(
        "links",
        "Vendor links across markets",
        "Candidate links between vendor accounts, scored with their evidence; never merged silently. Confirm or reject one with `dnmscope links confirm|reject`.",
    );
    if let Some(table) = get("vendor_links") {
        links.tables.push(top(table, "score", 50));
    }
    sections.push(links);

    let mut reviews = section(
        "reviews",
        "Review credibility",
        "Flags on vendors' feedback (bursts, near-duplicate texts, suspected campaigns), each with its evidence.",
    );
    if let Some(table) = get("review_flags") {
        reviews.tables.push(top(table, "entries", 50));
    }
    sections.push(reviews);

    let mut harm = section(
        "harm-reduction",
        "Harm-reduction discussion",
        "Forum posts about dosing, reagent and lab testing, adulterants, overdose and naloxone, and scam warnings.",
    );
    if let Some(table) = get("harm_reduction") {
        let by_topic = sum_by(
            &table,
            "harm_reduction_by_topic",
            "Posts per harm-reduction topic and market, all weeks.",
            &["topic", "market"],
            &["posts"],
        );
        harm.charts.push(ChartSpec::bar(
            "harm_reduction_topics",
            "Posts per harm-reduction topic",
            by_topic,
            "topic",
            "posts",
            Some("market"),
        ));
        harm.tables.push(top(table, "posts", 40));
    }
    sections.push(harm);
    sections
}

fn column(table: &Table, name: &str) -> Option<usize> {
    table.columns.iter().position(|c| c.name == name)
}

fn number(cell: &Cell) -> f64 {
    match cell {
        Cell::Integer(n) => *n as f64,
        Cell::Float(x) => *x,
        _ => 0.0,
    }
}

/// The `n` rows with the largest `by`, noted in the description when rows were left out.
fn top(mut table: Table, by: &str, n: usize) -> Table {
    if let Some(i) = column(&table, by) {
        table
            .rows
            .sort_by(|a, b| number(&b[i]).total_cmp(&number(&a[i])));
    }
    if table.rows.len() > n {
        table.description = format!(
            "{} The {n} rows with the largest {by} of {}; the export holds every row.",
            table.description,
            table.rows.len()
        );
        table.rows.truncate(n);
    }
    table
}

/// Rows whose `column` is the text `value`.
fn filter_rows(table: &Table, name: &str, value: &str) -> Table {
    let mut out = table.clone();
    if let Some(i) = column(table, name) {
        out.rows
            .retain(|row| matches!(&row[i], Cell::Text(t) if t == value));
    }
    out
}

/// `values` summed over the rows that share `keys`.
fn sum_by(table: &Table, name: &str, description: &str, keys: &[&str], values: &[&str]) -> Table {
    let key_columns: Vec<(usize, Column)> = keys
        .iter()
        .filter_map(|k| column(table, k).map(|i| (i, table.columns[i].clone())))
        .collect();
    let value_columns: Vec<(usize, Column)> = values
        .iter()
        .filter_map(|v| column(table, v).map(|i| (i, table.columns[i].clone())))
        .collect();
    let mut columns: Vec<Column> = key_columns.iter().map(|(_, c)| c.clone()).collect();
    columns.extend(value_columns.iter().map(|(_, c)| c.clone()));
    let mut out = Table::new(name, description, columns);
    let mut groups: Vec<(Vec<Cell>, Vec<f64>)> = Vec::new();
    for row in &table.rows {
        let key: Vec<Cell> = key_columns.iter().map(|(i, _)| row[*i].clone()).collect();
        let index = match groups.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                groups.push((key, vec![0.0; value_columns.len()]));
                groups.len() - 1
            }
        };
        for (j, (i, _)) in value_columns.iter().enumerate() {
            groups[index].1[j] += number(&row[*i]);
        }
    }
    for (key, sums) in groups {
        let mut row = key;
        for ((_, c), sum) in value_columns.iter().zip(sums) {
            row.push(match c.ty {
                ColumnType::Integer => Cell::Integer(sum as i64),
                _ => Cell::Float(sum),
            });
        }
        out.push(row);
    }
    out
}
