//! dnmscope-analytics: the indicators drug-policy research asks for, computed from the store's
//! observations, and the reports and exports that carry them out of dnmscope.
//!
//! Everything here reads the store through `dnmscope-store`'s API (the only crate with SQL) and
//! produces [`Table`]s: named, typed, documented columns that the report, the exports and the
//! `query` commands all print the same way.

pub mod table;

pub use table::{Cell, Column, ColumnType, Table};

pub mod chart;
pub mod datasheet;
pub mod export;
pub mod report;
