//! What `dnmscope db stats` shows: row counts, crawls, the span of observations.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrawlSummary {
    pub id: i64,
    pub markets: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub finish_reason: Option<String>,
    pub captures: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub backend: String,
    pub location: String,
    pub tables: Vec<TableCount>,
    pub crawls: Vec<CrawlSummary>,
    pub first_observation: Option<DateTime<Utc>>,
    pub last_observation: Option<DateTime<Utc>>,
    /// Raw body bytes before and after compression.
    pub body_bytes: i64,
    pub stored_body_bytes: i64,
}

impl Stats {
    pub fn rows(&self, table: &str) -> Option<i64> {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .map(|t| t.rows)
    }
}

/// The readable table `db stats` prints.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = |t: Option<DateTime<Utc>>| {
            t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "-".to_string())
        };
        writeln!(f, "store: {} ({})", self.location, self.backend)?;
        writeln!(f)?;
        let width = self.tables.iter().map(|t| t.table.len()).max().unwrap_or(5);
        writeln!(f, "{:<width$}  {:>12}", "table", "rows")?;
        writeln!(f, "{:-<width$}  {:->12}", "", "")?;
        for t in &self.tables {
            writeln!(f, "{:<width$}  {:>12}", t.table, t.rows)?;
        }
        writeln!(f)?;
        writeln!(f, "first observation: {}", time(self.first_observation))?;
        writeln!(f, "last observation:  {}", time(self.last_observation))?;
        if self.body_bytes > 0 {
            writeln!(
                f,
                "raw bodies:        {} bytes, {} stored ({:.1}:1)",
                self.body_bytes,
                self.stored_body_bytes,
                self.body_bytes as f64 / self.stored_body_bytes.max(1) as f64
            )?;
        }
        writeln!(f)?;
        if self.crawls.is_empty() {
            return writeln!(f, "crawls: none yet");
        }
        writeln!(
            f,
            "{:>6}  {:<20}  {:<20}  {:<16}  {:>9}  markets",
            "crawl", "started", "finished", "finish reason", "captures"
        )?;
        for c in &self.crawls {
            writeln!(
                f,
                "{:>6}  {:<20}  {:<20}  {:<16}  {:>9}  {}",
                c.id,
                c.started_at.format("%Y-%m-%d %H:%M:%S"),
                c.finished_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_else(|| "(running)".to_string()),
                c.finish_reason.as_deref().unwrap_or("-"),
                c.captures,
                c.markets.join(",")
            )?;
        }
        Ok(())
    }
}
