//! The world generator: same configuration, same world, byte for byte.
//!
//! Each part of the world draws from its own random stream (ChaCha8 seeded from
//! the world seed and the part's name), so the parts stay stable when another
//! part changes. The order of work follows time where it matters: accounts of
//! the first days get their listings, orders and reviews, then each closing
//! market's vendors migrate (their profiles import the ratings they had), then
//! fake-review campaigns are added, then the forums.

use std::collections::{BTreeMap, HashSet};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::config::{FakeText, HandleFamilies, HandleFamily, WorldConfig};
use crate::error::SimError;
use crate::pgpkey;
use crate::skin::SkinKind;
use crate::vocab::{self, Form};
use crate::world::*;

/// Builds the world for a configuration.
pub fn generate(config: &WorldConfig) -> Result<World, SimError> {
    validate(config)?;
    let mut g = Generator::new(config);
    g.rates();
    g.markets();
    g.persons()?;
    g.initial_accounts();
    for account in 0..g.vendors.len() as u32 {
        g.populate(account);
    }
    g.migrations()?;
    g.impersonators()?;
    g.fake_campaigns();
    g.hidden_feedback();
    g.forums();
    Ok(g.finish())
}

pub(crate) fn validate(config: &WorldConfig) -> Result<(), SimError> {
    let problem = if config.markets == 0 || config.markets > 64 {
        Some("markets must be between 1 and 64")
    } else if config.days == 0 || config.days > 3650 {
        Some("days must be between 1 and 3650")
    } else if config.vendors == 0 || config.vendors > 100_000 {
        Some("vendors must be between 1 and 100000")
    } else if !(0.0..=1.0).contains(&config.feedback_rate) {
        Some("feedback_rate must be between 0 and 1")
    } else if !(0.0..=1.0).contains(&config.fake_review_share) {
        Some("fake_review_share must be between 0 and 1")
    } else if !(0.0..=1.0).contains(&config.migration_share) {
        Some("migration_share must be between 0 and 1")
    } else if !(config.listings_per_vendor > 0.0 && config.listings_per_vendor < 1000.0) {
        Some("listings_per_vendor must be above 0 and below 1000")
    } else if config.listing_lifetime_days.is_nan() || config.listing_lifetime_days < 1.0 {
        Some("listing_lifetime_days must be at least 1")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(SimError::Config(problem.to_owned()));
    }
    if let Some(problem) = config.problem() {
        return Err(SimError::Config(problem));
    }
    for event in config.script() {
        if event.market >= config.markets {
            return Err(SimError::Config(format!(
                "an event names market {} but the world has {} markets",
                event.market, config.markets
            )));
        }
    }
    Ok(())
}

/// A random stream of its own for one part of the world.
fn stream(seed: u64, part: &str) -> ChaCha8Rng {
    let digest = blake3::hash(format!("dnmscope-sim/{seed}/{part}").as_bytes());
    ChaCha8Rng::from_seed(*digest.as_bytes())
}

fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn poisson(rng: &mut impl Rng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut product: f64 = rng.gen();
    let mut count = 0;
    while product > limit {
        product *= rng.gen::<f64>();
        count += 1;
    }
    count
}

fn weighted<'a, T>(rng: &mut impl Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut pick = rng.gen_range(0..total);
    for item in items {
        let w = weight(item);
        if pick < w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1]
}

/// A v3-onion-shaped host name (56 base32 characters).
fn onion(seed: u64, what: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(62);
    let mut reader = blake3::Hasher::new()
        .update(format!("onion/{seed}/{what}").as_bytes())
        .finalize_xof();
    let mut bytes = [0u8; 56];
    reader.fill(&mut bytes);
    for b in bytes {
        out.push(ALPHABET[usize::from(b) % 32] as char);
    }
    out.push_str(".onion");
    out
}

struct Generator<'c> {
    config: &'c WorldConfig,
    seed: u64,
    start_date: chrono::NaiveDate,
    btc_usd: Vec<Decimal>,
    xmr_usd: Vec<Decimal>,
    markets: Vec<Market>,
    events: Vec<Event>,
    pgp_keys: Vec<PgpKey>,
    /// Each key's secret primary key, to certify a mover's new key with the old one.
    key_secrets: Vec<pgp::packet::SecretKey>,
    persons: Vec<Person>,
    vendors: Vec<VendorAccount>,
    listings: Vec<Listing>,
    buyers: Vec<Buyer>,
    /// Buyers of each market who order, by creation day.
    buyer_pool: Vec<Vec<u32>>,
    sales: Vec<Sale>,
    feedback: Vec<Feedback>,
    threads: Vec<Thread>,
    posts: Vec<Post>,
    handles: Vec<HashSet<String>>,
    next_public_id: Vec<u32>,
    /// Popularity of each vendor account (multiplies its listings' sales).
    popularity: Vec<f64>,
    person_key: Vec<u32>,
    person_handle: Vec<String>,
    /// Reviews of each vendor account while generating.
    account_feedback: Vec<Vec<usize>>,
}

impl<'c> Generator<'c> {
    fn new(config: &'c WorldConfig) -> Self {
        let start_date = chrono::NaiveDate::from_ymd_opt(2019, 3, 4).expect("valid date")
            + chrono::Days::new(config.seed % 400);
        Generator {
            config,
            seed: config.seed,
            start_date,
            btc_usd: Vec::new(),
            xmr_usd: Vec::new(),
            markets: Vec::new(),
            events: Vec::new(),
            pgp_keys: Vec::new(),
            key_secrets: Vec::new(),
            persons: Vec::new(),
            vendors: Vec::new(),
            listings: Vec::new(),
            buyers: Vec::new(),
            buyer_pool: Vec::new(),
            sales: Vec::new(),
            feedback: Vec::new(),
            threads: Vec::new(),
            posts: Vec::new(),
            handles: Vec::new(),
            next_public_id: Vec::new(),
            popularity: Vec::new(),
            person_key: Vec::new(),
            person_handle: Vec::new(),
            account_feedback: Vec::new(),
        }
    }

    fn days(&self) -> Day {
        self.config.days
    }

