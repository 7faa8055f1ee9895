//! The crawl frontier: the pages a crawl run means to fetch, and where each one stands.
//!
//! A frontier entry is unique per (crawl, market, canonical URL); the crawler canonicalises URLs
//! (session parameters removed) before it enqueues them, so one page is fetched once per run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CrawlId, MarketName};

/// Where a frontier entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrontierState {
    /// Waiting to be fetched (or fetched and stored, waiting to be parsed: see `capture_id`).
    Pending,
    /// Fetched, stored and parsed; its links are enqueued.
    Done,
    /// Given up after its attempts ran out, or refused for good.
    Failed,
}

impl FrontierState {
    pub const ALL: [FrontierState; 3] = [
        FrontierState::Pending,
        FrontierState::Done,
        FrontierState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FrontierState::Pending => "pending",
            FrontierState::Done => "done",
            FrontierState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<FrontierState> {
        FrontierState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A page to enqueue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLink {
    /// The canonical URL.
    pub url: String,
    /// The page kind the link is expected to lead to ("listing", "search", ...).
    pub kind: String,
    /// Links followed from a seed URL to reach it.
    pub depth: u32,
    /// Higher first.
    pub priority: i32,
}

/// A page in a run's frontier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontierEntry {
    pub id: i64,
    pub crawl: CrawlId,
    pub market: MarketName,
    pub url: String,
    pub kind: String,
    pub depth: u32,
    pub priority: i32,
    pub state: FrontierState,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// Set once the page is fetched and stored: a resumed run parses the stored capture instead
    /// of fetching the page again.
    pub capture_id: Option<i64>,
}
