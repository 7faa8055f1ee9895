//! A listing observation as a row: the typed columns hold most of what was seen, and `data`
//! holds only the rest (other prices, price tiers, shipping options, accepted currencies,
//! exchange rates, the URL, a vendor spelled otherwise than its stored handle), so a row does not
//! keep the listing twice. The listing's key comes back from `listings.listing_key` and its
//! vendor from `vendors.handle`.
//!
//! [`ListingRow::split`] checks that [`ListingRow::join`] gives the listing back exactly; a
//! listing it cannot split that way (a count too large for a column, say) keeps its whole JSON,
//! as every row stored before migration 0011 does. `join` reads both: a field present in `data`
//! (and not null) wins over its column.

use std::str::FromStr;

use chrono::{DateTime, Utc};

use dnmscope_model::{Country, Listing, Money, Quantity};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The fields of [`Listing`] that have their own column (or, for `key` and `vendor`, come from
/// the listing's and the vendor's rows), in the order of the JSON `Listing` serialises to.
const HELD: &[&str] = &[
    "key",
    "title",
    "vendor",
    "category",
    "price",
    "quantity",
    "ships_from",
    "ships_to",
    "escrow",
    "finalize_early",
    "stock",
    "sales",
    "description",
];

/// The typed columns of a `listing_observations` row, as bound and as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct ListingColumns {
    pub title: Option<String>,
    pub price_amount: Option<String>,
    pub price_currency: Option<String>,
    pub category: Option<sqlx::types::Json<Vec<String>>>,
    pub quantity_count: Option<i64>,
    pub quantity_amount: Option<String>,
    pub quantity_unit: Option<String>,
    pub ships_from: Option<String>,
    pub ships_to: Option<sqlx::types::Json<Vec<String>>>,
    pub stock: Option<i64>,
    pub stock_unlimited: Option<bool>,
    pub sales: Option<i64>,
    pub escrow: Option<bool>,
    pub finalize_early: Option<bool>,
    pub description: Option<String>,
}

/// A listing observation's columns and its `data`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct ListingRow {
    #[sqlx(flatten)]
    pub columns: ListingColumns,
    #[sqlx(json)]
    pub data: Value,
}

/// One listing observation to store.
pub(crate) struct ObservationInsert<'a> {
    pub listing_id: Option<i64>,
    pub extraction_id: i64,
    pub crawl_id: i64,
    pub capture_id: i64,
    pub observed_at: DateTime<Utc>,
    pub parser_version: &'a str,
    pub page_kind: &'a str,
    pub vendor_id: Option<i64>,
    pub row: ListingRow,
}

/// The column names of [`ListingColumns`] then `data`, as an insert lists them.
pub(crate) const ROW_COLUMNS: &str = "title, price_amount, price_currency, category, \
     quantity_count, quantity_amount, quantity_unit, ships_from, ships_to, stock, \
     stock_unlimited, sales, escrow, finalize_early, description, data";

/// The same columns of `listing_observations o`, for a select.
pub(crate) const SELECT_COLUMNS: &str = "o.title, o.price_amount, o.price_currency, o.category, \
     o.quantity_count, o.quantity_amount, o.quantity_unit, o.ships_from, o.ships_to, o.stock, \
     o.stock_unlimited, o.sales, o.escrow, o.finalize_early, o.description, o.data";

impl ListingRow {
    /// The row for `listing`, whose vendor (if it names one) is stored with `handle`.
    pub fn split(listing: &Listing, handle: Option<&str>) -> ListingRow {
        let columns = columns_of(listing);
        let whole = serde_json::to_value(listing).unwrap_or(Value::Null);
        let Value::Object(whole) = whole else {
            // A Listing always serialises to an object; keep what there is if it ever did not.
            return ListingRow {
                columns,
                data: whole,
            };
        };
        let mut rest = Map::new();
        for (name, value) in &whole {
            let held = HELD.contains(&name.as_str())
                && !(name == "vendor" && (handle.is_none() || listing.vendor.as_deref() != handle));
            if !held && !is_empty(value) {
                rest.insert(name.clone(), value.clone());
            }
        }
        let row = ListingRow {
            columns,
            data: Value::Object(rest),
        };
        if row.join(&listing.key, handle).as_ref() == Ok(listing) {
            return row;
        }
        // Something does not survive the columns: keep the whole listing (its description
        // still has its column).
        let mut whole = whole;
        whole.remove("description");
        ListingRow {
            columns: row.columns,
            data: Value::Object(whole),
        }
    }

