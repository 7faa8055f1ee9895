//! SCHEMA.md's comparison rules, and scoring one parsed page against its expected values.
//!
//! Strings compare after trimming and collapsing white space; numbers within 0.5 % relative
//! tolerance; country fields after mapping both sides to ISO 3166-1 codes (region words kept as
//! upper-case words); lists as sets, except the ordered ones (`category`, `feedback`,
//! `listings`, `posts`); objects on the keys the expected side has.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::normalize::{collapse_whitespace, parse_country};
use crate::ParsedPage;

/// Lists whose order matters.
const ORDERED: &[&str] = &["category", "feedback", "listings", "posts"];
/// Fields whose strings are countries.
const COUNTRIES: &[&str] = &["ships_from", "ships_to"];

/// One expected value and whether the parser matched it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldScore {
    pub field: String,
    pub matched: bool,
    pub expected: Value,
    /// What the parser found (`None`: the field is missing).
    pub actual: Option<Value>,
    /// For a list of records: every key of every expected item, scored on its own (an item's
    /// key counts as found only when the parsed item has it). Empty for other fields.
    pub items: Vec<ItemScore>,
    /// For a list: how many items each side has.
    pub lengths: Option<(usize, usize)>,
}

/// One key of one item of a list of records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemScore {
    pub index: usize,
    pub key: String,
    pub matched: bool,
    pub expected: Value,
    pub actual: Option<Value>,
}

/// Scores a list of records item by item: ordered lists pair items by position, the others pair
/// each expected item with an equal parsed item if there is one, else with the one at its
/// position.
fn score_items(field: &str, expected: &[Value], actual: Option<&Value>) -> Vec<ItemScore> {
    let actual_items: &[Value] = match actual {
        Some(Value::Array(items)) => items,
        _ => &[],
    };
    let mut scores = Vec::new();
    for (index, item) in expected.iter().enumerate() {
        let Value::Object(keys) = item else { continue };
        let partner = if ORDERED.contains(&field) {
            actual_items.get(index)
        } else {
            actual_items
                .iter()
                .find(|a| values_match(field, item, a))
                .or_else(|| actual_items.get(index))
        };
        for (key, value) in keys {
            let got = partner.and_then(|p| p.get(key));
            let wrapper = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
            let got_wrapper =
                got.map(|g| Value::Object(Map::from_iter([(key.clone(), g.clone())])));
            scores.push(ItemScore {
                index,
                key: key.clone(),
                matched: got_wrapper
                    .as_ref()
                    .is_some_and(|g| values_match(field, &wrapper, g)),
                expected: value.clone(),
                actual: got.cloned(),
            });
        }
    }
    scores
}

/// A page scored against its expected file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageScore {
    pub expected_kind: String,
    pub actual_kind: String,
    pub kind_matched: bool,
    pub fields: Vec<FieldScore>,
}

/// Scores `parsed` against an expected file of SCHEMA.md (`{"page_kind", "fields": {...}}`).
pub fn score_page(expected: &Value, parsed: &ParsedPage) -> PageScore {
    let expected_kind = expected
        .get("page_kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let actual_kind = schema_kind(parsed).to_string();
    let empty = Map::new();
    let expected_fields = expected
        .get("fields")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let fields = expected_fields
        .iter()
        .map(|(name, value)| {
            let actual = parsed.fields.get(name);
            let (items, lengths) = match value {
                Value::Array(expected_items) => (
                    if expected_items.iter().any(Value::is_object) {
                        score_items(name, expected_items, actual)
                    } else {
                        Vec::new()
                    },
                    Some((
                        expected_items.len(),
                        actual.and_then(Value::as_array).map_or(0, Vec::len),
                    )),
                ),
                _ => (Vec::new(), None),
            };
            FieldScore {
                field: name.clone(),
                matched: actual.is_some_and(|a| values_match(name, value, a)),
                expected: value.clone(),
                actual: actual.cloned(),
                items,
                lengths,
            }
        })
        .collect();
    PageScore {
        kind_matched: expected_kind == actual_kind,
        expected_kind,
        actual_kind,
        fields,
    }
}

/// The SCHEMA.md page kind of a parsed page. SCHEMA.md has one `banned` kind for "a page saying
/// a user is banned"; dnmscope tells the two apart: the visitor banned (`PageKind::Banned`, a
/// gate the crawl pauses for) and a vendor the market banned (a `vendor` page with
/// `status = "banned"`, which is observed like any profile). Both are SCHEMA.md's `banned`.
pub fn schema_kind(parsed: &ParsedPage) -> &'static str {
    let vendor_banned = parsed.page_kind == dnmscope_model::PageKind::Vendor
        && parsed
            .fields
            .get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("banned"));
    if vendor_banned {
        "banned"
    } else {
        parsed.page_kind.as_str()
    }
}