    fn rates(&mut self) {
        let mut rng = stream(self.seed, "rates");
        let mut btc: f64 = rng.gen_range(3_800.0..12_000.0);
        let mut xmr: f64 = rng.gen_range(45.0..140.0);
        for _ in 0..self.days() {
            self.btc_usd
                .push(Decimal::new((btc * 100.0).round() as i64, 2));
            self.xmr_usd
                .push(Decimal::new((xmr * 100.0).round() as i64, 2));
            btc *= (0.001 + 0.03 * normal(&mut rng)).exp();
            xmr *= (0.0005 + 0.04 * normal(&mut rng)).exp();
        }
    }

    fn markets(&mut self) {
        let script = self.config.script();
        for id in 0..self.config.markets {
            let base = vocab::MARKETS[id as usize % vocab::MARKETS.len()];
            let name = match id as usize / vocab::MARKETS.len() {
                0 => base.to_owned(),
                n => format!("{base} {}", n + 1),
            };
            let skin = SkinKind::ALL[id as usize % SkinKind::ALL.len()];
            let (price_display, currencies) = match skin {
                SkinKind::Table => (PriceDisplay::UsdAndBtc, vec!["BTC", "XMR"]),
                SkinKind::Cards => (PriceDisplay::BtcFirst, vec!["BTC", "LTC", "XMR"]),
                SkinKind::List => (PriceDisplay::UsdOnly, vec!["BTC", "BCH"]),
            };
            let mirrors = 1 + id as usize % 2;
            let hosts = (0..=mirrors)
                .map(|n| onion(self.seed, &format!("{id}/{n}")))
                .collect();
            let closed_on = script
                .iter()
                .filter(|e| e.market == id && e.kind != EventKind::Outage)
                .map(|e| e.day)
                .min();
            self.markets.push(Market {
                id,
                slug: name.to_lowercase().replace(' ', "-"),
                name,
                skin,
                price_display,
                hosts,
                currencies: currencies.into_iter().map(str::to_owned).collect(),
                closed_on,
            });
            self.handles.push(HashSet::new());
            self.next_public_id.push(0);
        }
        for e in script {
            self.events.push(Event {
                market: e.market,
                kind: e.kind,
                day: e.day,
                until: (e.kind == EventKind::Outage).then_some(e.day + e.length.max(1)),
            });
        }
        self.events.sort_by_key(|e| (e.day, e.market));

        // Buyers: a population per market, most there from the start.
        let mut rng = stream(self.seed, "buyers");
        for market in 0..self.config.markets {
            let count = (self.config.vendors * 30 / self.config.markets).max(50);
            let mut pool: Vec<(Day, u32)> = Vec::new();
            for _ in 0..count {
                let created = if rng.gen_bool(0.6) {
                    0
                } else {
                    rng.gen_range(0..self.days())
                };
                let id = self.new_buyer(&mut rng, market, created);
                pool.push((created, id));
            }
            pool.sort();
            self.buyer_pool
                .push(pool.into_iter().map(|(_, id)| id).collect());
        }
    }

    fn new_buyer(&mut self, rng: &mut impl Rng, market: u32, created: Day) -> u32 {
        let id = self.buyers.len() as u32;
        let letters: String = (0..rng.gen_range(5..11))
            .map(|_| rng.gen_range(b'a'..=b'z') as char)
            .collect();
        self.buyers.push(Buyer {
            id,
            market,
            created,
            handle: format!("{letters}{}", rng.gen_range(1..99)),
        });
        id
    }

    fn market_open(&self, market: u32, day: Day) -> bool {
        self.markets[market as usize]
            .closed_on
            .is_none_or(|closed| day < closed)
    }

    fn persons(&mut self) -> Result<(), SimError> {
        let mut rng = stream(self.seed, "persons");
        let mut key_rng = stream(self.seed, "pgp");
        let days = self.days();
        for id in 0..self.config.vendors {
            let joined = if rng.gen_bool(0.75) || days < 3 {
                0
            } else {
                rng.gen_range(1..days)
            };
            let left =
                (rng.gen_bool(0.2) && joined + 7 < days).then(|| rng.gen_range(joined + 7..days));
            let country = weighted(&mut rng, vocab::ORIGINS, |o| o.2).0.to_owned();
            let trouble = if rng.gen_bool(0.08) {
                rng.gen_range(0.1..0.3)
            } else {
                rng.gen_range(0.0..0.04)
            };
            let handle = self.fresh_base_handle(&mut rng);
            self.persons.push(Person {
                id,
                country,
                trouble,
                joined,
                left,
                accounts: Vec::new(),
            });
            let key = self.new_key(&mut key_rng, &handle)?;
            self.person_key.push(key);
            // The base handle is kept with the person through person_key's
            // user id; accounts copy or vary it.
            self.person_handle.push(handle);
        }
        Ok(())
    }

    fn fresh_base_handle(&mut self, rng: &mut impl Rng) -> String {
        let first = vocab::HANDLE_FIRST.choose(rng).expect("words");
        let second = vocab::HANDLE_SECOND.choose(rng).expect("words");
        match rng.gen_range(0..4) {
            0 => format!("{first}{second}"),
            1 => format!("{first}_{second}"),
            2 => format!("{}{}", capitalise(first), capitalise(second)),
            _ => format!("{first}{second}{}", rng.gen_range(1..100)),
        }
    }

    fn new_key(&mut self, rng: &mut ChaCha8Rng, handle: &str) -> Result<u32, SimError> {
        self.new_key_certified(rng, handle, None)
    }

    /// A new key, its user id certified by the key `certifier` when given.
    fn new_key_certified(
        &mut self,
        rng: &mut ChaCha8Rng,
        handle: &str,
        certifier: Option<u32>,
    ) -> Result<u32, SimError> {
        // Keys were made before the world starts: 30 to 1000 days earlier.
        let start = self
            .start_date
            .and_hms_opt(12, 0, 0)
            .expect("noon")
            .and_utc()
            .timestamp();
        let created = start - rng.gen_range(30..1000) * 86_400 - rng.gen_range(0..86_400);
        let key = pgpkey::generate(
            rng,
            handle,
            created as u32,
            certifier.map(|k| &self.key_secrets[k as usize]),
        )?;
        let id = self.pgp_keys.len() as u32;
        self.pgp_keys.push(PgpKey {
            id,
            fingerprint: key.fingerprint,
            armored: key.armored,
            certified_by: certifier,
        });
        self.key_secrets.push(key.secret);
        Ok(id)
    }

