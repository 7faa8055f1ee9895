//! The knobs of a simulated world. Same configuration and seed, same world.

use serde::Serialize;

use crate::world::{Day, EventKind};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorldConfig {
    pub seed: u64,
    /// Number of markets (skins are assigned in turn: table, cards, list).
    pub markets: u32,
    /// Days simulated (day 0 up to `days - 1`).
    pub days: u32,
    /// Real people selling at the start and joining later (each has one or
    /// more vendor accounts).
    pub vendors: u32,
    /// Mean number of listings a vendor account has at any time.
    pub listings_per_vendor: f64,
    /// Mean days a listing stays up before the vendor replaces it.
    pub listing_lifetime_days: f64,
    /// Share of real sales that leave a review.
    pub feedback_rate: f64,
    /// Share of vendor accounts running a fake-review campaign.
    pub fake_review_share: f64,
    /// Share of vendors on a closed market who move to a surviving one.
    pub migration_share: f64,
    /// Forum threads per market.
    pub threads_per_market: u32,
    /// Scripted events; `None` picks the default script for the world's size.
    pub events: Option<Vec<ScriptedEvent>>,
}

/// One scripted event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptedEvent {
    pub market: u32,
    pub kind: EventKind,
    pub day: Day,
    /// Days an outage lasts.
    pub length: u32,
}

impl WorldConfig {
    /// The benchmark-sized world: 3 markets, 60 days, ~500 vendor accounts,
    /// ~20,000 listings.
    pub fn new(seed: u64) -> WorldConfig {
        WorldConfig {
            seed,
            markets: 3,
            days: 60,
            vendors: 300,
            listings_per_vendor: 24.0,
            listing_lifetime_days: 28.0,
            feedback_rate: 0.7,
            fake_review_share: 0.03,
            migration_share: 0.7,
            threads_per_market: 120,
            events: None,
        }
    }

    /// A small world for tests and the demo: the same machinery, fewer rows.
    pub fn small(seed: u64) -> WorldConfig {
        WorldConfig {
            vendors: 40,
            listings_per_vendor: 5.0,
            threads_per_market: 12,
            ..WorldConfig::new(seed)
        }
    }

    /// The events of the world: the configured ones, or the default script (on
    /// worlds of two or more markets): the first market is seized at 60 % of
    /// the run, the second has a three-day outage at 25 % and (with three or
    /// more markets) exits with its buyers' money at 80 %.
    pub fn script(&self) -> Vec<ScriptedEvent> {
        if let Some(events) = &self.events {
            return events.clone();
        }
        let at = |share: f64| ((f64::from(self.days) * share).round() as Day).max(1);
        let mut events = Vec::new();
        if self.markets >= 2 {
            events.push(ScriptedEvent {
                market: 0,
                kind: EventKind::Seizure,
                day: at(0.6),
                length: 0,
            });
            events.push(ScriptedEvent {
                market: 1,
                kind: EventKind::Outage,
                day: at(0.25),
                length: 3,
            });
        }
        if self.markets >= 3 {
            events.push(ScriptedEvent {
                market: 1,
                kind: EventKind::ExitScam,
                day: at(0.8),
                length: 0,
            });
        }
        events.retain(|e| e.day < self.days);
        events
    }
}
