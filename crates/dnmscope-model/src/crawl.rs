//! Crawl runs: one snapshot of one or more markets.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::MarketName;

/// The store's id of a crawl run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CrawlId(pub i64);

impl fmt::Display for CrawlId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "crawl {}", self.0)
    }
}

/// Why a crawl run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// Every page in scope was attempted.
    Completed,
    /// A page or depth budget ran out first.
    BudgetExhausted,
    /// The operator stopped it.
    Interrupted,
    /// It could not go on (every market unreachable, Tor down, a store error).
    Failed,
}

impl FinishReason {
    pub const ALL: [FinishReason; 4] = [
        FinishReason::Completed,
        FinishReason::BudgetExhausted,
        FinishReason::Interrupted,
        FinishReason::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Completed => "completed",
            FinishReason::BudgetExhausted => "budget_exhausted",
            FinishReason::Interrupted => "interrupted",
            FinishReason::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<FinishReason> {
        FinishReason::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A crawl run as recorded: what it covered, with which configuration, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrawlRun {
    pub id: CrawlId,
    pub markets: Vec<MarketName>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub finish_reason: Option<FinishReason>,
    /// The effective configuration the run was started with, kept for reproducibility.
    pub config: serde_json::Value,
    /// The dnmscope version that ran it.
    pub tool_version: String,
}
