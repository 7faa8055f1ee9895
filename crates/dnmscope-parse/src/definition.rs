//! Market definitions: what a researcher writes (one TOML file per market) and the compiled
//! form the extractor runs.
//!
//! # The format
//!
//! ```toml
//! name = "dream"                       # the market's name (lower case, as in the store)
//! version = 1                          # bump when the definition changes: parser_version "dream@1"
//! hosts = ["lchudifyeqm4ldjj.onion"]   # hosts and mirrors
//!
//! [recognise]                          # how `--market auto` knows a page is from this market
//! title = "Dream Market"               # regex on <title>  (any of title / html / selector)
//! html = "class=\"youHaveBeenPhished\"" # regex on the page source
//!
//! [[page_kinds]]                       # tried in order, first match wins; every condition given
//! kind = "listing"                     # must hold: selector (matches something), not_selector
//! selector = "div.viewProduct"         # (matches nothing), title (regex), html (regex), text
//!                                      # (regex on the selected element's text)
//!
//! [fields.listing.title]               # fields.<page kind>.<SCHEMA.md field name>
//! selector = "div.viewProduct > div.title"
//!
//! [fields.listing.price]
//! selector = "div.tabularDetails label"  # a label/value layout: the element whose text is
//! label = "Price"                        # "Price" (case and a trailing ':' ignored); the value is
//! regex = "^([^(]+)"                     # its next element sibling (<dt>/<dd>, <th>/<td>,
//! type = "money"                         # <label>/<span>), or `inner` inside it
//!
//! [fields.listing.shipping_options]      # a list of records: `selector` picks the items, each
//! selector = "table.shipping tr"         # sub-field is read inside one item
//! fields.name = { selector = "td.text" }
//! fields.price = { selector = "td.price", type = "money" }
//!
//! [[links]]                              # links to report, with their kind; `follow = false`
//! kind = "listing"                       # marks state-changing links and honeypots: the
//! selector = "a[href*='viewProduct']"    # crawler never follows them
//!
//! [[redact]]                             # spans that name people who are not vendors: replaced
//! kind = "buyer"                         # in shared pages ("buyer" or "author", a forum or
//! selector = "td.buyer"                  # feedback author who is not a vendor); the elements
//! regex = '^(.+?) \(\d+\)$'              # whose text holds the identifier, and optionally a
//!                                        # regex whose first group is it (see `redact`)
//! ```
//!
//! A field spec is a small pipeline, applied in this order:
//!
//! 1. `selector` (CSS, compiled once): the elements; inside `fields` it is relative to the item.
//!    Without `selector` the item itself (or, at the top, the document root) is used.
//! 2. `label` + optional `inner`: keep the element whose own text is the label and move to its
//!    next element sibling, then optionally to the first `inner` match inside that.
//! 3. `inner`: without `label`, a sub-selector applied to each selected element.
//! 4. the text: `attr` reads an attribute instead; `raw = true` keeps line breaks (descriptions),
//!    otherwise white space is collapsed. `own_text = true` reads only the element's own text
//!    nodes, not its children's.
//! 5. `regex`: the first match's capture groups joined by a space (or the whole match without
//!    groups); no match is a diagnostic.
//! 6. `split`: a separator; the field becomes a list (parts trimmed, empty parts dropped).
//! 7. `type`: `text` (default), `number`, `integer`, `money` (`{"amount", "currency"}`), `bool`
//!    (true when `true_if` matches), `currency` (upper-case code), `url_path` (the path and query
//!    of a URL), `count` (how many elements matched), `tree_path` (see below).
//!    `null_if` (regex) turns a matching text into JSON null ("Unlimited").
//!
//! `all = true` reads every match into a list (in page order); otherwise the first match is used.
//! `fields` makes a list of records (with `record = true`, one record read inside the first
//! match: `{"positive": 12, "neutral": 1, "negative": 0}`); `map_key` and `map_value` make an object from items (the
//! market's exchange-rate table). `filter` (regex) keeps only items whose text matches.
//! `value_map = [{ match = "feedback1\\.png", value = "positive" }, ...]` maps what an element
//! shows (an icon's `src` with `attr`, a class word, a symbol) to a canonical value: the entries
//! are tried in order after `regex`, and a text that none matches is a diagnostic naming it.
//! `optional = true` means absence is normal: no diagnostic; list fields that find no item are
//! written as an empty list, single values as null.
//!
//! `tree_path` reads a category sidebar drawn as a flat list of items with a depth: `depth` is a
//! regex whose first group, on the item's `class`, is the depth; `selected` is the class that
//! marks the current item. The result is the current item and its ancestors, top first.
//!
//! A `redact` rule reads the identifier like a field: `selector`, then `label` (the element whose
//! text is the label, moved to its next element sibling), then the text with white space
//! collapsed, then `regex` (its first group, or the whole match without groups). A text the
//! regex does not match is taken whole: the rule fails closed, so a changed layout makes a page
//! unshareable rather than shared with a person in it.
//!
//! Money in several currencies: `"฿0.00387 ($41.6)"` takes `regex = "^([^(]+)"` for the first,
//! `regex = "\\(([^)]+)\\)"` for the second; a price column per currency is one field each.

