//! dnmscope's page parsing, sans IO.
//!
//! - [`definition`]: market definitions as data (TOML), compiled once into a [`Market`].
//! - [`parse_page`] / [`parse_page_auto`]: classify a page by its content, extract its fields
//!   with the market's selectors into SCHEMA.md's field names, list the links to follow (with
//!   their kind and whether following them is safe), and say what could not be read.
//! - [`to_extraction`]: the page's fields as model values (an `Extraction` the store ingests),
//!   normalised, with buyers dropped and non-vendor forum authors pseudonymised.
//! - [`redact`]: the people a page names who are not vendors (by the definition's `[[redact]]`
//!   rules) and their replacement in the page's bytes, for pages the project shares.
//! - [`compare`]: SCHEMA.md's comparison rules, for scoring a parser against labelled pages.
//! - [`normalize`]: the normalisation every market shares (money, quantities, countries, dates,
//!   ratings, PGP fingerprints).
//!
//! Parsing never fails and never panics: a page that cannot be read is a [`ParsedPage`] with
//! diagnostics, not an error. A page's tree is bounded by [`Limits`] (bytes read, depth and
//! nodes built, time): a page past them is cut or refused, with a diagnostic.

mod classify;
pub mod compare;
pub mod definition;
mod extract;
mod guard;
pub mod into_model;
pub mod normalize;
pub mod redact;
pub mod safety;
mod select;
mod yields;

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use dnmscope_model::PageKind;
use regex::Regex;
use scraper::{ElementRef, Html};

use crate::select::{Page, Sel};
use serde::Serialize;
use serde_json::{Map, Value};

pub use definition::{builtin_markets, DefinitionError, Market};
pub use guard::Limits;
pub use into_model::{to_extraction, PageContext};
pub use redact::{identifiers_within, redact, Identifier, IdentifierKind, Redacted};
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
    /// Why the parser refused the page (it would cost more than [`Limits`] allow): nothing of it
    /// was read. A caller records the page as refused rather than as an empty page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
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

/// Bare html5ever tree building, nothing else (no limits, no definition): the baseline `bench
/// parse` measures the engine against. The number of nodes built.
pub fn bare_tree(html: &str) -> usize {
    scraper::Html::parse_document(html).tree.nodes().count()
}

/// Parses a page with `market`'s definition (or, with `None`, only the generic recognisers).
pub fn parse_page(html: &str, market: Option<&Market>, limits: Limits) -> ParsedPage {
    let (bounded, cut, doc) = prepare(html, limits);
    let doc = Page::new(&doc);
    let mut page = parse_document(&doc, bounded, market);
    add_cuts(&mut page, cut);
    page
}

/// Recognises the market among `markets` from the page itself, then parses it with that
/// market's definition; a page no definition recognises gets the generic recognisers.
pub fn parse_page_auto(html: &str, markets: &[Market], limits: Limits) -> ParsedPage {
    let (bounded, cut, doc) = prepare(html, limits);
    let doc = Page::new(&doc);
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
    add_cuts(&mut page, cut);
    page
}

/// The outcome for a page nothing was read of: `why` is its reason (the caller's, e.g. the
/// parser crashed on it).
pub fn refused_page(why: String) -> ParsedPage {
    ParsedPage {
        market: None,
        parser_version: None,
        page_kind: PageKind::Unknown,
        fields: Map::new(),
        links: Vec::new(),
        diagnostics: vec![Diagnostic::page(why.clone())],
        refused: Some(why),
    }
}

/// The limits a page reached go first among its diagnostics.
fn add_cuts(page: &mut ParsedPage, cuts: Vec<guard::Cut>) {
    for (i, cut) in cuts.into_iter().enumerate() {
        if cut.refused {
            // Nothing of the page was read: it is no kind of page, whatever an empty document
            // would be classified as.
            page.refused = Some(cut.reason.clone());
            page.page_kind = PageKind::Unknown;
            page.fields.clear();
            page.links.clear();
        }
        page.diagnostics.insert(i, Diagnostic::page(cut.reason));
    }
}

