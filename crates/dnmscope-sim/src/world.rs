//! The simulated world: every market, vendor, listing, sale, review, forum post
//! and event, with the truth that a real market never reveals.
//!
//! Everything is plain data indexed by `u32` ids (positions in the world's
//! vectors). The generator (`generate.rs`) builds it; the skins render it as of
//! a day; `truth.rs` exports it.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::WorldConfig;
use crate::skin::SkinKind;

/// A day of the simulation, counted from 0.
pub type Day = u32;

/// The whole simulated ecosystem.
#[derive(Debug, Clone)]
pub struct World {
    pub config: WorldConfig,
    /// The calendar date of day 0.
    pub start_date: chrono::NaiveDate,
    /// BTC/USD rate per day (USD per 1 BTC).
    pub btc_usd: Vec<Decimal>,
    /// XMR/USD rate per day (USD per 1 XMR).
    pub xmr_usd: Vec<Decimal>,
    pub markets: Vec<Market>,
    pub pgp_keys: Vec<PgpKey>,
    pub persons: Vec<Person>,
    pub vendors: Vec<VendorAccount>,
    pub listings: Vec<Listing>,
    pub buyers: Vec<Buyer>,
    /// Orders, sorted by listing then day.
    pub sales: Vec<Sale>,
    /// Reviews, sorted by vendor then day.
    pub feedback: Vec<Feedback>,
    pub threads: Vec<Thread>,
    /// Forum posts, sorted by thread then day.
    pub posts: Vec<Post>,
    pub events: Vec<Event>,
    /// Accounts a crawler may log in with, per market.
    pub accounts: Vec<CrawlerAccount>,
    pub(crate) index: Index,
}

/// Lookups the server needs on every request, built once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// Listings of each market, in listing id order.
    pub market_listings: Vec<Vec<u32>>,
    /// Listings of each vendor account.
    pub vendor_listings: Vec<Vec<u32>>,
    /// Range into `sales` for each listing.
    pub listing_sales: Vec<(u32, u32)>,
    /// Range into `feedback` for each vendor account.
    pub vendor_feedback: Vec<(u32, u32)>,
    /// Feedback ids of each listing, by day.
    pub listing_feedback: Vec<Vec<u32>>,
    /// Threads of each market.
    pub market_threads: Vec<Vec<u32>>,
    /// Range into `posts` for each thread.
    pub thread_posts: Vec<(u32, u32)>,
    /// Vendor accounts of each market.
    pub market_vendors: Vec<Vec<u32>>,
}

/// How a market shows prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceDisplay {
    /// USD first, BTC beside it.
    UsdAndBtc,
    /// BTC first, an approximate USD figure beside it.
    BtcFirst,
    /// USD only, with the market's exchange rates printed on the page.
    UsdOnly,
}

#[derive(Debug, Clone, Serialize)]
pub struct Market {
    pub id: u32,
    pub name: String,
    /// Lower-case name used in file names and configuration.
    pub slug: String,
    pub skin: SkinKind,
    pub price_display: PriceDisplay,
    /// Host names (v3-onion shaped), the first one is the main address.
    pub hosts: Vec<String>,
    /// Coins the market accepts.
    pub currencies: Vec<String>,
    /// The day the market stops serving (seizure or exit scam), if any.
    pub closed_on: Option<Day>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PgpKey {
    pub id: u32,
    /// Lower-case hex, as gpg prints it.
    pub fingerprint: String,
    /// The ASCII-armored public key block.
    pub armored: String,
    /// The key that certified this one (a rotation signed by the old key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certified_by: Option<u32>,
}

/// A real person behind one or more vendor accounts.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: u32,
    pub country: String,
    /// 0..1: how often buyers are unhappy.
    pub trouble: f64,
    pub joined: Day,
    /// First day the person no longer sells anywhere.
    pub left: Option<Day>,
    pub accounts: Vec<u32>,
}