    /// The listing back from a row of the listing `key`, whose vendor (if the row has one) is
    /// stored with `handle`.
    pub fn join(&self, key: &str, handle: Option<&str>) -> Result<Listing, String> {
        let Value::Object(data) = &self.data else {
            return Err(format!("data is not a JSON object: {}", self.data));
        };
        // A field's JSON wins over its column, but not a null: `stock` is null in JSON both when
        // unknown and when unlimited, which only the columns tell apart.
        let has = |name: &str| data.get(name).is_some_and(|value| !value.is_null());
        let mut listing = Listing::deserialize(&self.data)
            .map_err(|e| format!("data does not read as a listing: {e}"))?;
        let c = &self.columns;
        if !has("key") {
            listing.key = key.to_string();
        }
        if !has("vendor") {
            listing.vendor = handle.map(str::to_string);
        }
        if !has("title") {
            listing.title = c.title.clone();
        }
        if !has("category") {
            listing.category = c.category.clone().map(|j| j.0).unwrap_or_default();
        }
        if !has("price") {
            listing.price = match (&c.price_amount, &c.price_currency) {
                (Some(amount), Some(currency)) => Some(
                    Money::new(amount, currency)
                        .map_err(|e| format!("price {amount:?} {currency:?}: {e}"))?,
                ),
                (None, None) => None,
                (amount, currency) => {
                    return Err(format!(
                        "price amount {amount:?} without currency {currency:?}"
                    ));
                }
            };
        }
        if !has("quantity") {
            listing.quantity = match (&c.quantity_count, &c.quantity_amount, &c.quantity_unit) {
                (Some(count), Some(amount), Some(unit)) => Some(Quantity {
                    count: u32::try_from(*count)
                        .map_err(|_| format!("quantity count {count} out of range"))?,
                    amount: Decimal::from_str(amount)
                        .map_err(|e| format!("quantity amount {amount:?}: {e}"))?,
                    unit: unit.clone(),
                }),
                (None, None, None) => None,
                other => return Err(format!("incomplete quantity {other:?}")),
            };
        }
        if !has("ships_from") {
            listing.ships_from = c.ships_from.as_deref().map(country).transpose()?;
        }
        if !has("ships_to") {
            listing.ships_to = match &c.ships_to {
                Some(codes) => codes
                    .0
                    .iter()
                    .map(|code| country(code))
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
        }
        if !has("stock") {
            listing.stock = match (c.stock, c.stock_unlimited) {
                (_, Some(true)) => Some(None),
                (Some(count), _) => Some(Some(
                    u64::try_from(count).map_err(|_| format!("stock {count} out of range"))?,
                )),
                (None, _) => None,
            };
        }
        if !has("sales") {
            listing.sales = c
                .sales
                .map(|n| u64::try_from(n).map_err(|_| format!("sales {n} out of range")))
                .transpose()?;
        }
        if !has("escrow") {
            listing.escrow = c.escrow;
        }
        if !has("finalize_early") {
            listing.finalize_early = c.finalize_early;
        }
        if !has("description") {
            listing.description = c.description.clone();
        }
        Ok(listing)
    }
}

fn columns_of(listing: &Listing) -> ListingColumns {
    let (stock, stock_unlimited) = match listing.stock {
        Some(Some(count)) => (Some(crate::to_db_int(count)), Some(false)),
        Some(None) => (None, Some(true)),
        None => (None, None),
    };
    ListingColumns {
        title: listing.title.clone(),
        price_amount: listing.price.as_ref().map(|p| p.amount_text()),
        price_currency: listing
            .price
            .as_ref()
            .map(|p| p.currency.as_str().to_string()),
        category: Some(sqlx::types::Json(listing.category.clone())),
        quantity_count: listing.quantity.as_ref().map(|q| i64::from(q.count)),
        quantity_amount: listing.quantity.as_ref().map(|q| q.amount.to_string()),
        quantity_unit: listing.quantity.as_ref().map(|q| q.unit.clone()),
        ships_from: listing.ships_from.map(|c| c.code().to_string()),
        ships_to: Some(sqlx::types::Json(
            listing
                .ships_to
                .iter()
                .map(|c| c.code().to_string())
                .collect(),
        )),
        stock,
        stock_unlimited,
        sales: listing.sales.map(crate::to_db_int),
        escrow: listing.escrow,
        finalize_early: listing.finalize_early,
        description: listing.description.clone(),
    }
}

fn country(code: &str) -> Result<Country, String> {
    Country::from_code(code).map_err(|e| format!("country {code:?}: {e}"))
}

/// Null, `[]` and `{}`: what a listing's JSON holds for a field it does not have.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnmscope_model::{Currency, PriceTier, ShippingOption};

