//! `dnmscope export`: every table and view of the store and every indicator [`Table`] written
//! to a directory as CSV, JSON Lines or Parquet, with a data dictionary, a datasheet and a
//! SHA-256 manifest.
//!
//! The layout of an export directory:
//!
//! ```text
//! tables/<relation>.<ext>        every base table and view of the store (dnmscope-store's RELATIONS)
//! indicators/<table>.<ext>       every indicator Table passed in (crawl_completeness always)
//! data_dictionary.json / .md     per file: what a row is, the columns in order, types, meaning
//! datasheet.md                   Gebru et al.'s seven sections, pre-filled from the store
//! SHA256SUMS                     `sha256sum -c SHA256SUMS` checks every file above
//! ```
//!
//! Indicators plug in as plain [`Table`]s: [`export`] takes a slice of them, so whatever the
//! analytics computes is exported, documented and checksummed like the store's own tables.

mod writers;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use dnmscope_store::{
    RelationKind, Store, StoreError, Value, ValueType, OMITTED_COLUMNS, RELATIONS,
};
use futures_util::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::datasheet::{self, DatasheetFacts};
use crate::{Cell, Column, ColumnType, Table};

pub(crate) use writers::{cell_text, write_csv};

/// An export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
    Parquet,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

impl FromStr for Format {
    type Err = ExportError;

    fn from_str(text: &str) -> Result<Format, ExportError> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "jsonl" | "json-lines" | "ndjson" => Ok(Format::Jsonl),
            "parquet" => Ok(Format::Parquet),
            _ => Err(ExportError::UnknownFormat {
                format: text.to_string(),
            }),
        }
    }
}

/// Everything that can go wrong writing an export (or a report's data files).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("unknown export format {format:?} (known: csv, jsonl, parquet)")]
    UnknownFormat { format: String },
    #[error("cannot use {} as the output directory", path.display())]
    OutDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the output directory {} already holds files; give a new or empty directory", path.display())]
    NotEmpty { path: PathBuf },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write Parquet file {}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("cannot build the columns of {}", path.display())]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow_schema::ArrowError,
    },
    #[error("{action}")]
    Store {
        action: String,
        #[source]
        source: StoreError,
    },
    #[error("a row of {table} has {found} cells for {expected} columns")]
    RowShape {
        table: String,
        expected: usize,
        found: usize,
    },
    #[error("column {column} of {table} is {expected:?} but holds {found}")]
    CellType {
        table: String,
        column: String,
        expected: ColumnType,
        found: String,
    },
    #[error("table name {name:?} cannot name a file (use lower-case letters, digits and _)")]
    BadName { name: String },
    #[error("two indicator tables are named {name:?}")]
    Duplicate { name: String },
}

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub format: Format,
    pub out_dir: PathBuf,
    /// The version of the tool writing the export (for the datasheet).
    pub tool_version: String,
    pub generated_at: DateTime<Utc>,
}

/// One file of an export, as listed in the data dictionary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DictionaryEntry {
    pub name: String,
    /// table, view or indicator.
    pub kind: &'static str,
    pub description: String,
    /// Path relative to the export directory.
    pub file: String,
    pub rows: u64,
    pub columns: Vec<Column>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportSummary {
    pub out_dir: PathBuf,
    pub format: Format,
    pub entries: Vec<DictionaryEntry>,
    /// Every file written (relative path, SHA-256 hex), as in `SHA256SUMS`.
    pub checksums: Vec<(String, String)>,
}

impl From<Value> for Cell {
    fn from(value: Value) -> Cell {
        match value {
            Value::Null => Cell::Null,
            Value::Integer(i) => Cell::Integer(i),
            Value::Float(f) => Cell::Float(f),
            Value::Text(t) => Cell::Text(t),
            Value::Boolean(b) => Cell::Boolean(b),
            Value::Timestamp(t) => Cell::Timestamp(t),
            Value::Date(d) => Cell::Date(d),
        }
    }
}

/// The column type a store value type is exported as (JSON is text).
pub fn column_type(ty: ValueType) -> ColumnType {
    match ty {
        ValueType::Integer => ColumnType::Integer,
        ValueType::Float => ColumnType::Float,
        ValueType::Text | ValueType::Json => ColumnType::Text,
        ValueType::Boolean => ColumnType::Boolean,
        ValueType::Timestamp => ColumnType::Timestamp,
        ValueType::Date => ColumnType::Date,
    }
}

