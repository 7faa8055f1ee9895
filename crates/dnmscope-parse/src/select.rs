//! Selector matching against an index of the page, built once per page.
//!
//! scraper's `select` walks every node below its scope and matches each element against the
//! selector: a definition with fifty field, link and page-kind rules walks the whole tree fifty
//! times. Here a page is walked once into [`Page`]: its elements in document order, each one's
//! subtree as a range of that order, and the elements by tag name, class and id. A [`Sel`] knows,
//! from its parsed form, what every element it can match must have (the rightmost compound of
//! each alternative: `div.listDes > h2` only matches `h2`s; `td.cur` only elements of class
//! `cur`), so a selection looks only at those elements inside the scope's range, and still
//! matches each of them with the full selector: the result is exactly scraper's, in document
//! order.

use html5ever::LocalName;
use scraper::selector::{Parser as SelectorParser, Simple};
use scraper::{ElementRef, Html, Selector};
use selectors::attr::{AttrSelectorOperator, ParsedCaseSensitivity};
use selectors::context::{
    MatchingContext, MatchingForInvalidation, MatchingMode, NeedsSelectorFlags, QuirksMode,
    SelectorCaches,
};
use selectors::matching::matches_selector_list;
use selectors::parser::{Combinator, Component, ParseRelative, SelectorIter, SelectorList};

/// A CSS selector, with what the elements it matches must have.
#[derive(Debug, Clone)]
pub(crate) struct Sel {
    pub css: Selector,
    /// The same selector as `selectors` reads it, to match with and to read keys from.
    list: SelectorList<Simple>,
    /// One requirement per alternative of the selector list; `None` when some alternative has
    /// none (`[href]`, `*`, `:is(...)`): then every element of the scope is tried.
    keys: Option<Vec<Need>>,
}

/// What an element must have to match one alternative of a selector: a key to find the
/// candidates by, and attribute tests cheaper than the full match to pass them through first.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Need {
    key: Key,
    attrs: Vec<AttrTest>,
    /// An ancestor's need (the nearest keyed compound across descendant and child
    /// combinators: `table.productTbl td` lies inside a `table.productTbl`).
    within: Option<Box<Need>>,
}

impl Need {
    /// Whether `element` has the key and passes the attribute tests (`within` aside).
    fn holds(&self, element: &scraper::node::Element) -> bool {
        let keyed = match &self.key {
            Key::Tag(tag) => element.name.local == *tag,
            // As the index reads them (every `class` attribute, the first `id`).
            Key::Class(class) => element
                .attrs
                .iter()
                .filter(|(name, _)| name.local == html5ever::local_name!("class"))
                .any(|(_, text)| text.split_ascii_whitespace().any(|c| c == class)),
            Key::Id(id) => element
                .attrs
                .iter()
                .find(|(name, _)| name.local == html5ever::local_name!("id"))
                .is_some_and(|(_, text)| **text == **id),
        };
        keyed && self.attrs.iter().all(|test| test.holds(element))
    }
}

/// `[name]`, `[name=v]`, `[name^=v]`, `[name*=v]`, `[name$=v]`, case-sensitive, no namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AttrTest {
    name: LocalName,
    op: AttrOp,
    value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum AttrOp {
    Exists,
    Equal,
    Prefix,
    Substring,
    Suffix,
}

impl AttrTest {
    /// As scraper's `attr_matches` reads the attributes: any attribute of that name in no
    /// namespace whose value passes.
    fn holds(&self, element: &scraper::node::Element) -> bool {
        element.attrs.iter().any(|(name, value)| {
            name.ns.is_empty()
                && name.local == self.name
                && match self.op {
                    AttrOp::Exists => true,
                    AttrOp::Equal => **value == *self.value,
                    AttrOp::Prefix => value.starts_with(self.value.as_str()),
                    AttrOp::Substring => value.contains(self.value.as_str()),
                    AttrOp::Suffix => value.ends_with(self.value.as_str()),
                }
        })
    }
}

/// What an element must have to match one alternative of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Id(String),
    Class(String),
    Tag(LocalName),
}

