//! Parsing bounded in time, memory and stack, whatever the page.
//!
//! html5ever's tree building costs time proportional to the page's size times its nesting
//! depth, and a hostile page can make the tree builder create many elements per byte (misnested
//! formatting elements are cloned again and again). A pre-scan of the text cannot know what the
//! tree builder will build (stray end tags, unclosed comments, foreign content), so the limits
//! count what it actually builds: the page is fed to html5ever in small chunks through a sink
//! that counts the nodes created and measures the depth of every node appended to the tree.
//!
//! - Between chunks, a page whose tree is deeper than `max_depth`, has more than `max_nodes`
//!   nodes, or has taken longer than `max_time` is **cut**: the tree built so far is kept and
//!   the rest of the page is not read.
//! - Within a chunk, a page that makes the tree builder create more than `4 × max_nodes` nodes
//!   (amplification inside one chunk) is **refused**: parsing stops at once and the page gets an
//!   empty tree.
//! - Only the first `max_bytes` of a page are read.
//!
//! Either way the page gets a diagnostic naming the limit, where it was reached and what was
//! not read.

use std::borrow::Cow;
use std::cell::{Cell, Ref};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{Attribute, QualName};
use scraper::{Html, HtmlTreeSink};

/// How much of a page the parser reads and builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes read; the rest is dropped with a diagnostic.
    pub max_bytes: usize,
    /// Depth of the built tree (the document is depth 0); the page is cut where it is passed.
    pub max_depth: usize,
    /// Nodes (elements, text runs, comments) in the built tree; the page is cut where it is
    /// passed, and refused when one chunk alone creates four times as many.
    pub max_nodes: usize,
    /// Time spent building the tree; the page is cut where it is passed.
    pub max_time: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 8 * 1024 * 1024,
            max_depth: 512,
            max_nodes: 400_000,
            max_time: Duration::from_millis(1500),
        }
    }
}

/// Where and why a page was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// Bytes of the page that were read.
    pub at: usize,
    pub reason: String,
    /// Nothing of the page was read: its tree is empty.
    pub refused: bool,
}

/// Bytes fed to html5ever at a time: the most work a page can make between two checks.
const CHUNK: usize = 4096;

/// The page's tree, the part of the page it was built from, and where and why it was cut (each
/// limit reached, in order).
pub fn parse_bounded(html: &str, limits: Limits) -> (Html, &str, Vec<Cut>) {
    let mut cuts = Vec::new();
    let mut end = html.len();
    if end > limits.max_bytes {
        end = floor_char_boundary(html, limits.max_bytes);
        cuts.push(Cut {
            at: end,
            reason: format!(
                "the page has {} bytes; only the first {} are read",
                html.len(),
                limits.max_bytes
            ),
            refused: false,
        });
    }
    let text = &html[..end];
    let defused = defuse(text);
    let fed: &str = &defused;
    let text = match defused.crowded {
        Some(at) => {
            cuts.push(Cut {
                at,
                reason: format!(
                    "a tag has more than {MAX_ATTRIBUTES} attributes; the page is read up to byte {at}"
                ),
                refused: false,
            });
            &text[..at]
        }
        None => text,
    };
    let budget = Budget::new(limits);
    let sink = BoundedSink {
        inner: HtmlTreeSink::new(Html::new_document()),
        budget: &budget,
    };
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut parser = html5ever::driver::parse_document(sink, Default::default());
        let mut at = 0;
        while at < fed.len() {
            let next = floor_char_boundary(fed, (at + CHUNK).min(fed.len()));
            let next = if next <= at { fed.len() } else { next };
            parser.process(StrTendril::from_slice(&fed[at..next]));
            at = next;
            if at < fed.len() {
                if let Some(reason) = budget.exceeded(started.elapsed()) {
                    // Where the fed text was cut, in the page's own bytes.
                    let at = defused.original_offset(at).min(text.len());
                    return (
                        parser.finish(),
                        Some((floor_char_boundary(text, at), reason)),
                    );
                }
            }
        }
        (parser.finish(), None)
    }));
    match outcome {
        Ok((doc, None)) => (doc, text, cuts),
        Ok((doc, Some((at, reason)))) => {
            cuts.push(Cut {
                at,
                reason: format!(
                    "{reason}; the page is read up to byte {at} of {}",
                    html.len()
                ),
                refused: false,
            });
            (doc, &text[..at], cuts)
        }
        Err(payload) => match payload.downcast::<Refused>() {
            Ok(refused) => {
                cuts.push(Cut {
                    at: 0,
                    reason: format!("refused: {}; the page is not read at all", refused.0),
                    refused: true,
                });
                // An empty document still has its `html`, `head` and `body` (the rest of the
                // parser reads from the root element).
                (Html::parse_document(""), "", cuts)
            }
            // Not ours: html5ever or scraper panicked. The caller (which may run parsing on
            // its own thread) decides what a crash means.
            Err(payload) => resume_unwind(payload),
        },
    }
}

