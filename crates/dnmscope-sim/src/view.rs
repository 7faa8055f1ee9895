//! Views: what a page of a market shows on a day, as displayed text, and the
//! same facts as the labelled "expected" values of `../shared/corpus/SCHEMA.md`.
//!
//! The renderers (`skin/render.rs`) print views; `expected()` turns the same
//! views into SCHEMA.md fields, so a simulated page and its truth can never
//! disagree about what the page says.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::skin::{slug, Page, SkinKind};
use crate::vocab;
use crate::world::*;

/// Listings per result page, feedback rows per page, posts per thread page,
/// threads per forum page.
pub const LISTINGS_PER_PAGE: usize = 20;
pub const FEEDBACK_PER_PAGE: usize = 15;
pub const POSTS_PER_PAGE: usize = 10;
pub const THREADS_PER_PAGE: usize = 25;

/// Who is looking: the logged-in crawler account.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub username: String,
    /// The session's CSRF token (appears in the logout link).
    pub token: String,
}

/// Everything a page needs to know about where it is.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'w> {
    pub world: &'w World,
    pub market: &'w Market,
    pub day: Day,
    /// 1, or 2 after a layout change.
    pub layout: u8,
}

impl Ctx<'_> {
    pub fn skin(&self) -> SkinKind {
        self.market.skin
    }

    /// A date as this market prints absolute dates.
    pub fn date(&self, day: Day) -> String {
        let date = self.world.date(day);
        match self.skin() {
            SkinKind::Table => date.format("%Y-%m-%d").to_string(),
            SkinKind::Cards => date.format("%b %d, %Y").to_string(),
            SkinKind::List => date.format("%d.%m.%Y").to_string(),
        }
    }

    /// A review's date as shown. The cards skin prints its age as Dream does, against noon of
    /// the day the page is seen (the time the server's `Date` header gives): `10d 4h`, `3d`, or
    /// the bare time it was left (`09:41`) when that was today. Each review is left at a time
    /// of its own before noon ([`review_time`]), so its date is exact from any later day.
    pub fn review_date(&self, f: &Feedback) -> String {
        match self.skin() {
            SkinKind::Cards => {
                let (hour, minute) = review_time(f);
                if self.day <= f.day {
                    return format!("{hour:02}:{minute:02}");
                }
                let minutes = (self.day - f.day) * 1440 + 720 - (hour * 60 + minute);
                let (days, hours) = (minutes / 1440, minutes % 1440 / 60);
                if hours == 0 {
                    format!("{days}d")
                } else {
                    format!("{days}d {hours}h")
                }
            }
            _ => self.date(f.day),
        }
    }

    /// A USD amount in the market's main currency.
    pub fn price(&self, usd: Decimal) -> Price {
        let btc = self.world.usd_to_btc(usd, self.day);
        Price {
            usd: usd.round_dp(2),
            btc,
            display: self.market.price_display,
        }
    }

    pub fn url(&self, page: &Page) -> String {
        self.skin().url(page)
    }

    /// The market's exchange rates: units per 1 BTC.
    pub fn exchange_rates(&self) -> Vec<(&'static str, Decimal)> {
        let btc = self.world.btc_rate(self.day);
        let mut rates = vec![("USD", btc)];
        if self.market.currencies.iter().any(|c| c == "XMR") {
            rates.push(("XMR", (btc / self.world.xmr_rate(self.day)).round_dp(4)));
        }
        rates
    }
}

/// When on its day a review was left: a time before noon, derived from its id.
pub fn review_time(f: &Feedback) -> (u32, u32) {
    ((f.id * 7) % 12, (f.id * 13) % 60)
}

/// A price in USD and BTC, and which the market puts first.
#[derive(Debug, Clone, Copy)]
pub struct Price {
    pub usd: Decimal,
    pub btc: Decimal,
    pub display: PriceDisplay,
}