/// Creates `dir` (and its parents) if needed and checks it can be written. With `empty`, a
/// directory that already holds files is refused.
pub(crate) fn prepare_dir(dir: &Path, empty: bool) -> Result<(), ExportError> {
    let out_dir = |source| ExportError::OutDir {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(out_dir)?;
    if empty && fs::read_dir(dir).map_err(out_dir)?.next().is_some() {
        return Err(ExportError::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    // Refuse a read-only directory now, not half-way through.
    let probe = dir.join(".dnmscope-write-test");
    fs::write(&probe, b"").map_err(out_dir)?;
    fs::remove_file(&probe).map_err(out_dir)?;
    Ok(())
}

pub(crate) fn check_name(name: &str) -> Result<(), ExportError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ExportError::BadName {
            name: name.to_string(),
        })
    }
}

/// Writes the export: the store's tables and views, then `indicators`, the data dictionary,
/// the datasheet and the checksums. `out_dir` must be new or empty.
pub async fn export(
    store: &Store,
    indicators: &[Table],
    options: &ExportOptions,
) -> Result<ExportSummary, ExportError> {
    let mut seen = std::collections::BTreeSet::new();
    for table in indicators {
        check_name(&table.name)?;
        if !seen.insert(table.name.as_str()) {
            return Err(ExportError::Duplicate {
                name: table.name.clone(),
            });
        }
    }
    let dir = &options.out_dir;
    prepare_dir(dir, true)?;
    for sub in ["tables", "indicators"] {
        fs::create_dir_all(dir.join(sub)).map_err(|source| ExportError::OutDir {
            path: dir.join(sub),
            source,
        })?;
    }
    let ext = options.format.extension();
    let mut entries = Vec::new();

    for relation in RELATIONS {
        let columns: Vec<Column> = relation
            .columns
            .iter()
            .map(|c| Column::new(c.name, column_type(c.ty), c.description))
            .collect();
        let file = format!("tables/{}.{ext}", relation.name);
        let path = dir.join(&file);
        let mut writer = writers::open(options.format, &path, relation.name, &columns)?;
        let mut rows = store.rows(relation);
        let mut count = 0u64;
        while let Some(row) = rows.try_next().await.map_err(|source| ExportError::Store {
            action: format!("reading {} for the export", relation.name),
            source,
        })? {
            let cells: Vec<Cell> = row.into_iter().map(Cell::from).collect();
            writer.write_row(&cells)?;
            count += 1;
        }
        writer.finish()?;
        tracing::debug!(relation = relation.name, rows = count, "exported");
        entries.push(DictionaryEntry {
            name: relation.name.to_string(),
            kind: match relation.kind {
                RelationKind::Table => "table",
                RelationKind::View => "view",
            },
            description: relation.description.to_string(),
            file,
            rows: count,
            columns,
        });
    }

    let facts = DatasheetFacts::gather(store, &options.tool_version, options.generated_at)
        .await
        .map_err(|source| ExportError::Store {
            action: "gathering the datasheet's facts".to_string(),
            source,
        })?;
    let mut all_indicators = vec![facts.completeness.clone()];
    all_indicators.extend(
        indicators
            .iter()
            .filter(|t| t.name != facts.completeness.name)
            .cloned(),
    );
    for table in &all_indicators {
        let file = format!("indicators/{}.{ext}", table.name);
        let mut writer = writers::open(
            options.format,
            &dir.join(&file),
            &table.name,
            &table.columns,
        )?;
        for row in &table.rows {
            writer.write_row(row)?;
        }
        writer.finish()?;
        entries.push(DictionaryEntry {
            name: table.name.clone(),
            kind: "indicator",
            description: table.description.clone(),
            file,
            rows: table.rows.len() as u64,
            columns: table.columns.clone(),
        });
    }

    write_file(
        &dir.join("data_dictionary.json"),
        dictionary_json(options.format, &entries).as_bytes(),
    )?;
    write_file(
        &dir.join("data_dictionary.md"),
        dictionary_markdown(options.format, &entries).as_bytes(),
    )?;
    write_file(
        &dir.join("datasheet.md"),
        datasheet::render(&facts, Some((options.format, &entries))).as_bytes(),
    )?;
    let checksums = write_checksums(dir)?;
    Ok(ExportSummary {
        out_dir: dir.clone(),
        format: options.format,
        entries,
        checksums,
    })
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    fs::write(path, bytes).map_err(|source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// How each format writes values, for the dictionary.
fn conventions(format: Format) -> Vec<&'static str> {
    let mut notes = vec![
        "Columns appear in the order listed; the order is fixed and part of the format.",
        "Timestamps are UTC, RFC 3339 with six decimals (2026-01-01T12:00:00.000000Z) in text formats; dates are YYYY-MM-DD.",
        "Money amounts are exact decimal text with their currency in the next column, never floats.",
        "Columns typed text whose description says JSON hold compact JSON text.",
        "Buyers are never stored; forum authors who are not vendors appear only as keyed HMAC pseudonyms (p:...).",
    ];
    notes.push(match format {
        Format::Csv => "CSV: RFC 4180, UTF-8, a header row, CRLF line ends; an empty field is null (an empty text is indistinguishable from null).",
        Format::Jsonl => "JSON Lines: one object per row, keys in column order, null written as null; NaN and infinite floats are null.",
        Format::Parquet => "Parquet: typed columns (text utf8, integer int64, float double, boolean, date date32, timestamp microseconds UTC), zstd-compressed, every column nullable.",
    });
    notes
}

fn dictionary_json(format: Format, entries: &[DictionaryEntry]) -> String {
    let omitted: Vec<serde_json::Value> = OMITTED_COLUMNS
        .iter()
        .map(|(table, column, why)| serde_json::json!({"table": table, "column": column, "why": why}))
        .collect();
    let tables: Vec<serde_json::Value> = entries
        .iter()
        .map(|entry| {
            let columns: Vec<serde_json::Value> = entry
                .columns
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "name": c.name,
                        "type": type_name(c.ty),
                        "description": c.description,
                    })
                })
                .collect();
            serde_json::json!({
                "name": entry.name,
                "kind": entry.kind,
                "description": entry.description,
                "file": entry.file,
                "rows": entry.rows,
                "columns": columns,
            })
        })
        .collect();
    let document = serde_json::json!({
        "format": format,
        "conventions": conventions(format),
        "omitted_columns": omitted,
        "tables": tables,
    });
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
}

fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text => "text",
        ColumnType::Integer => "integer",
        ColumnType::Float => "float",
        ColumnType::Date => "date",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Boolean => "boolean",
    }
}

/// Markdown table cell text: pipes escaped, one line.
pub(crate) fn md(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn dictionary_markdown(format: Format, entries: &[DictionaryEntry]) -> String {
    use std::fmt::Write;
    let mut out = String::from("# Data dictionary\n\n");
    let _ = writeln!(out, "Format: {}.\n", format.extension());
    for note in conventions(format) {
        let _ = writeln!(out, "- {note}");
    }
    out.push_str("\nLeft out of the export:\n\n");
    for (table, column, why) in OMITTED_COLUMNS {
        let _ = writeln!(out, "- `{table}.{column}`: {why}");
    }
    for entry in entries {
        let _ = write!(
            out,
            "\n## {} ({})\n\n{}\n\nFile `{}`, {} rows.\n\n| # | column | type | description |\n|---|---|---|---|\n",
            entry.name,
            entry.kind,
            entry.description,
            entry.file,
            entry.rows
        );
        for (index, column) in entry.columns.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                index + 1,
                column.name,
                type_name(column.ty),
                md(column.description)
            );
        }
    }
    out
}

/// SHA-256 of every file under `dir` (but the manifest itself), written as `SHA256SUMS` in the
/// format `sha256sum -c` reads. Returns (relative path, hex digest), sorted by path.
pub(crate) fn write_checksums(dir: &Path) -> Result<Vec<(String, String)>, ExportError> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) -> Result<(), ExportError> {
        let read = |source| ExportError::OutDir {
            path: dir.to_path_buf(),
            source,
        };
        for entry in fs::read_dir(dir).map_err(read)? {
            let path = entry.map_err(read)?.path();
            if path.is_dir() {
                walk(&path, root, out)?;
            } else if path != root.join("SHA256SUMS") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    let mut sums = Vec::new();
    for path in files {
        let mut hasher = Sha256::new();
        let mut file = fs::File::open(&path).map_err(|source| ExportError::Write {
            path: path.clone(),
            source,
        })?;
        io::copy(&mut file, &mut hasher).map_err(|source| ExportError::Write {
            path: path.clone(),
            source,
        })?;
        let relative = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        sums.push((relative, hex(&hasher.finalize())));
    }
    sums.sort();
    let manifest: String = sums
        .iter()
        .map(|(path, sum)| format!("{sum}  {path}\n"))
        .collect();
    write_file(&dir.join("SHA256SUMS"), manifest.as_bytes())?;
    Ok(sums)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_unknown_ones_are_named() {
        assert_eq!("CSV".parse::<Format>().unwrap(), Format::Csv);
        assert_eq!("jsonl".parse::<Format>().unwrap(), Format::Jsonl);
        assert_eq!("parquet".parse::<Format>().unwrap(), Format::Parquet);
        let err = "xlsx".parse::<Format>().unwrap_err().to_string();
        assert!(
            err.contains("xlsx") && err.contains("csv, jsonl, parquet"),
            "{err}"
        );
        assert!(check_name("crawl_completeness").is_ok());
        assert!(check_name("../etc").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn checksums_cover_every_file_and_match_sha256sum() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("tables")).unwrap();
        fs::write(dir.path().join("tables/a.csv"), b"abc").unwrap();
        fs::write(dir.path().join("b.md"), b"").unwrap();
        let sums = write_checksums(dir.path()).unwrap();
        assert_eq!(
            sums,
            vec![
                (
                    "b.md".to_string(),
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string()
                ),
                (
                    "tables/a.csv".to_string(),
                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string()
                ),
            ]
        );
        let manifest = fs::read_to_string(dir.path().join("SHA256SUMS")).unwrap();
        assert!(manifest.starts_with("e3b0c442"));
        assert!(manifest.ends_with("  tables/a.csv\n"));
    }

    #[test]
    fn an_output_directory_with_files_or_without_write_access_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("old.csv"), b"x").unwrap();
        let err = prepare_dir(dir.path(), true).unwrap_err();
        assert!(matches!(err, ExportError::NotEmpty { .. }), "{err}");
        prepare_dir(dir.path(), false).unwrap();
        let file_in_the_way = dir.path().join("old.csv").join("sub");
        assert!(matches!(
            prepare_dir(&file_in_the_way, false).unwrap_err(),
            ExportError::OutDir { .. }
        ));
    }
}

