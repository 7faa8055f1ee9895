//! Quantities ("3.5 g", "100 x 2mg", "1 oz", "10 pills") and prices per unit.

use std::sync::LazyLock;

use dnmscope_model::{Currency, Money, Quantity};
use regex::Regex;
use rust_decimal::Decimal;

use super::{parse_decimal, Unreadable};

/// Unit spellings, lower case, and the unit they normalise to.
const UNITS: &[(&str, &str)] = &[
    ("g", "g"),
    ("gr", "g"),
    ("gram", "g"),
    ("grams", "g"),
    ("mg", "mg"),
    ("milligram", "mg"),
    ("milligrams", "mg"),
    ("ug", "ug"),
    ("µg", "ug"),
    ("μg", "ug"),
    ("mcg", "ug"),
    ("kg", "kg"),
    ("kilo", "kg"),
    ("kilos", "kg"),
    ("oz", "oz"),
    ("ounce", "oz"),
    ("ounces", "oz"),
    ("lb", "lb"),
    ("lbs", "lb"),
    ("pound", "lb"),
    ("ml", "ml"),
    ("l", "l"),
    ("pill", "piece"),
    ("pills", "piece"),
    ("tab", "piece"),
    ("tabs", "piece"),
    ("tablet", "piece"),
    ("tablets", "piece"),
    ("piece", "piece"),
    ("pieces", "piece"),
    ("pcs", "piece"),
    ("blotter", "piece"),
    ("blotters", "piece"),
    ("caps", "piece"),
    ("capsules", "piece"),
];

/// "100 x 2 mg", "100x2mg", "10 * 250ug": a count of units of a dose.
static COUNT_OF_DOSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\d+)\s*(?:x|\*|×)\s*(\d+(?:[.,]\d+)?)\s*([a-zµμ]+)\b")
        .expect("a valid pattern")
});

/// "3.5 g", "1oz", "10 pills".
static AMOUNT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(\d+(?:[.,]\d+)?)\s*([a-zµμ]+)\b").expect("a valid pattern"));

fn unit(word: &str) -> Option<&'static str> {
    let lower = word.to_lowercase();
    UNITS
        .iter()
        .find(|(spelling, _)| *spelling == lower)
        .map(|(_, unit)| *unit)
}

/// Reads a text that is a quantity and nothing else.
pub fn parse_quantity(text: &str) -> Result<Quantity, Unreadable> {
    let trimmed = text.trim();
    let whole = [&*COUNT_OF_DOSE, &*AMOUNT].iter().any(|re| {
        re.find(trimmed)
            .is_some_and(|m| m.start() == 0 && m.end() == trimmed.len())
    });
    if !whole {
        return Err(Unreadable::new(
            "quantity",
            text,
            "it is not a quantity alone",
        ));
    }
    find_quantity(trimmed)
}

/// Finds the first quantity in a text such as a listing title ("☢100 PILLS X Soma 350mg").
/// A count of doses wins over a lone amount.
pub fn find_quantity(text: &str) -> Result<Quantity, Unreadable> {
    let unreadable = |reason: &str| Unreadable::new("quantity", text, reason);
    for found in COUNT_OF_DOSE.captures_iter(text) {
        if let Some(unit) = unit(&found[3]) {
            let count: u32 = found[1]
                .parse()
                .map_err(|_| unreadable("the count is too large"))?;
            let amount = parse_decimal(&found[2]).map_err(|e| unreadable(&e.reason))?;
            return Ok(Quantity {
                count,
                amount,
                unit: unit.to_string(),
            });
        }
    }
    for found in AMOUNT.captures_iter(text) {
        if let Some(unit) = unit(&found[2]) {
            let amount = parse_decimal(&found[1]).map_err(|e| unreadable(&e.reason))?;
            // "10 pills" is ten pieces of one; "3.5 g" is one lot of 3.5 g.
            if unit == "piece" {
                if amount.fract() != Decimal::ZERO {
                    return Err(unreadable("a count of pieces is a whole number"));
                }
                let count = u32::try_from(amount.trunc().mantissa())
                    .map_err(|_| unreadable("the count is too large"))?;
                return Ok(Quantity {
                    count,
                    amount: Decimal::ONE,
                    unit: unit.to_string(),
                });
            }
            return Ok(Quantity {
                count: 1,
                amount,
                unit: unit.to_string(),
            });
        }
    }
    Err(unreadable("no number followed by a known unit"))
}

