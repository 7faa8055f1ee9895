//! Prices in USD per unit: conversion at the observation date and normalisation by quantity.
//!
//! A displayed price becomes USD in this order of preference:
//! 1. the price is in USD;
//! 2. the same page showed the price in USD too (the market's own conversion);
//! 3. the page printed the market's exchange rates (units per 1 BTC);
//! 4. the market's rates of that day, read from its other pages (printed rates and USD/coin
//!    price pairs, the median of them);
//! 5. a rate imported with `dnmscope rates import` for that day or up to 7 days before.
//!
//! Otherwise the price stays unconverted and is counted as such.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use dnmscope_model::{Listing, Money, Quantity};
use dnmscope_store::{ListingObservationRow, RateRow};
use rust_decimal::prelude::ToPrimitive;

/// How a USD figure was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Conversion {
    Usd,
    ShownUsd,
    PageRates,
    MarketDayRates,
    Imported,
}

impl Conversion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conversion::Usd => "usd",
            Conversion::ShownUsd => "shown_usd",
            Conversion::PageRates => "page_rates",
            Conversion::MarketDayRates => "market_day_rates",
            Conversion::Imported => "imported_rates",
        }
    }
}

/// USD per unit of each currency, per market and day (from pages) and per day (imported).
#[derive(Debug, Default, Clone)]
pub struct RateBook {
    /// (market, day, currency) → USD per unit.
    market_day: HashMap<(String, NaiveDate, String), f64>,
    /// currency → day → USD per unit.
    imported: HashMap<String, BTreeMap<NaiveDate, f64>>,
}

/// USD per unit of each currency implied by one listing's page: its printed rates, and the
/// ratio of a USD price to a coin price shown side by side.
fn page_rates(listing: &Listing) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let usd_per_btc = listing
        .exchange_rates
        .iter()
        .find(|(c, _)| c.as_str() == "USD")
        .and_then(|(_, v)| v.to_f64());
    if let Some(usd_per_btc) = usd_per_btc.filter(|v| *v > 0.0) {
        out.push(("BTC".to_string(), usd_per_btc));
        for (currency, per_btc) in &listing.exchange_rates {
            if let Some(per_btc) = per_btc.to_f64().filter(|v| *v > 0.0) {
                if currency.as_str() != "USD" {
                    out.push((currency.as_str().to_string(), usd_per_btc / per_btc));
                }
            }
        }
    }
    let prices: Vec<&Money> = listing
        .price
        .iter()
        .chain(listing.other_prices.iter())
        .collect();
    if let Some(usd) = prices.iter().find(|p| p.currency.as_str() == "USD") {
        for coin in prices.iter().filter(|p| p.currency.as_str() != "USD") {
            if let (Some(usd), Some(amount)) = (usd.amount.to_f64(), coin.amount.to_f64()) {
                if amount > 0.0 {
                    out.push((coin.currency.as_str().to_string(), usd / amount));
                }
            }
        }
    }
    out
}

/// A listing's main price as its own page settles it: in USD (shown, or converted with the
/// page's own rates), or a coin price that needs the market's rates of the day.
enum PagePrice<'a> {
    Settled(Option<(f64, Conversion)>),
    NeedsRates(&'a Money),
}

fn page_price(listing: &Listing) -> Option<PagePrice<'_>> {
    let price = listing.price.as_ref()?;
    if price.currency.as_str() == "USD" {
        return Some(PagePrice::Settled(
            price.amount.to_f64().map(|a| (a, Conversion::Usd)),
        ));
    }
    if let Some(usd) = listing
        .other_prices
        .iter()
        .find(|p| p.currency.as_str() == "USD")
    {
        return Some(PagePrice::Settled(
            usd.amount.to_f64().map(|a| (a, Conversion::ShownUsd)),
        ));
    }
    if let Some((_, usd)) = page_rates(listing)
        .into_iter()
        .find(|(c, _)| c == price.currency.as_str())
    {
        return Some(PagePrice::Settled(
            price
                .amount
                .to_f64()
                .map(|amount| (amount * usd, Conversion::PageRates)),
        ));
    }
    Some(PagePrice::NeedsRates(price))
}

/// Whether converting a listing's main price to USD needs the market's rates of the day (its
/// price is in a coin, and its page shows neither a USD price nor a rate for that coin).
pub fn needs_market_rates(listing: &Listing) -> bool {
    matches!(page_price(listing), Some(PagePrice::NeedsRates(_)))
}

/// The rates listing pages show, gathered one observation at a time: per market, day and
/// currency, how often each distinct rate was seen. A market's rates repeat on every listing of
/// a crawl, so this holds a few values per market and day; a market that printed a different
/// rate on every page would make it grow by one value per such page, as holding the rows did.
#[derive(Debug, Default, Clone)]
pub struct RateGather {
    seen: HashMap<(String, NaiveDate, String), BTreeMap<TotalF64, u64>>,
}