impl Sel {
    pub fn parse(text: &str) -> Result<Sel, scraper::error::SelectorErrorKind<'_>> {
        let css = Selector::parse(text)?;
        // The same text scraper just parsed, parsed again the same way to be read here.
        let mut input = cssparser::ParserInput::new(text);
        let mut parser = cssparser::Parser::new(&mut input);
        let list = SelectorList::parse(&SelectorParser, &mut parser, ParseRelative::No)
            .map_err(scraper::error::SelectorErrorKind::from)?;
        let keys = keys_of(&list);
        Ok(Sel { css, list, keys })
    }

    /// Whether `element` matches (scope: the document, as scraper's `Selector::matches`).
    pub fn matches(&self, element: &ElementRef<'_>) -> bool {
        self.matches_in(element, None, &mut SelectorCaches::default())
    }

    /// Whether `element` matches with `:scope` at `scope`, the caches kept across the elements of
    /// one selection (as scraper's `select` does).
    fn matches_in(
        &self,
        element: &ElementRef<'_>,
        scope: Option<ElementRef<'_>>,
        caches: &mut SelectorCaches,
    ) -> bool {
        let mut context = MatchingContext::new(
            MatchingMode::Normal,
            None,
            caches,
            QuirksMode::NoQuirks,
            NeedsSelectorFlags::No,
            MatchingForInvalidation::No,
        );
        context.scope_element = scope.map(|scope| selectors::Element::opaque(&scope));
        matches_selector_list(&self.list, element, &mut context)
    }
}

/// The requirement of each alternative of `list`, from its rightmost compound (the element
/// matched itself): an id before a class before a tag name, and the compound's case-sensitive
/// attribute tests.
fn keys_of(list: &SelectorList<Simple>) -> Option<Vec<Need>> {
    list.slice()
        .iter()
        .map(|selector| {
            let mut components = selector.iter();
            let (key, attrs) = compound_need(&mut components);
            // The nearest compound to the left, across descendant and child combinators only,
            // that has a key: the element lies inside one of its matches.
            let mut within = None;
            while let Some(Combinator::Descendant | Combinator::Child) = components.next_sequence()
            {
                if let (Some(key), attrs) = compound_need(&mut components) {
                    within = Some(Box::new(Need {
                        key,
                        attrs,
                        within: None,
                    }));
                    break;
                }
            }
            Some(Need {
                key: key?,
                attrs,
                within,
            })
        })
        .collect()
}

/// The key and attribute tests of the compound `components` is at (read to its end).
fn compound_need(components: &mut SelectorIter<'_, Simple>) -> (Option<Key>, Vec<AttrTest>) {
    let (mut id, mut class, mut tag) = (None, None, None);
    let mut attrs = Vec::new();
    for component in &mut *components {
        match component {
            Component::ID(name) => id = id.or(Some(Key::Id(name.0.to_string()))),
            Component::Class(name) => {
                class = class.or(Some(Key::Class(name.0.to_string())));
            }
            // A name written in capitals matches foreign (SVG) elements by case:
            // left to the full match.
            Component::LocalName(name) if name.name == name.lower_name => {
                tag = tag.or(Some(Key::Tag(name.lower_name.0.clone())));
            }
            Component::AttributeInNoNamespaceExists {
                local_name,
                local_name_lower,
            } if local_name == local_name_lower => attrs.push(AttrTest {
                name: local_name.0.clone(),
                op: AttrOp::Exists,
                value: String::new(),
            }),
            Component::AttributeInNoNamespace {
                local_name,
                operator,
                value,
                case_sensitivity:
                    ParsedCaseSensitivity::CaseSensitive | ParsedCaseSensitivity::ExplicitCaseSensitive,
            } if !value.0.is_empty() => {
                let op = match operator {
                    AttrSelectorOperator::Equal => AttrOp::Equal,
                    AttrSelectorOperator::Prefix => AttrOp::Prefix,
                    AttrSelectorOperator::Substring => AttrOp::Substring,
                    AttrSelectorOperator::Suffix => AttrOp::Suffix,
                    AttrSelectorOperator::Includes | AttrSelectorOperator::DashMatch => continue,
                };
                attrs.push(AttrTest {
                    name: local_name.0.clone(),
                    op,
                    value: value.0.clone(),
                });
            }
            _ => {}
        }
    }
    (id.or(class).or(tag), attrs)
}

/// foldhash's maps: the index's keys are tag atoms, node ids and short class names from one
/// page, so hashing them must cost next to nothing (SipHash was a third of the index's time);
/// its per-map random seed keeps a page from choosing its collisions.
type FastMap<K, V> = foldhash::HashMap<K, V>;