    /// A handle not yet taken on a market: the wanted one, or it with digits.
    fn claim_handle(&mut self, market: u32, wanted: &str) -> String {
        let taken = &mut self.handles[market as usize];
        let mut handle = wanted.to_owned();
        let mut n = 2;
        while taken.contains(&handle.to_lowercase()) {
            handle = format!("{wanted}{n}");
            n += 1;
        }
        taken.insert(handle.to_lowercase());
        handle
    }

    fn new_account(
        &mut self,
        rng: &mut impl Rng,
        person: u32,
        market: u32,
        joined: Day,
        handle: &str,
        pgp_key: u32,
    ) -> u32 {
        let id = self.vendors.len() as u32;
        let handle = self.claim_handle(market, handle);
        let person_left = self.persons[person as usize].left;
        let closed = self.markets[market as usize].closed_on;
        let left = match (person_left, closed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let country = self.persons[person as usize].country.clone();
        let country_name = vocab::ORIGINS
            .iter()
            .find(|o| o.0 == country)
            .map_or("Unknown", |o| o.1);
        let about = format!(
            "Welcome to {handle}'s shop. We ship from {country_name} with professional stealth. \
             Orders placed before 2pm ship the same day. Always encrypt your address with our PGP key."
        );
        let terms = if rng.gen_bool(0.5) {
            "No refunds without tracking. If a package is seized by customs we reship once at 50%. Finalize within 7 days of arrival."
        } else {
            "Escrow only. Disputes through the market, never threaten with negative feedback. Reships at our discretion."
        }
        .to_owned();
        self.vendors.push(VendorAccount {
            id,
            person,
            market,
            handle,
            pgp_key,
            joined,
            left,
            migrated_from: None,
            handle_change: None,
            impersonates: None,
            imported: Vec::new(),
            about,
            terms,
            fake_campaign: None,
            negative_campaign: false,
            hides_feedback: false,
            hides_key: false,
            disputes_won: rng.gen_range(0..20),
            disputes_lost: rng.gen_range(0..4),
        });
        self.persons[person as usize].accounts.push(id);
        self.popularity.push((0.8 * normal(rng)).exp());
        self.account_feedback.push(Vec::new());
        id
    }

    fn initial_accounts(&mut self) {
        let mut rng = stream(self.seed, "accounts");
        let markets = self.config.markets;
        for person in 0..self.persons.len() as u32 {
            let joined = self.persons[person as usize].joined;
            let open: Vec<u32> = (0..markets)
                .filter(|&m| self.market_open(m, joined + 1))
                .collect();
            if open.is_empty() {
                continue;
            }
            let wanted = match rng.gen_range(0..100) {
                0..75 => 1,
                75..95 => 2,
                _ => 3,
            }
            .min(open.len());
            let chosen: Vec<u32> = open.choose_multiple(&mut rng, wanted).copied().collect();
            let base = self.person_handle[person as usize].clone();
            let key = self.person_key[person as usize];
            let mut made = Vec::new();
            let behaviour = &self.config.behaviour.accounts;
            for (n, &market) in chosen.iter().enumerate() {
                let (handle, change) = if n == 0 || rng.gen_bool(behaviour.same_handle) {
                    (base.clone(), None)
                } else {
                    let family = pick_family(&mut rng, &behaviour.handle_changes);
                    let handle = change_handle(&mut rng, family, &base);
                    (handle, Some(family))
                };
                let account = self.new_account(&mut rng, person, market, joined, &handle, key);
                self.vendors[account as usize].handle_change = change;
                made.push(account);
            }
            // Vendors on several markets show each other's ratings, and some
            // bring a rating from a market outside the simulation.
            for &account in &made {
                let mut imported = Vec::new();
                for &other in made.iter().filter(|&&o| o != account) {
                    imported.push(ImportedRating {
                        market: self.markets[self.vendors[other as usize].market as usize]
                            .name
                            .clone(),
                        rating: Decimal::new(rng.gen_range(460..=500), 2),
                        sales: rng.gen_range(10..3000),
                    });
                }
                if rng.gen_bool(self.config.behaviour.accounts.outside_rating_share) {
                    imported.push(ImportedRating {
                        market: (*vocab::OUTSIDE_MARKETS.choose(&mut rng).expect("names"))
                            .to_owned(),
                        rating: Decimal::new(rng.gen_range(450..=500), 2),
                        sales: rng.gen_range(10..5000),
                    });
                }
                self.vendors[account as usize].imported = imported;
            }
        }
    }

    fn account_end(&self, account: u32) -> Day {
        self.vendors[account as usize]
            .left
            .unwrap_or(self.days())
            .min(self.days())
    }

    /// Listings, orders and reviews of one vendor account over its life.
    fn populate(&mut self, account: u32) {
        let mut rng = stream(self.seed, &format!("account/{account}"));
        let (joined, end) = (
            self.vendors[account as usize].joined,
            self.account_end(account),
        );
        if joined >= end {
            return;
        }
        let lifetime = self.config.listing_lifetime_days;
        let initial = poisson(&mut rng, self.config.listings_per_vendor * 0.9).max(1);
        let mut starts: Vec<Day> = vec![joined; initial as usize];
        let mut n = 0;
        while n < starts.len() {
            let first = starts[n];
            n += 1;
            let listing = self.new_listing(&mut rng, account, first, end);
            let ended = self.listings[listing as usize].end_day;
            // Most vendors replace a listing that ends.
            if ended < end && rng.gen_bool(0.9) {
                starts.push(ended);
            }
            if starts.len() > 10_000 {
                break;
            }
        }
        // A few more listings appear over time.
        let extra = poisson(
            &mut rng,
            self.config.listings_per_vendor * f64::from(end - joined) / lifetime * 0.1,
        );
        for _ in 0..extra {
            let first = rng.gen_range(joined..end);
            self.new_listing(&mut rng, account, first, end);
        }
    }

    fn new_listing(
        &mut self,
        rng: &mut ChaCha8Rng,
        account: u32,
        first_day: Day,
        account_end: Day,
    ) -> u32 {
        let id = self.listings.len() as u32;
        let market = self.vendors[account as usize].market;
        let person = self.vendors[account as usize].person;
        let product = weighted(rng, vocab::PRODUCTS, |p| p.weight);
        let (quantity, units) = quantity(rng, product.form);
        let title_pattern = product.titles.choose(rng).expect("titles");
        let title = title_pattern.replace("{q}", &quantity.text);
        let country = self.persons[person as usize].country.clone();
        let country_factor = match country.as_str() {
            "US" | "CA" => 1.0,
            "AU" => 1.4,
            "NL" | "DE" | "BE" => 0.8,
            "CN" | "IN" => 0.6,
            _ => 0.95,
        };
        // Bulk is cheaper per unit.
        let bulk = units.max(1.0).powf(-0.12);
        let usd = product.unit_usd * units * bulk * country_factor * (0.15 * normal(rng)).exp();
        let start_price_cents = ((usd * 100.0).round() as i64).max(100);
        let lifetime =
            (-(1.0 - rng.gen::<f64>()).ln() * self.config.listing_lifetime_days).ceil() as u32 + 3;
        let end_day = (first_day + lifetime).min(account_end);
        let ships_to = match rng.gen_range(0..10) {
            0..5 => vec!["Worldwide".to_owned()],
            5..7 => vec![vocab::ORIGINS
                .iter()
                .find(|o| o.0 == country)
                .map_or("Worldwide", |o| o.1)
                .to_owned()],
            7..9 => vec!["Europe".to_owned(), "United States".to_owned()],
            _ => vec!["Worldwide".to_owned(), "Europe".to_owned()],
        };
        let mut shipping = Vec::new();
        let options = rng.gen_range(1..=3);
        for (name, usd) in vocab::SHIPPING.choose_multiple(rng, options) {
            shipping.push(ShippingOption {
                name: (*name).to_owned(),
                usd: Decimal::from(*usd),
            });
        }
        shipping.sort_by(|a, b| a.usd.cmp(&b.usd).then(a.name.cmp(&b.name)));
        let tiers = if rng.gen_bool(0.3) {
            vec![(2, 5), (5, 10), (10, 15)]
        } else {
            Vec::new()
        };
        let escrow = rng.gen_bool(0.85);
        let finalize_early = !escrow || rng.gen_bool(0.1);
        let public = self.next_public_id[market as usize];
        self.next_public_id[market as usize] += 1;
        let public_id = format!("{}", 10_001 + public);
        let description = format!(
            "{title}. {} Lab tested, consistent batches. Ships within 24 hours from {}. \
             Please encrypt your address with my PGP key.",
            match product.form {
                Form::Weight => "Weighed on a calibrated scale, always a little extra.",
                Form::Doses { .. } => "Pressed with accurate dosing, each batch tested.",
                Form::Liquid => "Sealed vials, sterile.",
                Form::Pieces => "Delivered digitally within hours.",
            },
            vocab::ORIGINS
                .iter()
                .find(|o| o.0 == country)
                .map_or("abroad", |o| o.1),
        );
        let rate = (0.25 * self.popularity[account as usize] * (0.7 * normal(rng)).exp()).min(8.0);
        let initial_stock = rng.gen_bool(0.6).then(|| rng.gen_range(3..150));
        let drift = 0.002 * normal(rng);
        self.listings.push(Listing {
            id,
            market,
            vendor: account,
            public_id,
            title,
            category: product.category.to_owned(),
            subcategory: product.subcategory.to_owned(),
            substance: product.substance.to_owned(),
            quantity,
            start_price_cents,
            drift,
            first_day,
            end_day,
            initial_stock,
            ships_from: country,
            ships_to,
            shipping,
            tiers,
            escrow,
            finalize_early,
            description,
            rate,
        });
        self.orders(rng, id);
        id
    }

    /// Real orders of a listing, day by day, and the reviews they leave.
    fn orders(&mut self, rng: &mut ChaCha8Rng, listing: u32) {
        let (first, mut end, rate, stock, market, vendor) = {
            let l = &self.listings[listing as usize];
            (
                l.first_day,
                l.end_day,
                l.rate,
                l.initial_stock,
                l.market,
                l.vendor,
            )
        };
        let trouble = self.persons[self.vendors[vendor as usize].person as usize].trouble;
        let mut left = stock;
        let mut day = first;
        while day < end {
            let mut count = poisson(rng, rate);
            if let Some(remaining) = left {
                count = count.min(remaining);
                left = Some(remaining - count);
            }
            for _ in 0..count {
                let pool = &self.buyer_pool[market as usize];
                let eligible = pool.partition_point(|&b| self.buyers[b as usize].created <= day);
                let buyer = pool[rng.gen_range(0..eligible.max(1))];
                self.sales.push(Sale {
                    listing,
                    day,
                    buyer,
                    real: true,
                });
                if rng.gen_bool(self.review_rate(market, day)) {
                    let review_day = day + rng.gen_range(1..=5);
                    if review_day < self.days() {
                        let roll: f64 = rng.gen();
                        let (stars, text) = if roll < trouble {
                            (rng.gen_range(1..=2), vocab::NEGATIVE_REVIEWS.choose(rng))
                        } else if roll < trouble + 0.04 {
                            (3, vocab::NEUTRAL_REVIEWS.choose(rng))
                        } else {
                            (
                                if rng.gen_bool(0.85) { 5 } else { 4 },
                                vocab::POSITIVE_REVIEWS.choose(rng),
                            )
                        };
                        self.push_feedback(Feedback {
                            id: 0,
                            vendor,
                            listing,
                            day: review_day,
                            stars,
                            text: (*text.expect("texts")).to_owned(),
                            buyer,
                            buyer_orders: day,
                            fake: false,
                        });
                    }
                }
            }
            if left == Some(0) {
                // Sold out: shown as out of stock for two more days.
                end = end.min(day + 3);
                self.listings[listing as usize].end_day = end;
            }
            day += 1;
        }
    }

    /// Records a review; `buyer_orders` temporarily holds the order's day.
    fn push_feedback(&mut self, feedback: Feedback) {
        let vendor = feedback.vendor as usize;
        self.account_feedback[vendor].push(self.feedback.len());
        self.feedback.push(feedback);
    }

    /// After a seizure or an exit scam, most vendors of the closed market who
    /// sell nowhere else reappear on a surviving one: same PGP key (mostly),
    /// same handle or a changed one, and the old rating imported.
    fn migrations(&mut self) -> Result<(), SimError> {
        let mut rng = stream(self.seed, "migrations");
        let mut key_rng = stream(self.seed, "pgp-migrations");
        let closures: Vec<(u32, Day)> = self
            .events
            .iter()
            .filter(|e| e.kind != EventKind::Outage)
            .map(|e| (e.market, e.day))
            .collect();
        for (closed, day) in closures {
            let survivors: Vec<u32> = (0..self.config.markets)
                .filter(|&m| m != closed && self.market_open(m, day + 10))
                .collect();
            if survivors.is_empty() {
                continue;
            }
            let stranded: Vec<u32> = (0..self.vendors.len() as u32)
                .filter(|&a| {
                    let v = &self.vendors[a as usize];
                    v.market == closed && v.joined < day && v.left == Some(day)
                })
                .collect();
            for account in stranded {
                let person = self.vendors[account as usize].person;
                if self.persons[person as usize]
                    .left
                    .is_some_and(|left| left <= day + 7)
                {
                    continue;
                }
                let elsewhere = self.persons[person as usize].accounts.iter().any(|&other| {
                    let o = &self.vendors[other as usize];
                    o.market != closed && o.left.is_none_or(|left| left > day + 7)
                });
                if elsewhere || !rng.gen_bool(self.config.migration_share) {
                    continue;
                }
                let target = *survivors.choose(&mut rng).expect("survivors");
                let old_handle = self.vendors[account as usize].handle.clone();
                let behaviour = &self.config.behaviour.migration;
                let (handle, change) = if rng.gen_bool(behaviour.keep_handle) {
                    (old_handle.clone(), None)
                } else {
                    let family = pick_family(&mut rng, &behaviour.handle_changes);
                    (change_handle(&mut rng, family, &old_handle), Some(family))
                };
                let import_rating =
                    behaviour.import_rating >= 1.0 || rng.gen_bool(behaviour.import_rating);
                let key = if rng.gen_bool(behaviour.keep_key) {
                    self.vendors[account as usize].pgp_key
                } else {
                    // Drawn only in worlds that sign, so other worlds' draws do not change.
                    let old = self.vendors[account as usize].pgp_key;
                    let sign =
                        behaviour.sign_new_key > 0.0 && key_rng.gen_bool(behaviour.sign_new_key);
                    self.new_key_certified(&mut key_rng, &handle, sign.then_some(old))?
                };
                // Drawn only in worlds that drop keys, so other worlds' draws do not change.
                let drop_key = behaviour.drop_key > 0.0 && key_rng.gen_bool(behaviour.drop_key);
                let joined = (day + rng.gen_range(1..=7)).min(self.days() - 1);
                let (rating, sales) = self.rating_so_far(account, day);
                let new = self.new_account(&mut rng, person, target, joined, &handle, key);
                let closed_name = self.markets[closed as usize].name.clone();
                let v = &mut self.vendors[new as usize];
                v.migrated_from = Some(account);
                v.handle_change = change;
                v.hides_key = drop_key;
                if import_rating {
                    v.imported = vec![ImportedRating {
                        market: closed_name,
                        rating,
                        sales,
                    }];
                }
                self.populate(new);
            }
        }
        Ok(())
    }

    /// Accounts that copy the most popular vendors' handles, each a person of their own with a
    /// key of their own, on a market the copied person does not sell on (when there is one open).
    fn impersonators(&mut self) -> Result<(), SimError> {
        let config = self.config.behaviour.impersonators.clone();
        if config.count == 0 {
            return Ok(());
        }
        let mut rng = stream(self.seed, "impersonators");
        let mut key_rng = stream(self.seed, "pgp-impersonators");
        let mut famous: Vec<u32> = (0..self.vendors.len() as u32).collect();
        famous.sort_by(|a, b| {
            self.popularity[*b as usize]
                .total_cmp(&self.popularity[*a as usize])
                .then(a.cmp(b))
        });
        let days = self.days();
        let mut copied = HashSet::new();
        let mut made = 0;
        for target in famous {
            if made == config.count {
                break;
            }
            let victim = self.vendors[target as usize].clone();
            if !copied.insert(victim.person) {
                continue;
            }
            let joined = (victim.joined + rng.gen_range(1..=14)).min(days - 1);
            let on: HashSet<u32> = self.persons[victim.person as usize]
                .accounts
                .iter()
                .map(|&a| self.vendors[a as usize].market)
                .collect();
            let open: Vec<u32> = (0..self.config.markets)
                .filter(|&m| self.market_open(m, joined + 1))
                .collect();
            let elsewhere: Vec<u32> = open.iter().copied().filter(|m| !on.contains(m)).collect();
            let Some(&market) = (if elsewhere.is_empty() {
                &open
            } else {
                &elsewhere
            })
            .choose(&mut rng) else {
                continue;
            };
            let person = self.persons.len() as u32;
            self.persons.push(Person {
                id: person,
                country: weighted(&mut rng, vocab::ORIGINS, |o| o.2).0.to_owned(),
                trouble: rng.gen_range(0.05..0.3),
                joined,
                left: None,
                accounts: Vec::new(),
            });
            let key = self.new_key(&mut key_rng, &victim.handle)?;
            self.person_key.push(key);
            self.person_handle.push(victim.handle.clone());
            let account = self.new_account(&mut rng, person, market, joined, &victim.handle, key);
            // A forger copies the figures the copied vendor shows (anyone can read them), so
            // the claim agrees with what a crawler saw of the original.
            let forged = rng
                .gen_bool(config.forged_rating_share)
                .then(|| self.rating_so_far(target, joined));
            let victim_market = self.markets[victim.market as usize].name.clone();
            let v = &mut self.vendors[account as usize];
            v.impersonates = Some(target);
            if let Some((rating, sales)) = forged {
                v.imported = vec![ImportedRating {
                    market: victim_market,
                    rating,
                    sales,
                }];
            }
            self.populate(account);
            made += 1;
        }
        Ok(())
    }

    fn rating_so_far(&self, account: u32, day: Day) -> (Decimal, u32) {
        let reviews: Vec<&Feedback> = self.account_feedback[account as usize]
            .iter()
            .map(|&i| &self.feedback[i])
            .filter(|f| f.day < day)
            .collect();
        let sales = self
            .sales
            .iter()
            .filter(|s| s.day < day && self.listings[s.listing as usize].vendor == account)
            .count() as u32;
        if reviews.is_empty() {
            return (Decimal::new(500, 2), sales);
        }
        let stars: u32 = reviews.iter().map(|f| u32::from(f.stars)).sum();
        (
            (Decimal::from(stars) / Decimal::from(reviews.len() as u32)).round_dp(2),
            sales,
        )
    }

    /// A few vendors buy bursts of short five-star reviews from new accounts.
    /// The share of real sales on `market` that leave a review, on `day`.
    fn review_rate(&self, market: u32, day: Day) -> f64 {
        let how = &self.config.behaviour.feedback;
        let base = how
            .rate_by_market
            .get(market as usize)
            .copied()
            .unwrap_or(self.config.feedback_rate);
        (base + how.rate_change_per_30_days * f64::from(day) / 30.0).clamp(0.0, 1.0)
    }

    /// Vendors who hide their feedback (drawn only in worlds that have them, so the default
    /// world's draws do not change).
    fn hidden_feedback(&mut self) {
        let share = self.config.behaviour.feedback.hidden_share;
        if share <= 0.0 {
            return;
        }
        let mut rng = stream(self.seed, "hidden-feedback");
        for v in &mut self.vendors {
            v.hides_feedback = rng.gen_bool(share);
        }
    }

    fn fake_campaigns(&mut self) {
        let mut rng = stream(self.seed, "fake-reviews");
        let eligible: Vec<u32> = (0..self.vendors.len() as u32)
            .filter(|&a| self.account_end(a) > self.vendors[a as usize].joined + 10)
            .collect();
        let mut chosen: Vec<u32> = eligible
            .iter()
            .copied()
            .filter(|_| rng.gen_bool(self.config.fake_review_share))
            .collect();
        if chosen.is_empty() && self.config.fake_review_share > 0.0 {
            chosen.extend(eligible.choose(&mut rng));
        }
        let how = self.config.behaviour.fake_reviews.clone();
        for account in chosen {
            let (joined, end) = (
                self.vendors[account as usize].joined,
                self.account_end(account),
            );
            let start = rng.gen_range(joined + 2..end - 3);
            let length = rng.gen_range(how.campaign_days_min..=how.campaign_days_max);
            let stop = (start + length).min(end);
            self.vendors[account as usize].fake_campaign = Some((start, stop));
            let negative = how.negative_share > 0.0 && rng.gen_bool(how.negative_share);
            self.vendors[account as usize].negative_campaign = negative;
            let market = self.vendors[account as usize].market;
            let reviews = rng.gen_range(how.reviews_min..=how.reviews_max);
            // The account's listings, once per campaign (in id order, as each review picks).
            let own: Vec<u32> = (0..self.listings.len() as u32)
                .filter(|&l| self.listings[l as usize].vendor == account)
                .collect();
            for _ in 0..reviews {
                let day = rng.gen_range(start..stop);
                let active: Vec<u32> = own
                    .iter()
                    .copied()
                    .filter(|&l| {
                        let l = &self.listings[l as usize];
                        l.first_day <= day && day < l.end_day
                    })
                    .collect();
                let Some(&listing) = active.choose(&mut rng) else {
                    continue;
                };
                // An aged account: a buyer of the market made at least two weeks before (the
                // pool is in creation order, so they are a prefix of it).
                let aged = (how.aged_buyers > 0.0 && rng.gen_bool(how.aged_buyers))
                    .then(|| {
                        let pool = &self.buyer_pool[market as usize];
                        let aged =
                            pool.partition_point(|&b| self.buyers[b as usize].created + 14 <= day);
                        pool[..aged].choose(&mut rng).copied()
                    })
                    .flatten();
                let buyer = match aged {
                    Some(buyer) => buyer,
                    None => self.new_buyer(&mut rng, market, day),
                };
                self.sales.push(Sale {
                    listing,
                    day,
                    buyer,
                    real: false,
                });
                let texts = match how.text {
                    _ if negative => vocab::NEGATIVE_REVIEWS,
                    FakeText::Short => vocab::FAKE_REVIEWS,
                    FakeText::LikeReal => vocab::POSITIVE_REVIEWS,
                };
                let text = (*texts.choose(&mut rng).expect("texts")).to_owned();
                let stars = if negative { rng.gen_range(1..=2) } else { 5 };
                self.push_feedback(Feedback {
                    id: 0,
                    vendor: account,
                    listing,
                    day,
                    stars,
                    text,
                    buyer,
                    buyer_orders: day,
                    fake: true,
                });
            }
        }
    }

    fn forums(&mut self) {
        let mut rng = stream(self.seed, "forums");
        for market in 0..self.config.markets {
            let open_until = self.markets[market as usize]
                .closed_on
                .unwrap_or(self.days())
                .min(self.days());
            let vendors: Vec<u32> = (0..self.vendors.len() as u32)
                .filter(|&v| self.vendors[v as usize].market == market)
                .collect();
            if vendors.is_empty() || open_until == 0 {
                continue;
            }
            let posters: Vec<u32> = self.buyer_pool[market as usize]
                .iter()
                .copied()
                .take(400)
                .collect();
            for _ in 0..self.config.threads_per_market {
                let template = vocab::THREADS.choose(&mut rng).expect("templates");
                let day = rng.gen_range(0..open_until);
                let vendor = *vendors.choose(&mut rng).expect("vendors");
                let handle = self.vendors[vendor as usize].handle.clone();
                let substance = weighted(&mut rng, vocab::PRODUCTS, |p| {
                    if p.substance == "none" {
                        0
                    } else {
                        p.weight
                    }
                })
                .substance;
                let fill = |text: &str| text.replace("{s}", substance).replace("{v}", &handle);
                let thread = self.threads.len() as u32;
                self.threads.push(Thread {
                    id: thread,
                    market,
                    board: template.board.to_owned(),
                    title: fill(template.title),
                    day,
                    topics: template.topics.to_vec(),
                });
                let count = rng.gen_range(2..=template.posts.len() + 8);
                let mut post_day = day;
                for n in 0..count {
                    let author = if rng.gen_bool(0.2) {
                        PostAuthor::Vendor(*vendors.choose(&mut rng).expect("vendors"))
                    } else {
                        PostAuthor::Buyer(*posters.choose(&mut rng).expect("posters"))
                    };
                    let (text, topics) = if n < template.posts.len() {
                        (fill(template.posts[n]), template.topics.to_vec())
                    } else {
                        let other = vocab::THREADS.choose(&mut rng).expect("templates");
                        let text = other.posts.choose(&mut rng).expect("posts");
                        (fill(text), other.topics.to_vec())
                    };
                    self.posts.push(Post {
                        id: 0,
                        thread,
                        author,
                        day: post_day,
                        text,
                        topics,
                    });
                    if rng.gen_bool(0.4) && post_day + 1 < open_until {
                        post_day += 1;
                    }
                }
            }
        }
    }

    fn finish(mut self) -> World {
        // Orders by listing and day; reviews by vendor and day.
        self.sales
            .sort_by_key(|s| (s.listing, s.day, !s.real, s.buyer));
        let mut orders_of_buyer: BTreeMap<u32, Vec<Day>> = BTreeMap::new();
        for sale in &self.sales {
            orders_of_buyer
                .entry(sale.buyer)
                .or_default()
                .push(sale.day);
        }
        for days in orders_of_buyer.values_mut() {
            days.sort_unstable();
        }
        self.feedback
            .sort_by_key(|f| (f.vendor, f.day, f.listing, f.buyer));
        for (n, f) in self.feedback.iter_mut().enumerate() {
            f.id = n as u32;
            let order_day = f.buyer_orders;
            f.buyer_orders = orders_of_buyer
                .get(&f.buyer)
                .map_or(0, |days| days.partition_point(|&d| d < order_day) as u32);
        }
        self.posts.sort_by_key(|p| (p.thread, p.day));
        for (n, p) in self.posts.iter_mut().enumerate() {
            p.id = n as u32;
        }

        let markets = self.markets.len();
        let mut index = Index {
            market_listings: vec![Vec::new(); markets],
            vendor_listings: vec![Vec::new(); self.vendors.len()],
            listing_sales: vec![(0, 0); self.listings.len()],
            vendor_feedback: vec![(0, 0); self.vendors.len()],
            listing_feedback: vec![Vec::new(); self.listings.len()],
            market_threads: vec![Vec::new(); markets],
            thread_posts: vec![(0, 0); self.threads.len()],
            market_vendors: vec![Vec::new(); markets],
        };
        for l in &self.listings {
            index.market_listings[l.market as usize].push(l.id);
            index.vendor_listings[l.vendor as usize].push(l.id);
        }
        for v in &self.vendors {
            index.market_vendors[v.market as usize].push(v.id);
        }
        for (n, s) in self.sales.iter().enumerate() {
            let range = &mut index.listing_sales[s.listing as usize];
            if range.1 == 0 {
                range.0 = n as u32;
            }
            range.1 = n as u32 + 1;
        }
        for (n, f) in self.feedback.iter().enumerate() {
            let range = &mut index.vendor_feedback[f.vendor as usize];
            if range.1 == 0 {
                range.0 = n as u32;
            }
            range.1 = n as u32 + 1;
            index.listing_feedback[f.listing as usize].push(f.id);
        }
        for t in &self.threads {
            index.market_threads[t.market as usize].push(t.id);
        }
        for (n, p) in self.posts.iter().enumerate() {
            let range = &mut index.thread_posts[p.thread as usize];
            if range.1 == 0 {
                range.0 = n as u32;
            }
            range.1 = n as u32 + 1;
        }
        for list in &mut index.listing_feedback {
            list.sort_by_key(|&id| (self.feedback[id as usize].day, id));
        }

        let accounts = (0..markets as u32)
            .flat_map(|market| {
                (1..=2).map(move |n| CrawlerAccount {
                    market,
                    username: format!("researcher{n}"),
                    password: hex::encode(
                        &blake3::hash(
                            format!("account/{}/{market}/{n}", self.config.seed).as_bytes(),
                        )
                        .as_bytes()[..8],
                    ),
                })
            })
            .collect();

        World {
            config: self.config.clone(),
            start_date: self.start_date,
            btc_usd: self.btc_usd,
            xmr_usd: self.xmr_usd,
            markets: self.markets,
            pgp_keys: self.pgp_keys,
            persons: self.persons,
            vendors: self.vendors,
            listings: self.listings,
            buyers: self.buyers,
            sales: self.sales,
            feedback: self.feedback,
            threads: self.threads,
            posts: self.posts,
            events: self.events,
            accounts,
            index,
        }
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// A changed handle that still resembles the old one.
/// A family from the mixture; a mixture of one family draws nothing (so the default world's
/// random streams are what they were before the mixture existed).
fn pick_family(rng: &mut impl Rng, families: &HandleFamilies) -> HandleFamily {
    let weights: Vec<(HandleFamily, f64)> = families
        .weights()
        .into_iter()
        .filter(|(_, w)| *w > 0.0)
        .collect();
    if weights.len() == 1 {
        return weights[0].0;
    }
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut pick = rng.gen_range(0.0..total);
    for (family, weight) in &weights {
        if pick < *weight {
            return *family;
        }
        pick -= weight;
    }
    weights[weights.len() - 1].0
}

/// `handle` changed the way `family` changes handles; never the handle itself, nor the handle
/// in other case (markets and linkers compare handles ignoring case).
fn change_handle(rng: &mut impl Rng, family: HandleFamily, handle: &str) -> String {
    for _ in 0..8 {
        let changed = change_handle_once(rng, family, handle);
        if changed.to_lowercase() != handle.to_lowercase() && changed.len() >= 3 {
            return changed;
        }
    }
    vary_handle(rng, handle)
}

fn change_handle_once(rng: &mut impl Rng, family: HandleFamily, handle: &str) -> String {
    match family {
        HandleFamily::Decorations => vary_handle(rng, handle),
        HandleFamily::Leetspeak => leetspeak(rng, handle),
        HandleFamily::SeparatorsCase => {
            let words = handle_words(handle);
            match rng.gen_range(0..4) {
                0 => words.join("."),
                1 => words
                    .iter()
                    .map(|w| capitalise(w))
                    .collect::<Vec<_>>()
                    .join("-"),
                2 => words.join("_").to_uppercase(),
                _ => words
                    .iter()
                    .enumerate()
                    .map(|(n, w)| if n == 0 { w.to_string() } else { capitalise(w) })
                    .collect(),
            }
        }
        HandleFamily::Reordered => {
            let words = handle_words(handle);
            match rng.gen_range(0..3) {
                0 if words.len() >= 2 => {
                    let mut swapped = words.clone();
                    swapped.rotate_left(1);
                    swapped.concat()
                }
                1 if words.len() >= 2 => {
                    let first = words[0].chars().next().unwrap_or('x');
                    format!("{first}{}", words[1..].concat())
                }
                _ => {
                    // Vowels dropped but the first letter of each word.
                    words
                        .iter()
                        .map(|w| {
                            w.chars()
                                .enumerate()
                                .filter(|(n, c)| *n == 0 || !"aeiou".contains(*c))
                                .map(|(_, c)| c)
                                .collect::<String>()
                        })
                        .collect()
                }
            }
        }
        HandleFamily::Unrelated => {
            let first = vocab::HANDLE_FIRST.choose(rng).expect("words");
            let second = vocab::HANDLE_SECOND.choose(rng).expect("words");
            format!("{second}{first}{}", rng.gen_range(10..1000))
        }
    }
}

/// Letters written as digits or look-alikes: at least one, each eligible one with chance 1/2.
fn leetspeak(rng: &mut impl Rng, handle: &str) -> String {
    let swap = |c: char| match c {
        'a' | 'A' => Some('4'),
        'e' | 'E' => Some('3'),
        'i' | 'I' => Some('1'),
        'o' | 'O' => Some('0'),
        's' | 'S' => Some('5'),
        't' | 'T' => Some('7'),
        'l' => Some('I'),
        _ => None,
    };
    let eligible: Vec<usize> = handle
        .char_indices()
        .filter(|(_, c)| swap(*c).is_some())
        .map(|(n, _)| n)
        .collect();
    let Some(&forced) = eligible.choose(rng) else {
        return format!("{handle}x");
    };
    handle
        .char_indices()
        .map(|(n, c)| match swap(c) {
            Some(s) if n == forced || rng.gen_bool(0.5) => s,
            _ => c,
        })
        .collect()
}

/// A handle's words, lower-cased: split at separators, case changes and the vocabulary's first
/// words; trailing digits dropped.
fn handle_words(handle: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in handle.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    let mut split = Vec::new();
    for word in words {
        let word = word
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_owned();
        if word.is_empty() {
            continue;
        }
        let first = vocab::HANDLE_FIRST
            .iter()
            .filter(|f| word.len() > f.len() + 1 && word.starts_with(**f))
            .max_by_key(|f| f.len());
        match first {
            Some(first) => {
                split.push((*first).to_owned());
                split.push(word[first.len()..].to_owned());
            }
            None => split.push(word),
        }
    }
    if split.is_empty() {
        split.push(handle.to_lowercase());
    }
    split
}

fn vary_handle(rng: &mut impl Rng, handle: &str) -> String {
    match rng.gen_range(0..4) {
        0 => format!("{handle}_official"),
        1 => format!("the{handle}"),
        2 => format!("{handle}{}", rng.gen_range(2..30)),
        _ => format!("real_{handle}"),
    }
}

/// A quantity for a product form, and how many reference units it holds.
fn quantity(rng: &mut impl Rng, form: Form) -> (Quantity, f64) {
    match form {
        Form::Weight => {
            let (text, grams) = *vocab::WEIGHTS.choose(rng).expect("weights");
            let amount: Decimal = text.parse().expect("weight table is decimal");
            let shown = if grams == 28.0 && rng.gen_bool(0.5) {
                "1 oz".to_owned()
            } else {
                format!("{text} g")
            };
            (
                Quantity {
                    count: 1,
                    amount,
                    unit: Unit::Gram,
                    text: shown,
                },
                grams,
            )
        }
        Form::Doses { dose, micro } => {
            let count = *vocab::PILL_COUNTS.choose(rng).expect("counts");
            let dose = *dose.choose(rng).expect("doses");
            let unit = if micro {
                Unit::Microgram
            } else {
                Unit::Milligram
            };
            let text = format!("{count} x {dose} {}", unit.symbol());
            (
                Quantity {
                    count,
                    amount: Decimal::from(dose),
                    unit,
                    text,
                },
                f64::from(count),
            )
        }
        Form::Liquid => {
            let ml = *[10u32, 20, 50].choose(rng).expect("sizes");
            (
                Quantity {
                    count: 1,
                    amount: Decimal::from(ml),
                    unit: Unit::Millilitre,
                    text: format!("{ml} ml"),
                },
                f64::from(ml),
            )
        }
        Form::Pieces => (
            Quantity {
                count: 1,
                amount: Decimal::ONE,
                unit: Unit::Piece,
                text: "1 x".to_owned(),
            },
            1.0,
        ),
    }
}
