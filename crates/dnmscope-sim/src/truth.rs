//! Ground-truth export: what really happened in a simulated world, for
//! measuring how well dnmscope's estimates recover it.
//!
//! The export is one JSON document: markets and their events, the real people
//! behind vendor accounts (so cross-market links are known), every listing's
//! true fields per day and its real sales, which reviews are fake, and the
//! topics of every forum post.

use std::path::Path;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::WorldConfig;
use crate::error::SimError;
use crate::world::*;

#[derive(Debug, Serialize)]
pub struct Truth<'w> {
    pub format: &'static str,
    pub config: &'w WorldConfig,
    pub start_date: chrono::NaiveDate,
    pub days: u32,
    pub btc_usd: &'w [Decimal],
    pub markets: &'w [Market],
    pub events: &'w [Event],
    pub crawler_accounts: &'w [CrawlerAccount],
    pub persons: Vec<PersonTruth<'w>>,
    pub vendors: Vec<VendorTruth<'w>>,
    pub listings: Vec<ListingTruth<'w>>,
    pub feedback: Vec<FeedbackTruth>,
    pub threads: &'w [Thread],
    pub posts: Vec<PostTruth<'w>>,
}

#[derive(Debug, Serialize)]
pub struct PersonTruth<'w> {
    pub id: u32,
    pub country: &'w str,
    pub joined: Day,
    pub left: Option<Day>,
    /// Vendor accounts of this person, on any market.
    pub accounts: &'w [u32],
}

#[derive(Debug, Serialize)]
pub struct VendorTruth<'w> {
    pub id: u32,
    pub person: u32,
    pub market: u32,
    pub handle: &'w str,
    pub pgp_fingerprint: &'w str,
    /// The fingerprint of the key that certified this account's key (a signed rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgp_certified_by: Option<&'w str>,
    pub joined: Day,
    pub left: Option<Day>,
    /// The market banned the account when it ended (see `World::vendor_banned`).
    pub banned: bool,
    pub migrated_from: Option<u32>,
    /// How the handle differs from the person's other accounts', when it does by design.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle_change: Option<crate::config::HandleFamily>,
    /// The account this one impersonates (another person's handle, its own key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonates: Option<u32>,
    pub imported: &'w [ImportedRating],
    pub fake_campaign: Option<(Day, Day)>,
    pub real_sales: u32,
    pub real_revenue_usd: Decimal,
    pub fake_reviews: u32,
}

#[derive(Debug, Serialize)]
pub struct ListingTruth<'w> {
    pub id: u32,
    pub market: u32,
    pub vendor: u32,
    pub public_id: &'w str,
    pub title: &'w str,
    pub category: &'w str,
    pub subcategory: &'w str,
    pub substance: &'w str,
    pub quantity: &'w Quantity,
    pub ships_from: &'w str,
    pub ships_to: &'w [String],
    pub first_day: Day,
    pub end_day: Day,
    /// USD price on each day from `first_day` to `end_day - 1`.
    pub price_usd: Vec<Decimal>,
    /// Stock on each of those days (absent: unlimited).
    pub stock: Option<Vec<u32>>,
    /// Real sales (orders that happened), and invented ones.
    pub real_sales: u32,
    pub fake_orders: u32,
    /// Real sales per day, as (day, count).
    pub sales_by_day: Vec<(Day, u32)>,
    pub real_revenue_usd: Decimal,
}

#[derive(Debug, Serialize)]
pub struct FeedbackTruth {
    pub id: u32,
    pub vendor: u32,
    pub listing: u32,
    pub day: Day,
    pub stars: u8,
    pub fake: bool,
    pub buyer_orders: u32,
}

#[derive(Debug, Serialize)]
pub struct PostTruth<'w> {
    pub id: u32,
    pub thread: u32,
    pub day: Day,
    /// The vendor account that wrote it, if a vendor did.
    pub vendor: Option<u32>,
    pub topics: &'w [Topic],
}