/// A page's elements, indexed for [`Sel`]s.
pub(crate) struct Page<'a> {
    pub doc: &'a Html,
    /// Every element under the document, in document order (the root element first).
    elements: Vec<ElementRef<'a>>,
    /// For each element, the end (exclusive) of its subtree in `elements`.
    end: Vec<u32>,
    position: FastMap<ego_tree::NodeId, u32>,
    by_tag: FastMap<LocalName, Vec<u32>>,
    by_class: FastMap<&'a str, Vec<u32>>,
    by_id: FastMap<&'a str, Vec<u32>>,
}

impl std::fmt::Debug for Page<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("elements", &self.elements.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Page<'a> {
    /// Walks `doc` once.
    pub fn new(doc: &'a Html) -> Page<'a> {
        let mut page = Page {
            doc,
            elements: Vec::new(),
            end: Vec::new(),
            position: FastMap::default(),
            by_tag: FastMap::default(),
            by_class: FastMap::default(),
            by_id: FastMap::default(),
        };
        // The elements open at this point of the walk.
        let mut open: Vec<u32> = Vec::new();
        for edge in doc.root_element().traverse() {
            match edge {
                ego_tree::iter::Edge::Open(node) => {
                    let Some(element) = ElementRef::wrap(node) else {
                        continue;
                    };
                    let at = page.elements.len() as u32;
                    page.elements.push(element);
                    page.end.push(at + 1);
                    page.position.insert(node.id(), at);
                    open.push(at);
                    let value = element.value();
                    page.by_tag
                        .entry(value.name.local.clone())
                        .or_default()
                        .push(at);
                    // Read from the attributes as written: scraper's `classes()` and `id()`
                    // intern and cache every value, which only matching needs, and only for the
                    // candidates.
                    // (As scraper reads them: every `class` attribute, the first `id`.)
                    let mut id_seen = false;
                    for (name, text) in &value.attrs {
                        if name.local == html5ever::local_name!("class") {
                            for class in text.split_ascii_whitespace() {
                                let list = page.by_class.entry(class).or_default();
                                // `class="a a"` lists the element once.
                                if list.last() != Some(&at) {
                                    list.push(at);
                                }
                            }
                        } else if name.local == html5ever::local_name!("id") && !id_seen {
                            id_seen = true;
                            page.by_id.entry(text).or_default().push(at);
                        }
                    }
                }
                ego_tree::iter::Edge::Close(node) => {
                    if node.value().is_element() {
                        if let Some(at) = open.pop() {
                            page.end[at as usize] = page.elements.len() as u32;
                        }
                    }
                }
            }
        }
        page
    }

    /// The elements inside `range` with `need`'s key that pass its attribute tests, in document
    /// order, appended to `out`.
    fn candidates(&self, need: &Need, range: std::ops::Range<u32>, out: &mut Vec<u32>) {
        let list = match &need.key {
            Key::Id(id) => self.by_id.get(id.as_str()),
            Key::Class(class) => self.by_class.get(class.as_str()),
            Key::Tag(tag) => self.by_tag.get(tag),
        };
        let Some(list) = list else { return };
        let from = list.partition_point(|&i| i < range.start);
        let to = list.partition_point(|&i| i < range.end);
        out.extend(list[from..to].iter().copied().filter(|&at| {
            let element = self.elements[at as usize].value();
            need.attrs.iter().all(|test| test.holds(element))
        }));
    }

    /// The elements `sel` matches, in document order: with a `scope`, its descendants (as
    /// scraper's `ElementRef::select`, `:scope` being the scope); without, every element of the
    /// document (as `Html::select`).
    pub fn select<'p, 's>(
        &'p self,
        scope: Option<ElementRef<'a>>,
        sel: &'s Sel,
    ) -> Selection<'a, 'p, 's> {
        let range = match scope {
            None => 0..self.elements.len() as u32,
            Some(scope) => match self.position.get(&scope.id()) {
                Some(&at) => at + 1..self.end[at as usize],
                // Not an element of this page's tree (never the case for elements the page's
                // own selections return): scraper walks it.
                None => {
                    return Selection {
                        page: self,
                        sel,
                        scope: Some(scope),
                        caches: SelectorCaches::default(),
                        candidates: Candidates::Found(
                            scope.select(&sel.css).collect::<Vec<_>>().into_iter(),
                        ),
                    }
                }
            },
        };
        let candidates = match &sel.keys {
            None => Candidates::Range(range),
            Some(keys) => {
                let mut found: Vec<u32> = Vec::new();
                for need in keys {
                    let start = found.len();
                    self.candidates(need, range.clone(), &mut found);
                    // Inside a match of the ancestor compound: when the scope or one of its
                    // ancestors is one (combinators look above the scope), every candidate is;
                    // otherwise only those inside the matches within the scope's range, their
                    // subtrees merged. (Never the whole document per scoped selection: a page of
                    // many records would cost the square of its size.)
                    let covered = |within: &Need| {
                        scope.is_some_and(|scope| {
                            std::iter::once(scope)
                                .chain(scope.ancestors().filter_map(ElementRef::wrap))
                                .any(|element| within.holds(element.value()))
                        })
                    };
                    if let Some(within) = need.within.as_deref().filter(|w| !covered(w)) {
                        let mut ancestors = Vec::new();
                        self.candidates(within, range.clone(), &mut ancestors);
                        let mut spans: Vec<(u32, u32)> = Vec::new();
                        for at in ancestors {
                            let end = self.end[at as usize];
                            match spans.last_mut() {
                                Some(last) if at < last.1 => last.1 = last.1.max(end),
                                _ => spans.push((at + 1, end)),
                            }
                        }
                        let mut span = 0;
                        let mut kept = start;
                        for index in start..found.len() {
                            let at = found[index];
                            while span < spans.len() && spans[span].1 <= at {
                                span += 1;
                            }
                            if span < spans.len() && spans[span].0 <= at {
                                found[kept] = at;
                                kept += 1;
                            }
                        }
                        found.truncate(kept);
                    }
                }
                if keys.len() > 1 {
                    found.sort_unstable();
                    found.dedup();
                }
                Candidates::Listed(found.into_iter())
            }
        };
        Selection {
            page: self,
            sel,
            scope,
            caches: SelectorCaches::default(),
            candidates,
        }
    }
}