#[cfg(test)]
mod export_tests {
    use super::*;
    use dnmscope_store::{Location, StoreOptions};

    fn indicator(name: &str) -> Table {
        let mut table = Table::new(
            name,
            "Weekly listings per market.",
            vec![
                Column::new("week", ColumnType::Date, "Monday of the week."),
                Column::new("market", ColumnType::Text, "Market name."),
                Column::new("listings", ColumnType::Integer, "Listings seen."),
                Column::new("median_usd", ColumnType::Float, "Median price."),
            ],
        );
        table.push(vec![
            Cell::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()),
            Cell::Text("nightshade".to_string()),
            Cell::Integer(12),
            Cell::Float(49.5),
        ]);
        table.push(vec![Cell::Null, Cell::Null, Cell::Null, Cell::Null]);
        table
    }

    #[tokio::test]
    async fn indicator_tables_are_exported_documented_and_checksummed() {
        let store = Store::open(&StoreOptions::new(Location::SqliteMemory))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let options = ExportOptions {
            format: Format::Csv,
            out_dir: dir.path().join("out"),
            tool_version: "0.1.0-test".to_string(),
            generated_at: chrono::DateTime::from_timestamp(1_767_268_800, 0).unwrap(),
        };
        let summary = export(&store, &[indicator("weekly_listings")], &options)
            .await
            .unwrap();
        let names: Vec<&str> = summary.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names.len(), RELATIONS.len() + 2);
        assert_eq!(
            &names[RELATIONS.len()..],
            &["crawl_completeness", "weekly_listings"]
        );
        let csv =
            fs::read_to_string(options.out_dir.join("indicators/weekly_listings.csv")).unwrap();
        assert_eq!(
            csv,
            "week,market,listings,median_usd\r\n2026-01-05,nightshade,12,49.5\r\n,,,\r\n"
        );
        let dictionary: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(options.out_dir.join("data_dictionary.json")).unwrap(),
        )
        .unwrap();
        let entry = dictionary["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "weekly_listings")
            .unwrap();
        assert_eq!(entry["kind"], "indicator");
        assert_eq!(entry["rows"], 2);
        assert_eq!(entry["columns"][0]["type"], "date");
        assert_eq!(entry["columns"][3]["description"], "Median price.");
        // Every file but the manifest is in the manifest.
        assert_eq!(summary.checksums.len(), RELATIONS.len() + 2 + 3);
        let datasheet = fs::read_to_string(options.out_dir.join("datasheet.md")).unwrap();
        assert!(datasheet.contains("`indicators/weekly_listings.csv` | indicator | 2"));
        assert!(datasheet.contains("no crawl run saved its accounting"));

        // Bad indicator names and duplicates are refused before anything is written.
        for (tables, expected) in [
            (vec![indicator("Weekly Listings")], "cannot name a file"),
            (vec![indicator("a"), indicator("a")], "two indicator tables"),
        ] {
            let options = ExportOptions {
                out_dir: dir.path().join("refused"),
                ..options.clone()
            };
            let err = export(&store, &tables, &options).await.unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
            assert!(!options.out_dir.exists());
        }
    }
}