/// A rating imported from another market, shown on a profile.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedRating {
    pub market: String,
    pub rating: Decimal,
    pub sales: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct VendorAccount {
    pub id: u32,
    pub person: u32,
    pub market: u32,
    pub handle: String,
    pub pgp_key: u32,
    pub joined: Day,
    /// First day the account is gone (vendor left, or market closed).
    pub left: Option<Day>,
    /// The account this one replaced after its market closed.
    pub migrated_from: Option<u32>,
    /// How this account's handle differs from the one it came from (the account it moved from,
    /// or the person's own handle), when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle_change: Option<crate::config::HandleFamily>,
    /// The account whose handle this one copies: an impersonator, another person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonates: Option<u32>,
    pub imported: Vec<ImportedRating>,
    pub about: String,
    pub terms: String,
    /// Whether the vendor runs a fake-review campaign, and when.
    pub fake_campaign: Option<(Day, Day)>,
    /// The campaign is negative: a competitor's one- and two-star reviews against the vendor.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub negative_campaign: bool,
    /// The vendor hides its feedback: its pages show the rating and counts but no entries.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hides_feedback: bool,
    /// The vendor publishes no PGP key (its pages show none).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hides_key: bool,
    pub disputes_won: u32,
    pub disputes_lost: u32,
}

/// A unit of quantity as the market writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Gram,
    Milligram,
    Microgram,
    Millilitre,
    Piece,
}

