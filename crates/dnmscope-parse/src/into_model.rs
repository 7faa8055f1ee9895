//! From SCHEMA.md fields to the model: a [`ParsedPage`] becomes an [`Extraction`] the store can
//! ingest. Values are normalised here (money, countries, quantities, dates, PGP fingerprints);
//! a value that cannot be read becomes a diagnostic, never a failure.
//!
//! Research ethics are enforced at this boundary: feedback rows keep no buyer at all, and a forum
//! author who is not a vendor is kept only as a keyed pseudonym.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dnmscope_model::{
    Author, Currency, DisputeCounts, ExternalRating, Extraction, FeedbackCounts, FeedbackEntry,
    FeedbackRating, ForumPost, ForumThread, Listing, MarketEvent, MarketEventKind, MarketName,
    Money, PageKind, PriceTier, Pseudonym, PseudonymKey, ShippingOption, Vendor,
};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::normalize::{find_quantity, parse_country, parse_date, parse_decimal, pgp_key_facts};
use crate::ParsedPage;

/// Where a page came from: what the conversion needs beyond the page.
#[derive(Debug, Clone, Copy)]
pub struct PageContext<'a> {
    pub market: &'a MarketName,
    /// The URL the page was fetched from (its path keys listings, vendors and threads).
    pub url: &'a str,
    /// When the page was fetched: relative dates ("3 days ago") count back from it.
    pub captured_at: DateTime<Utc>,
    /// The key that pseudonymises forum authors who are not vendors.
    pub pseudonyms: &'a PseudonymKey,
}

/// The model's view of a parsed page.
pub fn to_extraction(page: &ParsedPage, ctx: &PageContext<'_>) -> Extraction {
    let version = page
        .parser_version
        .clone()
        .unwrap_or_else(|| "generic@1".to_owned());
    let mut out = Extraction::empty(page.page_kind, &version);
    out.diagnostics = page
        .diagnostics
        .iter()
        .map(|d| match (&d.field, &d.selector) {
            (Some(field), Some(selector)) => format!("{field} ({selector}): {}", d.message),
            (Some(field), None) => format!("{field}: {}", d.message),
            _ => d.message.clone(),
        })
        .collect();
    let mut cx = Converter {
        ctx,
        diagnostics: &mut out.diagnostics,
    };
    let fields = &page.fields;
    let path = url_path(ctx.url);
    match page.page_kind {
        PageKind::Listing => {
            let listing = cx.listing(fields, &path);
            let vendor = listing.vendor.clone();
            out.feedback = cx.feedback_rows(
                fields.get("feedback"),
                vendor.as_deref(),
                Some(&listing.key),
            );
            out.listings.push(listing);
        }
        PageKind::Vendor | PageKind::PgpKey => {
            if let Some(vendor) = cx.vendor(fields, &path) {
                out.feedback = cx.feedback_rows(fields.get("feedback"), Some(&vendor.handle), None);
                out.vendors.push(vendor);
            }
        }
        PageKind::Feedback => {
            let handle = text(fields, "name").or_else(|| vendor_from_path(&path));
            out.feedback = cx.feedback_rows(fields.get("feedback"), handle.as_deref(), None);
        }
        PageKind::Search => {
            for row in array(fields, "listings") {
                let Some(row) = row.as_object() else { continue };
                // Keyed as the page it leads to: a relative link (`welcome?listing=7`) is
                // resolved against this page's URL first.
                let url = text(row, "url").map(|href| resolve_link(ctx.url, &href));
                let key = url.as_deref().map(url_path).unwrap_or_default();
                if key.is_empty() {
                    cx.problem("listings", "a summary without a URL is skipped".to_owned());
                    continue;
                }
                out.listings.push(Listing {
                    key,
                    url,
                    title: text(row, "title"),
                    vendor: text(row, "vendor"),
                    price: cx.money(row.get("price"), "listings.price"),
                    ..Listing::default()
                });
            }
        }
        PageKind::ForumThread => {
            let key = path_without_page(&path);
            out.threads.push(ForumThread {
                key: key.clone(),
                url: Some(ctx.url.to_owned()),
                board: text(fields, "board"),
                title: text(fields, "title"),
            });
            for row in array(fields, "posts") {
                let Some(row) = row.as_object() else { continue };
                let Some(body) = text(row, "text") else {
                    cx.problem("posts", "a post without text is skipped".to_owned());
                    continue;
                };
                let author = text(row, "author").map(|handle| {
                    if row.get("author_is_vendor").and_then(Value::as_bool) == Some(true) {
                        Author::Vendor(handle)
                    } else {
                        Author::Pseudonym(Pseudonym::of(ctx.pseudonyms, ctx.market, &handle))
                    }
                });
                out.posts.push(ForumPost {
                    thread_key: key.clone(),
                    key: text(row, "id"),
                    author,
                    date_text: text(row, "date"),
                    text: body,
                });
            }
        }
        PageKind::Seizure => out.events.push(MarketEvent {
            kind: MarketEventKind::SeizureBanner,
            observed_at: ctx.captured_at,
            detail: format!("seizure banner at {}", ctx.url),
        }),
        _ => {}
    }
    out
}

