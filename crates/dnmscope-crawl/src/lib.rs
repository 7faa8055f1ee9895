//! dnmscope-crawl: longitudinal crawl runs that survive anything.
//!
//! A run is one snapshot of one or more markets. [`crawl`] takes pages from a [`Source`] (the
//! fetcher), stores each raw page before parsing it, parses it with the market's definition,
//! stores the observations and enqueues the links, one store transaction per step, with the
//! frontier in the store: a run killed at any moment resumes without losing or duplicating
//! anything. Gates are handled as a careful human would: a queue is waited out, a ban or a login
//! page pauses the market, an unreachable market is dropped for the run while the others go on,
//! and a seizure banner becomes a market event. [`MarketAccounting`] says how complete each
//! snapshot is.

mod accounting;
mod fetch_source;
pub mod import;
mod parse_pool;
mod plan;
pub mod reparse;
mod run;
mod source;

pub use accounting::{table, MarketAccounting};
pub use fetch_source::{FetchSource, Sessions};
pub use plan::{canonical_link, is_denied, priority, CrawlConfig, MarketPlan};
pub use run::{
    crawl, crawl_with_progress, CrawlError, MarketStatus, Progress, RunOutcome, Stop, REPARSE_NOTE,
    REPARSE_TRIES,
};
pub use source::{FailureKind, Signal, Source, SourceError};
