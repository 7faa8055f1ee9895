//! dnmscope-sim: a simulated darknet marketplace ecosystem with ground truth.
//!
//! No test, demo or benchmark may touch a real market, so this crate builds a
//! world that behaves like one and knows everything a real one hides:
//!
//! - `generate` builds a [`World`] from a [`WorldConfig`] deterministically:
//!   markets with their own skins, vendors (real OpenPGP keys, origin
//!   countries, ratings imported from other markets), listings whose prices
//!   follow a BTC/USD series, orders as a daily process, reviews (some of
//!   them fake), forums with harm-reduction threads, and scripted events
//!   (seizure, exit scam, outage) after which vendors migrate;
//! - `view` and `skin` render the world as of a day, three ways;
//! - `server` serves it over HTTP on loopback behind a queue, a captcha
//!   login, sessions and a rate limit, and logs every request;
//! - `truth` exports what really happened;
//! - `corpus` writes pages with their expected SCHEMA.md fields, a labelled
//!   corpus `dnmscope eval` can score;
//! - `mirror` writes what `wget --mirror` would have saved of each market on
//!   each day (and WARCs of it), as researchers' archives of real markets.
//!
//! The crate depends only on `dnmscope-model` and never opens a connection
//! to anything but its own loopback listener.

mod config;
pub mod corpus;
mod error;
mod generate;
pub mod mirror;
mod pgpkey;
pub mod server;
pub mod skin;
pub mod truth;
pub mod view;
mod vocab;
mod world;

pub use config::{
    AccountBehaviour, Behaviour, FakeReviews, FakeText, HandleFamilies, HandleFamily,
    Impersonators, MigrationBehaviour, ScriptedEvent, WorldConfig,
};
pub use error::SimError;
pub use generate::generate;
pub use mirror::{write_mirror, MirrorOptions, MirrorSummary};
pub use server::{
    Clock, DaySchedule, Hostile, ManualClock, Outcome, QueueConfig, RateLimit, RequestRecord,
    ServerConfig, SimServer, SystemClock, PARSE_BOMBS, PARSE_BOMB_BYTES, TRAP_LINKS,
};
pub use skin::{Action, Page, SkinKind};
pub use world::*;