/// The page as html5ever is fed it: NUL bytes dropped (the tree builder drops them from text
/// anyway) and every `<` in text that starts no tag, end tag, comment or declaration written as
/// `&lt;` (the same character in the tree). html5ever keeps such `<`s one by one at tens of
/// bytes each: 8 MiB of `<` or NUL cost 600-800 MB before. Raw text (`script`, `style`,
/// `textarea`, `title`, ...) and comments are left as they are.
struct Defused<'a> {
    text: std::borrow::Cow<'a, str>,
    /// (offset in the fed text, bytes added so far) at each change, for mapping offsets back.
    shifts: Vec<(usize, isize)>,
    /// Where (in the page's bytes) a tag with more than [`MAX_ATTRIBUTES`] attributes starts:
    /// the fed text ends before it.
    crowded: Option<usize>,
}

impl std::ops::Deref for Defused<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl Defused<'_> {
    fn original_offset(&self, fed: usize) -> usize {
        let shift = match self.shifts.binary_search_by(|(at, _)| at.cmp(&fed)) {
            Ok(i) => self.shifts[i].1,
            Err(0) => 0,
            Err(i) => self.shifts[i - 1].1,
        };
        (fed as isize - shift).max(0) as usize
    }
}

const RAW_TEXT: &[&[u8]] = &[
    b"script",
    b"style",
    b"textarea",
    b"title",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"noscript",
    b"plaintext",
];

/// Records that from fed offset `at` on, fed offsets are `by` bytes ahead of the page's; one
/// entry per KiB of fed text at most (a cut is reported to within a KiB), so a page of NULs or
/// `<`s costs no more than a page of text.
fn shift(shifts: &mut Vec<(usize, isize)>, at: usize, by: isize) {
    match shifts.last_mut() {
        Some(last) if at < last.0 + 1024 => last.1 = by,
        _ => shifts.push((at, by)),
    }
}

/// Attributes a tag may have; a page is cut before a tag with more.
const MAX_ATTRIBUTES: usize = 1024;