/// A price per base unit: per gram for masses, per millilitre for volumes, per piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitPrice {
    pub price: Money,
    /// `g`, `ml` or `piece`.
    pub per: &'static str,
}

/// The listing's price divided by its quantity in base units. For "100 x 2 mg" pills the base
/// unit is the piece (what a buyer compares), not the milligram of active ingredient.
pub fn price_per_unit(price: &Money, quantity: &Quantity) -> Option<UnitPrice> {
    let count = Decimal::from(quantity.count);
    let grams_per = |unit: &str| -> Option<Decimal> {
        Some(match unit {
            "g" => Decimal::ONE,
            "mg" => Decimal::new(1, 3),
            "ug" => Decimal::new(1, 6),
            "kg" => Decimal::from(1000),
            "oz" => Decimal::new(28_349_523_125, 9),
            "lb" => Decimal::new(45_359_237, 5),
            _ => return None,
        })
    };
    let (total, per) = if quantity.count > 1 && quantity.unit != "piece" {
        // A count of doses: price per piece.
        (count, "piece")
    } else if let Some(factor) = grams_per(&quantity.unit) {
        (count * quantity.amount * factor, "g")
    } else {
        match quantity.unit.as_str() {
            "ml" => (count * quantity.amount, "ml"),
            "l" => (count * quantity.amount * Decimal::from(1000), "ml"),
            "piece" => (count * quantity.amount, "piece"),
            _ => return None,
        }
    };
    if total.is_zero() {
        return None;
    }
    let amount = (price.amount / total).round_dp(8).normalize();
    Some(UnitPrice {
        price: Money::from_decimal(amount, Currency::new(price.currency.as_str()).ok()?).ok()?,
        per,
    })
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};

    use super::*;

    fn check(text: &str, expect: Expect) {
        let actual = match find_quantity(text) {
            Ok(q) => format!("{} x {} {}", q.count, q.amount, q.unit),
            Err(err) => format!("error: {err}"),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn quantities_in_titles() {
        check("3.5 g", expect!["1 x 3.5 g"]);
        check("100 x 2mg", expect!["100 x 2 mg"]);
        check("1 oz Lemon Haze", expect!["1 x 1 oz"]);
        check("10x 250ug LSD blotters", expect!["10 x 250 ug"]);
        check("☢100 PILLS X Soma 350mg $49☢", expect!["100 x 1 piece"]);
        check("28g Cocaine 90% pure", expect!["1 x 28 g"]);
        check("MDMA 0,5 gram", expect!["1 x 0.5 g"]);
        check(
            "Louis Vuitton Bracelet",
            expect![[
                r#"error: cannot read quantity from "Louis Vuitton Bracelet": no number followed by a known unit"#
            ]],
        );
    }

    #[test]
    fn a_quantity_alone() {
        assert!(parse_quantity("3.5 g").is_ok());
        assert!(parse_quantity(" 100 x 2 mg ").is_ok());
        assert!(parse_quantity("3.5 g of the best").is_err());
    }

    #[test]
    fn prices_per_unit() {
        let per = |price: &str, quantity: &str| {
            let p = price_per_unit(
                &price.parse::<Money>().unwrap(),
                &find_quantity(quantity).unwrap(),
            )
            .unwrap();
            format!("{} per {}", p.price, p.per)
        };
        assert_eq!(per("70 USD", "3.5 g"), "20 USD per g");
        assert_eq!(per("50 USD", "100 x 2mg"), "0.5 USD per piece");
        assert_eq!(per("1000 EUR", "1 kg"), "1 EUR per g");
        assert_eq!(per("283.49523125 USD", "1 oz"), "10 USD per g");
        assert_eq!(per("20 USD", "10 pills"), "2 USD per piece");
        assert_eq!(per("0.01 BTC", "250 mg"), "0.04 BTC per g");
    }
}