enum Candidates<'a> {
    Range(std::ops::Range<u32>),
    Listed(std::vec::IntoIter<u32>),
    /// Already matched by scraper.
    Found(std::vec::IntoIter<ElementRef<'a>>),
}

/// The elements a [`Sel`] matches in a [`Page`], in document order.
pub(crate) struct Selection<'a, 'p, 's> {
    page: &'p Page<'a>,
    sel: &'s Sel,
    /// `:scope`: the element selected below, or none for the document (the root element).
    scope: Option<ElementRef<'a>>,
    caches: SelectorCaches,
    candidates: Candidates<'a>,
}

impl<'a> Iterator for Selection<'a, '_, '_> {
    type Item = ElementRef<'a>;

    fn next(&mut self) -> Option<ElementRef<'a>> {
        loop {
            let at = match &mut self.candidates {
                Candidates::Range(range) => range.next()?,
                Candidates::Listed(list) => list.next()?,
                Candidates::Found(found) => return found.next(),
            };
            let element = self.page.elements[at as usize];
            if self.sel.matches_in(&element, self.scope, &mut self.caches) {
                return Some(element);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Every selector of the built-in definitions (keys `selector`, `not_selector`, `inner`,
    /// `skip_if_selector`), and some the definitions do not use.
    fn selectors() -> Vec<String> {
        fn walk(value: &toml::Value, key: &str, out: &mut Vec<String>) {
            match value {
                toml::Value::String(text) if key.ends_with("selector") || key == "inner" => {
                    out.push(text.clone())
                }
                toml::Value::Table(table) => {
                    for (key, value) in table {
                        walk(value, key, out);
                    }
                }
                toml::Value::Array(items) => {
                    for item in items {
                        walk(item, key, out);
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for (_, text) in crate::definition::BUILTIN {
            let value: toml::Value = toml::from_str(text).expect("a built-in definition");
            walk(&value, "", &mut out);
        }
        assert!(out.len() > 100, "the definitions' selectors were not found");
        out.extend(
            [
                "*",
                "[href]",
                "a, td",
                "td, a, td",
                "div.a.b",
                "#main",
                "body > *",
                ":scope > div",
                ":scope a",
                "svg",
                "foreignObject",
                "A",
                "TD.cur",
                "td:nth-child(2)",
                "tr:nth-of-type(2n+1) > td:last-child",
                ":is(h1, h2) a",
                "p:has(> a)",
                "div:not(.x) span",
                "a[href*='/u/'], a[href$='.html']",
                "a[href='x.html'], td[id], [href^='/u']",
                "a[class][href], td[class=cur]",
                "input[type=password]",
                "a[href*='U/' s]",
                "input[type=password i]",
                "li + li",
                "h3 ~ p",
            ]
            .map(String::from),
        );
        out.sort();
        out.dedup();
        out
    }

    fn pages() -> Vec<String> {
        let mut found = Vec::new();
        let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("test_data") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "html") {
                    found.push(std::fs::read_to_string(&path).expect("a page"));
                }
            }
        }
        // Trees html5ever builds out of order (foster parenting, misnested formatting), with
        // classes and ids repeated, and SVG's cased names.
        found.push(
            "<table><tr><td class='cur a a'>1<b><i>x</b>y</i><div>z</div></td></tr>\
             <a href='/u/1' class='a b' id='main'>q</a><tr><td id=main>2</td></tr></table>\
             <p><a href='x.html'>p</a></p><h3>h</h3><p>s</p><ul><li>1</li><li>2</li></ul>\
             <svg><foreignObject><div class='a b'>f</div></foreignObject></svg>\
             <form><input type=PASSWORD></form>"
                .to_string(),
        );
        assert!(found.len() > 20, "the test pages were not found");
        found
    }

    /// The index selects exactly what scraper selects: from the document (in document order)
    /// and below elements (in scraper's order).
    #[test]
    fn selections_equal_scrapers() {
        let selectors: Vec<Sel> = selectors()
            .iter()
            .map(|text| Sel::parse(text).expect("a valid selector"))
            .collect();
        let scopes = Sel::parse("div, table, tr, ul, li, td, form").expect("a valid selector");
        let mut compared = 0;
        for html in pages() {
            let doc = Html::parse_document(&html);
            let page = Page::new(&doc);
            let in_order: Vec<ego_tree::NodeId> = doc
                .root_element()
                .descendants()
                .filter(|node| node.value().is_element())
                .map(|node| node.id())
                .collect();
            for sel in &selectors {
                let ours: Vec<_> = page.select(None, sel).map(|e| e.id()).collect();
                let mut theirs: Vec<_> = doc.select(&sel.css).map(|e| e.id()).collect();
                // scraper lists the document's matches in the order the nodes were made.
                theirs.sort_by_key(|id| in_order.iter().position(|x| x == id));
                assert_eq!(ours, theirs, "{:?} on the document", sel.css);
                for scope in page.select(None, &scopes).take(25) {
                    let ours: Vec<_> = page.select(Some(scope), sel).map(|e| e.id()).collect();
                    let theirs: Vec<_> = scope.select(&sel.css).map(|e| e.id()).collect();
                    assert_eq!(ours, theirs, "{:?} below {:?}", sel.css, scope.value());
                    compared += 1;
                }
                for element in doc.select(&sel.css).take(5) {
                    assert!(sel.matches(&element), "{:?} matches", sel.css);
                }
            }
        }
        assert!(compared > 10_000, "only {compared} selections compared");
    }

    #[test]
    fn keys_come_from_the_rightmost_compound() {
        let key = |text: &str| {
            Sel::parse(text)
                .expect("valid")
                .keys
                .map(|needs| needs.into_iter().map(|n| n.key).collect::<Vec<_>>())
        };
        assert_eq!(
            key("div.listDes > h2"),
            Some(vec![Key::Tag(LocalName::from("h2"))])
        );
        assert_eq!(
            key("table.productTbl td.cur"),
            Some(vec![Key::Class("cur".into())])
        );
        assert_eq!(key("a#x.y"), Some(vec![Key::Id("x".into())]));
        let tests = |text: &str| {
            Sel::parse(text).expect("valid").keys.expect("keyed")[0]
                .attrs
                .iter()
                .map(|t| (t.name.to_string(), t.op, t.value.clone()))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            tests("div[id] a[href*='/u/'][data-r^=n][x=\"\"]"),
            vec![
                ("data-r".into(), AttrOp::Prefix, "n".into()),
                ("href".into(), AttrOp::Substring, "/u/".into()),
            ]
        );
        assert_eq!(tests("a[href$=x i][title~=y][data-x|=z]"), vec![]);
        assert_eq!(key("a, [href]"), None);
        assert_eq!(key("foreignObject"), None);
        assert_eq!(key(":is(a, b)"), None);
    }
}
