//! The people a page names who are not vendors (buyers, forum and feedback authors), found by
//! the market definition's `[[redact]]` rules, and their replacement in the page's raw bytes,
//! for pages the project shares (a WARC export).
//!
//! Two halves that meet only in [`Identifier`]:
//!
//! - [`identifiers_within`] reads the page's tree (built through the same guard as [`crate::parse_page`],
//!   so a hostile page costs no more) and returns what each rule's elements say, white space
//!   collapsed as the extractor collapses it.
//! - [`redact`] works on the bytes as saved, not on a re-serialised tree: the page stays the
//!   page that was captured, byte for byte, except for the people in it. An identifier is found
//!   as the text and in the forms HTML may write it in: character references (`&amp;`, `&lt;`,
//!   `&gt;`, `&quot;`, `&apos;`, `&#39;`, `&#x27;`, any decimal or hexadecimal reference), any run
//!   of white space (`&nbsp;` included) for a space, and any invalid UTF-8 sequence for the U+FFFD
//!   a lossy decode put in its place. Only whole occurrences count: the bytes either side are not
//!   ASCII letters, digits or `_`, so `joe` leaves `joey` alone.
//!
//! Invariant: fail closed. A rule whose regex does not match an element's text takes the text
//! whole; an identifier that [`redact`] cannot find in the bytes (the layout split it over two
//! elements, a named entity it does not know, a comment inside it) is reported in
//! [`Redacted::missed`]; a page the guard cut is reported by [`identifiers_within`]. Each means
//! the page cannot be shared as it is; none is silently shared with a person in it.
//!
//! Nothing here does IO, fails or panics.

use scraper::ElementRef;

use crate::definition::{normalise_label, Market};
use crate::extract::element_text;
use crate::guard::{self, Limits};
use crate::normalize::collapse_whitespace;

/// Who an identifier names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentifierKind {
    /// A buyer: a (masked) handle in a feedback row, or the account a page was fetched with.
    Buyer,
    /// A forum or feedback author who is not a vendor.
    Author,
}

impl IdentifierKind {
    pub(crate) const ALL: [IdentifierKind; 2] = [IdentifierKind::Buyer, IdentifierKind::Author];

    /// The name definitions use (`kind = "buyer"`).
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Buyer => "buyer",
            IdentifierKind::Author => "author",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<IdentifierKind> {
        IdentifierKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A person a page names, as the page's text shows them (white space collapsed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identifier {
    pub kind: IdentifierKind,
    pub text: String,
}

/// Identifiers longer than this (in characters) are not searched for: no handle is that long,
/// and [`redact`]'s cost grows with it. They are reported missed.
pub const MAX_IDENTIFIER_CHARS: usize = 200;

/// Why [`identifiers_within`] could not look: the definition marks no one.
pub const NO_RULES: &str = "the market definition has no [[redact]] rules";

/// The people a page names, and why the list may be incomplete: the limits the page reached
/// (cut or refused, as in [`crate::ParsedPage`]'s diagnostics), or [`NO_RULES`]. People past a
/// cut are not found, and a definition without rules finds no one, so a page with any reason
/// here cannot be shared safely.
pub fn identifiers_within(
    market: &Market,
    html: &str,
    limits: Limits,
) -> (Vec<Identifier>, Vec<String>) {
    if market.redact.is_empty() {
        return (Vec::new(), vec![NO_RULES.to_string()]);
    }
    let (doc, _, cuts) = guard::parse_bounded(html, limits);
    let page = crate::select::Page::new(&doc);
    let mut found = Vec::new();
    for rule in &market.redact {
        for element in page.select(None, &rule.selector) {
            let element = match &rule.label {
                Some(label) => {
                    if normalise_label(&element_text(element, false, false)) != *label {
                        continue;
                    }
                    match element.next_siblings().find_map(ElementRef::wrap) {
                        Some(value) => value,
                        None => continue,
                    }
                }
                None => element,
            };
            let text = element_text(element, false, false);
            let identifier = match &rule.regex {
                Some(regex) => match regex.captures(&text) {
                    Some(captures) => captures
                        .get(1)
                        .or_else(|| captures.get(0))
                        .map(|m| m.as_str().trim().to_string())
                        .unwrap_or_default(),
                    // Fail closed: the whole text, which the page may not hold as one run (then
                    // `redact` reports it missed).
                    None => text,
                },
                None => text,
            };
            if !identifier.is_empty() {
                found.push(Identifier {
                    kind: rule.kind,
                    text: identifier,
                });
            }
        }
    }
    let reasons = cuts.into_iter().map(|cut| cut.reason).collect();
    (longest_first(found), reasons)
}

/// Deduplicated by text (the first kind wins), longest first, then in text order.
fn longest_first(identifiers: Vec<Identifier>) -> Vec<Identifier> {
    let mut sorted: Vec<(usize, usize, Identifier)> = identifiers
        .into_iter()
        .enumerate()
        .map(|(index, identifier)| (identifier.text.chars().count(), index, identifier))
        .collect();
    sorted.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(a.2.text.cmp(&b.2.text))
            .then(a.1.cmp(&b.1))
    });
    sorted.dedup_by(|later, earlier| later.2.text == earlier.2.text);
    sorted
        .into_iter()
        .map(|(_, _, identifier)| identifier)
        .collect()
}

