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
    /// Raw body bytes before and after compression (the per-market dictionaries counted in).
    pub body_bytes: i64,
    pub stored_body_bytes: i64,
    /// Encryption and retention of the raw bodies.
    pub raw: RawStats,
}

/// Whether raw bodies are encrypted, with which key, and what was purged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RawStats {
    /// The policy for new bodies; `None`: they are stored unencrypted.
    pub policy: Option<crate::RawPolicy>,
    pub bodies_encrypted: u64,
    pub bodies_plain: u64,
    pub bodies_purged: u64,
    /// The key ids the encrypted bodies need.
    pub key_ids: Vec<String>,
    pub captures_purged: u64,
    /// The fetch times of the oldest and newest captures whose raw page is kept.
    pub oldest_kept: Option<DateTime<Utc>>,
    pub newest_kept: Option<DateTime<Utc>>,
    /// Every purge, oldest first (the audit rows).
    pub purges: Vec<PurgeRecord>,
}

/// One `raw_purges` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgeRecord {
    pub id: i64,
    pub purged_at: DateTime<Utc>,
    pub purged_by: String,
    pub before: DateTime<Utc>,
    pub market: Option<String>,
    pub captures: u64,
    pub bodies: u64,
    pub bytes: u64,
}

/// What one purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub purge_id: i64,
    pub captures: u64,
    pub bodies: u64,
    pub bytes: u64,
}

impl RawStats {
    /// One line on encryption, for `db stats` and the datasheet.
    pub fn encryption_summary(&self) -> String {
        let state = match &self.policy {
            Some(p) => format!(
                "new raw bodies are encrypted ({}, key id {}) since {}",
                p.cipher,
                p.key_id,
                p.enabled_at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            None => {
                "raw bodies are NOT encrypted (convert with `dnmscope db encrypt-raw`)".to_string()
            }
        };
        format!(
            "{state}; {} encrypted, {} unencrypted, {} purged",
            self.bodies_encrypted, self.bodies_plain, self.bodies_purged
        )
    }

    /// One line on retention, for `db stats` and the datasheet.
    pub fn retention_summary(&self) -> String {
        let kept = match (self.oldest_kept, self.newest_kept) {
            (Some(a), Some(b)) => format!(
                "raw pages kept from {} to {}",
                a.format("%Y-%m-%d"),
                b.format("%Y-%m-%d")
            ),
            _ => "no raw pages kept".to_string(),
        };
        match self.purges.last() {
            None => format!("{kept}; never purged"),
            Some(last) => format!(
                "{kept}; {} captures purged in {} purges, the last at {} by {} (before {}{})",
                self.captures_purged,
                self.purges.len(),
                last.purged_at.format("%Y-%m-%d %H:%M:%S UTC"),
                last.purged_by,
                last.before.format("%Y-%m-%d %H:%M:%S UTC"),
                last.market
                    .as_deref()
                    .map(|m| format!(", market {m}"))
                    .unwrap_or_default()
            ),
        }
    }
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
                "raw bodies:        {} bytes, {} stored with their dictionaries ({:.1}:1)",
                self.body_bytes,
                self.stored_body_bytes,
                self.body_bytes as f64 / self.stored_body_bytes.max(1) as f64
            )?;
        }
        writeln!(f, "encryption:        {}", self.raw.encryption_summary())?;
        writeln!(f, "retention:         {}", self.raw.retention_summary())?;
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
