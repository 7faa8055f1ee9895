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
                if page.fields.contains_key(name) {
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