fn prepare(html: &str, limits: Limits) -> (&str, Vec<guard::Cut>, Html) {
    let (doc, bounded, cut) = guard::parse_bounded(html, limits);
    (bounded, cut, doc)
}

fn parse_document(doc: &Page<'_>, source: &str, market: Option<&Market>) -> ParsedPage {
    let (page_kind, rule) = classify::classify(doc, source, market);
    let mut diagnostics = Vec::new();
    let mut fields = Map::new();
    let mut links = Vec::new();
    if page_kind == PageKind::Unknown {
        diagnostics.push(Diagnostic::page(format!("unclassified page: {rule}")));
    }
    if let Some(market) = market {
        if let Some(specs) = market.fields.get(&page_kind) {
            extract::extract_fields(
                doc,
                doc.doc.root_element(),
                specs,
                "",
                &mut fields,
                &mut diagnostics,
            );
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
        refused: None,
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

fn find_links(doc: &Page<'_>, market: &Market) -> Vec<Link> {
    let hidden = HiddenByStyle::of(doc);
    // Whether each element looked at so far is hidden (links share their ancestors).
    let mut hidden_memo = HashMap::new();
    let mut seen = HashSet::new();
    let mut links = Vec::new();
    for rule in &market.links {
        for el in doc.select(None, &rule.selector) {
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
            // The first link to a target, of a kind, says whether it is followed.
            if !seen.insert((href, rule.kind.as_str())) {
                continue;
            }
            let follow = rule.follow
                && safety::state_changing(href).is_none()
                && !submits(el)
                && !is_hidden(el, &hidden, &mut hidden_memo);
            links.push(Link {
                url: href.to_string(),
                kind: rule.kind.clone(),
                follow,
            });
        }
    }
    links
}

static STYLE: LazyLock<Sel> = LazyLock::new(|| Sel::parse("style").expect("a valid selector"));
static STYLE_RULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([^{}]+)\{([^{}]*)\}").expect("a valid pattern"));
static COMPOUND_PART: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([.#])([A-Za-z_][\w-]*)").expect("a valid pattern"));
static COMPOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-zA-Z0-9]*(?:[.#][A-Za-z_][\w-]*)+$").expect("a valid pattern")
});
static OFF_SCREEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^-\d{3,}(\.\d+)?(px|em|rem|pt|vw|vh|%)?$").expect("a valid pattern")
});

/// Whether CSS declarations (`display: none; ...`) hide an element from a person: not displayed,
/// invisible, fully transparent, moved off the screen, clipped away, or of zero size.
fn css_hides(declarations: &str) -> bool {
    let mut zero_width = false;
    let mut zero_height = false;
    for declaration in declarations.split(';') {
        let Some((property, value)) = declaration.split_once(':') else {
            continue;
        };
        let property = property.trim().to_ascii_lowercase();
        let value: String = value
            .to_ascii_lowercase()
            .replace("!important", "")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let zero = matches!(value.as_str(), "0" | "0px" | "0em" | "0rem" | "0%" | "0pt");
        match property.as_str() {
            "display" if value == "none" => return true,
            "visibility" if value == "hidden" || value == "collapse" => return true,
            "opacity" if value.parse::<f64>().is_ok_and(|o| o <= 0.01) || value == "0%" => {
                return true
            }
            "left" | "top" | "right" | "bottom" | "text-indent" | "margin-left" | "margin-top"
                if OFF_SCREEN.is_match(&value) =>
            {
                return true
            }
            "transform" if value.contains("scale(0") || value.contains("-9999") => return true,
            "clip"
                if value.replace(' ', "").starts_with("rect(0,0,0,0")
                    || value.replace(' ', "") == "rect(0px,0px,0px,0px)" =>
            {
                return true
            }
            "clip-path" if value.contains("inset(50%") || value.contains("circle(0") => {
                return true
            }
            "font-size" if zero => return true,
            "width" | "max-width" if zero => zero_width = true,
            "height" | "max-height" if zero => zero_height = true,
            _ => {}
        }
    }
    zero_width || zero_height
}

/// The class and id compounds the page's own `<style>` blocks hide (`.aux { display: none }`,
/// `a.hp.x { opacity: 0 }`): a link inside one is as hidden as one with an inline style.
#[derive(Default)]
struct HiddenByStyle {
    /// Each entry: the classes and the id an element must all have to be hidden.
    compounds: Vec<(Vec<String>, Option<String>)>,
}

impl HiddenByStyle {
    fn of(doc: &Page<'_>) -> HiddenByStyle {
        let mut hidden = HiddenByStyle::default();
        for style in doc.select(None, &STYLE) {
            let css: String = style.text().collect();
            for rule in STYLE_RULE.captures_iter(&css) {
                if !css_hides(&rule[2]) {
                    continue;
                }
                for selector in rule[1].split(',') {
                    // The last compound of a selector names the hidden element
                    // (`div.footer .aux` hides `.aux` inside the footer; taken as `.aux`).
                    let last = selector.split_whitespace().last().unwrap_or("");
                    let last = last.rsplit(['>', '+', '~']).next().unwrap_or("");
                    if !COMPOUND.is_match(last) {
                        continue;
                    }
                    let mut classes = Vec::new();
                    let mut id = None;
                    for part in COMPOUND_PART.captures_iter(last) {
                        if &part[1] == "." {
                            classes.push(part[2].to_string());
                        } else {
                            id = Some(part[2].to_string());
                        }
                    }
                    hidden.compounds.push((classes, id));
                }
            }
        }
        hidden
    }

    fn hides(&self, element: &scraper::node::Element) -> bool {
        self.compounds.iter().any(|(classes, id)| {
            classes
                .iter()
                .all(|c| element.has_class(c, scraper::CaseSensitivity::CaseSensitive))
                && id.as_deref().is_none_or(|id| element.id() == Some(id))
        })
    }
}

/// Hidden from a person (a honeypot for crawlers): the element or an ancestor is hidden, by the
/// `hidden` or `aria-hidden` attribute, an inline style, or a class or id the page's stylesheet
/// hides. `memo` keeps each element's answer for the page's other links.
fn is_hidden(
    el: ElementRef<'_>,
    by_style: &HiddenByStyle,
    memo: &mut HashMap<ego_tree::NodeId, bool>,
) -> bool {
    // Up to the first ancestor already known (or the root), then down again.
    let mut chain = Vec::new();
    let mut hidden = false;
    let mut next = Some(el);
    while let Some(node) = next {
        if let Some(&known) = memo.get(&node.id()) {
            hidden = known;
            break;
        }
        chain.push(node);
        next = node.parent().and_then(ElementRef::wrap);
    }
    for node in chain.into_iter().rev() {
        let e = node.value();
        hidden = hidden
            || e.attr("hidden").is_some()
            || e.attr("aria-hidden")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            || by_style.hides(e)
            || e.attr("style").is_some_and(css_hides);
        memo.insert(node.id(), hidden);
    }
    hidden
}

/// A link that submits or changes something when clicked, whatever its `href` says: a
/// non-GET `data-method` (Rails and Laravel forms as links), or an `onclick` that submits a form
/// or sends a request.
fn submits(el: ElementRef<'_>) -> bool {
    let e = el.value();
    e.attr("data-method")
        .is_some_and(|m| !m.trim().eq_ignore_ascii_case("get"))
        || e.attr("onclick").is_some_and(|js| {
            let js = js.to_ascii_lowercase();
            ["submit", "fetch(", "xmlhttprequest", "$.post", ".post("]
                .iter()
                .any(|s| js.contains(s))
        })
}