impl Price {
    pub fn usd_text(&self) -> String {
        format!("{:.2}", self.usd)
    }
    pub fn btc_text(&self) -> String {
        format!("{:.8}", self.btc)
    }
    /// The main displayed price as SCHEMA.md writes it.
    pub fn expected(&self) -> Value {
        match self.display {
            PriceDisplay::BtcFirst => json!({"amount": num(self.btc), "currency": "BTC"}),
            _ => json!({"amount": num(self.usd), "currency": "USD"}),
        }
    }
}

fn num(value: Decimal) -> Value {
    serde_json::from_str(&value.normalize().to_string()).unwrap_or(Value::Null)
}

fn country_name(code: &str) -> &'static str {
    vocab::ORIGINS
        .iter()
        .find(|o| o.0 == code)
        .map_or("Unknown", |o| o.1)
}

#[derive(Debug)]
pub struct Summary {
    pub title: String,
    pub url: String,
    pub vendor: String,
    pub vendor_url: String,
    pub price: Price,
    pub ships_from: String,
    pub category: String,
}

impl Summary {
    fn expected(&self) -> Value {
        json!({"title": self.title, "url": self.url, "vendor": self.vendor, "price": self.price.expected()})
    }
}

pub fn summary(ctx: &Ctx, listing: &Listing) -> Summary {
    let vendor = &ctx.world.vendors[listing.vendor as usize];
    Summary {
        title: listing.title.clone(),
        url: ctx.url(&Page::Listing {
            id: listing.public_id.clone(),
        }),
        vendor: vendor.handle.clone(),
        vendor_url: ctx.url(&Page::Vendor {
            handle: vendor.handle.clone(),
        }),
        price: ctx.price(ctx.world.price_usd(listing, ctx.day)),
        ships_from: country_name(&listing.ships_from).to_owned(),
        category: listing.category.clone(),
    }
}

#[derive(Debug)]
pub struct FeedbackRow {
    pub stars: u8,
    /// "positive", "neutral" or "negative".
    pub verdict: &'static str,
    pub text: String,
    pub date: String,
    pub item: String,
    pub item_url: String,
    pub price: Price,
    /// Masked as markets mask buyers ("b***3"); never part of the truth's
    /// expected fields.
    pub masked_buyer: String,
    pub buyer_orders: u32,
}

impl FeedbackRow {
    fn expected(&self, skin: SkinKind) -> Value {
        let rating = match skin {
            SkinKind::Cards => json!(self.verdict),
            _ => json!(self.stars),
        };
        let mut row =
            json!({"rating": rating, "text": self.text, "date": self.date, "item": self.item});
        if skin != SkinKind::Cards {
            row["price"] = self.price.expected();
        }
        row
    }
}

pub fn feedback_row(ctx: &Ctx, f: &Feedback) -> FeedbackRow {
    let listing = &ctx.world.listings[f.listing as usize];
    let buyer = &ctx.world.buyers[f.buyer as usize].handle;
    let first = buyer.chars().next().unwrap_or('x');
    let last = buyer.chars().last().unwrap_or('x');
    let usd = ctx.world.price_usd(listing, f.day.saturating_sub(2));
    FeedbackRow {
        stars: f.stars,
        verdict: match f.stars {
            4..=5 => "positive",
            3 => "neutral",
            _ => "negative",
        },
        text: f.text.clone(),
        date: ctx.review_date(f),
        item: listing.title.clone(),
        item_url: ctx.url(&Page::Listing {
            id: listing.public_id.clone(),
        }),
        price: Price {
            usd,
            btc: ctx.world.usd_to_btc(usd, f.day),
            display: ctx.market.price_display,
        },
        masked_buyer: format!("{first}***{last}"),
        buyer_orders: f.buyer_orders,
    }
}

