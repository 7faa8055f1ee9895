//! dnmscope's page parsing, sans IO.
//!
//! - [`definition`]: market definitions as data (TOML), compiled once into a [`Market`].
//! - [`parse_page`] / [`parse_page_auto`]: classify a page by its content, extract its fields
//!   with the market's selectors into SCHEMA.md's field names, list the links to follow (with
//!   their kind and whether following them is safe), and say what could not be read.
//! - [`to_extraction`]: the page's fields as model values (an `Extraction` the store ingests),
//!   normalised, with buyers dropped and non-vendor forum authors pseudonymised.
//! - [`compare`]: SCHEMA.md's comparison rules, for scoring a parser against labelled pages.
//! - [`normalize`]: the normalisation every market shares (money, quantities, countries, dates,
//!   ratings, PGP fingerprints).
//!
//! Parsing never fails and never panics: a page that cannot be read is a [`ParsedPage`] with
//! diagnostics, not an error. A page is cut to [`Limits`] before html5ever sees it.

mod classify;
pub mod compare;
pub mod definition;
mod extract;
mod guard;
pub mod into_model;
pub mod normalize;
mod yields;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use dnmscope_model::PageKind;
use regex::Regex;
use scraper::{ElementRef, Html};
use serde::Serialize;
use serde_json::{Map, Value};

pub use definition::{builtin_markets, DefinitionError, Market};
pub use guard::Limits;
pub use into_model::{to_extraction, PageContext};
pub use yields::FieldYield;

/// What the parser made of one page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedPage {
    /// The market whose definition was used (`None`: generic recognisers only).
    pub market: Option<String>,
    /// `market@version`, stored with the extraction.
    pub parser_version: Option<String>,
    pub page_kind: PageKind,
    /// The fields, named as in SCHEMA.md.
    pub fields: Map<String, Value>,
    pub links: Vec<Link>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A link found on a page, with its kind from the market definition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Link {
    pub url: String,
    pub kind: String,
    /// False for links the crawler must never follow: state-changing actions (log out, add to
    /// cart, vote), links the definition marks, and hidden links (honeypots).
    pub follow: bool,
}

/// Something the parser could not do on a page: which field, which selector, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub field: Option<String>,
    pub selector: Option<String>,
    pub message: String,
}

impl Diagnostic {
    fn page(message: String) -> Diagnostic {
        Diagnostic {
            field: None,
            selector: None,
            message,
        }
    }
}

/// Parses a page with `market`'s definition (or, with `None`, only the generic recognisers).
pub fn parse_page(html: &str, market: Option<&Market>, limits: Limits) -> ParsedPage {
    let (bounded, cut, doc) = prepare(html, limits);
    let mut page = parse_document(&doc, bounded, market);
    if let Some(cut) = cut {
        page.diagnostics.insert(0, Diagnostic::page(cut.reason));
    }
    page
}

/// Recognises the market among `markets` from the page itself, then parses it with that
/// market's definition; a page no definition recognises gets the generic recognisers.
pub fn parse_page_auto(html: &str, markets: &[Market], limits: Limits) -> ParsedPage {
    let (bounded, cut, doc) = prepare(html, limits);
    // The most specific match; among equals, the first in order.
    let mut market = None;
    let mut best = 0;
    for candidate in markets {
        let score = classify::recognition_score(candidate, &doc, bounded);
        if score > best {
            best = score;
            market = Some(candidate);
        }
    }
    let mut page = parse_document(&doc, bounded, market);
    if market.is_none() {
        page.diagnostics.push(Diagnostic::page(
            "no market definition recognises this page; generic recognisers only".into(),
        ));
    }
    if let Some(cut) = cut {
        page.diagnostics.insert(0, Diagnostic::page(cut.reason));
    }
    page
}

fn prepare(html: &str, limits: Limits) -> (&str, Option<guard::Cut>, Html) {
    let (bounded, cut) = guard::bound(html, limits);
    let doc = Html::parse_document(bounded);
    (bounded, cut, doc)
}

fn parse_document(doc: &Html, source: &str, market: Option<&Market>) -> ParsedPage {
    let (page_kind, rule) = classify::classify(doc, source, market);
    let mut diagnostics = Vec::new();
    let mut fields = Map::new();
    let mut links = Vec::new();
    if page_kind == PageKind::Unknown {
        diagnostics.push(Diagnostic::page(format!("unclassified page: {rule}")));
    }
    if let Some(market) = market {
        if let Some(specs) = market.fields.get(&page_kind) {
            extract::extract_fields(doc.root_element(), specs, "", &mut fields, &mut diagnostics);
        }
        links = find_links(doc, market);
    }
    add_pgp_fingerprint(&mut fields, &mut diagnostics);
    ParsedPage {
        market: market.map(|m| m.name.clone()),
        parser_version: market.map(Market::parser_version),
        page_kind,
        fields,
        links,
        diagnostics,
    }
}