/// An `f64` ordered as `f64::total_cmp` orders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TotalF64(u64);

impl TotalF64 {
    fn new(value: f64) -> TotalF64 {
        let bits = value.to_bits();
        TotalF64(if bits >> 63 == 1 {
            !bits
        } else {
            bits | 1 << 63
        })
    }
    fn get(self) -> f64 {
        let bits = self.0;
        f64::from_bits(if bits >> 63 == 1 {
            bits & !(1 << 63)
        } else {
            !bits
        })
    }
}

/// The median of values given with their counts: the middle value in `f64::total_cmp` order, or
/// the mean of the two middle ones.
fn median_of_counts(counts: &BTreeMap<TotalF64, u64>) -> Option<f64> {
    let n: u64 = counts.values().sum();
    if n == 0 {
        return None;
    }
    let at = |index: u64| -> f64 {
        let mut passed = 0;
        for (value, count) in counts {
            passed += count;
            if index < passed {
                return value.get();
            }
        }
        unreachable!("index {index} is below the total count {n}")
    };
    let mid = n / 2;
    Some(if n.is_multiple_of(2) {
        (at(mid - 1) + at(mid)) / 2.0
    } else {
        at(mid)
    })
}

impl RateGather {
    /// The rates one observed listing page shows.
    pub fn add(&mut self, row: &ListingObservationRow) {
        let day = row.observed_at.date_naive();
        for (currency, usd) in page_rates(&row.listing) {
            *self
                .seen
                .entry((row.market.clone(), day, currency))
                .or_default()
                .entry(TotalF64::new(usd))
                .or_default() += 1;
        }
    }

    /// The book: per market, day and currency the median of the rates its pages showed, and
    /// the `imported` rates.
    pub fn finish(self, imported: &[RateRow]) -> RateBook {
        let market_day = self
            .seen
            .into_iter()
            .filter_map(|(key, counts)| median_of_counts(&counts).map(|m| (key, m)))
            .collect();
        RateBook::with_market_day(market_day, imported)
    }
}

impl RateBook {
    /// The book of these observations' pages and the `imported` rates.
    pub fn new(observations: &[ListingObservationRow], imported: &[RateRow]) -> RateBook {
        let mut gather = RateGather::default();
        for row in observations {
            gather.add(row);
        }
        gather.finish(imported)
    }

    fn with_market_day(
        market_day: HashMap<(String, NaiveDate, String), f64>,
        imported: &[RateRow],
    ) -> RateBook {
        let mut book: HashMap<String, BTreeMap<NaiveDate, f64>> = HashMap::new();
        for rate in imported {
            if let Ok(usd) = rate.usd.trim().parse::<f64>() {
                book.entry(rate.currency.to_uppercase())
                    .or_default()
                    .insert(rate.day, usd);
            }
        }
        RateBook {
            market_day,
            imported: book,
        }
    }

    /// USD per unit of `currency` on a market and day, and where it came from.
    pub fn rate(&self, market: &str, day: NaiveDate, currency: &str) -> Option<(f64, Conversion)> {
        if currency == "USD" {
            return Some((1.0, Conversion::Usd));
        }
        if let Some(rate) = self
            .market_day
            .get(&(market.to_string(), day, currency.to_string()))
        {
            return Some((*rate, Conversion::MarketDayRates));
        }
        let series = self.imported.get(currency)?;
        let (found, rate) = series.range(..=day).next_back()?;
        ((day - *found).num_days() <= 7).then_some((*rate, Conversion::Imported))
    }

    /// A displayed amount in USD on a market and day.
    pub fn to_usd(&self, market: &str, day: NaiveDate, money: &Money) -> Option<(f64, Conversion)> {
        let amount = money.amount.to_f64()?;
        self.rate(market, day, money.currency.as_str())
            .map(|(rate, how)| (amount * rate, how))
    }

    /// A listing's main price in USD as observed on a market and day.
    pub fn listing_usd(
        &self,
        market: &str,
        day: NaiveDate,
        listing: &Listing,
    ) -> Option<(f64, Conversion)> {
        match page_price(listing)? {
            PagePrice::Settled(usd) => usd,
            PagePrice::NeedsRates(price) => self.to_usd(market, day, price),
        }
    }
}

