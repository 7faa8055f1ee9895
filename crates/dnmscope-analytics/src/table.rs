//! [`Table`]: the one shape every indicator, export and query result takes.
//!
//! A table has a stable name, a fixed column order with a type and a description for each column
//! (the data dictionary is generated from these), and rows of [`Cell`]s.

use serde::Serialize;

/// The type of a column, as written in the data dictionary and in typed exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Text (UTF-8).
    Text,
    /// A signed 64-bit integer.
    Integer,
    /// A 64-bit float.
    Float,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An instant, RFC 3339 in UTC.
    Timestamp,
    /// True or false.
    Boolean,
}

/// One column: its name, type and what it means.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub description: &'static str,
}

impl Column {
    pub const fn new(name: &'static str, ty: ColumnType, description: &'static str) -> Column {
        Column {
            name,
            ty,
            description,
        }
    }
}

/// One value. `Null` is allowed in every column.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Null,
    Text(String),
    Integer(i64),
    Float(f64),
    Date(chrono::NaiveDate),
    Timestamp(chrono::DateTime<chrono::Utc>),
    Boolean(bool),
}

/// A named table with documented columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// Stable, snake_case; used as the file name of exports.
    pub name: String,
    /// One sentence: what a row is.
    pub description: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        columns: Vec<Column>,
    ) -> Table {
        Table {
            name: name.into(),
            description: description.into(),
            columns,
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    ///
    /// # Panics
    /// When the row's length differs from the number of columns (a programming error).
    pub fn push(&mut self, row: Vec<Cell>) {
        assert_eq!(
            row.len(),
            self.columns.len(),
            "row length differs from the columns of {}",
            self.name
        );
        self.rows.push(row);
    }
}