#[derive(Debug)]
pub struct ListingView {
    pub summary: Summary,
    pub public_id: String,
    pub ships_to: Vec<String>,
    pub currencies: Vec<String>,
    pub escrow: bool,
    pub finalize_early: bool,
    pub category: Vec<(String, String)>,
    pub shipping: Vec<(String, Price)>,
    pub tiers: Vec<(u32, Price)>,
    pub stock: Option<u32>,
    pub unit: &'static str,
    pub sales: u32,
    pub description: String,
    pub rates: Vec<(&'static str, Decimal)>,
    pub feedback: Vec<FeedbackRow>,
}

pub fn listing(ctx: &Ctx, listing: &Listing) -> ListingView {
    let summary = summary(ctx, listing);
    let base = summary.price.usd;
    let unit = match listing.quantity.unit {
        Unit::Gram => "gram",
        Unit::Millilitre => "millilitre",
        _ => "piece",
    };
    ListingView {
        public_id: listing.public_id.clone(),
        ships_to: listing.ships_to.clone(),
        currencies: ctx.market.currencies.clone(),
        escrow: listing.escrow,
        finalize_early: listing.finalize_early,
        category: [&listing.category, &listing.subcategory]
            .iter()
            .map(|name| {
                (
                    (*name).clone(),
                    ctx.url(&Page::Category {
                        slug: slug(&listing.category),
                        page: 1,
                    }),
                )
            })
            .collect(),
        shipping: listing
            .shipping
            .iter()
            .map(|s| (s.name.clone(), ctx.price(s.usd)))
            .collect(),
        tiers: listing
            .tiers
            .iter()
            .map(|&(quantity, discount)| {
                let usd = (base * Decimal::from(100 - discount) / Decimal::from(100)).round_dp(2);
                (quantity, ctx.price(usd))
            })
            .collect(),
        stock: ctx.world.stock(listing, ctx.day),
        unit,
        sales: ctx.world.orders_until(listing.id, ctx.day),
        description: listing.description.clone(),
        rates: ctx.exchange_rates(),
        feedback: ctx
            .world
            .shown_listing_feedback(listing.id, ctx.day)
            .into_iter()
            .take(5)
            .map(|f| feedback_row(ctx, f))
            .collect(),
        summary,
    }
}

#[derive(Debug)]
pub struct VendorView {
    pub handle: String,
    pub stats: VendorStats,
    pub level: String,
    pub pgp_key: String,
    pub fingerprint: String,
    pub registered: String,
    pub last_seen: String,
    pub external: Vec<(String, String)>,
    pub about: String,
    pub terms: String,
    pub disputes: (u32, u32),
    pub listings: Vec<Summary>,
    pub feedback: Vec<FeedbackRow>,
    pub feedback_pages: usize,
}

pub fn vendor(ctx: &Ctx, v: &VendorAccount) -> VendorView {
    let stats = ctx.world.vendor_stats(v.id, ctx.day);
    let key = &ctx.world.pgp_keys[v.pgp_key as usize];
    let all_feedback = ctx.world.shown_feedback(v.id, ctx.day);
    VendorView {
        handle: v.handle.clone(),
        level: format!("Level {}", stats.level),
        stats,
        pgp_key: if v.hides_key {
            String::new()
        } else {
            key.armored.clone()
        },
        fingerprint: key.fingerprint.clone(),
        registered: ctx.date(v.joined),
        last_seen: ctx.date(ctx.day),
        external: v
            .imported
            .iter()
            .map(|r| {
                (
                    r.market.clone(),
                    format!("{:.2}/5 ({} sales)", r.rating, r.sales),
                )
            })
            .collect(),
        about: v.about.clone(),
        terms: v.terms.clone(),
        disputes: (v.disputes_won, v.disputes_lost),
        listings: ctx
            .world
            .listings_of_vendor(v.id)
            .iter()
            .map(|&l| &ctx.world.listings[l as usize])
            .filter(|l| ctx.world.listing_active(l, ctx.day))
            .map(|l| summary(ctx, l))
            .collect(),
        feedback_pages: all_feedback.len().div_ceil(FEEDBACK_PER_PAGE).max(1),
        feedback: all_feedback
            .into_iter()
            .take(5)
            .map(|f| feedback_row(ctx, f))
            .collect(),
    }
}

impl VendorView {
    fn expected(&self) -> Value {
        let mut fields = json!({
            "name": self.handle,
            "rating": num(self.stats.rating),
            "positive_percent": num(self.stats.positive_percent),
            "sales": self.stats.sales,
            "feedback_counts": {"positive": self.stats.positive, "neutral": self.stats.neutral, "negative": self.stats.negative},
            "level": self.level,
            "pgp_key": self.pgp_key.trim(),
            "registered": self.registered,
            "last_seen": self.last_seen,
            "external_ratings": self.external.iter().map(|(m, t)| json!({"market": m, "text": t})).collect::<Vec<_>>(),
            "about": self.about,
            "terms": self.terms,
            "disputes": {"won": self.disputes.0, "lost": self.disputes.1},
        });
        // A vendor who publishes no key: the page has none to find.
        if self.pgp_key.trim().is_empty() {
            if let Some(map) = fields.as_object_mut() {
                map.remove("pgp_key");
            }
        }
        fields
    }
}

#[derive(Debug)]
pub struct ResultsView {
    pub heading: String,
    pub listings: Vec<Summary>,
    pub page: u32,
    pub pages: u32,
    pub next: Option<String>,
    pub prev: Option<String>,
    pub total: usize,
}

/// One page of a category or of search results.
pub fn results(ctx: &Ctx, page: &Page) -> ResultsView {
    let (heading, number, matching): (String, u32, Vec<&Listing>) = match page {
        Page::Category { slug: wanted, page } => {
            let rows = active_listings(ctx)
                .filter(|l| slug(&l.category) == *wanted)
                .collect();
            let name = vocab::PRODUCTS
                .iter()
                .find(|p| slug(p.category) == *wanted)
                .map_or_else(|| wanted.clone(), |p| p.category.to_owned());
            (name, *page, rows)
        }
        Page::Search { query, page } => {
            let needle = query.to_lowercase();
            let rows = active_listings(ctx)
                .filter(|l| l.title.to_lowercase().contains(&needle))
                .collect();
            (format!("Search results for \"{query}\""), *page, rows)
        }
        _ => (String::new(), 1, Vec::new()),
    };
    let pages = matching.len().div_ceil(LISTINGS_PER_PAGE).max(1) as u32;
    let at = |n: u32| match page {
        Page::Category { slug, .. } => ctx.url(&Page::Category {
            slug: slug.clone(),
            page: n,
        }),
        Page::Search { query, .. } => ctx.url(&Page::Search {
            query: query.clone(),
            page: n,
        }),
        _ => String::new(),
    };
    let start = (number as usize - 1) * LISTINGS_PER_PAGE;
    ResultsView {
        heading,
        total: matching.len(),
        listings: matching
            .iter()
            .skip(start)
            .take(LISTINGS_PER_PAGE)
            .map(|l| summary(ctx, l))
            .collect(),
        page: number,
        pages,
        next: (number < pages).then(|| at(number + 1)),
        prev: (number > 1).then(|| at(number - 1)),
    }
}

pub fn active_listings<'w>(ctx: &'w Ctx<'w>) -> impl Iterator<Item = &'w Listing> + 'w {
    ctx.world
        .listings_of_market(ctx.market.id)
        .iter()
        .map(|&l| &ctx.world.listings[l as usize])
        .filter(|l| {
            ctx.world.listing_active(l, ctx.day)
                && ctx
                    .world
                    .vendor_active(&ctx.world.vendors[l.vendor as usize], ctx.day)
        })
}