/// `href` as the absolute URL it points to from the page at `base` (RFC 3986 reference
/// resolution, for the forms pages write: absolute, scheme-relative, absolute-path, query-only
/// and relative paths with `.` and `..`). A fragment is dropped.
pub fn resolve_link(base: &str, href: &str) -> String {
    let href = href.trim();
    let href = href.split_once('#').map_or(href, |(before, _)| before);
    if href.contains("://") {
        return href.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let (authority, base_path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    if let Some(other) = href.strip_prefix("//") {
        return format!("{scheme}://{other}");
    }
    let base_path = base_path.split_once('#').map_or(base_path, |(p, _)| p);
    let base_dir_path = base_path.split_once('?').map_or(base_path, |(p, _)| p);
    let joined = if href.is_empty() {
        base_path.to_owned()
    } else if href.starts_with('/') {
        href.to_owned()
    } else if href.starts_with('?') {
        format!("{base_dir_path}{href}")
    } else {
        let dir = &base_dir_path[..base_dir_path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{href}", if dir.is_empty() { "/" } else { dir })
    };
    let (path, query) = match joined.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (joined.as_str(), None),
    };
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    for (index, part) in parts.iter().enumerate() {
        let last = index + 1 == parts.len();
        match *part {
            "." => {
                if last {
                    segments.push("");
                }
            }
            ".." => {
                segments.pop();
                if last {
                    segments.push("");
                }
            }
            other => segments.push(other),
        }
    }
    let mut out = format!("{scheme}://{authority}/{}", segments.join("/"));
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The path and query of a URL, without scheme and host.
fn url_path(url: &str) -> String {
    crate::extract::url_path(url.trim())
}

/// A thread's key: its path without the page number.
fn path_without_page(path: &str) -> String {
    let (base, query) = path.split_once('?').unwrap_or((path, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            !matches!(pair.split('=').next(), Some("page" | "pg" | "p" | "start"))
                || pair.starts_with("p=thread")
        })
        .collect();
    // Path-style page numbers ("/board/t7/2") stay part of the path: markets that page that way
    // are keyed by the definition's thread id instead when they show one.
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

fn vendor_from_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split(['/', '?', '&', '=']).collect();
    parts
        .windows(2)
        .find(|w| matches!(w[0], "vendor" | "v" | "u"))
        .map(|w| w[1].to_owned())
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => {
            let trimmed = s.trim();
            (!trimmed.is_empty()).then(|| trimmed.to_owned())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn array<'a>(map: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    map.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn number_f64(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_decimal(s.trim())
            .ok()
            .and_then(|d| d.to_string().parse().ok()),
        _ => None,
    }
}

fn unsigned(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok(),
        _ => None,
    }
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => parse_decimal(s.trim()).ok(),
        _ => None,
    }
}

struct Converter<'c, 'd> {
    ctx: &'c PageContext<'c>,
    diagnostics: &'d mut Vec<String>,
}

impl Converter<'_, '_> {
    fn problem(&mut self, field: &str, message: String) {
        self.diagnostics.push(format!("{field}: {message}"));
    }

    fn money(&mut self, value: Option<&Value>, field: &str) -> Option<Money> {
        let object = value?.as_object()?;
        if object.get("minimum") == Some(&Value::Bool(true)) {
            self.problem(
                field,
                format!(
                    "the price is a minimum (\"From: …\"), not one offer's price, so it is not \
                     stored as the price: {}",
                    Value::Object(object.clone())
                ),
            );
            return None;
        }
        let amount = object.get("amount").and_then(decimal);
        let currency = object.get("currency").and_then(Value::as_str);
        match (amount, currency) {
            (Some(amount), Some(currency)) => {
                match Currency::new(currency).and_then(|c| Money::from_decimal(amount, c)) {
                    Ok(money) => Some(money),
                    Err(err) => {
                        self.problem(field, err.to_string());
                        None
                    }
                }
            }
            _ => {
                self.problem(
                    field,
                    format!(
                        "not an amount and a currency: {}",
                        Value::Object(object.clone())
                    ),
                );
                None
            }
        }
    }

    fn country(&mut self, value: Option<&Value>, field: &str) -> Option<dnmscope_model::Country> {
        let text = value?.as_str()?;
        match parse_country(text) {
            Ok(country) => Some(country),
            Err(err) => {
                self.problem(field, err.to_string());
                None
            }
        }
    }

    fn listing(&mut self, fields: &Map<String, Value>, path: &str) -> Listing {
        let title = text(fields, "title");
        let quantity = title.as_deref().and_then(|t| find_quantity(t).ok());
        let ships_to = array(fields, "ships_to")
            .iter()
            .filter_map(|v| self.country(Some(v), "ships_to"))
            .collect();
        let mut accepted_currencies = Vec::new();
        for value in array(fields, "accepted_currencies") {
            match value.as_str().map(Currency::new) {
                Some(Ok(currency)) => accepted_currencies.push(currency),
                Some(Err(err)) => self.problem("accepted_currencies", err.to_string()),
                None => {}
            }
        }
        let mut shipping_options = Vec::new();
        for row in array(fields, "shipping_options")
            .iter()
            .filter_map(Value::as_object)
        {
            if let Some(name) = text(row, "name") {
                shipping_options.push(ShippingOption {
                    name,
                    price: self.money(row.get("price"), "shipping_options.price"),
                });
            }
        }
        let mut price_tiers = Vec::new();
        for row in array(fields, "price_tiers")
            .iter()
            .filter_map(Value::as_object)
        {
            let quantity = row.get("quantity").and_then(decimal);
            let price = self.money(row.get("price"), "price_tiers.price");
            if let (Some(quantity), Some(price)) = (quantity, price) {
                price_tiers.push(PriceTier { quantity, price });
            }
        }
        let mut exchange_rates = BTreeMap::new();
        if let Some(rates) = fields.get("exchange_rates").and_then(Value::as_object) {
            for (code, rate) in rates {
                match (Currency::new(code), decimal(rate)) {
                    (Ok(currency), Some(rate)) => {
                        exchange_rates.insert(currency, rate);
                    }
                    _ => self.problem("exchange_rates", format!("unreadable rate {code}: {rate}")),
                }
            }
        }
        let stock = match fields.get("quantity_in_stock") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(value) => unsigned(Some(value)).map(Some),
        };
        Listing {
            key: path.to_owned(),
            url: Some(self.ctx.url.to_owned()),
            title,
            vendor: text(fields, "vendor"),
            category: array(fields, "category")
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            price: self.money(fields.get("price"), "price"),
            other_prices: Vec::new(),
            price_tiers,
            quantity,
            ships_from: self.country(fields.get("ships_from"), "ships_from"),
            ships_to,
            shipping_options,
            accepted_currencies,
            escrow: fields.get("escrow").and_then(Value::as_bool),
            finalize_early: fields.get("finalize_early").and_then(Value::as_bool),
            stock,
            sales: unsigned(fields.get("sales")),
            description: text(fields, "description"),
            exchange_rates,
        }
    }

    fn vendor(&mut self, fields: &Map<String, Value>, path: &str) -> Option<Vendor> {
        let Some(handle) = text(fields, "name").or_else(|| vendor_from_path(path)) else {
            self.problem("name", "a vendor page without the vendor's name".to_owned());
            return None;
        };
        let pgp_key = text(fields, "pgp_key");
        let (pgp_fingerprint, pgp_certified_by) = match pgp_key.as_deref().map(pgp_key_facts) {
            Some(Ok((fingerprint, certifiers))) => (Some(fingerprint), certifiers),
            Some(Err(err)) => {
                self.problem("pgp_key", err.to_string());
                (None, Vec::new())
            }
            None => (None, Vec::new()),
        };
        let counts = fields.get("feedback_counts").and_then(Value::as_object);
        let disputes = fields.get("disputes").and_then(Value::as_object);
        Some(Vendor {
            handle,
            url: Some(self.ctx.url.to_owned()),
            rating: number_f64(fields.get("rating")),
            positive_percent: number_f64(fields.get("positive_percent")),
            sales: unsigned(fields.get("sales")),
            feedback_counts: counts.map(|c| FeedbackCounts {
                positive: unsigned(c.get("positive")).unwrap_or(0),
                neutral: unsigned(c.get("neutral")).unwrap_or(0),
                negative: unsigned(c.get("negative")).unwrap_or(0),
            }),
            level: text(fields, "level"),
            pgp_fingerprint,
            pgp_certified_by,
            pgp_key,
            registered: text(fields, "registered"),
            last_seen: text(fields, "last_seen"),
            external_ratings: array(fields, "external_ratings")
                .iter()
                .filter_map(Value::as_object)
                .filter_map(|r| {
                    Some(ExternalRating {
                        market: text(r, "market")?,
                        text: text(r, "text").unwrap_or_default(),
                    })
                })
                .collect(),
            about: text(fields, "about"),
            terms: text(fields, "terms"),
            disputes: disputes.map(|d| DisputeCounts {
                won: unsigned(d.get("won")).unwrap_or(0),
                lost: unsigned(d.get("lost")).unwrap_or(0),
            }),
            status: text(fields, "status").map(|s| s.to_lowercase()),
        })
    }

    fn feedback_rows(
        &mut self,
        rows: Option<&Value>,
        vendor: Option<&str>,
        listing: Option<&str>,
    ) -> Vec<FeedbackEntry> {
        let mut out = Vec::new();
        for row in rows
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(Value::as_object)
        {
            let rating = match row.get("rating") {
                Some(Value::String(word)) => match word.trim().to_lowercase().as_str() {
                    "positive" => Some(FeedbackRating::Positive),
                    "neutral" => Some(FeedbackRating::Neutral),
                    "negative" => Some(FeedbackRating::Negative),
                    other => decimal(&Value::String(other.to_owned())).map(FeedbackRating::Score),
                },
                Some(value) => decimal(value).map(FeedbackRating::Score),
                None => None,
            };
            let rating = match rating {
                Some(rating) => rating,
                None => {
                    self.problem(
                        "feedback.rating",
                        format!(
                            "unreadable rating {}: the row is kept with rating unknown",
                            row.get("rating")
                                .map_or("(none)".to_owned(), Value::to_string)
                        ),
                    );
                    FeedbackRating::Unknown
                }
            };
            let date_text = text(row, "date");
            let parsed_date = match date_text.as_deref() {
                Some(d) => match parse_date(d, self.ctx.captured_at) {
                    Ok(parsed) => Some(parsed),
                    Err(err) => {
                        self.problem("feedback.date", err.to_string());
                        None
                    }
                },
                None => None,
            };
            out.push(FeedbackEntry {
                vendor: vendor.map(str::to_owned),
                listing_key: listing.map(str::to_owned),
                rating,
                text: text(row, "text").unwrap_or_default(),
                date_text,
                left_on: parsed_date.map(|d| d.date),
                left_on_within_days: parsed_date.map_or(0, |d| d.within_days),
                item: text(row, "item"),
                price: self.money(row.get("price"), "feedback.price"),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{builtin_markets, parse_page, Limits, Market};

    #[test]
    fn relative_links_resolve_against_the_page() {
        let cases = [
            (
                "http://e.onion/welcome?action=search&q=x",
                "welcome?action=show&listing=7",
                "http://e.onion/welcome?action=show&listing=7",
            ),
            (
                "http://e.onion/welcome?action=search",
                "?action=show&listing=7",
                "http://e.onion/welcome?action=show&listing=7",
            ),
            (
                "http://e.onion/a/b/c.html",
                "../d.html",
                "http://e.onion/a/d.html",
            ),
            ("http://e.onion/a/b/", "./d", "http://e.onion/a/b/d"),
            ("http://e.onion/a/b", "/x?y=1#frag", "http://e.onion/x?y=1"),
            ("http://e.onion/a", "//f.onion/z", "http://f.onion/z"),
            ("http://e.onion/a", "http://g.onion/q", "http://g.onion/q"),
            ("http://e.onion", "listing/3", "http://e.onion/listing/3"),
            ("http://e.onion/a/b", "../../../x", "http://e.onion/x"),
        ];
        for (base, href, want) in cases {
            assert_eq!(resolve_link(base, href), want, "{href} from {base}");
        }
    }

    #[test]
    fn a_search_result_and_the_listing_it_links_are_one_listing() {
        let market = Market::from_toml(
            "r.toml",
            "name = \"r\"\nhosts = [\"r.onion\"]\n\
             [[page_kinds]]\nkind = \"search\"\nselector = \"ul.results\"\n\
             [[page_kinds]]\nkind = \"listing\"\nselector = \"h1.item\"\n\
             [fields.search.listings]\nselector = \"ul.results li\"\n\
             fields.title = { selector = \"a\" }\nfields.url = { selector = \"a\", attr = \"href\" }\n\
             [fields.listing.title]\nselector = \"h1.item\"\n",
        )
        .unwrap();
        let key = PseudonymKey::from_bytes([7; 32]);
        let name = MarketName::new("r").unwrap();
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2019, 3, 20, 12, 0, 0).unwrap();
        let extract = |html: &str, url: &str| {
            let page = parse_page(html, Some(&market), Limits::default());
            to_extraction(
                &page,
                &PageContext {
                    market: &name,
                    url,
                    captured_at: at,
                    pseudonyms: &key,
                },
            )
        };
        let search = extract(
            "<ul class=results><li><a href=\"welcome?action=show&amp;listing=7\">Seven</a></li></ul>",
            "http://r.onion/welcome?action=search&q=s",
        );
        let listing = extract(
            "<h1 class=item>Seven</h1>",
            "http://r.onion/welcome?action=show&listing=7",
        );
        assert_eq!(search.listings[0].key, listing.listings[0].key);
        assert_eq!(search.listings[0].key, "/welcome?action=show&listing=7");
    }

    #[test]
    fn a_simulated_listing_and_thread_become_model_values() {
        let markets = builtin_markets().unwrap();
        let nightshade = markets.iter().find(|m| m.name == "nightshade").unwrap();
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/sim/nightshade/pages");
        let key = PseudonymKey::from_bytes([7; 32]);
        let market = MarketName::new("nightshade").unwrap();
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2019, 3, 20, 12, 0, 0).unwrap();
        let mut saw_listing = false;
        let mut saw_thread = false;
        for entry in std::fs::read_dir(root).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let html = std::fs::read_to_string(&path).unwrap();
            let page = parse_page(&html, Some(nightshade), Limits::default());
            let url = format!("http://x.onion/{name}");
            let ctx = PageContext {
                market: &market,
                url: &url,
                captured_at: at,
                pseudonyms: &key,
            };
            let extraction = to_extraction(&page, &ctx);
            if name.starts_with("listing_") {
                saw_listing = true;
                let listing = &extraction.listings[0];
                assert!(
                    listing.price.is_some()
                        && listing.ships_from.is_some()
                        && listing.quantity.is_some(),
                    "{listing:?}"
                );
                assert!(!listing.exchange_rates.is_empty());
                assert!(extraction
                    .feedback
                    .iter()
                    .all(|f| f.vendor == listing.vendor && f.left_on.is_some()));
            }
            if name.starts_with("thread_") {
                saw_thread = true;
                assert!(!extraction.posts.is_empty());
                for post in &extraction.posts {
                    match post.author.as_ref().unwrap() {
                        Author::Vendor(handle) => assert!(
                            html.contains(&format!(">{handle}</a> <span class=\"tag\">Vendor"))
                        ),
                        Author::Pseudonym(p) => assert!(p.as_str().starts_with("p:")),
                    }
                }
            }
            if name.starts_with("vendor_") {
                let vendor = &extraction.vendors[0];
                assert!(
                    vendor.pgp_fingerprint.is_some()
                        && vendor.feedback_counts.is_some()
                        && vendor.disputes.is_some(),
                    "{vendor:?}"
                );
            }
            assert!(
                extraction.diagnostics.is_empty(),
                "{name}: {:?}",
                extraction.diagnostics
            );
        }
        assert!(saw_listing && saw_thread);
    }
}
