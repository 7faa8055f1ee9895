//! Listings: one product offer by one vendor on one market.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Country, Currency, Money};

/// What one listing showed when it was seen. Every field but the key may be missing: a search
/// page shows only a summary, and a changed layout may hide a field (the parser says which).
///
/// A field missing from its JSON reads as its default (the store keeps only what its columns do
/// not hold as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Listing {
    /// The market's own stable id for the listing (from its URL), the listing's identity.
    pub key: String,
    pub url: Option<String>,
    pub title: Option<String>,
    /// The vendor's handle as shown.
    pub vendor: Option<String>,
    /// Category path, top first.
    pub category: Vec<String>,
    /// The main displayed price.
    pub price: Option<Money>,
    /// The same price shown in other currencies.
    pub other_prices: Vec<Money>,
    pub price_tiers: Vec<PriceTier>,
    /// What one unit of the listing is ("3.5 g", "100 x 2 mg").
    pub quantity: Option<Quantity>,
    pub ships_from: Option<Country>,
    pub ships_to: Vec<Country>,
    pub shipping_options: Vec<ShippingOption>,
    pub accepted_currencies: Vec<Currency>,
    pub escrow: Option<bool>,
    pub finalize_early: Option<bool>,
    /// Units in stock; `Some(None)` means the market says unlimited.
    pub stock: Option<Option<u64>>,
    /// Times sold, as shown.
    pub sales: Option<u64>,
    pub description: Option<String>,
    /// The market's displayed exchange rates: units of each currency per 1 BTC.
    pub exchange_rates: BTreeMap<Currency, Decimal>,
}

/// A bulk price: `quantity` units for `price`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTier {
    pub quantity: Decimal,
    pub price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingOption {
    pub name: String,
    pub price: Option<Money>,
}

/// An amount of product: `count` × `amount` `unit`, e.g. 100 × 2 mg, or 3.5 g (count 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantity {
    pub count: u32,
    pub amount: Decimal,
    /// The unit as normalised by the parser: `g`, `mg`, `ug`, `kg`, `ml`, `oz`, `lb`, `piece`, ...
    pub unit: String,
}

impl Quantity {
    /// The total amount: count × amount.
    pub fn total(&self) -> Decimal {
        Decimal::from(self.count) * self.amount
    }
}