/// Categories with the number of listings in each, in a fixed order.
pub fn categories(ctx: &Ctx) -> Vec<(String, String, usize)> {
    let mut names: Vec<&str> = Vec::new();
    for p in vocab::PRODUCTS {
        if !names.contains(&p.category) {
            names.push(p.category);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let count = active_listings(ctx).filter(|l| l.category == name).count();
            (
                name.to_owned(),
                ctx.url(&Page::Category {
                    slug: slug(name),
                    page: 1,
                }),
                count,
            )
        })
        .collect()
}

#[derive(Debug)]
pub struct FeedbackPageView {
    pub handle: String,
    pub rows: Vec<FeedbackRow>,
    pub page: u32,
    pub pages: u32,
    pub next: Option<String>,
}

pub fn feedback_page(ctx: &Ctx, v: &VendorAccount, page: u32) -> FeedbackPageView {
    let all = ctx.world.shown_feedback(v.id, ctx.day);
    let pages = all.len().div_ceil(FEEDBACK_PER_PAGE).max(1) as u32;
    let start = (page as usize - 1) * FEEDBACK_PER_PAGE;
    FeedbackPageView {
        handle: v.handle.clone(),
        rows: all
            .into_iter()
            .skip(start)
            .take(FEEDBACK_PER_PAGE)
            .map(|f| feedback_row(ctx, f))
            .collect(),
        page,
        pages,
        next: (page < pages).then(|| {
            ctx.url(&Page::Feedback {
                handle: v.handle.clone(),
                page: page + 1,
            })
        }),
    }
}

