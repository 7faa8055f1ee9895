//! Market events and what they did: before/after comparisons (vendors and listings lost) and
//! where the lost vendors reappeared (through probable or confirmed vendor links).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::data::Dataset;
use crate::indicators::{int, text};
use crate::linking::{Link, Profile};
use crate::table::{Cell, Column, ColumnType as T, Table};

/// One lost vendor seen again on another market after an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    pub event_market: String,
    pub event_kind: String,
    pub event_at: DateTime<Utc>,
    pub from: usize,
    pub to: usize,
    pub score: f64,
    /// The account on the other market was first seen after the event (a move, not an account
    /// the vendor already had there).
    pub new_account: bool,
}

/// The `market_events`, `event_impact` and `event_migrations` tables, and the migrations.
pub fn event_tables(
    data: &Dataset,
    profiles: &[Profile],
    links: &[Link],
) -> (Vec<Table>, Vec<Migration>) {
    let mut events = Table::new(
        "market_events",
        "Market events as observed: seizure banners, outages, exit scams, takedowns, mirror changes.",
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new("kind", T::Text, "takedown, seizure_banner, exit_scam, outage or mirror_change"),
            Column::new("observed_at", T::Timestamp, "when it was observed"),
            Column::new("detail", T::Text, "banner wording, outage length, ..."),
        ],
    );
    let mut impact = Table::new(
        "event_impact",
        "Before and after each event: the vendors and listings of the market on its last \
         observed day before the event, those not seen on it again, and how many of the lost \
         vendors reappeared on another market through a probable or confirmed link.",
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new("kind", T::Text, "event kind"),
            Column::new("event_at", T::Timestamp, "when the event was observed"),
            Column::new(
                "before_day",
                T::Date,
                "last day the market was observed before the event",
            ),
            Column::new(
                "vendors_before",
                T::Integer,
                "vendors with a listing on that day",
            ),
            Column::new("listings_before", T::Integer, "listings on that day"),
            Column::new(
                "vendors_lost",
                T::Integer,
                "of those vendors, not seen on the market after the event",
            ),
            Column::new(
                "listings_lost",
                T::Integer,
                "of those listings, not seen after the event",
            ),
            Column::new(
                "vendors_reappeared",
                T::Integer,
                "lost vendors linked to an account on another market active after the event",
            ),
            Column::new(
                "reappeared_on",
                T::Text,
                "market: count, for the reappeared vendors",
            ),
            Column::new(
                "other_markets_listings_before",
                T::Integer,
                "listings of the other markets on their last observed day before the event",
            ),
            Column::new(
                "other_markets_listings_after",
                T::Integer,
                "listings of the other markets on their last observed day after the event",
            ),
        ],
    );
    let mut moved = Table::new(
        "event_migrations",
        "Vendors lost at an event and the accounts on other markets they are linked to (probable \
         or confirmed), active after the event.",
        vec![
            Column::new("event_market", T::Text, "market of the event"),
            Column::new("event_kind", T::Text, "event kind"),
            Column::new("event_at", T::Timestamp, "when the event was observed"),
            Column::new("handle", T::Text, "the lost vendor's handle"),
            Column::new("to_market", T::Text, "market it reappeared on"),
            Column::new("to_handle", T::Text, "handle there"),
            Column::new("score", T::Float, "the link's score"),
            Column::new(
                "new_account",
                T::Boolean,
                "the account there was first seen after the event",
            ),
            Column::new(
                "first_seen_there",
                T::Timestamp,
                "first sighting of the account there",
            ),
        ],
    );
    let mut migrations = Vec::new();
    let seen = &data.listings.days;
    let profile_of: BTreeMap<(&str, i64), usize> = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| ((p.market.as_str(), p.vendor_id), i))
        .collect();
    for e in &data.events {
        events.push(vec![
            text(&e.market),
            text(&e.kind),
            Cell::Timestamp(e.observed_at),
            text(&e.detail),
        ]);
        let day = e.observed_at.date_naive();
        let Some(before_day) = seen
            .keys()
            .filter(|(m, d)| *m == e.market && *d < day)
            .map(|(_, d)| *d)
            .max()
        else {
            continue;
        };
        let before = &seen[&(e.market.clone(), before_day)];
        // `before_day` is the market's last day before the event: a vendor or listing seen
        // then and never on or after the event's day was last seen on `before_day`.
        let lost: Vec<i64> = before
            .vendors
            .iter()
            .copied()
            .filter(|v| {
                data.listings
                    .vendor_last_day
                    .get(&(e.market.clone(), *v))
                    .is_some_and(|last| *last == before_day)
            })
            .collect();
        let (vendors_before, listings_before, listings_lost) =
            (&before.vendors, before.listings, before.listings_ending);
        let mut reappeared = 0;
        let mut on: BTreeMap<String, usize> = BTreeMap::new();
        for vendor in &lost {
            let Some(&from) = profile_of.get(&(e.market.as_str(), *vendor)) else {
                continue;
            };
            let mut found = false;
            for link in links
                .iter()
                .filter(|l| l.accepted() && (l.a == from || l.b == from))
            {
                let to = if link.a == from { link.b } else { link.a };
                let target = &profiles[to];
                if target.market == e.market || target.last_seen < e.observed_at {
                    continue;
                }
                found = true;
                *on.entry(target.market.clone()).or_default() += 1;
                moved.push(vec![
                    text(&e.market),
                    text(&e.kind),
                    Cell::Timestamp(e.observed_at),
                    text(&profiles[from].handle),
                    text(&target.market),
                    text(&target.handle),
                    Cell::Float((link.score * 1000.0).round() / 1000.0),
                    Cell::Boolean(target.first_seen >= e.observed_at),
                    Cell::Timestamp(target.first_seen),
                ]);
                migrations.push(Migration {
                    event_market: e.market.clone(),
                    event_kind: e.kind.clone(),
                    event_at: e.observed_at,
                    from,
                    to,
                    score: link.score,
                    new_account: target.first_seen >= e.observed_at,
                });
            }
            reappeared += usize::from(found);
        }
        let others = |after: bool| -> usize {
            let mut last: BTreeMap<&str, NaiveDate> = BTreeMap::new();
            for (m, d) in seen.keys() {
                if *m != e.market && ((after && *d >= day) || (!after && *d < day)) {
                    let slot = last.entry(m.as_str()).or_insert(*d);
                    *slot = (*slot).max(*d);
                }
            }
            last.iter()
                .map(|(m, d)| seen[&(m.to_string(), *d)].listings)
                .sum()
        };
        impact.push(vec![
            text(&e.market),
            text(&e.kind),
            Cell::Timestamp(e.observed_at),
            Cell::Date(before_day),
            int(vendors_before.len() as i64),
            int(listings_before as i64),
            int(lost.len() as i64),
            int(listings_lost as i64),
            int(reappeared as i64),
            text(
                on.iter()
                    .map(|(m, n)| format!("{m}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            int(others(false) as i64),
            int(others(true) as i64),
        ]);
    }
    (vec![events, impact, moved], migrations)
}
