//! One writer per export format, each taking rows one at a time so no table sits in memory:
//! CSV (RFC 4180, header row, empty field for null), JSON Lines (one object per row, keys in
//! column order, explicit nulls) and Parquet (typed columns, zstd, written in row groups).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{ExportError, Format};
use crate::{Cell, Column, ColumnType};

/// Rows per Parquet record batch (and so the most rows held at once).
const BATCH_ROWS: usize = 8192;

/// Writes one table's rows to one file.
pub(crate) trait RowWriter {
    fn write_row(&mut self, row: &[Cell]) -> Result<(), ExportError>;
    /// Flushes and closes the file.
    fn finish(self: Box<Self>) -> Result<(), ExportError>;
}

/// Opens a writer for `columns` at `path` in `format`.
pub(crate) fn open(
    format: Format,
    path: &Path,
    table: &str,
    columns: &[Column],
) -> Result<Box<dyn RowWriter>, ExportError> {
    let file = File::create(path).map_err(|source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    let target = Target {
        path: path.to_path_buf(),
        table: table.to_string(),
        columns: columns.to_vec(),
    };
    Ok(match format {
        Format::Csv => {
            let mut writer = CsvWriter {
                out: BufWriter::new(file),
                target,
            };
            let header: Vec<Cell> = columns
                .iter()
                .map(|c| Cell::Text(c.name.to_string()))
                .collect();
            writer.write_cells(&header)?;
            Box::new(writer)
        }
        Format::Jsonl => Box::new(JsonlWriter {
            out: BufWriter::new(file),
            keys: columns
                .iter()
                .map(|c| serde_json::Value::String(c.name.to_string()).to_string())
                .collect(),
            target,
        }),
        Format::Parquet => Box::new(ParquetWriter::new(file, target)?),
    })
}

struct Target {
    path: PathBuf,
    table: String,
    columns: Vec<Column>,
}

impl Target {
    fn io(&self, source: std::io::Error) -> ExportError {
        ExportError::Write {
            path: self.path.clone(),
            source,
        }
    }

    fn check_length(&self, row: &[Cell]) -> Result<(), ExportError> {
        if row.len() != self.columns.len() {
            return Err(ExportError::RowShape {
                table: self.table.clone(),
                expected: self.columns.len(),
                found: row.len(),
            });
        }
        Ok(())
    }

    fn mismatch(&self, column: &Column, cell: &Cell) -> ExportError {
        ExportError::CellType {
            table: self.table.clone(),
            column: column.name.to_string(),
            expected: column.ty,
            found: format!("{cell:?}"),
        }
    }
}

/// The text form of an instant in every export: RFC 3339, UTC, always six decimals.
pub(crate) fn timestamp_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(crate) fn date_text(d: &NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A finite float as text; NaN and infinities are written as null (JSON has no word for them).
fn float_text(f: f64) -> Option<String> {
    f.is_finite().then(|| {
        let text = format!("{f}");
        // Rust prints whole floats without a point; keep them readable as floats.
        if text.contains(['.', 'e', 'E']) {
            text
        } else {
            format!("{text}.0")
        }
    })
}

/// A cell as plain text (CSV, HTML): `None` for null.
pub(crate) fn cell_text(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Null => None,
        Cell::Text(text) => Some(text.clone()),
        Cell::Integer(i) => Some(i.to_string()),
        Cell::Float(f) => float_text(*f),
        Cell::Date(d) => Some(date_text(d)),
        Cell::Timestamp(t) => Some(timestamp_text(t)),
        Cell::Boolean(b) => Some(b.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------

struct CsvWriter<W: Write> {
    out: W,
    target: Target,
}

/// A CSV field, quoted when it must be (separator, quote, line break, edge spaces).
fn csv_field(text: &str) -> String {
    let needs_quotes =
        text.contains([',', '"', '\n', '\r']) || text.starts_with(' ') || text.ends_with(' ');
    if needs_quotes {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

impl<W: Write> CsvWriter<W> {
    fn write_cells(&mut self, row: &[Cell]) -> Result<(), ExportError> {
        let fields: Vec<String> = row
            .iter()
            .map(|cell| cell_text(cell).map_or_else(String::new, |t| csv_field(&t)))
            .collect();
        let line = fields.join(",") + "\r\n";
        self.out
            .write_all(line.as_bytes())
            .map_err(|e| self.target.io(e))
    }
}

impl<W: Write> RowWriter for CsvWriter<W> {
    fn write_row(&mut self, row: &[Cell]) -> Result<(), ExportError> {
        self.target.check_length(row)?;
        self.write_cells(row)
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.out.flush().map_err(|e| self.target.io(e))
    }
}

/// Writes a whole table as CSV to `path` (the report's chart data).
pub(crate) fn write_csv(path: &Path, table: &crate::Table) -> Result<(), ExportError> {
    let mut writer = open(Format::Csv, path, &table.name, &table.columns)?;
    for row in &table.rows {
        writer.write_row(row)?;
    }
    writer.finish()
}

// ---------------------------------------------------------------------------------------------

struct JsonlWriter {
    out: BufWriter<File>,
    /// Column names as JSON strings, in order.
    keys: Vec<String>,
    target: Target,
}

fn json_value(cell: &Cell) -> serde_json::Value {
    use serde_json::Value;
    match cell {
        Cell::Null => Value::Null,
        Cell::Text(text) => Value::String(text.clone()),
        Cell::Integer(i) => Value::from(*i),
        Cell::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Cell::Boolean(b) => Value::Bool(*b),
        Cell::Date(d) => Value::String(date_text(d)),
        Cell::Timestamp(t) => Value::String(timestamp_text(t)),
    }
}

impl RowWriter for JsonlWriter {
    fn write_row(&mut self, row: &[Cell]) -> Result<(), ExportError> {
        self.target.check_length(row)?;
        let mut line = String::from("{");
        for (index, (key, cell)) in self.keys.iter().zip(row).enumerate() {
            if index > 0 {
                line.push(',');
            }
            line.push_str(key);
            line.push(':');
            line.push_str(&json_value(cell).to_string());
        }
        line.push_str("}\n");
        self.out
            .write_all(line.as_bytes())
            .map_err(|e| self.target.io(e))
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.out.flush().map_err(|e| self.target.io(e))
    }
}

// ---------------------------------------------------------------------------------------------

/// The Arrow type of a column in Parquet exports.
pub(crate) fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::Boolean => DataType::Boolean,
    }
}

enum Builder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Float(Float64Builder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Boolean(BooleanBuilder),
}

impl Builder {
    fn new(ty: ColumnType) -> Builder {
        match ty {
            ColumnType::Text => Builder::Text(StringBuilder::new()),
            ColumnType::Integer => Builder::Integer(Int64Builder::new()),
            ColumnType::Float => Builder::Float(Float64Builder::new()),
            ColumnType::Date => Builder::Date(Date32Builder::new()),
            ColumnType::Timestamp => {
                Builder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            ColumnType::Boolean => Builder::Boolean(BooleanBuilder::new()),
        }
    }

    /// Appends a cell; `false` when the cell does not fit the column's type.
    fn append(&mut self, cell: &Cell) -> bool {
        const EPOCH_DAYS_FROM_CE: i32 = 719_163;
        match (self, cell) {
            (Builder::Text(b), Cell::Null) => b.append_null(),
            (Builder::Integer(b), Cell::Null) => b.append_null(),
            (Builder::Float(b), Cell::Null) => b.append_null(),
            (Builder::Date(b), Cell::Null) => b.append_null(),
            (Builder::Timestamp(b), Cell::Null) => b.append_null(),
            (Builder::Boolean(b), Cell::Null) => b.append_null(),
            (Builder::Text(b), Cell::Text(text)) => b.append_value(text),
            (Builder::Integer(b), Cell::Integer(i)) => b.append_value(*i),
            (Builder::Float(b), Cell::Float(f)) if f.is_finite() => b.append_value(*f),
            (Builder::Float(b), Cell::Float(_)) => b.append_null(),
            (Builder::Float(b), Cell::Integer(i)) => b.append_value(*i as f64),
            (Builder::Date(b), Cell::Date(d)) => {
                b.append_value(chrono::Datelike::num_days_from_ce(d) - EPOCH_DAYS_FROM_CE)
            }
            (Builder::Timestamp(b), Cell::Timestamp(t)) => b.append_value(t.timestamp_micros()),
            (Builder::Boolean(b), Cell::Boolean(v)) => b.append_value(*v),
            _ => return false,
        }
        true
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Integer(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Boolean(b) => Arc::new(b.finish()),
        }
    }
}

struct ParquetWriter {
    writer: ArrowWriter<File>,
    schema: Arc<Schema>,
    builders: Vec<Builder>,
    buffered: usize,
    target: Target,
}

impl ParquetWriter {
    fn new(file: File, target: Target) -> Result<ParquetWriter, ExportError> {
        let fields: Vec<Field> = target
            .columns
            .iter()
            .map(|c| Field::new(c.name, arrow_type(c.ty), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .build();
        let writer =
            ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|source| {
                ExportError::Parquet {
                    path: target.path.clone(),
                    source,
                }
            })?;
        let builders = target.columns.iter().map(|c| Builder::new(c.ty)).collect();
        Ok(ParquetWriter {
            writer,
            schema,
            builders,
            buffered: 0,
            target,
        })
    }

    fn flush_batch(&mut self) -> Result<(), ExportError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|source| {
            ExportError::Arrow {
                path: self.target.path.clone(),
                source,
            }
        })?;
        self.writer
            .write(&batch)
            .map_err(|source| ExportError::Parquet {
                path: self.target.path.clone(),
                source,
            })?;
        self.buffered = 0;
        Ok(())
    }
}

impl RowWriter for ParquetWriter {
    fn write_row(&mut self, row: &[Cell]) -> Result<(), ExportError> {
        self.target.check_length(row)?;
        for ((builder, cell), column) in self.builders.iter_mut().zip(row).zip(&self.target.columns)
        {
            if !builder.append(cell) {
                return Err(self.target.mismatch(column, cell));
            }
        }
        self.buffered += 1;
        if self.buffered >= BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.flush_batch()?;
        let path = self.target.path.clone();
        self.writer
            .close()
            .map_err(|source| ExportError::Parquet { path, source })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(" padded"), "\" padded\"");
        assert_eq!(float_text(2.0).as_deref(), Some("2.0"));
        assert_eq!(float_text(0.25).as_deref(), Some("0.25"));
        assert_eq!(float_text(f64::NAN), None);
    }

    #[test]
    fn a_cell_of_the_wrong_type_is_refused_by_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let columns = [Column::new("n", ColumnType::Integer, "A number.")];
        let mut writer = open(Format::Parquet, &path, "t", &columns).unwrap();
        writer.write_row(&[Cell::Integer(1)]).unwrap();
        let err = writer
            .write_row(&[Cell::Text("one".to_string())])
            .unwrap_err();
        assert!(err.to_string().contains("column n of t"), "{err}");
        let err = writer.write_row(&[]).unwrap_err();
        assert!(err.to_string().contains("1 columns"), "{err}");
    }
}