#[derive(Debug)]
pub struct PostView {
    pub id: u32,
    pub author: String,
    pub author_is_vendor: bool,
    pub author_url: Option<String>,
    pub date: String,
    pub text: String,
}

#[derive(Debug)]
pub struct ThreadView {
    pub title: String,
    pub board: String,
    pub posts: Vec<PostView>,
    pub page: u32,
    pub pages: u32,
    pub next: Option<String>,
}

pub fn visible_posts<'w>(ctx: &Ctx<'w>, thread: u32) -> Vec<&'w Post> {
    ctx.world
        .posts_of(thread)
        .iter()
        .filter(|p| p.day <= ctx.day)
        .collect()
}

pub fn thread(ctx: &Ctx, t: &Thread, page: u32) -> ThreadView {
    let posts = visible_posts(ctx, t.id);
    let pages = posts.len().div_ceil(POSTS_PER_PAGE).max(1) as u32;
    let start = (page as usize - 1) * POSTS_PER_PAGE;
    ThreadView {
        title: t.title.clone(),
        board: t.board.clone(),
        posts: posts
            .into_iter()
            .skip(start)
            .take(POSTS_PER_PAGE)
            .map(|p| {
                let (author, is_vendor, url) = match p.author {
                    PostAuthor::Vendor(v) => {
                        let handle = ctx.world.vendors[v as usize].handle.clone();
                        let url = ctx.url(&Page::Vendor {
                            handle: handle.clone(),
                        });
                        (handle, true, Some(url))
                    }
                    PostAuthor::Buyer(b) => {
                        (ctx.world.buyers[b as usize].handle.clone(), false, None)
                    }
                };
                PostView {
                    id: p.id,
                    author,
                    author_is_vendor: is_vendor,
                    author_url: url,
                    date: ctx.date(p.day),
                    text: p.text.clone(),
                }
            })
            .collect(),
        page,
        pages,
        next: (page < pages).then(|| {
            ctx.url(&Page::Thread {
                id: t.id,
                page: page + 1,
            })
        }),
    }
}

/// Threads visible on a day, newest first.
pub fn forum_threads<'w>(ctx: &Ctx<'w>) -> Vec<&'w Thread> {
    let mut threads: Vec<&Thread> = ctx
        .world
        .threads_of_market(ctx.market.id)
        .iter()
        .map(|&t| &ctx.world.threads[t as usize])
        .filter(|t| t.day <= ctx.day)
        .collect();
    threads.sort_by_key(|t| (std::cmp::Reverse(t.day), t.id));
    threads
}

