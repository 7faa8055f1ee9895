//! dnmscope-testbed: one way to put dnmscope against a world whose truth is known.
//!
//! A [`Testbed`] serves a simulated world (`dnmscope-sim`) on loopback and crawls it with the
//! real fetcher (`dnmscope-fetch`'s loopback transport, politeness and redirect checks) and the
//! real pipeline (`dnmscope-crawl`) into a store. [`validate_world`] runs the whole chain, world
//! → serve → crawl → analytics, and [`score`] measures every estimator against the truth in a
//! [`Scorecard`]. The demo, the validation test and `dnmscope validate` all go through here, so
//! they crawl the same way and are scored by the same code.
//!
//! Only loopback: the transport refuses any other address.

mod bed;
mod error;
mod score;
mod validate;

pub use bed::{CrawlSettings, Testbed};
pub use error::TestbedError;
pub use score::{
    score, CampaignScore, EventDetection, EventScore, Found, HarmScore, LinkingScore, SalesScore,
    Scorecard, TopicScore,
};
pub use validate::{
    crawl_schedule, markdown_table, summary_grid, summary_table, validate_world, validation_world,
    world_from_file, world_grid, Grid,
};