/// A vendor's armored key also yields its fingerprint (`pgp_fingerprint`, not in SCHEMA.md).
fn add_pgp_fingerprint(fields: &mut Map<String, Value>, diagnostics: &mut Vec<Diagnostic>) {
    let Some(Value::String(key)) = fields.get("pgp_key") else {
        return;
    };
    match normalize::pgp_fingerprint(key) {
        Ok(fingerprint) => {
            fields.insert(
                "pgp_fingerprint".into(),
                Value::String(fingerprint.to_string()),
            );
        }
        Err(err) => diagnostics.push(Diagnostic {
            field: Some("pgp_key".into()),
            selector: None,
            message: err.to_string(),
        }),
    }
}

static UNSAFE_HREF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(log_?out|sign_?out|delete|remove|cancel|add_?favou?rite|add_?block|addtocart|add_to_cart|/cart\b|checkout|withdraw|vote|uplike|dislike|report)")
        .expect("a valid pattern")
});

fn find_links(doc: &Html, market: &Market) -> Vec<Link> {
    let hidden = HiddenByStyle::of(doc);
    let mut seen = BTreeSet::new();
    let mut links = Vec::new();
    for rule in &market.links {
        for el in doc.select(&rule.selector) {
            let Some(href) = el.value().attr("href") else {
                continue;
            };
            let href = href.trim();
            if href.is_empty() || href.starts_with('#') || href.starts_with("javascript:") {
                continue;
            }
            if rule.href.as_ref().is_some_and(|r| !r.is_match(href)) {
                continue;
            }
            let follow = rule.follow && !UNSAFE_HREF.is_match(href) && !is_hidden(el, &hidden);
            if seen.insert((href.to_string(), rule.kind.clone())) {
                links.push(Link {
                    url: href.to_string(),
                    kind: rule.kind.clone(),
                    follow,
                });
            }
        }
    }
    links
}

static STYLE: LazyLock<scraper::Selector> =
    LazyLock::new(|| scraper::Selector::parse("style").expect("a valid selector"));
static STYLE_RULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([^{}]+)\{([^{}]*)\}").expect("a valid pattern"));
static HIDING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)display\s*:\s*none|visibility\s*:\s*hidden").expect("a valid pattern")
});
static SIMPLE_SELECTOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-zA-Z0-9]*([.#])([A-Za-z_][\w-]*)$").expect("a valid pattern")
});

/// Classes and ids the page's own `<style>` blocks hide (`.aux { display: none }`): a link
/// inside one is as hidden as one with an inline style.
#[derive(Default)]
struct HiddenByStyle {
    classes: BTreeSet<String>,
    ids: BTreeSet<String>,
}

impl HiddenByStyle {
    fn of(doc: &Html) -> HiddenByStyle {
        let mut hidden = HiddenByStyle::default();
        for style in doc.select(&STYLE) {
            let css: String = style.text().collect();
            for rule in STYLE_RULE.captures_iter(&css) {
                if !HIDING.is_match(&rule[2]) {
                    continue;
                }
                for selector in rule[1].split(',') {
                    // The last compound of a selector names the hidden element
                    // (`div.footer .aux` hides `.aux` inside the footer; taken as `.aux`).
                    let last = selector.split_whitespace().last().unwrap_or("");
                    if let Some(caps) = SIMPLE_SELECTOR.captures(last) {
                        let set = if &caps[1] == "." {
                            &mut hidden.classes
                        } else {
                            &mut hidden.ids
                        };
                        set.insert(caps[2].to_string());
                    }
                }
            }
        }
        hidden
    }
}

/// Hidden from a person (a honeypot for crawlers): the element or an ancestor is hidden, by an
/// attribute, an inline style or a class or id the page's stylesheet hides.
fn is_hidden(el: ElementRef<'_>, by_style: &HiddenByStyle) -> bool {
    std::iter::once(*el)
        .chain(el.ancestors())
        .filter_map(|node| node.value().as_element())
        .any(|e| {
            e.attr("hidden").is_some()
                || e.classes().any(|c| by_style.classes.contains(c))
                || e.id().is_some_and(|id| by_style.ids.contains(id))
                || e.attr("style").is_some_and(|style| {
                    let style: String = style
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect::<String>()
                        .to_lowercase();
                    style.contains("display:none") || style.contains("visibility:hidden")
                })
        })
}
