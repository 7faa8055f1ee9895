//! Money as markets write it: "฿0.000272", "USD 49.00", "$49", "0.0093 BTC", "€ 12,50",
//! "1,234.56 USD", "EUR 1.234,56", "12 mBTC".

use std::str::FromStr;

use std::sync::LazyLock;

use dnmscope_model::{Currency, Money};
use regex::Regex;
use rust_decimal::Decimal;

use super::{collapse_whitespace, Unreadable};

/// Currency symbols and the words markets use for them, with the factor that turns the written
/// amount into the currency's main unit (milli-bitcoin is a thousandth of a bitcoin).
const SYMBOLS: &[(&str, &str, u32)] = &[
    ("$", "USD", 0),
    ("US$", "USD", 0),
    ("€", "EUR", 0),
    ("£", "GBP", 0),
    ("฿", "BTC", 0),
    ("Ƀ", "BTC", 0),
    ("₿", "BTC", 0),
    ("ɱ", "XMR", 0),
    ("Ł", "LTC", 0),
    ("mBTC", "BTC", 3),
    ("mBCH", "BCH", 3),
    ("bitcoin", "BTC", 0),
    ("monero", "XMR", 0),
    ("litecoin", "LTC", 0),
];

/// ISO 4217's active currency codes: a code outside this list (and [`COINS`]) is not a currency,
/// whatever letters surround a number.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL",
    "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU",
    "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWL",
];

/// The coins darknet markets price in.
const COINS: &[&str] = &[
    "BTC", "XMR", "LTC", "BCH", "ETH", "ZEC", "DASH", "DOGE", "XRP", "USDT", "USDC", "DCR", "BSV",
    "ETC", "TRX", "BNB",
];

/// A unit after the currency ("USD/112g", "$10 per gram", "0.01 BTC / piece"): a price per unit,
/// which a plain amount would misread.
static PER_UNIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(/\s*[\d.,]*\s*[a-zµ]+\.?$|\bper\s+[\d.,]*\s*[a-zµ]+\.?$|\s/\s*$)")
        .expect("a valid pattern")
});

/// Words that mark a price as the lowest of several ("From: 25 $", "ab 20 €").
static MINIMUM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(from|starting (?:at|from)|as low as|min(?:imum)?\.?|ab|à partir de|a partir de|desde)(?:\s*:\s*|\s+)")
        .expect("a valid pattern")
});

/// A price that may be marked as a minimum: the money, and whether it is the lowest of several
/// prices (`From: 25 $`) rather than the price of one offer.
pub fn parse_price(text: &str) -> Result<(Money, bool), Unreadable> {
    match MINIMUM.find(text) {
        Some(marker) => parse_money(&text[marker.end()..]).map(|money| (money, true)),
        None => parse_money(text).map(|money| (money, false)),
    }
}

/// Reads an amount of money with its currency, from a symbol or a code before or after it.
///
/// It reads the whole text or refuses: a currency code must be ISO 4217's or a known coin's,
/// and a price per unit ("485.00 USD/112g", "$10 per gram") is reported, not read as money.
pub fn parse_money(text: &str) -> Result<Money, Unreadable> {
    let unreadable = |reason: &str| Unreadable::new("money", text, reason);
    let cleaned = collapse_whitespace(text);
    if cleaned.is_empty() {
        return Err(unreadable("it is empty"));
    }
    // Split into the number and what surrounds it.
    let start = cleaned
        .find(|c: char| c.is_ascii_digit())
        .ok_or_else(|| unreadable("there is no number"))?;
    let start = if start > 0 && cleaned[..start].ends_with('.') {
        start - 1
    } else {
        start
    };
    let end = cleaned[start..]
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ',' || c == ' ' || c == '\''))
        .map(|i| start + i)
        .unwrap_or(cleaned.len());
    let number = cleaned[start..end].trim();
    let before = cleaned[..start].trim();
    let after = cleaned[end..].trim();
    if before.contains('-') {
        return Err(unreadable("prices are never negative"));
    }
    if let Some(unit) = PER_UNIT.find(after) {
        return Err(unreadable(&format!(
            "a price per unit ({:?}), not a plain amount: read the unit apart from the price",
            unit.as_str().trim()
        )));
    }
    let marker = match (before.is_empty(), after.is_empty()) {
        (false, true) => before,
        (true, false) => after,
        (false, false) => {
            // "$49 USD", "USD $49": both must name the same currency.
            let (a, _) = currency_of(before).ok_or_else(|| unreadable("unknown currency"))?;
            let (b, _) = currency_of(after).ok_or_else(|| unreadable("unknown currency"))?;
            if a != b {
                return Err(unreadable("two different currencies"));
            }
            before
        }
        (true, true) => return Err(unreadable("no currency is given")),
    };
    let (currency, milli) =
        currency_of(marker).ok_or_else(|| unreadable(&format!("unknown currency {marker:?}")))?;
    let mut amount = parse_decimal(number).map_err(|e| Unreadable::new("money", text, e.reason))?;
    if milli > 0 {
        amount /= Decimal::from(10u32.pow(milli));
    }
    Money::from_decimal(amount, currency).map_err(|e| unreadable(&e.to_string()))
}

