//! Limits applied to a page before html5ever sees it.
//!
//! html5ever's tree building costs time proportional to the square of the nesting depth and deep
//! nesting can exhaust the stack, so a page is cut where its nesting passes `max_depth`, and at
//! `max_bytes`. The depth estimate is a cheap scan of the tags: elements whose end tag HTML lets
//! a page omit (`<p>`, `<li>`, `<td>`, ...) and void elements do not count, so a real page's
//! estimate is close to its tree's depth, while a hostile one is cut early.

/// How much of a page the parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes read; the rest is dropped with a diagnostic.
    pub max_bytes: usize,
    /// Element nesting depth; the page is cut where it is passed.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 8 * 1024 * 1024,
            max_depth: 256,
        }
    }
}

/// Elements that never have content or whose end tag may be left out: they do not deepen the
/// estimate.
const NOT_COUNTED: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "option", "optgroup", "td", "th", "tr", "tbody",
    "thead", "tfoot", "colgroup", "rb", "rt", "rp", "html", "head", "body", "!doctype",
];

/// Where and why a page was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub at: usize,
    pub reason: String,
}

/// Returns the part of `html` to parse, and why it was cut if it was.
pub fn bound(html: &str, limits: Limits) -> (&str, Option<Cut>) {
    let mut cut = None;
    let mut end = html.len();
    if end > limits.max_bytes {
        end = floor_char_boundary(html, limits.max_bytes);
        cut = Some(Cut {
            at: end,
            reason: format!(
                "the page has {} bytes; only the first {} are read",
                html.len(),
                limits.max_bytes
            ),
        });
    }
    let text = &html[..end];
    if let Some(at) = depth_cut(text, limits.max_depth) {
        return (
            &text[..at],
            Some(Cut {
                at,
                reason: format!(
                    "elements are nested deeper than {}; the page is read up to byte {at}",
                    limits.max_depth
                ),
            }),
        );
    }
    (text, cut)
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The byte offset of the tag that makes the estimated depth pass `max_depth`.
fn depth_cut(text: &str, max_depth: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth: usize = 0;
    let mut i = 0;
    while let Some(offset) = memchr(b'<', &bytes[i..]) {
        let start = i + offset;
        i = start + 1;
        if bytes[i..].starts_with(b"!--") {
            i = match find(&bytes[i..], b"-->") {
                Some(end) => i + end + 3,
                None => return None,
            };
            continue;
        }
        let closing = bytes.get(i) == Some(&b'/');
        let name_start = if closing { i + 1 } else { i };
        let name_end = bytes[name_start..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'!' || *b == b'-'))
            .map(|p| name_start + p)
            .unwrap_or(bytes.len());
        if name_end == name_start {
            continue;
        }
        let name = text[name_start..name_end].to_ascii_lowercase();
        let tag_end = memchr(b'>', &bytes[name_end..]).map(|p| name_end + p);
        let self_closing = tag_end.is_some_and(|e| e > 0 && bytes[e - 1] == b'/');
        if closing {
            if !NOT_COUNTED.contains(&name.as_str()) {
                depth = depth.saturating_sub(1);
            }
            continue;
        }
        if name == "script" || name == "style" || name == "textarea" || name == "title" {
            // Raw text: skip to the end tag.
            let close = format!("</{name}");
            match find_ignore_case(&bytes[i..], close.as_bytes()) {
                Some(end) => i += end,
                None => return None,
            }
            continue;
        }
        if self_closing || NOT_COUNTED.contains(&name.as_str()) {
            continue;
        }
        depth += 1;
        if depth > max_depth {
            return Some(start);
        }
    }
    None
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|b| *b == needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(html: &str, max_depth: usize) -> String {
        let (text, cut) = bound(
            html,
            Limits {
                max_bytes: 64,
                max_depth,
            },
        );
        format!("{text:?} {:?}", cut.map(|c| c.reason))
    }

    #[test]
    fn cuts_deep_and_long_pages_only() {
        expect_test::expect![[r#""<div><p><p><li><img><br/><div>x</div></div>" None"#]]
            .assert_eq(&check("<div><p><p><li><img><br/><div>x</div></div>", 2));
        expect_test::expect![[r#""<div><span>" Some("elements are nested deeper than 2; the page is read up to byte 11")"#]]
            .assert_eq(&check("<div><span><b>deep</b></span></div>", 2));
        expect_test::expect![[r#""<script><div><div><div></script><div>" None"#]]
            .assert_eq(&check("<script><div><div><div></script><div>", 2));
        expect_test::expect![[r#""éééééééééééééééééééééééééééééééé" Some("the page has 200 bytes; only the first 64 are read")"#]]
            .assert_eq(&check(&"é".repeat(100), 2));
    }
}