impl Unit {
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Gram => "g",
            Unit::Milligram => "mg",
            Unit::Microgram => "ug",
            Unit::Millilitre => "ml",
            Unit::Piece => "",
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            Unit::Gram => "gram",
            Unit::Milligram => "milligram",
            Unit::Microgram => "microgram",
            Unit::Millilitre => "millilitre",
            Unit::Piece => "piece",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Quantity {
    /// Number of units in a pack (e.g. 100 pills), 1 for weights.
    pub count: u32,
    /// Amount per unit (e.g. 2 mg per pill, 3.5 g).
    pub amount: Decimal,
    pub unit: Unit,
    /// How the title writes it ("100 x 2 mg", "3.5 g").
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShippingOption {
    pub name: String,
    pub usd: Decimal,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub id: u32,
    pub market: u32,
    pub vendor: u32,
    /// The id in the market's URLs.
    pub public_id: String,
    pub title: String,
    pub category: String,
    pub subcategory: String,
    pub substance: String,
    pub quantity: Quantity,
    /// USD price on the first day, in cents.
    pub start_price_cents: i64,
    /// Relative price drift per day.
    pub drift: f64,
    pub first_day: Day,
    /// First day the listing is no longer shown.
    pub end_day: Day,
    /// None: unlimited stock.
    pub initial_stock: Option<u32>,
    pub ships_from: String,
    pub ships_to: Vec<String>,
    pub shipping: Vec<ShippingOption>,
    /// (quantity multiplier, discount percent).
    pub tiers: Vec<(u32, u32)>,
    pub escrow: bool,
    pub finalize_early: bool,
    pub description: String,
    /// Mean real sales per day.
    pub rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Buyer {
    pub id: u32,
    pub market: u32,
    pub created: Day,
    /// Buyers are never shown in full: markets mask them, and dnmscope must
    /// never store even the masked form.
    pub handle: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sale {
    pub listing: u32,
    pub day: Day,
    pub buyer: u32,
    /// False for the orders a fake-review campaign invents.
    pub real: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Feedback {
    pub id: u32,
    pub vendor: u32,
    pub listing: u32,
    pub day: Day,
    /// 1..=5 stars.
    pub stars: u8,
    pub text: String,
    pub buyer: u32,
    /// Orders the buyer had made before this review (markets show it).
    pub buyer_orders: u32,
    pub fake: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Dosing,
    ReagentTesting,
    Adulterants,
    OverdoseNaloxone,
    ScamWarning,
    Vendors,
    General,
}

/// Who wrote a post: forum handles are shown in full on markets (dnmscope
/// pseudonymises them), vendors post under their vendor handle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostAuthor {
    Vendor(u32),
    Buyer(u32),
}

#[derive(Debug, Clone, Serialize)]
pub struct Thread {
    pub id: u32,
    pub market: u32,
    pub board: String,
    pub title: String,
    pub day: Day,
    pub topics: Vec<Topic>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Post {
    pub id: u32,
    pub thread: u32,
    pub author: PostAuthor,
    pub day: Day,
    pub text: String,
    pub topics: Vec<Topic>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Seizure,
    ExitScam,
    Outage,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub market: u32,
    pub kind: EventKind,
    pub day: Day,
    /// First day the market is back (outages only).
    pub until: Option<Day>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CrawlerAccount {
    pub market: u32,
    pub username: String,
    pub password: String,
}

/// What a market is doing on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketState {
    Up,
    /// Unreachable for a while.
    Down,
    /// Replaced by a law-enforcement banner.
    Seized,
    /// Gone with the buyers' money.
    Gone,
}

impl World {
    pub fn market(&self, id: u32) -> &Market {
        &self.markets[id as usize]
    }

    pub fn market_by_host(&self, host: &str) -> Option<&Market> {
        self.markets
            .iter()
            .find(|m| m.hosts.iter().any(|h| h == host))
    }

    pub fn state(&self, market: u32, day: Day) -> MarketState {
        for event in self.events.iter().filter(|e| e.market == market) {
            match event.kind {
                EventKind::Seizure if day >= event.day => return MarketState::Seized,
                EventKind::ExitScam if day >= event.day => return MarketState::Gone,
                EventKind::Outage
                    if day >= event.day && event.until.is_some_and(|until| day < until) =>
                {
                    return MarketState::Down;
                }
                _ => {}
            }
        }
        MarketState::Up
    }

    /// Date of a day, for pages ("2019-03-14").
    pub fn date(&self, day: Day) -> chrono::NaiveDate {
        self.start_date + chrono::Days::new(u64::from(day))
    }

    pub fn btc_rate(&self, day: Day) -> Decimal {
        self.btc_usd[(day as usize).min(self.btc_usd.len() - 1)]
    }

    pub fn xmr_rate(&self, day: Day) -> Decimal {
        self.xmr_usd[(day as usize).min(self.xmr_usd.len() - 1)]
    }

    pub fn listing_active(&self, listing: &Listing, day: Day) -> bool {
        listing.first_day <= day && day < listing.end_day
    }

    pub fn vendor_active(&self, vendor: &VendorAccount, day: Day) -> bool {
        vendor.joined <= day && vendor.left.is_none_or(|left| day < left)
    }

    /// Whether the market banned the vendor (from the day the account ended): an account that
    /// ended while its market was still up (not in a seizure or exit), every third of them by
    /// id. Only the table skin shows a banned vendor's profile (`User Profile (BANNED)`); the
    /// other skins answer 404 for it, as for any vendor gone.
    pub fn vendor_banned(&self, vendor: &VendorAccount, day: Day) -> bool {
        vendor.left.is_some_and(|left| {
            day >= left
                && vendor.id.is_multiple_of(3)
                && vendor.migrated_from.is_none()
                && self.state(vendor.market, left) == MarketState::Up
        })
    }

    /// The listing's USD price on a day.
    pub fn price_usd(&self, listing: &Listing, day: Day) -> Decimal {
        let elapsed = f64::from(day.saturating_sub(listing.first_day));
        let factor = (listing.drift * elapsed).exp();
        let cents = (listing.start_price_cents as f64 * factor).round() as i64;
        Decimal::new(cents.max(1), 2)
    }

    /// USD converted to BTC at the day's rate, to 8 places.
    pub fn usd_to_btc(&self, usd: Decimal, day: Day) -> Decimal {
        (usd / self.btc_rate(day)).round_dp(8).normalize()
    }

    /// Orders (real and invented) of a listing up to and including a day.
    pub fn sales_of(&self, listing: u32) -> &[Sale] {
        let (start, end) = self.index.listing_sales[listing as usize];
        &self.sales[start as usize..end as usize]
    }

    pub fn orders_until(&self, listing: u32, day: Day) -> u32 {
        self.sales_of(listing)
            .iter()
            .filter(|s| s.day <= day)
            .count() as u32
    }

    /// Stock left on a day (None: unlimited).
    pub fn stock(&self, listing: &Listing, day: Day) -> Option<u32> {
        listing
            .initial_stock
            .map(|initial| initial.saturating_sub(self.orders_until(listing.id, day)))
    }

    /// A vendor's reviews posted up to and including a day, newest first.
    pub fn feedback_until(&self, vendor: u32, day: Day) -> Vec<&Feedback> {
        let (start, end) = self.index.vendor_feedback[vendor as usize];
        let mut rows: Vec<&Feedback> = self.feedback[start as usize..end as usize]
            .iter()
            .filter(|f| f.day <= day)
            .collect();
        rows.reverse();
        rows
    }

    /// The entries a vendor's pages show on a day, newest first: none when the vendor hides
    /// them, at most the market's `show_last` otherwise.
    pub fn shown_feedback(&self, vendor: u32, day: Day) -> Vec<&Feedback> {
        if self.vendors[vendor as usize].hides_feedback {
            return Vec::new();
        }
        let mut rows = self.feedback_until(vendor, day);
        let last = self.config.behaviour.feedback.show_last as usize;
        if last > 0 {
            rows.truncate(last);
        }
        rows
    }

    /// The entries a listing's page shows on a day, newest first: those of it its vendor's
    /// pages show.
    pub fn shown_listing_feedback(&self, listing: u32, day: Day) -> Vec<&Feedback> {
        let vendor = self.listings[listing as usize].vendor;
        if self.vendors[vendor as usize].hides_feedback {
            return Vec::new();
        }
        let mut rows = self.listing_feedback_until(listing, day);
        if self.config.behaviour.feedback.show_last > 0 {
            let shown: std::collections::HashSet<u32> = self
                .shown_feedback(vendor, day)
                .iter()
                .map(|f| f.id)
                .collect();
            rows.retain(|f| shown.contains(&f.id));
        }
        rows
    }

    pub fn listing_feedback_until(&self, listing: u32, day: Day) -> Vec<&Feedback> {
        let mut rows: Vec<&Feedback> = self.index.listing_feedback[listing as usize]
            .iter()
            .map(|&id| &self.feedback[id as usize])
            .filter(|f| f.day <= day)
            .collect();
        rows.reverse();
        rows
    }

    /// The numbers a vendor's profile shows on a day.
    pub fn vendor_stats(&self, vendor: u32, day: Day) -> VendorStats {
        let mut stats = VendorStats::default();
        let mut stars_total = 0u64;
        for f in self.feedback_until(vendor, day) {
            stars_total += u64::from(f.stars);
            match f.stars {
                4..=5 => stats.positive += 1,
                3 => stats.neutral += 1,
                _ => stats.negative += 1,
            }
        }
        let reviews = stats.positive + stats.neutral + stats.negative;
        stats.sales = self.index.vendor_listings[vendor as usize]
            .iter()
            .map(|&l| self.orders_until(l, day))
            .sum();
        if reviews > 0 {
            stats.rating = (Decimal::from(stars_total) / Decimal::from(reviews)).round_dp(2);
            stats.positive_percent =
                (Decimal::from(stats.positive * 100) / Decimal::from(reviews)).round_dp(1);
        } else {
            stats.rating = Decimal::new(500, 2);
            stats.positive_percent = Decimal::from(100);
        }
        stats.level = 1 + (stats.sales / 50).min(9);
        stats
    }

    pub fn listings_of_market(&self, market: u32) -> &[u32] {
        &self.index.market_listings[market as usize]
    }

    pub fn listings_of_vendor(&self, vendor: u32) -> &[u32] {
        &self.index.vendor_listings[vendor as usize]
    }

    pub fn vendors_of_market(&self, market: u32) -> &[u32] {
        &self.index.market_vendors[market as usize]
    }

    pub fn threads_of_market(&self, market: u32) -> &[u32] {
        &self.index.market_threads[market as usize]
    }

    pub fn posts_of(&self, thread: u32) -> &[Post] {
        let (start, end) = self.index.thread_posts[thread as usize];
        &self.posts[start as usize..end as usize]
    }

    pub fn vendor_by_handle(&self, market: u32, handle: &str) -> Option<&VendorAccount> {
        self.vendors_of_market(market)
            .iter()
            .map(|&v| &self.vendors[v as usize])
            .find(|v| v.handle == handle)
    }

    pub fn listing_by_public_id(&self, market: u32, public_id: &str) -> Option<&Listing> {
        self.listings_of_market(market)
            .iter()
            .map(|&l| &self.listings[l as usize])
            .find(|l| l.public_id == public_id)
    }

    /// The answer a human would read off a captcha image.
    pub fn captcha_answer(&self, market: u32, challenge: &str) -> String {
        let digest = blake3::hash(
            format!("captcha/{}/{}/{}", self.config.seed, market, challenge).as_bytes(),
        );
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        digest.as_bytes()[..6]
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect()
    }
}

/// A vendor's profile figures on a day.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VendorStats {
    pub rating: Decimal,
    pub positive_percent: Decimal,
    pub positive: u32,
    pub neutral: u32,
    pub negative: u32,
    pub sales: u32,
    pub level: u32,
}