/// The currency a marker names, and the power of ten it scales amounts down by.
fn currency_of(marker: &str) -> Option<(Currency, u32)> {
    let marker = marker.trim_matches(|c: char| c.is_whitespace() || c == ':');
    if let Some((_, code, milli)) = SYMBOLS
        .iter()
        .find(|(symbol, _, _)| symbol.eq_ignore_ascii_case(marker))
    {
        return Currency::new(code).ok().map(|c| (c, *milli));
    }
    // "USD", "usd", "BTC"; also "USD $" and "$ USD".
    let code = marker
        .trim_matches(|c: char| c == '$' || c.is_whitespace())
        .to_ascii_uppercase();
    if ISO_4217.contains(&code.as_str()) || COINS.contains(&code.as_str()) {
        return Currency::new(&code).ok().map(|c| (c, 0));
    }
    None
}

/// Reads a decimal number in either convention: "1,234.56", "1.234,56", "12,50", "0.000272",
/// "1 234", "1'234.5".
///
/// The decimal mark is the later of `.` and `,` when both appear; a lone `,` is the decimal mark
/// unless exactly three digits follow it ("1,000" is a thousand), and a lone `.` always is. Every
/// other separator (`.`, `,`, a space, `'`) must group thousands: a first group of one to three
/// digits, then groups of exactly three, all with the same separator, and none in the decimals.
/// Anything else ("955.2 324", "12 34", "1,2,3") is refused, never read by joining the digits.
pub fn parse_decimal(text: &str) -> Result<Decimal, Unreadable> {
    let unreadable = |reason: &str| Unreadable::new("number", text, reason);
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{a0}');
    if !trimmed.chars().any(|c| c.is_ascii_digit()) {
        return Err(unreadable("there is no number"));
    }
    let is_group = |c: char| c == '.' || c == ',' || c == '\'' || c == ' ' || c == '\u{a0}';
    if !trimmed.chars().all(|c| c.is_ascii_digit() || is_group(c)) {
        return Err(unreadable("it is not a plain number"));
    }
    let last_dot = trimmed.rfind('.');
    let last_comma = trimmed.rfind(',');
    let mark = match (last_dot, last_comma) {
        (Some(dot), Some(comma)) => Some(dot.max(comma)),
        (None, Some(comma)) => {
            let decimals = trimmed.len() - comma - 1;
            (trimmed.matches(',').count() == 1 && decimals != 3).then_some(comma)
        }
        (Some(dot), None) => (trimmed.matches('.').count() == 1).then_some(dot),
        (None, None) => None,
    };
    let (int, frac) = match mark {
        Some(at) => (&trimmed[..at], Some(&trimmed[at + 1..])),
        None => (trimmed, None),
    };
    if let Some(frac) = frac {
        if frac.is_empty() || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(unreadable("the decimals are not plain digits"));
        }
    }
    let separators: Vec<char> = int.chars().filter(|c| is_group(*c)).collect();
    if let Some(first) = separators.first() {
        if separators.iter().any(|c| c != first) {
            return Err(unreadable(
                "the thousands are grouped with different separators",
            ));
        }
        let groups: Vec<&str> = int.split(*first).collect();
        let well_grouped = groups.first().is_some_and(|g| (1..=3).contains(&g.len()))
            && groups[1..].iter().all(|g| g.len() == 3)
            && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()));
        if !well_grouped {
            return Err(unreadable(
                "the digits are not grouped in thousands: it may be more than one number",
            ));
        }
    } else if int.is_empty() && frac.is_none() {
        return Err(unreadable("there is no number"));
    }
    let digits: String = int.chars().filter(char::is_ascii_digit).collect();
    let normalised = match frac {
        Some(frac) => format!("{}.{frac}", if digits.is_empty() { "0" } else { &digits }),
        None => digits,
    };
    Decimal::from_str(&normalised).map_err(|e| unreadable(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};

    use super::*;

    fn check(input: &str, expect: Expect) {
        let actual = match parse_money(input) {
            Ok(money) => money.to_string(),
            Err(err) => format!("error: {err}"),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn a_minimum_price_is_read_as_one_and_plain_prices_are_not() {
        let read = |text: &str| match parse_price(text) {
            Ok((money, minimum)) => format!("{money} minimum={minimum}"),
            Err(err) => format!("error: {err}"),
        };
        assert_eq!(read("From: 25 $"), "25 USD minimum=true");
        assert_eq!(read("from 0.01 BTC"), "0.01 BTC minimum=true");
        assert_eq!(read("ab 20 €"), "20 EUR minimum=true");
        assert_eq!(read("25 $"), "25 USD minimum=false");
        assert!(
            read("Fromage 25 $").starts_with("error"),
            "{}",
            read("Fromage 25 $")
        );
        assert!(
            parse_money("From: 25 $").is_err(),
            "a plain amount refuses the marker"
        );
    }

    #[test]
    fn symbols_codes_and_separators() {
        check("฿0.000272", expect!["0.000272 BTC"]);
        check("USD 49.00", expect!["49.00 USD"]);
        check("$49", expect!["49 USD"]);
        check("0.0093 BTC", expect!["0.0093 BTC"]);
        check("€ 12,50", expect!["12.50 EUR"]);
        check("1,234.56 USD", expect!["1234.56 USD"]);
        check("EUR 1.234,56", expect!["1234.56 EUR"]);
        check("£1,000", expect!["1000 GBP"]);
        check("12 mBTC", expect!["0.012 BTC"]);
        check("  $ 5.00  USD ", expect!["5.00 USD"]);
        check("0.5 XMR", expect!["0.5 XMR"]);
        check("USD: 200", expect!["200 USD"]);
        check("$.50", expect!["0.50 USD"]);
    }

    #[test]
    fn unreadable_money_says_why() {
        check(
            "",
            expect![[r#"error: cannot read money from "": it is empty"#]],
        );
        check(
            "free",
            expect![[r#"error: cannot read money from "free": there is no number"#]],
        );
        check(
            "49.00",
            expect![[r#"error: cannot read money from "49.00": no currency is given"#]],
        );
        check(
            "$49 EUR",
            expect![[r#"error: cannot read money from "$49 EUR": two different currencies"#]],
        );
        check(
            "49 ¥¥",
            expect![[r#"error: cannot read money from "49 ¥¥": unknown currency "¥¥""#]],
        );
        check(
            "485.00 USD/112g",
            expect![[
                r#"error: cannot read money from "485.00 USD/112g": a price per unit ("/112g"), not a plain amount: read the unit apart from the price"#
            ]],
        );
        check(
            "$10 per gram",
            expect![[
                r#"error: cannot read money from "$10 per gram": a price per unit ("per gram"), not a plain amount: read the unit apart from the price"#
            ]],
        );
        check(
            "49 USDG",
            expect![[r#"error: cannot read money from "49 USDG": unknown currency "USDG""#]],
        );
        check(
            "12 ABC",
            expect![[r#"error: cannot read money from "12 ABC": unknown currency "ABC""#]],
        );
        check(
            "-$5",
            expect![[r#"error: cannot read money from "-$5": prices are never negative"#]],
        );
    }

    #[test]
    fn decimals() {
        for (text, expected) in [
            ("1,234", "1234"),
            ("1.234.567", "1234567"),
            ("12,5", "12.5"),
            ("1 234,5", "1234.5"),
            ("1'234.5", "1234.5"),
            ("0.000272", "0.000272"),
        ] {
            assert_eq!(parse_decimal(text).unwrap().to_string(), expected, "{text}");
        }
        assert!(parse_decimal("1e5").is_err());
        assert!(parse_decimal(",").is_err());
    }
}