/// Whether `actual` matches `expected` for the field `field` under SCHEMA.md's rules.
pub fn values_match(field: &str, expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(e), Value::Bool(a)) => e == a,
        (Value::Number(e), Value::Number(a)) => match (e.as_f64(), a.as_f64()) {
            (Some(e), Some(a)) => numbers_match(e, a),
            _ => false,
        },
        (Value::Number(e), Value::String(a)) => match (e.as_f64(), a.trim().parse::<f64>()) {
            (Some(e), Ok(a)) => numbers_match(e, a),
            _ => false,
        },
        (Value::String(e), Value::String(a)) => strings_match(field, e, a),
        // SCHEMA.md's digest form of a long text.
        (Value::Object(e), Value::String(a)) if e.len() == 1 && e.contains_key("sha256") => e
            .get("sha256")
            .and_then(Value::as_str)
            .is_some_and(|digest| digest.eq_ignore_ascii_case(&text_digest(a))),
        (Value::Array(e), Value::Array(a)) => {
            if ORDERED.contains(&field) {
                e.len() == a.len() && e.iter().zip(a).all(|(e, a)| values_match(field, e, a))
            } else {
                e.iter()
                    .all(|e| a.iter().any(|a| values_match(field, e, a)))
                    && a.iter()
                        .all(|a| e.iter().any(|e| values_match(field, e, a)))
            }
        }
        (Value::Object(e), Value::Object(a)) => e.iter().all(|(key, e)| {
            // Inside a record, the record's own keys decide (a row's `price`).
            let inner = if matches!(
                field,
                "price_tiers" | "shipping_options" | "feedback" | "listings"
            ) {
                key.as_str()
            } else {
                field
            };
            a.get(key).is_some_and(|a| values_match(inner, e, a))
        }),
        _ => false,
    }
}

/// SHA-256 (hex) of a text after trimming and collapsing white space, as SCHEMA.md defines it.
pub fn text_digest(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(collapse_whitespace(text).as_bytes()))
}

fn numbers_match(expected: f64, actual: f64) -> bool {
    if expected == 0.0 {
        return actual.abs() < 1e-12;
    }
    ((actual - expected) / expected).abs() <= 0.005
}

fn strings_match(field: &str, expected: &str, actual: &str) -> bool {
    let (e, a) = (collapse_whitespace(expected), collapse_whitespace(actual));
    if e == a {
        return true;
    }
    if COUNTRIES.contains(&field) {
        if let (Ok(e), Ok(a)) = (parse_country(&e), parse_country(&a)) {
            return e.code() == a.code();
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(field: &str, expected: Value, actual: Value) -> bool {
        values_match(field, &expected, &actual)
    }

    #[test]
    fn a_digest_matches_the_collapsed_text_only() {
        let digest = text_digest("Ships  from\n the NL.");
        assert_eq!(digest, text_digest(" Ships from the NL. "));
        assert!(check(
            "terms",
            json!({"sha256": digest}),
            json!("Ships from\tthe NL.")
        ));
        assert!(!check(
            "terms",
            json!({"sha256": digest}),
            json!("Ships from the UK.")
        ));
        assert!(!check(
            "terms",
            json!({"sha256": digest, "x": 1}),
            json!("Ships from the NL.")
        ));
    }

    #[test]
    fn list_fields_are_scored_item_by_item() {
        let parsed = ParsedPage {
            market: None,
            parser_version: None,
            page_kind: dnmscope_model::PageKind::Feedback,
            fields: serde_json::from_value(json!({"feedback": [
                {"rating": 5, "text": "good"},
                {"rating": 4, "text": "late"},
                {"text": "ok"}
            ]}))
            .unwrap(),
            links: Vec::new(),
            diagnostics: Vec::new(),
            refused: None,
        };
        let expected = json!({"page_kind": "feedback", "fields": {"feedback": [
            {"rating": 5, "text": "good"},
            {"rating": 5, "text": "late"},
            {"rating": 3, "text": "ok"}
        ]}});
        let score = score_page(&expected, &parsed);
        let field = &score.fields[0];
        assert!(!field.matched);
        assert_eq!(field.lengths, Some((3, 3)));
        let wrong: Vec<(usize, &str)> = field
            .items
            .iter()
            .filter(|i| !i.matched)
            .map(|i| (i.index, i.key.as_str()))
            .collect();
        assert_eq!(wrong, [(1, "rating"), (2, "rating")]);
        assert_eq!(field.items.iter().filter(|i| i.matched).count(), 4);
        assert_eq!(field.items[4].key, "rating");
        assert_eq!(field.items[4].actual, None, "item 2 has no rating");
    }

    #[test]
    fn schema_rules() {
        assert!(check("title", json!(" a  b "), json!("a b")));
        assert!(!check("title", json!("a b"), json!("a c")));
        assert!(check(
            "price",
            json!({"amount": 0.0025127, "currency": "BTC"}),
            json!({"amount": 0.00251, "currency": "BTC"})
        ));
        assert!(!check(
            "price",
            json!({"amount": 0.0026, "currency": "BTC"}),
            json!({"amount": 0.00251, "currency": "BTC"})
        ));
        assert!(check("ships_from", json!("CHINA"), json!("China")));
        assert!(check(
            "ships_to",
            json!(["Worldwide"]),
            json!(["World Wide"])
        ));
        assert!(check("ships_to", json!(["A", "B"]), json!(["B", "A"])));
        assert!(!check("category", json!(["A", "B"]), json!(["B", "A"])));
        assert!(!check(
            "ships_to",
            json!(["Germany"]),
            json!(["Germany", "France"])
        ));
        assert!(check("quantity_in_stock", json!(null), json!(null)));
        assert!(!check("quantity_in_stock", json!(8), json!(null)));
        assert!(check(
            "feedback",
            json!([{"rating": 5}]),
            json!([{"rating": 5, "text": "ok"}])
        ));
    }
}