use std::collections::BTreeMap;

use crate::select::Sel as Selector;
use dnmscope_model::PageKind;
use regex::Regex;
use serde::Deserialize;

use crate::redact::IdentifierKind;

/// A definition that cannot be used, with where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("reading market definition {file}: {source}")]
    Toml {
        file: String,
        #[source]
        source: toml::de::Error,
    },
    #[error(
        "market definition {file}: field {field}: invalid CSS selector {selector:?}: {reason}"
    )]
    Selector {
        file: String,
        field: String,
        selector: String,
        reason: String,
    },
    #[error("market definition {file}: field {field}: invalid regex {pattern:?}: {source}")]
    Regex {
        file: String,
        field: String,
        pattern: String,
        #[source]
        source: Box<regex::Error>,
    },
    #[error("market definition {file}: field {field}: {reason}")]
    Invalid {
        file: String,
        field: String,
        reason: String,
    },
}

/// The definitions shipped with dnmscope, as (file name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "dream.toml",
        include_str!("../../../config/markets/dream.toml"),
    ),
    (
        "empire.toml",
        include_str!("../../../config/markets/empire.toml"),
    ),
    (
        "nightshade.toml",
        include_str!("../../../config/markets/nightshade.toml"),
    ),
    (
        "cobalt.toml",
        include_str!("../../../config/markets/cobalt.toml"),
    ),
    (
        "tessera.toml",
        include_str!("../../../config/markets/tessera.toml"),
    ),
];