/// The unit a price per unit is expressed in, and how many of them a listing's quantity holds:
/// weights per gram, volumes per millilitre, packs of doses per piece (pill, tab, blotter).
pub fn units(quantity: &Quantity) -> Option<(&'static str, f64)> {
    let count = f64::from(quantity.count.max(1));
    let amount = quantity.amount.to_f64()?;
    if quantity.count > 1 {
        return Some(("piece", count));
    }
    let (unit, factor) = match quantity.unit.as_str() {
        "g" => ("g", 1.0),
        "mg" => ("g", 0.001),
        "ug" => ("g", 0.000_001),
        "kg" => ("g", 1000.0),
        "oz" => ("g", 28.349_523),
        "lb" => ("g", 453.592_37),
        "ml" => ("ml", 1.0),
        "l" => ("ml", 1000.0),
        _ => ("piece", 1.0),
    };
    let total = if unit == "piece" {
        count
    } else {
        amount * factor
    };
    (total > 0.0).then_some((unit, total))
}

/// Rounds to cents for display.
pub fn cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The quantile `q` (0..1) of sorted values, by linear interpolation.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    let weight = position - low as f64;
    Some(sorted[low] * (1.0 - weight) + sorted[high] * weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The median of all the values, each once: what [`median_of_counts`] must agree with.
    fn median(values: &mut [f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        Some(if values.len().is_multiple_of(2) {
            (values[mid - 1] + values[mid]) / 2.0
        } else {
            values[mid]
        })
    }

    #[test]
    fn the_median_of_counted_rates_is_the_median_of_every_rate() {
        let samples: [&[f64]; 6] = [
            &[],
            &[3.0],
            &[2.0, 1.0],
            &[5.0, 5.0, 5.0, 1.0],
            &[-0.0, 0.0, -2.5, 1e9, 7.25, 7.25, 3.0],
            &[64_000.0, 64_100.5, 63_900.0, 64_000.0, 64_100.5, 64_000.0],
        ];
        for values in samples {
            let mut counts: BTreeMap<TotalF64, u64> = BTreeMap::new();
            for v in values {
                *counts.entry(TotalF64::new(*v)).or_default() += 1;
            }
            let mut all = values.to_vec();
            assert_eq!(
                median_of_counts(&counts).map(f64::to_bits),
                median(&mut all).map(f64::to_bits),
                "{values:?}"
            );
        }
        for v in [-1e300, -1.5, -0.0, 0.0, 2.0, f64::MAX, f64::INFINITY] {
            assert_eq!(TotalF64::new(v).get().to_bits(), v.to_bits());
        }
        assert!(TotalF64::new(-1.0) < TotalF64::new(-0.0));
        assert!(TotalF64::new(-0.0) < TotalF64::new(0.0));
        assert!(TotalF64::new(0.5) < TotalF64::new(2.0));
    }
    use dnmscope_model::Currency;
    use rust_decimal::Decimal;

    fn listing(price: &str, currency: &str) -> Listing {
        Listing {
            key: "1".to_string(),
            price: Some(Money::new(price, currency).unwrap()),
            ..Listing::default()
        }
    }

    #[test]
    fn prices_convert_in_order_of_preference() {
        let day = NaiveDate::from_ymd_opt(2020, 1, 10).unwrap();
        let imported = vec![RateRow {
            day: NaiveDate::from_ymd_opt(2020, 1, 8).unwrap(),
            currency: "BTC".to_string(),
            usd: "8000".to_string(),
            source: "test".to_string(),
        }];
        let book = RateBook::new(&[], &imported);
        let usd = book
            .listing_usd("m", day, &listing("49.50", "USD"))
            .unwrap();
        assert_eq!(usd, (49.5, Conversion::Usd));
        let mut shown = listing("0.01", "BTC");
        shown.other_prices = vec![Money::new("81.00", "USD").unwrap()];
        assert_eq!(
            book.listing_usd("m", day, &shown).unwrap(),
            (81.0, Conversion::ShownUsd)
        );
        let mut rates = listing("0.01", "BTC");
        rates
            .exchange_rates
            .insert(Currency::usd(), Decimal::from(9000));
        assert_eq!(
            book.listing_usd("m", day, &rates).unwrap(),
            (90.0, Conversion::PageRates)
        );
        let (usd, how) = book.listing_usd("m", day, &listing("0.01", "BTC")).unwrap();
        assert_eq!((cents(usd), how), (80.0, Conversion::Imported));
        let too_late = NaiveDate::from_ymd_opt(2020, 1, 30).unwrap();
        assert_eq!(
            book.listing_usd("m", too_late, &listing("0.01", "BTC")),
            None
        );
    }

    #[test]
    fn quantities_become_units() {
        let q = |count, amount: &str, unit: &str| Quantity {
            count,
            amount: amount.parse().unwrap(),
            unit: unit.to_string(),
        };
        assert_eq!(units(&q(1, "3.5", "g")), Some(("g", 3.5)));
        assert_eq!(units(&q(1, "500", "mg")), Some(("g", 0.5)));
        assert_eq!(units(&q(100, "2", "mg")), Some(("piece", 100.0)));
        assert_eq!(units(&q(1, "10", "ml")), Some(("ml", 10.0)));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
    }
}
