//! Errors of the test bed, each saying what it was doing.

use dnmscope_analytics::AnalyticsError;
use dnmscope_crawl::CrawlError;
use dnmscope_sim::SimError;
use dnmscope_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    /// Generating or serving the simulated world failed.
    #[error("{what}")]
    Serve {
        what: String,
        #[source]
        source: Box<SimError>,
    },
    /// The set-up is unusable (a day outside the world, a market without a definition).
    #[error("{what}")]
    Setup { what: String },
    /// A day's crawl failed.
    #[error("crawling simulated day {day}")]
    Crawl {
        day: u32,
        #[source]
        source: Box<CrawlError>,
    },
    /// The store failed.
    #[error("{what}")]
    Store {
        what: String,
        #[source]
        source: Box<StoreError>,
    },
    /// An indicator failed.
    #[error("{what}")]
    Analytics {
        what: String,
        #[source]
        source: Box<AnalyticsError>,
    },
}
