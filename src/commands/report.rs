//! `dnmscope export` and `dnmscope report`: the store's tables, views and indicators written out
//! for analysts, and the HTML report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use dnmscope_analytics::chart::Fonts;
use dnmscope_analytics::export::{ExportOptions, Format};
use dnmscope_analytics::report::{self, Report, ReportFiles};
use dnmscope_analytics::Table;
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
    // The analytics indicators join the store's tables here, as plain Tables.
    let indicators: Vec<Table> = Vec::new();
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
    let files = write_report(&store, out).await?;
    store.close().await;
    println!(
        "report: {} ({} charts, each also as SVG, PNG and CSV in {})",
        files.index.display(),
        files.charts.len(),
        out.join("charts").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Builds the report from the store and writes it to `out`.
pub async fn write_report(store: &Store, out: &Path) -> anyhow::Result<ReportFiles> {
    let sections = report::basic_sections(store)
        .await
        .context("building the report")?;
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