/// Every built-in definition, compiled.
pub fn builtin_markets() -> Result<Vec<Market>, DefinitionError> {
    BUILTIN
        .iter()
        .map(|(file, text)| Market::from_toml(file, text))
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarket {
    name: String,
    #[serde(default = "one")]
    version: u32,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    recognise: Option<RawCondition>,
    #[serde(default)]
    page_kinds: Vec<RawCondition>,
    #[serde(default)]
    fields: BTreeMap<String, BTreeMap<String, RawField>>,
    #[serde(default)]
    links: Vec<RawLink>,
    /// Generic recognisers this market turns off (`generic_off = ["seizure"]`).
    #[serde(default)]
    generic_off: Vec<String>,
    /// Spans that name people who are not vendors (`[[redact]]`).
    #[serde(default)]
    redact: Vec<RawRedact>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedact {
    kind: String,
    selector: String,
    label: Option<String>,
    regex: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    /// Only in `page_kinds`.
    kind: Option<String>,
    selector: Option<String>,
    not_selector: Option<String>,
    title: Option<String>,
    html: Option<String>,
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    kind: String,
    selector: String,
    href: Option<String>,
    #[serde(default = "yes")]
    follow: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawField {
    selector: Option<String>,
    label: Option<String>,
    inner: Option<String>,
    attr: Option<String>,
    #[serde(default)]
    raw: bool,
    #[serde(default)]
    own_text: bool,
    regex: Option<String>,
    split: Option<String>,
    #[serde(rename = "type")]
    value_type: Option<String>,
    true_if: Option<String>,
    null_if: Option<String>,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    optional: bool,
    filter: Option<String>,
    fields: Option<BTreeMap<String, RawField>>,
    #[serde(default)]
    record: bool,
    map_key: Option<Box<RawField>>,
    map_value: Option<Box<RawField>>,
    depth: Option<String>,
    selected: Option<String>,
    value_map: Option<Vec<RawValueMap>>,
    skip_if_selector: Option<String>,
    #[serde(default)]
    dedupe: bool,
    pairs: Option<String>,
}

/// One entry of a value map: a regex on the text (or attribute) and the value it stands for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValueMap {
    #[serde(rename = "match")]
    pattern: String,
    value: String,
}

/// One compiled market definition.
#[derive(Debug)]
pub struct Market {
    pub name: String,
    pub version: u32,
    pub hosts: Vec<String>,
    /// The file it came from, for messages.
    pub file: String,
    pub(crate) recognise: Option<Condition>,
    pub(crate) page_rules: Vec<(PageKind, Condition)>,
    pub(crate) fields: BTreeMap<PageKind, Vec<(String, FieldSpec)>>,
    pub(crate) links: Vec<LinkRule>,
    /// The generic recognisers this market turned off.
    pub(crate) generic_off: Vec<Generic>,
    /// Where pages name people who are not vendors.
    pub(crate) redact: Vec<RedactRule>,
}

/// The generic recognisers, each of which a market can turn off with `generic_off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generic {
    Queue,
    Redirect,
    Seizure,
    Captcha,
    Login,
    Banned,
    NotFound,
    PgpKey,
    Error,
}

impl Generic {
    const ALL: [(&'static str, Generic); 9] = [
        ("queue", Generic::Queue),
        ("redirect", Generic::Redirect),
        ("seizure", Generic::Seizure),
        ("captcha", Generic::Captcha),
        ("login", Generic::Login),
        ("banned", Generic::Banned),
        ("not_found", Generic::NotFound),
        ("pgp_key", Generic::PgpKey),
        ("error", Generic::Error),
    ];
}

/// The field names each page kind's `fields` may use: `../shared/corpus/SCHEMA.md`'s, plus
/// `feedback` rows on listing and vendor pages, a vendor's `status`, and a PGP page's `name`.
pub(crate) const KNOWN_FIELDS: &[(&str, &[&str])] = &[
    (
        "listing",
        &[
            "title",
            "vendor",
            "price",
            "ships_from",
            "ships_to",
            "accepted_currencies",
            "escrow",
            "finalize_early",
            "category",
            "shipping_options",
            "price_tiers",
            "quantity_in_stock",
            "unit",
            "sales",
            "description",
            "exchange_rates",
            "feedback",
        ],
    ),
    (
        "vendor",
        &[
            "name",
            "rating",
            "positive_percent",
            "sales",
            "feedback_counts",
            "level",
            "pgp_key",
            "registered",
            "last_seen",
            "external_ratings",
            "about",
            "terms",
            "disputes",
            "feedback",
            "status",
        ],
    ),
    ("feedback", &["name", "feedback"]),
    ("search", &["listings", "next_page", "result_pages"]),
    ("category_index", &["categories"]),
    ("forum_thread", &["title", "posts"]),
    ("pgp_key", &["name", "pgp_key"]),
];

/// The keys each list-of-records field's rows may have.
const KNOWN_ROW_FIELDS: &[(&str, &[&str])] = &[
    ("feedback", &["rating", "text", "date", "item", "price"]),
    ("listings", &["title", "url", "vendor", "price"]),
    ("categories", &["name", "url", "count"]),
    // `author_is_vendor`: dnmscope's own, the vendor tag beside a post's author.
    ("posts", &["author", "date", "text", "author_is_vendor"]),
    ("shipping_options", &["name", "price"]),
    ("price_tiers", &["quantity", "price"]),
    ("external_ratings", &["market", "text"]),
    ("disputes", &["won", "lost"]),
    ("feedback_counts", &["positive", "neutral", "negative"]),
];

impl Market {
    /// `name@version`, stored with every extraction.
    pub fn parser_version(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The fields this definition reads on pages of `kind`.
    pub fn field_names(&self, kind: PageKind) -> impl Iterator<Item = &str> {
        self.fields
            .get(&kind)
            .into_iter()
            .flatten()
            .map(|(name, _)| name.as_str())
    }

    /// Compiles a definition; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Market, DefinitionError> {
        let raw: RawMarket = toml::from_str(text).map_err(|source| DefinitionError::Toml {
            file: file.to_string(),
            source,
        })?;
        let compiler = Compiler { file };
        if raw.name.trim().is_empty() || raw.name.chars().any(char::is_whitespace) {
            return Err(compiler.invalid("name", "the market name must be one word"));
        }
        let recognise = raw
            .recognise
            .as_ref()
            .map(|c| compiler.condition("recognise", c))
            .transpose()?;
        let mut page_rules = Vec::new();
        for (index, rule) in raw.page_kinds.iter().enumerate() {
            let place = format!("page_kinds[{index}]");
            let Some(kind_name) = &rule.kind else {
                return Err(compiler.invalid(&place, "a page-kind rule needs `kind`"));
            };
            let kind = compiler.page_kind(&place, kind_name)?;
            page_rules.push((kind, compiler.condition(&place, rule)?));
        }
        let mut fields = BTreeMap::new();
        for (kind_name, specs) in &raw.fields {
            let kind = compiler.page_kind(&format!("fields.{kind_name}"), kind_name)?;
            let Some((_, known)) = KNOWN_FIELDS.iter().find(|(k, _)| k == kind_name) else {
                return Err(compiler.invalid(
                    &format!("fields.{kind_name}"),
                    &format!(
                        "pages of kind {kind_name:?} have no fields in SCHEMA.md; fields are read on {}",
                        KNOWN_FIELDS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                    ),
                ));
            };
            let mut compiled = Vec::new();
            for (name, spec) in specs {
                let place = format!("fields.{kind_name}.{name}");
                compiler.known_name(&place, name, known)?;
                if let (Some(rows), Some((_, keys))) = (
                    &spec.fields,
                    KNOWN_ROW_FIELDS.iter().find(|(k, _)| k == name),
                ) {
                    for key in rows.keys() {
                        compiler.known_name(&format!("{place}.fields.{key}"), key, keys)?;
                    }
                }
                compiled.push((name.clone(), compiler.field(&place, spec)?));
            }
            fields.insert(kind, compiled);
        }
        let mut generic_off = Vec::new();
        for (index, name) in raw.generic_off.iter().enumerate() {
            match Generic::ALL.iter().find(|(n, _)| n == name) {
                Some((_, generic)) => generic_off.push(*generic),
                None => {
                    return Err(compiler.invalid(
                        &format!("generic_off[{index}]"),
                        &format!(
                            "unknown generic recogniser {name:?}; the known ones are {}",
                            Generic::ALL
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ))
                }
            }
        }
        let mut links = Vec::new();
        for (index, link) in raw.links.iter().enumerate() {
            let place = format!("links[{index}]");
            links.push(LinkRule {
                kind: link.kind.clone(),
                selector: compiler.selector(&place, &link.selector)?,
                href: compiler.regex_opt(&place, link.href.as_deref())?,
                follow: link.follow,
            });
        }
        let mut redact = Vec::new();
        for (index, rule) in raw.redact.iter().enumerate() {
            let place = format!("redact[{index}]");
            let Some(kind) = IdentifierKind::parse(&rule.kind) else {
                return Err(compiler.invalid(
                    &format!("{place}.kind"),
                    &format!(
                        "unknown kind {:?}; the known ones are {}",
                        rule.kind,
                        IdentifierKind::ALL
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            redact.push(RedactRule {
                kind,
                selector: compiler.selector(&format!("{place}.selector"), &rule.selector)?,
                label: rule.label.as_deref().map(normalise_label),
                regex: compiler.regex_opt(&format!("{place}.regex"), rule.regex.as_deref())?,
            });
        }
        Ok(Market {
            name: raw.name,
            version: raw.version,
            hosts: raw.hosts,
            file: file.to_string(),
            recognise,
            page_rules,
            fields,
            links,
            generic_off,
            redact,
        })
    }

    /// Whether this market left the generic recogniser on.
    pub(crate) fn generic_on(&self, generic: Generic) -> bool {
        !self.generic_off.contains(&generic)
    }

    /// Problems that do not stop the definition from parsing pages but that its author should
    /// hear of (`dnmscope markets check` prints them).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.hosts.iter().all(|h| h.trim().is_empty()) {
            warnings.push(format!(
                "market definition {}: no `hosts`: its pages can be parsed, but it cannot be \
                 crawled until its onion hosts are given (in the definition or the config's \
                 [markets.{}] hosts)",
                self.file, self.name
            ));
        }
        warnings
    }
}

/// Conditions of a page-kind rule or of market recognition: all given parts must hold.
#[derive(Debug, Default)]
pub(crate) struct Condition {
    pub selector: Option<Selector>,
    pub not_selector: Option<Selector>,
    pub title: Option<Regex>,
    pub html: Option<Regex>,
    pub text: Option<Regex>,
}

#[derive(Debug)]
pub(crate) struct LinkRule {
    pub kind: String,
    pub selector: Selector,
    pub href: Option<Regex>,
    pub follow: bool,
}

/// A `[[redact]]` rule: where a page names a person who is not a vendor.
#[derive(Debug)]
pub(crate) struct RedactRule {
    pub kind: IdentifierKind,
    pub selector: Selector,
    /// Normalised as labels are compared (`normalise_label`).
    pub label: Option<String>,
    pub regex: Option<Regex>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Text,
    Number,
    Integer,
    Money,
    Bool,
    Currency,
    UrlPath,
    Count,
    TreePath,
}

#[derive(Debug)]
pub(crate) enum Shape {
    /// One value (or a list with `all`/`split`).
    Value,
    Records(Vec<(String, FieldSpec)>),
    /// One record (an object) read inside the first matched element.
    Record(Vec<(String, FieldSpec)>),
    Map {
        key: Box<FieldSpec>,
        value: Box<FieldSpec>,
    },
    Tree {
        depth: Regex,
        selected: String,
    },
}

/// One compiled field: see the module documentation for the pipeline.
#[derive(Debug)]
pub(crate) struct FieldSpec {
    pub selector: Option<Selector>,
    pub selector_text: String,
    pub label: Option<String>,
    pub inner: Option<Selector>,
    pub attr: Option<String>,
    pub raw: bool,
    pub own_text: bool,
    pub regex: Option<Regex>,
    pub split: Option<String>,
    pub value_type: ValueType,
    pub true_if: Option<Regex>,
    pub null_if: Option<Regex>,
    pub all: bool,
    pub optional: bool,
    pub filter: Option<Regex>,
    /// `value_map`: (pattern, value) pairs tried in order; the first whose pattern matches the
    /// text replaces it. A text no entry matches is a diagnostic.
    pub value_map: Vec<(Regex, String)>,
    /// `skip_if_selector`: items that match it (or hold a match) are skipped (header rows).
    pub skip_if: Option<Selector>,
    /// `dedupe`: a list keeps the first of equal values.
    pub dedupe: bool,
    /// `pairs`: a regex with groups `key` and `value`, applied to every match in the text:
    /// the field becomes an object (`1 BTC = 7374.63 EUR = 8211.52 USD`).
    pub pairs: Option<Regex>,
    pub shape: Shape,
}

struct Compiler<'a> {
    file: &'a str,
}

impl Compiler<'_> {
    fn invalid(&self, field: &str, reason: &str) -> DefinitionError {
        DefinitionError::Invalid {
            file: self.file.to_string(),
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }

    fn known_name(&self, field: &str, name: &str, known: &[&str]) -> Result<(), DefinitionError> {
        if known.contains(&name) {
            return Ok(());
        }
        Err(self.invalid(
            field,
            &format!(
                "unknown field name {name:?} (SCHEMA.md's names here are {})",
                known.join(", ")
            ),
        ))
    }

    fn page_kind(&self, field: &str, text: &str) -> Result<PageKind, DefinitionError> {
        PageKind::parse(text)
            .ok_or_else(|| self.invalid(field, &format!("unknown page kind {text:?}")))
    }

    fn selector(&self, field: &str, text: &str) -> Result<Selector, DefinitionError> {
        Selector::parse(text).map_err(|err| DefinitionError::Selector {
            file: self.file.to_string(),
            field: field.to_string(),
            selector: text.to_string(),
            reason: format!("{err:?}"),
        })
    }

    fn selector_opt(
        &self,
        field: &str,
        text: Option<&str>,
    ) -> Result<Option<Selector>, DefinitionError> {
        text.map(|t| self.selector(field, t)).transpose()
    }

    fn regex_opt(&self, field: &str, text: Option<&str>) -> Result<Option<Regex>, DefinitionError> {
        text.map(|pattern| {
            Regex::new(pattern).map_err(|source| DefinitionError::Regex {
                file: self.file.to_string(),
                field: field.to_string(),
                pattern: pattern.to_string(),
                source: Box::new(source),
            })
        })
        .transpose()
    }

    fn condition(&self, field: &str, raw: &RawCondition) -> Result<Condition, DefinitionError> {
        let condition = Condition {
            selector: self.selector_opt(field, raw.selector.as_deref())?,
            not_selector: self.selector_opt(field, raw.not_selector.as_deref())?,
            title: self.regex_opt(field, raw.title.as_deref())?,
            html: self.regex_opt(field, raw.html.as_deref())?,
            text: self.regex_opt(field, raw.text.as_deref())?,
        };
        if condition.selector.is_none() && condition.title.is_none() && condition.html.is_none() {
            return Err(self.invalid(field, "a rule needs a selector, a title or an html pattern"));
        }
        if condition.text.is_some() && condition.selector.is_none() {
            return Err(self.invalid(field, "`text` is matched on the selector's element"));
        }
        Ok(condition)
    }

    fn field(&self, place: &str, raw: &RawField) -> Result<FieldSpec, DefinitionError> {
        let value_type = match raw.value_type.as_deref().unwrap_or("text") {
            "text" => ValueType::Text,
            "number" => ValueType::Number,
            "integer" => ValueType::Integer,
            "money" => ValueType::Money,
            "bool" => ValueType::Bool,
            "currency" => ValueType::Currency,
            "url_path" => ValueType::UrlPath,
            "count" => ValueType::Count,
            "tree_path" => ValueType::TreePath,
            other => return Err(self.invalid(place, &format!("unknown type {other:?}"))),
        };
        if value_type == ValueType::Bool && raw.true_if.is_none() {
            return Err(self.invalid(place, "type \"bool\" needs `true_if`"));
        }
        if raw.inner.is_some() && raw.selector.is_none() && raw.label.is_none() {
            return Err(self.invalid(place, "`inner` needs a `selector`"));
        }
        if raw.label.is_some() && raw.selector.is_none() {
            return Err(self.invalid(place, "`label` needs a `selector` for the labels"));
        }
        let shape = if let Some(fields) = &raw.fields {
            let mut compiled = Vec::new();
            for (name, spec) in fields {
                compiled.push((
                    name.clone(),
                    self.field(&format!("{place}.fields.{name}"), spec)?,
                ));
            }
            if raw.record {
                Shape::Record(compiled)
            } else {
                Shape::Records(compiled)
            }
        } else if raw.record {
            return Err(self.invalid(place, "`record = true` needs `fields`"));
        } else if raw.map_key.is_some() || raw.map_value.is_some() {
            let (Some(key), Some(value)) = (&raw.map_key, &raw.map_value) else {
                return Err(self.invalid(place, "a map needs both `map_key` and `map_value`"));
            };
            Shape::Map {
                key: Box::new(self.field(&format!("{place}.map_key"), key)?),
                value: Box::new(self.field(&format!("{place}.map_value"), value)?),
            }
        } else if value_type == ValueType::TreePath {
            let (Some(depth), Some(selected)) = (&raw.depth, &raw.selected) else {
                return Err(self.invalid(place, "type \"tree_path\" needs `depth` and `selected`"));
            };
            let depth = self
                .regex_opt(place, Some(depth))?
                .ok_or_else(|| self.invalid(place, "missing depth"))?;
            Shape::Tree {
                depth,
                selected: selected.clone(),
            }
        } else {
            Shape::Value
        };
        let pairs = self.regex_opt(&format!("{place}.pairs"), raw.pairs.as_deref())?;
        if let Some(pairs) = &pairs {
            let names: Vec<&str> = pairs.capture_names().flatten().collect();
            if !names.contains(&"key") || !names.contains(&"value") {
                return Err(self.invalid(
                    &format!("{place}.pairs"),
                    "`pairs` needs the named groups (?P<key>...) and (?P<value>...)",
                ));
            }
            if !matches!(shape, Shape::Value) || raw.all || raw.split.is_some() {
                return Err(self.invalid(
                    &format!("{place}.pairs"),
                    "`pairs` reads one text into an object: not with `fields`, maps, `all` or `split`",
                ));
            }
        }
        if matches!(
            shape,
            Shape::Records(_) | Shape::Record(_) | Shape::Map { .. } | Shape::Tree { .. }
        ) && raw.selector.is_none()
        {
            return Err(self.invalid(place, "lists of records, maps and trees need a `selector`"));
        }
        Ok(FieldSpec {
            selector: self.selector_opt(place, raw.selector.as_deref())?,
            selector_text: raw.selector.clone().unwrap_or_default(),
            label: raw.label.as_deref().map(normalise_label),
            inner: self.selector_opt(place, raw.inner.as_deref())?,
            attr: raw.attr.clone(),
            raw: raw.raw,
            own_text: raw.own_text,
            regex: self.regex_opt(place, raw.regex.as_deref())?,
            split: raw.split.clone(),
            value_type,
            true_if: self.regex_opt(place, raw.true_if.as_deref())?,
            null_if: self.regex_opt(place, raw.null_if.as_deref())?,
            all: raw.all,
            optional: raw.optional,
            filter: self.regex_opt(place, raw.filter.as_deref())?,
            value_map: raw
                .value_map
                .iter()
                .flatten()
                .enumerate()
                .map(|(index, entry)| {
                    let pattern = self
                        .regex_opt(&format!("{place}.value_map[{index}]"), Some(&entry.pattern))?
                        .ok_or_else(|| self.invalid(place, "missing pattern"))?;
                    Ok((pattern, entry.value.clone()))
                })
                .collect::<Result<_, DefinitionError>>()?,
            skip_if: self.selector_opt(
                &format!("{place}.skip_if_selector"),
                raw.skip_if_selector.as_deref(),
            )?,
            dedupe: raw.dedupe,
            pairs,
            shape,
        })
    }
}

/// A label as compared: white space collapsed, lower case, without a trailing colon.
pub(crate) fn normalise_label(text: &str) -> String {
    crate::normalize::collapse_whitespace(text)
        .trim_end_matches(':')
        .trim()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_error(text: &str, expect: expect_test::Expect) {
        let err = Market::from_toml("bad.toml", text).unwrap_err();
        expect.assert_eq(&err.to_string());
    }

    #[test]
    fn a_definition_without_hosts_is_warned_of() {
        let market = Market::from_toml("w.toml", "name = \"w\"\n").unwrap();
        let warnings = market.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("w.toml") && warnings[0].contains("no `hosts`"));
        let market = Market::from_toml("w.toml", "name = \"w\"\nhosts = [\"w.onion\"]\n").unwrap();
        assert!(market.warnings().is_empty());
    }

    #[test]
    fn builtin_definitions_compile() {
        let markets = builtin_markets().unwrap();
        let names: Vec<_> = markets.iter().map(|m| m.parser_version()).collect();
        assert_eq!(
            names,
            [
                "dream@1",
                "empire@2",
                "nightshade@2",
                "cobalt@2",
                "tessera@1"
            ]
        );
    }

    #[test]
    fn bad_redact_rules_name_the_file_key_and_value() {
        check_error(
            "name = \"x\"\n[[redact]]\nkind = \"buyers\"\nselector = \"td\"\n",
            expect_test::expect![[
                r#"market definition bad.toml: field redact[0].kind: unknown kind "buyers"; the known ones are buyer, author"#
            ]],
        );
        check_error(
            "name = \"x\"\n[[redact]]\nkind = \"buyer\"\nselector = \"td[\"\n",
            expect_test::expect![[
                r#"market definition bad.toml: field redact[0].selector: invalid CSS selector "td[": EndOfLine"#
            ]],
        );
        check_error(
            "name = \"x\"\n[[redact]]\nkind = \"author\"\nselector = \"td\"\nregex = \"(\"\n",
            expect_test::expect![[r#"
                market definition bad.toml: field redact[0].regex: invalid regex "(": regex parse error:
                    (
                    ^
                error: unclosed group"#]],
        );
        check_error(
            "name = \"x\"\n[[redact]]\nkind = \"author\"\nselector = \"td\"\nattr = \"title\"\n",
            expect_test::expect![[r#"
                reading market definition bad.toml: TOML parse error at line 5, column 1
                  |
                5 | attr = "title"
                  | ^^^^
                unknown field `attr`, expected one of `kind`, `selector`, `label`, `regex`
            "#]],
        );
        check_error(
            "name = \"x\"\n[[redact]]\nkind = \"author\"\n",
            expect_test::expect![[r#"
                reading market definition bad.toml: TOML parse error at line 2, column 1
                  |
                2 | [[redact]]
                  | ^^^^^^^^^^
                missing field `selector`
            "#]],
        );
    }

    #[test]
    fn bad_definitions_name_the_file_field_and_selector() {
        check_error(
            "name = \"x\"\n[fields.listing.title]\nselector = \"div[\"\n",
            expect_test::expect![[
                r#"market definition bad.toml: field fields.listing.title: invalid CSS selector "div[": EndOfLine"#
            ]],
        );
        check_error(
            "name = \"x\"\n[fields.listing.price]\nselector = \"p\"\nregex = \"(\"\n",
            expect_test::expect![[r#"
                market definition bad.toml: field fields.listing.price: invalid regex "(": regex parse error:
                    (
                    ^
                error: unclosed group"#]],
        );
        check_error(
            "name = \"x\"\n[fields.listingz.title]\nselector = \"p\"\n",
            expect_test::expect![[
                r#"market definition bad.toml: field fields.listingz: unknown page kind "listingz""#
            ]],
        );
        check_error(
            "name = \"x\"\n[fields.listing.escrow]\nselector = \"p\"\ntype = \"bool\"\n",
            expect_test::expect![[
                r#"market definition bad.toml: field fields.listing.escrow: type "bool" needs `true_if`"#
            ]],
        );
        check_error(
            "name = \"x\"\n[fields.listing.title]\nselektor = \"p\"\n",
            expect_test::expect![[r#"
                reading market definition bad.toml: TOML parse error at line 3, column 1
                  |
                3 | selektor = "p"
                  | ^^^^^^^^
                unknown field `selektor`, expected one of `selector`, `label`, `inner`, `attr`, `raw`, `own_text`, `regex`, `split`, `type`, `true_if`, `null_if`, `all`, `optional`, `filter`, `fields`, `record`, `map_key`, `map_value`, `depth`, `selected`, `value_map`, `skip_if_selector`, `dedupe`, `pairs`
            "#]],
        );
        check_error(
            "name = \"x\"\n[fields.listing.ship_from]\nselector = \"p\"\n",
            expect_test::expect![[
                r#"market definition bad.toml: field fields.listing.ship_from: unknown field name "ship_from" (SCHEMA.md's names here are title, vendor, price, ships_from, ships_to, accepted_currencies, escrow, finalize_early, category, shipping_options, price_tiers, quantity_in_stock, unit, sales, description, exchange_rates, feedback)"#
            ]],
        );
        check_error(
            "name = \"x\"\n[fields.vendor.feedback]\nselector = \"tr\"\nfields.rate = { selector = \"td\" }\n",
            expect_test::expect![[
                r#"market definition bad.toml: field fields.vendor.feedback.fields.rate: unknown field name "rate" (SCHEMA.md's names here are rating, text, date, item, price)"#
            ]],
        );
        check_error(
            "name = \"x\"\n[fields.login.user]\nselector = \"p\"\n",
            expect_test::expect![[
                r#"market definition bad.toml: field fields.login: pages of kind "login" have no fields in SCHEMA.md; fields are read on listing, vendor, feedback, search, category_index, forum_thread, pgp_key"#
            ]],
        );
        check_error(
            "name = \"x\"\ngeneric_off = [\"seizures\"]\n",
            expect_test::expect![[
                r#"market definition bad.toml: field generic_off[0]: unknown generic recogniser "seizures"; the known ones are queue, redirect, seizure, captcha, login, banned, not_found, pgp_key, error"#
            ]],
        );
        check_error(
            "name = \"x\"\n[fields.listing.exchange_rates]\nselector = \"p\"\npairs = \"([0-9.]+) ([A-Z]+)\"\n",
            expect_test::expect![[
                r#"market definition bad.toml: field fields.listing.exchange_rates.pairs: `pairs` needs the named groups (?P<key>...) and (?P<value>...)"#
            ]],
        );
    }
}