/// A page with its people replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub body: Vec<u8>,
    /// Occurrences replaced.
    pub replaced: usize,
    /// Identifiers found in the DOM but not found in the bytes (so the page cannot be shared
    /// safely), and identifiers longer than [`MAX_IDENTIFIER_CHARS`].
    pub missed: Vec<Identifier>,
}

/// Replaces every whole occurrence of each identifier in the raw bytes (as the text and in its
/// HTML-escaped forms, see the module documentation) by `replacement(identifier)`. Where
/// identifiers overlap the longest wins; a replacement is never searched again.
pub fn redact(
    body: &[u8],
    identifiers: &[Identifier],
    replacement: impl Fn(&Identifier) -> String,
) -> Redacted {
    let identifiers = longest_first(identifiers.to_vec());
    let mut trie = Trie::default();
    let mut missed = Vec::new();
    let mut searched = Vec::new();
    for identifier in identifiers {
        if identifier.text.is_empty() {
            continue;
        }
        if identifier.text.chars().count() > MAX_IDENTIFIER_CHARS {
            missed.push(identifier);
            continue;
        }
        trie.insert(&collapse_whitespace(&identifier.text), searched.len());
        searched.push(identifier);
    }
    let replacements: Vec<String> = searched.iter().map(&replacement).collect();
    let mut counts = vec![0usize; searched.len()];
    let mut scanner = Scanner::new(body);
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    while let Some((_, length)) = scanner.token(at) {
        if !is_word_byte_before(body, at) {
            if let Some((id, end)) = longest_match(&trie, &mut scanner, at) {
                out.extend_from_slice(replacements[id].as_bytes());
                counts[id] += 1;
                at = end;
                continue;
            }
        }
        out.extend_from_slice(&body[at..at + length]);
        at += length;
    }
    let replaced = counts.iter().sum();
    missed.extend(
        searched
            .into_iter()
            .zip(counts)
            .filter(|(_, count)| *count == 0)
            .map(|(identifier, _)| identifier),
    );
    Redacted {
        body: out,
        replaced,
        missed,
    }
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_word_byte_before(body: &[u8], at: usize) -> bool {
    at > 0 && body.get(at - 1).copied().is_some_and(is_word_byte)
}

/// The longest identifier that starts at `at` and ends on a boundary: (its index, where it ends).
fn longest_match(trie: &Trie, scanner: &mut Scanner<'_>, at: usize) -> Option<(usize, usize)> {
    let mut node = 0;
    let mut position = at;
    let mut best = None;
    while let Some((ch, length)) = scanner.token(position) {
        let Some(next) = trie.child(node, ch) else {
            break;
        };
        node = next;
        position += length;
        if let Some(id) = trie.nodes[node].terminal {
            if !scanner
                .body
                .get(position)
                .copied()
                .is_some_and(is_word_byte)
            {
                best = Some((id, position));
            }
        }
    }
    best
}

/// The identifiers, character by character, white space collapsed (a space stands for any run
/// of white space).
#[derive(Debug)]
struct Trie {
    nodes: Vec<TrieNode>,
}

#[derive(Debug, Default)]
struct TrieNode {
    /// Sorted by character.
    children: Vec<(char, usize)>,
    terminal: Option<usize>,
}

impl Default for Trie {
    fn default() -> Trie {
        Trie {
            nodes: vec![TrieNode::default()],
        }
    }
}

impl Trie {
    fn insert(&mut self, text: &str, id: usize) {
        let mut node = 0;
        for ch in text.chars() {
            node = match self.nodes[node]
                .children
                .binary_search_by_key(&ch, |(c, _)| *c)
            {
                Ok(index) => self.nodes[node].children[index].1,
                Err(index) => {
                    let next = self.nodes.len();
                    self.nodes.push(TrieNode::default());
                    self.nodes[node].children.insert(index, (ch, next));
                    next
                }
            };
        }
        // Deduplicated beforehand; the first (longest-first order) keeps the node anyway.
        self.nodes[node].terminal.get_or_insert(id);
    }

    fn child(&self, node: usize, ch: char) -> Option<usize> {
        let children = &self.nodes[node].children;
        children
            .binary_search_by_key(&ch, |(c, _)| *c)
            .ok()
            .map(|index| children[index].1)
    }
}

/// White space as the extractor collapses it (`normalize::collapse_whitespace`).
fn is_space(ch: char) -> bool {
    ch.is_whitespace() || ch == '\u{a0}'
}

/// Reads the body as the characters a browser (and html5ever) would see in text, one token at a
/// time: a character with the bytes it is written with.
#[derive(Debug)]
struct Scanner<'a> {
    body: &'a [u8],
    /// The last run of white space measured, (start, end): a long run is measured once however
    /// many candidate matches reach it.
    last_space_run: (usize, usize),
}