/// The truth of a world.
pub fn truth(world: &World) -> Truth<'_> {
    let mut vendors: Vec<VendorTruth> = world
        .vendors
        .iter()
        .map(|v| VendorTruth {
            id: v.id,
            person: v.person,
            market: v.market,
            handle: &v.handle,
            pgp_fingerprint: &world.pgp_keys[v.pgp_key as usize].fingerprint,
            pgp_certified_by: world.pgp_keys[v.pgp_key as usize]
                .certified_by
                .map(|k| world.pgp_keys[k as usize].fingerprint.as_str()),
            joined: v.joined,
            left: v.left,
            banned: v.left.is_some_and(|left| world.vendor_banned(v, left)),
            migrated_from: v.migrated_from,
            handle_change: v.handle_change,
            impersonates: v.impersonates,
            imported: &v.imported,
            fake_campaign: v.fake_campaign,
            real_sales: 0,
            real_revenue_usd: Decimal::ZERO,
            fake_reviews: 0,
        })
        .collect();
    let listings = world
        .listings
        .iter()
        .map(|l| {
            let days = l.first_day..l.end_day;
            let sales = world.sales_of(l.id);
            let mut by_day: Vec<(Day, u32)> = Vec::new();
            let mut revenue = Decimal::ZERO;
            for s in sales.iter().filter(|s| s.real) {
                revenue += world.price_usd(l, s.day);
                match by_day.last_mut() {
                    Some((day, count)) if *day == s.day => *count += 1,
                    _ => by_day.push((s.day, 1)),
                }
            }
            let real_sales = sales.iter().filter(|s| s.real).count() as u32;
            let vendor = &mut vendors[l.vendor as usize];
            vendor.real_sales += real_sales;
            vendor.real_revenue_usd += revenue;
            ListingTruth {
                id: l.id,
                market: l.market,
                vendor: l.vendor,
                public_id: &l.public_id,
                title: &l.title,
                category: &l.category,
                subcategory: &l.subcategory,
                substance: &l.substance,
                quantity: &l.quantity,
                ships_from: &l.ships_from,
                ships_to: &l.ships_to,
                first_day: l.first_day,
                end_day: l.end_day,
                price_usd: days.clone().map(|d| world.price_usd(l, d)).collect(),
                stock: l
                    .initial_stock
                    .map(|_| days.map(|d| world.stock(l, d).unwrap_or(0)).collect()),
                real_sales,
                fake_orders: sales.len() as u32 - real_sales,
                sales_by_day: by_day,
                real_revenue_usd: revenue,
            }
        })
        .collect();
    for f in world.feedback.iter().filter(|f| f.fake) {
        vendors[f.vendor as usize].fake_reviews += 1;
    }
    Truth {
        format: "dnmscope-sim-truth/1",
        config: &world.config,
        start_date: world.start_date,
        days: world.config.days,
        btc_usd: &world.btc_usd,
        markets: &world.markets,
        events: &world.events,
        crawler_accounts: &world.accounts,
        persons: world
            .persons
            .iter()
            .map(|p| PersonTruth {
                id: p.id,
                country: &p.country,
                joined: p.joined,
                left: p.left,
                accounts: &p.accounts,
            })
            .collect(),
        vendors,
        listings,
        feedback: world
            .feedback
            .iter()
            .map(|f| FeedbackTruth {
                id: f.id,
                vendor: f.vendor,
                listing: f.listing,
                day: f.day,
                stars: f.stars,
                fake: f.fake,
                buyer_orders: f.buyer_orders,
            })
            .collect(),
        threads: &world.threads,
        posts: world
            .posts
            .iter()
            .map(|p| PostTruth {
                id: p.id,
                thread: p.thread,
                day: p.day,
                vendor: match p.author {
                    PostAuthor::Vendor(v) => Some(v),
                    PostAuthor::Buyer(_) => None,
                },
                topics: &p.topics,
            })
            .collect(),
    }
}

/// Writes the truth as JSON to a file.
pub fn write_truth(world: &World, path: &Path) -> Result<(), SimError> {
    let context = |source: std::io::Error| SimError::Write {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::create(path).map_err(context)?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut writer, &truth(world))
        .map_err(|e| context(std::io::Error::other(e)))?;
    std::io::Write::flush(&mut writer).map_err(context)
}