/// The SCHEMA.md page kind and fields a page should parse to, if the page
/// exists on that day. Pages whose SCHEMA.md kind has no fields give an
/// empty object.
pub fn expected(ctx: &Ctx, page: &Page) -> Option<(&'static str, Value)> {
    let w = ctx.world;
    Some(match page {
        Page::Home => ("home", json!({})),
        Page::Login => ("login", json!({})),
        Page::CategoryIndex => (
            "category_index",
            json!({"categories": categories(ctx).iter().map(|(n, u, c)| json!({"name": n, "url": u, "count": c})).collect::<Vec<_>>()}),
        ),
        Page::Category { .. } | Page::Search { .. } => {
            let view = results(ctx, page);
            if view.page > view.pages {
                return None;
            }
            (
                "search",
                json!({
                    "listings": view.listings.iter().map(Summary::expected).collect::<Vec<_>>(),
                    "next_page": view.next,
                    "result_pages": view.pages,
                }),
            )
        }
        Page::Listing { id } => {
            let l = w
                .listing_by_public_id(ctx.market.id, id)
                .filter(|l| w.listing_active(l, ctx.day))?;
            let view = listing(ctx, l);
            let mut fields = json!({
                "title": view.summary.title,
                "vendor": view.summary.vendor,
                "price": view.summary.price.expected(),
                "ships_from": view.summary.ships_from,
                "ships_to": view.ships_to,
                "accepted_currencies": view.currencies,
                "escrow": view.escrow,
                "finalize_early": view.finalize_early,
                "category": view.category.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                "shipping_options": view.shipping.iter().map(|(n, p)| json!({"name": n, "price": p.expected()})).collect::<Vec<_>>(),
                "price_tiers": view.tiers.iter().map(|(q, p)| json!({"quantity": q, "price": p.expected()})).collect::<Vec<_>>(),
                "quantity_in_stock": view.stock,
                "unit": view.unit,
                "sales": view.sales,
                "description": view.description,
                "feedback": view.feedback.iter().map(|f| f.expected(ctx.skin())).collect::<Vec<_>>(),
            });
            if ctx.skin() != SkinKind::Cards {
                fields["exchange_rates"] = view
                    .rates
                    .iter()
                    .map(|(c, r)| ((*c).to_owned(), num(*r)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            ("listing", fields)
        }
        Page::Vendor { handle } => {
            let v = w
                .vendor_by_handle(ctx.market.id, handle)
                .filter(|v| w.vendor_active(v, ctx.day))?;
            let view = vendor(ctx, v);
            let mut fields = view.expected();
            if ctx.skin() != SkinKind::Table {
                // Only the table skin prints the key on the profile; the
                // others link to the key page.
                if let Some(map) = fields.as_object_mut() {
                    map.remove("pgp_key");
                }
            }
            fields["feedback"] = view
                .feedback
                .iter()
                .map(|f| f.expected(ctx.skin()))
                .collect::<Vec<_>>()
                .into();
            ("vendor", fields)
        }
        Page::Feedback { handle, page } => {
            let v = w
                .vendor_by_handle(ctx.market.id, handle)
                .filter(|v| w.vendor_active(v, ctx.day))?;
            let view = feedback_page(ctx, v, *page);
            if view.page > view.pages {
                return None;
            }
            (
                "feedback",
                json!({"feedback": view.rows.iter().map(|f| f.expected(ctx.skin())).collect::<Vec<_>>()}),
            )
        }
        Page::Pgp { handle } => {
            let v = w
                .vendor_by_handle(ctx.market.id, handle)
                .filter(|v| w.vendor_active(v, ctx.day))?;
            if v.hides_key {
                ("pgp_key", json!({"name": v.handle}))
            } else {
                (
                    "pgp_key",
                    json!({"name": v.handle, "pgp_key": w.pgp_keys[v.pgp_key as usize].armored.trim()}),
                )
            }
        }
        Page::Forum { .. } => ("home", json!({})),
        Page::Thread { id, page } => {
            let t = w
                .threads
                .get(*id as usize)
                .filter(|t| t.market == ctx.market.id && t.day <= ctx.day)?;
            let view = thread(ctx, t, *page);
            if view.page > view.pages {
                return None;
            }
            (
                "forum_thread",
                json!({
                    "title": view.title,
                    "posts": view.posts.iter().map(|p| json!({"author": p.author, "date": p.date, "text": p.text})).collect::<Vec<_>>(),
                }),
            )
        }
        Page::Action(_) | Page::Honeypot => return None,
    })
}