    fn full() -> Listing {
        Listing {
            key: "l-17".to_string(),
            url: Some("http://x.onion/listing/17".to_string()),
            title: Some("MDMA 1 g".to_string()),
            vendor: Some("SomeVendor".to_string()),
            category: vec!["Drugs".to_string(), "Ecstasy".to_string()],
            price: Some(Money::new("49.00", "USD").unwrap()),
            other_prices: vec![Money::new("0.00272000", "BTC").unwrap()],
            price_tiers: vec![PriceTier {
                quantity: Decimal::from(5),
                price: Money::new("200.0", "USD").unwrap(),
            }],
            quantity: Some(Quantity {
                count: 100,
                amount: Decimal::from_str("2.50").unwrap(),
                unit: "mg".to_string(),
            }),
            ships_from: Some(Country::from_code("NL").unwrap()),
            ships_to: vec![
                Country::from_code("WW").unwrap(),
                Country::from_code("de").unwrap(),
            ],
            shipping_options: vec![ShippingOption {
                name: "Express".to_string(),
                price: Some(Money::new("10", "EUR").unwrap()),
            }],
            accepted_currencies: vec![Currency::new("XMR").unwrap()],
            escrow: Some(true),
            finalize_early: Some(false),
            stock: Some(Some(12)),
            sales: Some(340),
            description: Some("Tested.\n\nShips daily.".to_string()),
            exchange_rates: [(Currency::new("USD").unwrap(), Decimal::from(18_000))]
                .into_iter()
                .collect(),
        }
    }

    #[track_caller]
    fn check(listing: &Listing, handle: Option<&str>, expect_data: &str) {
        let row = ListingRow::split(listing, handle);
        assert_eq!(row.data.to_string(), expect_data);
        assert_eq!(row.join(&listing.key, handle).as_ref(), Ok(listing));
    }

    #[test]
    fn only_what_the_columns_do_not_hold_is_kept_as_json() {
        let listing = full();
        check(
            &listing,
            Some("SomeVendor"),
            r#"{"accepted_currencies":["XMR"],"exchange_rates":{"USD":"18000"},"other_prices":[{"amount":"0.00272000","currency":"BTC"}],"price_tiers":[{"price":{"amount":"200.0","currency":"USD"},"quantity":"5"}],"shipping_options":[{"name":"Express","price":{"amount":"10","currency":"EUR"}}],"url":"http://x.onion/listing/17"}"#,
        );
        // A vendor shown otherwise than its stored handle keeps its spelling.
        let mut shown = full();
        shown.vendor = Some(" somevendor".to_string());
        let row = ListingRow::split(&shown, Some("SomeVendor"));
        assert_eq!(row.data["vendor"], " somevendor");
        assert_eq!(row.join(&shown.key, Some("SomeVendor")), Ok(shown));
        // A summary from a search page: nothing beyond the columns.
        let summary = Listing {
            key: "9".to_string(),
            title: Some("Speed".to_string()),
            vendor: Some("v".to_string()),
            price: Some(Money::new("5", "EUR").unwrap()),
            stock: Some(None),
            ..Listing::default()
        };
        check(&summary, Some("v"), "{}");
        check(&Listing::default(), None, "{}");
    }

    #[test]
    fn a_listing_the_columns_cannot_hold_keeps_its_whole_json() {
        let mut listing = full();
        listing.sales = Some(u64::MAX);
        listing.stock = Some(None);
        let row = ListingRow::split(&listing, Some("SomeVendor"));
        assert_eq!(row.data["sales"], serde_json::json!(u64::MAX));
        assert_eq!(row.data["title"], "MDMA 1 g");
        assert!(row.data.get("description").is_none());
        assert_eq!(row.join(&listing.key, Some("SomeVendor")), Ok(listing));
    }

    #[test]
    fn rows_stored_whole_before_read_the_same() {
        // Before migration 0011 `data` held the whole listing but its description.
        let listing = full();
        let mut whole = serde_json::to_value(&listing).unwrap();
        whole.as_object_mut().unwrap().remove("description");
        let row = ListingRow {
            columns: columns_of(&listing),
            data: whole,
        };
        assert_eq!(row.join("ignored", Some("ignored")), Ok(listing));
    }

    #[test]
    fn a_corrupt_row_is_an_error() {
        let mut row = ListingRow::split(&full(), Some("SomeVendor"));
        row.columns.price_currency = None;
        assert!(row
            .join("l-17", Some("SomeVendor"))
            .unwrap_err()
            .contains("without currency"));
        row.data = Value::String("x".to_string());
        assert!(row
            .join("l-17", None)
            .unwrap_err()
            .contains("not a JSON object"));
    }
}