fn defuse(original: &str) -> Defused<'_> {
    let bytes = original.as_bytes();
    // Only what changes is copied: `out` holds the page up to `copied`, rewritten; a page
    // with nothing to rewrite is fed as it is.
    let mut out: Vec<u8> = Vec::new();
    let mut copied = 0;
    let mut shifts = Vec::new();
    let mut i = 0;
    // `needle` starts with a byte that has no case (`<`, `-`).
    let find = |from: usize, needle: &[u8]| {
        let mut at = from;
        while let Some(skip) = memchr::memchr(needle[0], &bytes[at..]) {
            let start = at + skip;
            if bytes[start..]
                .get(..needle.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(needle))
            {
                return Some(start);
            }
            at = start + 1;
        }
        None
    };
    // The end of a tag starting at `from` (after its `>`, quotes respected), and whether it has
    // more attributes than html5ever reads in reasonable time (it checks each new attribute
    // against all the tag's others).
    let tag_end = |from: usize| {
        // Quick: jump between quotes and `>`. A tag shorter than two bytes per attribute
        // allowed cannot have too many (each needs a byte and a space); longer ones are read
        // byte by byte below.
        let mut j = from;
        while let Some(skip) = memchr::memchr3(b'>', b'"', b'\'', &bytes[j..]) {
            let at = j + skip;
            if bytes[at] == b'>' {
                if at - from < 2 * MAX_ATTRIBUTES {
                    return (at + 1, false);
                }
                break;
            }
            match memchr::memchr(bytes[at], &bytes[at + 1..]) {
                Some(close) => j = at + 1 + close + 1,
                None => break,
            }
            if j - from >= 2 * MAX_ATTRIBUTES {
                break;
            }
        }
        let mut quote = None;
        let mut j = from;
        let mut attributes = 0usize;
        let mut in_word = false;
        while j < bytes.len() {
            let c = bytes[j];
            match (quote, c) {
                (None, b'"' | b'\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, b'>') => return (j + 1, false),
                (None, c) if c.is_ascii_whitespace() => in_word = false,
                (None, _) => {
                    if !in_word {
                        attributes += 1;
                        if attributes > MAX_ATTRIBUTES {
                            return (j, true);
                        }
                    }
                    in_word = true;
                }
                _ => {}
            }
            j += 1;
        }
        (bytes.len(), false)
    };
    let mut crowded = None;
    while i < bytes.len() {
        // Only `<` and NUL need a look.
        match memchr::memchr2(b'<', 0, &bytes[i..]) {
            Some(skip) => i += skip,
            None => break,
        }
        let b = bytes[i];
        if b == 0 {
            out.extend_from_slice(&bytes[copied..i]);
            i += 1;
            copied = i;
            shift(&mut shifts, out.len(), out.len() as isize - i as isize);
            continue;
        }
        if b != b'<' {
            i += 1;
            continue;
        }
        let next = bytes.get(i + 1).copied();
        match next {
            Some(b'!') if bytes[i..].starts_with(b"<!--") => {
                i = find(i + 4, b"-->").map_or(bytes.len(), |e| e + 3);
            }
            Some(n) if n.is_ascii_alphabetic() => {
                let name_end = bytes[i + 1..]
                    .iter()
                    .position(|c| !c.is_ascii_alphanumeric())
                    .map_or(bytes.len(), |p| i + 1 + p);
                let name = &bytes[i + 1..name_end];
                let (mut end, too_many) = tag_end(name_end);
                if too_many {
                    crowded = Some(i);
                    break;
                }
                if let Some(raw) = RAW_TEXT.iter().find(|r| r.eq_ignore_ascii_case(name)) {
                    let mut close = b"</".to_vec();
                    close.extend_from_slice(raw);
                    end = find(end, &close).unwrap_or(bytes.len());
                }
                i = end;
            }
            Some(b'/' | b'!' | b'?') => {
                let (end, too_many) = tag_end(i + 1);
                if too_many {
                    crowded = Some(i);
                    break;
                }
                i = end;
            }
            _ => {
                out.extend_from_slice(&bytes[copied..i]);
                out.extend_from_slice(b"&lt;");
                i += 1;
                copied = i;
                shift(&mut shifts, out.len(), out.len() as isize - i as isize);
            }
        }
    }
    let end = crowded.unwrap_or(bytes.len());
    if shifts.is_empty() {
        return Defused {
            text: std::borrow::Cow::Borrowed(&original[..end]),
            shifts,
            crowded,
        };
    }
    out.extend_from_slice(&bytes[copied..end]);
    // Only ASCII bytes were removed or inserted between whole characters.
    let text = String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Defused {
        text: std::borrow::Cow::Owned(text),
        shifts,
        crowded,
    }
}

/// The unwinding payload that stops the tree builder inside a chunk.
struct Refused(String);

/// What the tree builder has built so far.
struct Budget {
    limits: Limits,
    nodes: Cell<usize>,
    deepest: Cell<usize>,
}

impl Budget {
    fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            nodes: Cell::new(0),
            deepest: Cell::new(0),
        }
    }

    fn node_created(&self) {
        let nodes = self.nodes.get() + 1;
        self.nodes.set(nodes);
        if nodes > self.limits.max_nodes.saturating_mul(4) {
            // resume_unwind, unlike panic!, runs no panic hook: nothing is printed.
            resume_unwind(Box::new(Refused(format!(
                "the page makes the parser build more than {} nodes",
                self.limits.max_nodes.saturating_mul(4)
            ))));
        }
    }

    fn exceeded(&self, elapsed: Duration) -> Option<String> {
        if self.deepest.get() > self.limits.max_depth {
            Some(format!(
                "elements are nested deeper than {}",
                self.limits.max_depth
            ))
        } else if self.nodes.get() > self.limits.max_nodes {
            Some(format!(
                "the page has more than {} nodes",
                self.limits.max_nodes
            ))
        } else if elapsed > self.limits.max_time {
            Some(format!(
                "parsing took longer than {} ms",
                self.limits.max_time.as_millis()
            ))
        } else {
            None
        }
    }
}

/// scraper's sink, counting what is built.
struct BoundedSink<'b> {
    inner: HtmlTreeSink,
    budget: &'b Budget,
}

type Handle = <HtmlTreeSink as TreeSink>::Handle;

impl BoundedSink<'_> {
    /// Records the depth `node` has in the tree (walking up its parents: at most the depth
    /// limit plus one chunk's worth of elements).
    fn measure(&self, node: &Handle) {
        let html = self.inner.0.borrow();
        if let Some(node) = html.tree.get(*node) {
            let depth = node.ancestors().count() + 1;
            if depth > self.budget.deepest.get() {
                self.budget.deepest.set(depth);
            }
        }
    }

    fn counted(&self, child: &NodeOrText<Handle>) {
        if let NodeOrText::AppendText(_) = child {
            // Adjacent text is merged into one node; count runs, not characters.
            return;
        }
        self.budget.node_created();
    }
}

