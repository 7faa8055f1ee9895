//! The drift signal: per market and page kind, the share of pages on which each field the
//! definition promises was found. A field whose yield falls from near 1 to near 0 between crawls
//! means the market changed its layout.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Market, ParsedPage};

/// Field yields accumulated over a run of parsed pages.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FieldYield {
    /// (market, page kind) -> pages seen and, per field, pages where it was found.
    pub kinds: BTreeMap<String, KindYield>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KindYield {
    pub pages: u64,
    pub found: BTreeMap<String, u64>,
}

impl FieldYield {
    /// Counts one page: every field the market defines for the page's kind, found or not.
    pub fn add(&mut self, market: Option<&Market>, page: &ParsedPage) {
        let key = format!(
            "{}/{}",
            page.market.as_deref().unwrap_or("-"),
            page.page_kind.as_str()
        );
        let entry = self.kinds.entry(key).or_default();
        entry.pages += 1;
        if let Some(market) = market {
            for name in market.field_names(page.page_kind) {
                let count = entry.found.entry(name.to_string()).or_insert(0);
                if page.fields.get(name).is_some_and(is_found) {
                    *count += 1;
                }
            }
        }
    }

    /// One line per market, page kind and field: `market/kind field found/pages (share)`.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (key, kind) in &self.kinds {
            for (field, found) in &kind.found {
                lines.push(format!(
                    "{key} {field} {found}/{} ({:.0} %)",
                    kind.pages,
                    100.0 * *found as f64 / kind.pages.max(1) as f64
                ));
            }
        }
        lines
    }
}

/// A field counts as found when it has a value: null, an empty text, list or object (an optional
/// field that came out empty) is *not found*, so a disappearing optional field shows in the
/// yield.
fn is_found(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_optional_field_that_comes_out_empty_is_not_found() {
        let market = Market::from_toml(
            "y.toml",
            "name = \"y\"\nhosts = [\"y.onion\"]\n[[page_kinds]]\nkind = \"listing\"\nselector = \"h1\"\n\
             [fields.listing.title]\nselector = \"h1\"\n\
             [fields.listing.ships_to]\nselector = \"li.to\"\nall = true\noptional = true\n\
             [fields.listing.unit]\nselector = \"b.unit\"\noptional = true\n",
        )
        .unwrap();
        let mut yields = FieldYield::default();
        for html in [
            "<h1>A</h1><ul><li class=to>NL</li></ul><b class=unit>gram</b>",
            "<h1>B</h1>",
            "<h1>C</h1><b class=unit> </b>",
        ] {
            let page = crate::parse_page(html, Some(&market), crate::Limits::default());
            yields.add(Some(&market), &page);
        }
        assert_eq!(
            yields.lines(),
            [
                "y/listing ships_to 1/3 (33 %)",
                "y/listing title 3/3 (100 %)",
                "y/listing unit 1/3 (33 %)"
            ]
        );
    }
}