impl<'a> Scanner<'a> {
    fn new(body: &'a [u8]) -> Scanner<'a> {
        Scanner {
            body,
            last_space_run: (usize::MAX, 0),
        }
    }

    /// The token at `at`: a character (a run of white space is one ' ') and its length in bytes.
    fn token(&mut self, at: usize) -> Option<(char, usize)> {
        let (ch, length) = unit(self.body, at)?;
        if !is_space(ch) {
            return Some((ch, length));
        }
        if self.last_space_run.0 == at {
            return Some((' ', self.last_space_run.1 - at));
        }
        let mut end = at + length;
        while let Some((ch, length)) = unit(self.body, end) {
            if !is_space(ch) {
                break;
            }
            end += length;
        }
        self.last_space_run = (at, end);
        Some((' ', end - at))
    }
}

/// One character at `at` and its length: a character reference, a UTF-8 character, or an
/// invalid sequence (U+FFFD, as long as a lossy decode takes it to be).
fn unit(body: &[u8], at: usize) -> Option<(char, usize)> {
    let rest = body.get(at..)?;
    let first = *rest.first()?;
    if first == b'&' {
        return Some(reference(rest).unwrap_or(('&', 1)));
    }
    if first.is_ascii() {
        return Some((char::from(first), 1));
    }
    let width = match first {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    };
    if width > 0 {
        if let Some(Ok(text)) = rest.get(..width).map(std::str::from_utf8) {
            if let Some(ch) = text.chars().next() {
                return Some((ch, width));
            }
        }
    }
    let window = &rest[..rest.len().min(4)];
    let invalid = window
        .utf8_chunks()
        .next()
        .map_or(1, |chunk| chunk.invalid().len())
        .max(1);
    Some(('\u{FFFD}', invalid))
}

/// The longest numeric character reference read (`&#x` and up to this many digits).
const MAX_REFERENCE_DIGITS: usize = 16;

/// A character reference at the start of `text` (which starts with `&`): the character and the
/// reference's length. Named references are the few that escape text and attributes; numeric
/// ones may omit the `;`, as HTML allows.
fn reference(text: &[u8]) -> Option<(char, usize)> {
    const NAMED: &[(&[u8], char)] = &[
        (b"&amp;", '&'),
        (b"&lt;", '<'),
        (b"&gt;", '>'),
        (b"&quot;", '"'),
        (b"&apos;", '\''),
        (b"&nbsp;", '\u{a0}'),
        (b"&AMP;", '&'),
        (b"&LT;", '<'),
        (b"&GT;", '>'),
        (b"&QUOT;", '"'),
    ];
    for (name, ch) in NAMED {
        if text.starts_with(name) {
            return Some((*ch, name.len()));
        }
    }
    if text.get(1) != Some(&b'#') {
        return None;
    }
    let hex = matches!(text.get(2), Some(b'x' | b'X'));
    let start = if hex { 3 } else { 2 };
    let radix = if hex { 16 } else { 10 };
    let digits = text
        .iter()
        .skip(start)
        .take(MAX_REFERENCE_DIGITS + 1)
        .take_while(|b| char::from(**b).is_digit(radix))
        .count();
    if digits == 0 || digits > MAX_REFERENCE_DIGITS {
        return None;
    }
    let value = text[start..start + digits].iter().fold(0u64, |value, b| {
        value * u64::from(radix) + u64::from(char::from(*b).to_digit(radix).unwrap_or(0))
    });
    let mut length = start + digits;
    if text.get(length) == Some(&b';') {
        length += 1;
    }
    Some((numeric_reference(value), length))
}

/// The character a numeric reference stands for, as HTML decodes it: out of range, zero and
/// surrogates are U+FFFD; 0x80–0x9F are windows-1252's characters.
fn numeric_reference(value: u64) -> char {
    const WINDOWS_1252: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    let Ok(value) = u32::try_from(value) else {
        return '\u{FFFD}';
    };
    let value = match value {
        0 => return '\u{FFFD}',
        0x80..=0x9F => WINDOWS_1252[(value - 0x80) as usize],
        other => other,
    };
    char::from_u32(value).unwrap_or('\u{FFFD}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buyer(text: &str) -> Identifier {
        Identifier {
            kind: IdentifierKind::Buyer,
            text: text.to_string(),
        }
    }

    fn author(text: &str) -> Identifier {
        Identifier {
            kind: IdentifierKind::Author,
            text: text.to_string(),
        }
    }

    /// The one caller of `redact` in these tests: the body after, how many were replaced and
    /// which identifiers were missed, as one line to compare.
    fn check(body: &[u8], identifiers: &[Identifier], expect: expect_test::Expect) {
        let redacted = redact(body, identifiers, |identifier| {
            format!("[{}]", identifier.kind.as_str())
        });
        let missed: Vec<String> = redacted
            .missed
            .iter()
            .map(|i| match i.text.chars().count() {
                n if n > 20 => format!("<{n} chars>"),
                _ => i.text.clone(),
            })
            .collect();
        expect.assert_eq(&format!(
            "{} | replaced {} | missed {missed:?}",
            String::from_utf8_lossy(&redacted.body),
            redacted.replaced
        ));
    }

    #[test]
    fn only_whole_occurrences_are_replaced() {
        check(
            b"joe, joey, _joe, joe_, 1joe, joe2, (joe) joe",
            &[author("joe")],
            expect_test::expect![[
                r#"[author], joey, _joe, joe_, 1joe, joe2, ([author]) [author] | replaced 3 | missed []"#
            ]],
        );
        check(
            b"<td class=\"buyer\">b***3 (12)</td><p>ab***3</p><p>b***3</p>",
            &[buyer("b***3")],
            expect_test::expect![[
                r#"<td class="buyer">[buyer] (12)</td><p>ab***3</p><p>[buyer]</p> | replaced 2 | missed []"#
            ]],
        );
        // A boundary is a byte: a letter outside ASCII is no word byte.
        check(
            "éjoe joeé".as_bytes(),
            &[author("joe")],
            expect_test::expect!["é[author] [author]é | replaced 2 | missed []"],
        );
    }

    #[test]
    fn escaped_forms_are_found() {
        check(
            b"O&#39;Brien O&#x27;Brien O&apos;Brien O&#X00027;Brien O'Brien O&#39Brien",
            &[author("O'Brien")],
            expect_test::expect![[
                r#"[author] [author] [author] [author] [author] [author] | replaced 6 | missed []"#
            ]],
        );
        check(
            b"a&amp;b &lt;3&gt; &quot;q&quot; a&b &#106;&#x6F;e title=\"a&amp;b\"",
            &[author("a&b"), author("<3>"), author("\"q\""), author("joe")],
            expect_test::expect![[
                r#"[author] [author] [author] [author] [author] title="[author]" | replaced 6 | missed []"#
            ]],
        );
        // A reference to a word character counts as one for the boundary only by its own bytes:
        // `&#106;` ends with `;`, so `x&#106;oe` starts with `x` and is not whole.
        check(
            b"x&#106;oe",
            &[author("joe")],
            expect_test::expect!["x&#106;oe | replaced 0 | missed [\"joe\"]"],
        );
        // Windows-1252's range of numeric references is decoded as HTML decodes it.
        check(
            b"&#128;uro",
            &[author("\u{20ac}uro")],
            expect_test::expect!["[author] | replaced 1 | missed []"],
        );
    }

    #[test]
    fn a_space_is_any_run_of_white_space() {
        check(
            b"<td>s . . . r</td><td>s .\n\t. &nbsp;. r</td><td>s&#160;.\xc2\xa0. . r</td><td>s.. . r</td>",
            &[buyer("s . . . r")],
            expect_test::expect![[
                r#"<td>[buyer]</td><td>[buyer]</td><td>[buyer]</td><td>s.. . r</td> | replaced 3 | missed []"#
            ]],
        );
    }

    #[test]
    fn the_longest_identifier_wins_and_replacements_are_not_searched_again() {
        check(
            b"joe smith, joe smithers, joe",
            &[author("joe"), author("joe smith")],
            expect_test::expect![[
                r#"[author], [author] smithers, [author] | replaced 3 | missed []"#
            ]],
        );
        let redacted = redact(b"x and y", &[author("x"), author("y")], |_| "[x]".into());
        assert_eq!(redacted.body, b"[x] and [x]");
        assert_eq!(redacted.replaced, 2);
    }

    #[test]
    fn identifiers_not_in_the_bytes_are_missed() {
        check(
            b"<td>d<b>aniel</b></td> <p>caf&eacute;</p> jo<!-- -->e",
            &[
                author("daniel"),
                author("caf\u{e9}"),
                author("joe"),
                author(&"x".repeat(MAX_IDENTIFIER_CHARS + 1)),
                author(""),
            ],
            expect_test::expect![[
                r#"<td>d<b>aniel</b></td> <p>caf&eacute;</p> jo<!-- -->e | replaced 0 | missed ["<201 chars>", "daniel", "café", "joe"]"#
            ]],
        );
        // The same text twice is one identifier: replaced where found, missed once.
        let redacted = redact(b"nobody", &[author("joe"), buyer("joe")], |_| "x".into());
        assert_eq!(redacted.missed, [author("joe")]);
    }

    #[test]
    fn non_utf8_bytes_are_kept_and_match_the_lossy_decode() {
        // A Latin-1 page: "José" is J o s \xE9; the DOM, read lossily, says "Jos\u{FFFD}".
        let body = b"<p>Jos\xe9</p><p>\xff\xfe caf\xe9 Jos\xe9s</p>";
        let redacted = redact(body, &[author("Jos\u{FFFD}")], |_| "[a]".into());
        assert_eq!(redacted.body, b"<p>[a]</p><p>\xff\xfe caf\xe9 Jos\xe9s</p>");
        assert_eq!(redacted.replaced, 1);
        assert!(redacted.missed.is_empty());
        // Truncated sequences at the end of the body are read as one U+FFFD each.
        let redacted = redact(b"ab \xe2\x82", &[author("ab")], |_| "[a]".into());
        assert_eq!(redacted.body, b"[a] \xe2\x82");
    }

    #[test]
    fn a_hostile_body_is_scanned_in_bounded_time() {
        let long_a = "a".repeat(MAX_IDENTIFIER_CHARS);
        let identifiers = [
            author(&long_a),
            author(&format!("{long_a}b")),
            author("a a"),
        ];
        let body = format!("{}{}", "-a".repeat(200_000), " ".repeat(1 << 20)).into_bytes();
        let redacted = redact(&body, &identifiers, |_| "[x]".into());
        assert_eq!(redacted.body, body);
        assert_eq!(redacted.missed.len(), 3);
        // Every start walks almost the whole identifier before it fails.
        let near_miss = author(&format!("{}b", "a-".repeat(MAX_IDENTIFIER_CHARS / 2 - 1)));
        let body = "-a".repeat(100_000).into_bytes();
        let redacted = redact(&body, &[near_miss], |_| "[x]".into());
        assert_eq!((redacted.body.len(), redacted.replaced), (body.len(), 0));
        let references = "&#".to_string() + &"9".repeat(100_000) + "&#x;&#;&";
        let redacted = redact(references.as_bytes(), &identifiers, |_| "[x]".into());
        assert_eq!(redacted.body, references.as_bytes());
    }

    fn market(text: &str) -> Market {
        Market::from_toml("t.toml", text).expect("a valid definition")
    }

    #[test]
    fn rules_read_selectors_labels_and_regexes_and_fail_closed() {
        let market = market(
            r#"
name = "t"
[[redact]]
kind = "buyer"
selector = "td.buyer"
regex = '^(.+?) \(\d+\)$'
[[redact]]
kind = "buyer"
selector = "dl.review dt"
label = "From"
[[redact]]
kind = "author"
selector = "span.author"
"#,
        );
        let html = "<table><tr><td class=buyer>b***3 (12)</td><td class=buyer>\n  anon  </td>\
                    <td class=buyer>b***3 (1)</td></tr></table>\
                    <dl class=review><dt>From</dt><dd>k***8</dd><dt>Paid</dt><dd>USD 1</dd></dl>\
                    <span class=author>joe</span><a class=author>VendorX</a><span class=author> </span>";
        let (found, reasons) = identifiers_within(&market, html, Limits::default());
        assert!(reasons.is_empty(), "{reasons:?}");
        let found: Vec<String> = found
            .iter()
            .map(|i| format!("{}:{}", i.kind.as_str(), i.text))
            .collect();
        assert_eq!(
            found,
            ["buyer:b***3", "buyer:k***8", "buyer:anon", "author:joe"]
        );
    }

    #[test]
    fn a_hostile_page_yields_identifiers_without_panicking() {
        let markets = crate::builtin_markets().expect("the built-in definitions compile");
        let pages = [
            "<div></b>".repeat(1 << 17),
            "<div>".repeat(100_000),
            format!(
                "<table>{}</table>",
                "<tr><td class=buyer>x (1)<td class=buyer>".repeat(40_000)
            ),
            "<span class=author>&#xFFFFFF;&#0;\u{0}".repeat(50_000),
        ];
        for (index, page) in pages.iter().enumerate() {
            // The megabyte of misnested tags through every definition, the rest through one.
            let markets = if index == 0 {
                &markets[..]
            } else {
                &markets[2..3]
            };
            for market in markets {
                let (found, _) = identifiers_within(market, page, Limits::default());
                let redacted = redact(page.as_bytes(), &found, |_| "[x]".into());
                assert!(redacted.body.len() <= page.len() * 3);
            }
        }
        let small = Limits {
            max_nodes: 1_000,
            ..Limits::default()
        };
        let (_, cut) = identifiers_within(&markets[2], &pages[0], small);
        assert!(!cut.is_empty(), "a page past the limits says so");
        // A definition without rules finds no one, and says it did not look.
        let bare = market("name = \"bare\"\n");
        let (found, reasons) =
            identifiers_within(&bare, "<td class=buyer>b***3</td>", Limits::default());
        assert!(found.is_empty());
        assert_eq!(reasons, [NO_RULES]);
    }
}