impl TreeSink for BoundedSink<'_> {
    type Output = Html;
    type Handle = Handle;
    type ElemName<'a>
        = Ref<'a, QualName>
    where
        Self: 'a;

    fn finish(self) -> Html {
        self.inner.finish()
    }

    fn parse_error(&self, msg: Cow<'static, str>) {
        self.inner.parse_error(msg)
    }

    fn get_document(&self) -> Handle {
        self.inner.get_document()
    }

    fn elem_name<'a>(&'a self, target: &'a Handle) -> Ref<'a, QualName> {
        self.inner.elem_name(target)
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> Handle {
        let handle = self.inner.create_element(name, attrs, flags);
        self.budget.node_created();
        handle
    }

    fn create_comment(&self, text: StrTendril) -> Handle {
        self.budget.node_created();
        self.inner.create_comment(text)
    }

    fn create_pi(&self, target: StrTendril, data: StrTendril) -> Handle {
        self.budget.node_created();
        self.inner.create_pi(target, data)
    }

    fn append(&self, parent: &Handle, child: NodeOrText<Handle>) {
        let node = match &child {
            NodeOrText::AppendNode(node) => Some(*node),
            NodeOrText::AppendText(_) => None,
        };
        if node.is_none() {
            self.counted(&child);
        }
        self.inner.append(parent, child);
        if let Some(node) = node {
            self.measure(&node);
        }
    }

    fn append_based_on_parent_node(
        &self,
        element: &Handle,
        prev_element: &Handle,
        child: NodeOrText<Handle>,
    ) {
        let node = match &child {
            NodeOrText::AppendNode(node) => Some(*node),
            NodeOrText::AppendText(_) => None,
        };
        self.inner
            .append_based_on_parent_node(element, prev_element, child);
        if let Some(node) = node {
            self.measure(&node);
        }
    }

    fn append_doctype_to_document(
        &self,
        name: StrTendril,
        public_id: StrTendril,
        system_id: StrTendril,
    ) {
        self.inner
            .append_doctype_to_document(name, public_id, system_id)
    }

    fn mark_script_already_started(&self, node: &Handle) {
        self.inner.mark_script_already_started(node)
    }

    fn pop(&self, node: &Handle) {
        self.inner.pop(node)
    }

    fn get_template_contents(&self, target: &Handle) -> Handle {
        self.inner.get_template_contents(target)
    }

    fn same_node(&self, x: &Handle, y: &Handle) -> bool {
        self.inner.same_node(x, y)
    }

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.inner.set_quirks_mode(mode)
    }

    fn append_before_sibling(&self, sibling: &Handle, new_node: NodeOrText<Handle>) {
        let node = match &new_node {
            NodeOrText::AppendNode(node) => Some(*node),
            NodeOrText::AppendText(_) => None,
        };
        self.inner.append_before_sibling(sibling, new_node);
        if let Some(node) = node {
            self.measure(&node);
        }
    }

    fn add_attrs_if_missing(&self, target: &Handle, attrs: Vec<Attribute>) {
        self.inner.add_attrs_if_missing(target, attrs)
    }

    fn associate_with_form(
        &self,
        target: &Handle,
        form: &Handle,
        nodes: (&Handle, Option<&Handle>),
    ) {
        self.inner.associate_with_form(target, form, nodes)
    }

    fn remove_from_parent(&self, target: &Handle) {
        self.inner.remove_from_parent(target)
    }

    fn reparent_children(&self, node: &Handle, new_parent: &Handle) {
        self.inner.reparent_children(node, new_parent);
        // The moved children are one level deeper or shallower; their subtrees are measured
        // again when the next node is appended below them.
        self.measure(new_parent);
    }

    fn is_mathml_annotation_xml_integration_point(&self, handle: &Handle) -> bool {
        self.inner
            .is_mathml_annotation_xml_integration_point(handle)
    }

    fn set_current_line(&self, line_number: u64) {
        self.inner.set_current_line(line_number)
    }

    fn allow_declarative_shadow_roots(&self, intended_parent: &Handle) -> bool {
        self.inner.allow_declarative_shadow_roots(intended_parent)
    }

    fn attach_declarative_shadow(
        &self,
        location: &Handle,
        template: &Handle,
        attrs: &[Attribute],
    ) -> bool {
        self.inner
            .attach_declarative_shadow(location, template, attrs)
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(html: &str, limits: Limits) -> String {
        let (doc, read, cuts) = parse_bounded(html, limits);
        let cut = (!cuts.is_empty()).then(|| {
            cuts.iter()
                .map(|c| c.reason.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        });
        let text: String = doc.root_element().text().collect();
        format!(
            "read {} of {} bytes, text {:?}, cut {:?}",
            read.len(),
            html.len(),
            text.chars().take(24).collect::<String>(),
            cut
        )
    }

    fn small() -> Limits {
        Limits {
            max_bytes: 64 * 1024,
            max_depth: 64,
            max_nodes: 2_000,
            max_time: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_normal_page_is_read_whole() {
        let page = "<html><body><div><p>a<p>b<ul><li>c<li>d</ul></div><script>x<y</script>\
                    </body></html>";
        expect_test::expect![[r#"read 84 of 84 bytes, text "abcdx<y", cut None"#]]
            .assert_eq(&check(page, small()));
    }

    #[test]
    fn lone_angle_brackets_and_nul_bytes_make_the_same_tree_cheaply() {
        let page = "<p title=\"a<b\">1 < 2 <<< 3\u{0}</p><script>if (a<<b) x()</script>\
                    <!-- < --><textarea>< x</textarea>";
        let (doc, _, cuts) = parse_bounded(page, small());
        assert!(cuts.is_empty());
        let plain = Html::parse_document(&page.replace('\u{0}', ""));
        assert_eq!(doc.root_element().html(), plain.root_element().html());
        // Offsets map back to the page's own bytes.
        let defused = defuse("a<b> <<c");
        assert_eq!(&*defused, "a<b> &lt;<c", "`<c` starts a tag");
        assert_eq!(defused.original_offset(defused.len()), 8);
        assert_eq!(defused.original_offset(4), 4);
        assert_eq!(defused.original_offset(9), 6);
    }

    #[test]
    fn a_tag_with_too_many_attributes_ends_the_page_before_it() {
        let attributes: String = (0..5_000).map(|i| format!(" a{i}=1")).collect();
        let page = format!("<p>kept</p><a{attributes}>x</a>");
        let (doc, read, cuts) = parse_bounded(&page, small());
        assert_eq!(read, "<p>kept</p>");
        assert!(
            cuts[0].reason.contains("more than 1024 attributes"),
            "{cuts:?}"
        );
        let text: String = doc.root_element().text().collect();
        assert_eq!(text, "kept");
    }

    #[test]
    fn only_max_bytes_are_read() {
        let limits = Limits {
            max_bytes: 64,
            ..small()
        };
        expect_test::expect![[r#"read 64 of 200 bytes, text "éééééééééééééééééééééééé", cut Some("the page has 200 bytes; only the first 64 are read")"#]]
            .assert_eq(&check(&"é".repeat(100), limits));
    }

    #[test]
    fn nesting_is_measured_in_the_built_tree_whatever_the_end_tags_say() {
        // Stray end tags close nothing: the pre-scan this replaced counted each as a level up.
        for page in [
            "<div></b>".repeat(20_000),
            "<div>".repeat(20_000),
            format!("<svg>{}", "<g></title>".repeat(20_000)),
            "<span><b></i>".repeat(10_000),
        ] {
            let out = check(&page, small());
            assert!(
                out.contains("nested deeper than 64; the page is read up to byte"),
                "{}: {out}",
                &page[..20]
            );
        }
    }

    #[test]
    fn node_floods_are_cut_and_amplification_is_refused() {
        let out = check(&"<i></i>".repeat(20_000), small());
        assert!(out.contains("more than 2000 nodes"), "{out}");
        // Formatting elements closed off by their block stay active and are re-opened for every
        // paragraph: the tree builder makes thousands of elements out of one chunk of bytes.
        let formatting: String = (0..60).map(|i| format!("<b c={i}>")).collect();
        let page = format!("<div>{formatting}</div>{}", "<p>x".repeat(5_000));
        let out = check(&page, small());
        assert!(
            out.contains("refused: the page makes the parser build more than 8000 nodes"),
            "{out}"
        );
        assert!(
            out.contains("text \"\""),
            "nothing of a refused page is read: {out}"
        );
    }

    #[test]
    fn unclosed_comments_and_raw_text_are_read_in_linear_time() {
        for page in [
            format!("<p>a<!--{}", "<div>".repeat(50_000)),
            format!("<p>a<textarea>{}", "<div>".repeat(50_000)),
            format!("<p>a<title>{}", "<div>".repeat(50_000)),
            format!("<p>a<script>{}", "<!--<script>".repeat(50_000)),
        ] {
            let out = check(
                &page,
                Limits {
                    max_bytes: 1 << 20,
                    ..small()
                },
            );
            assert!(out.contains("cut None"), "{}: {out}", &page[..14]);
        }
    }
}
