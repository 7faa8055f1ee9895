//! dnmscope's domain types.
//!
//! Everything the other crates exchange lives here: markets and their events, crawl runs,
//! captures (one fetched page), page kinds, and the things parsed out of pages: listings,
//! vendors, feedback entries, forum threads and posts, with the value types they are made of
//! (money with exact decimals, countries, PGP fingerprints, pseudonyms).
//!
//! This crate does no IO and knows nothing about HTTP, HTML or SQL. Constructors validate, so a
//! value of one of these types is always well formed (a `Country` is a real ISO 3166-1 code or a
//! known region word, a `PgpFingerprint` is lower-case hex of a valid length, and so on).

mod capture;
mod country;
mod crawl;
mod error;
mod feedback;
mod forum;
mod frontier;
mod iso3166;
mod listing;
mod market;
mod money;
mod page;
mod pgp;
mod pseudonym;
mod vendor;

pub use capture::{Capture, CaptureKey, ContentHash, Header, Truncation};
pub use country::{Country, Region};
pub use crawl::{CrawlId, CrawlRun, FinishReason};
pub use error::ModelError;
pub use feedback::{FeedbackEntry, FeedbackKey, FeedbackRating};
pub use forum::{Author, ForumPost, ForumThread};
pub use frontier::{FrontierEntry, FrontierState, NewLink};
pub use listing::{Listing, PriceTier, Quantity, ShippingOption};
pub use market::{MarketEvent, MarketEventKind, MarketName};
pub use money::{Currency, Money};
pub use page::{Extraction, PageKind};
pub use pgp::PgpFingerprint;
pub use pseudonym::{Pseudonym, PseudonymKey};
pub use vendor::{DisputeCounts, ExternalRating, FeedbackCounts, Vendor};
