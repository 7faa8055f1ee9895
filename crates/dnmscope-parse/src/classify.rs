//! Page classification by content, never by HTTP status: a market's own rules first, then
//! generic recognisers that work for any market (meta-refresh queues and redirects, seizure
//! banners, anti-bot gates, logins, bans, not-found pages, key pages and errors).
//!
//! The market's rules win because they know the layout: a vendor's terms that say "seized by
//! customs" or a profile marked banned are vendor pages. The seizure recogniser needs banner
//! evidence (the phrase in the title or a top heading, on a page with little else), never a
//! phrase somewhere in the body text.

use std::sync::LazyLock;

use crate::select::{Page, Sel as Selector};
use dnmscope_model::PageKind;
use regex::Regex;

use crate::definition::Generic;
use crate::definition::{Condition, Market};
use crate::extract::element_text;

fn selector(text: &str) -> Selector {
    Selector::parse(text).expect("a valid built-in selector")
}

fn regex(text: &str) -> Regex {
    Regex::new(text).expect("a valid built-in pattern")
}

static META_REFRESH: LazyLock<Selector> = LazyLock::new(|| selector("meta[http-equiv]"));
static TITLE: LazyLock<Selector> = LazyLock::new(|| selector("title"));
static HEADINGS: LazyLock<Selector> = LazyLock::new(|| selector("title, h1, h2, h3"));
static PASSWORD: LazyLock<Selector> = LazyLock::new(|| selector("input[type=password i]"));
static CAPTCHA_INPUT: LazyLock<Selector> = LazyLock::new(|| {
    selector("input[name*=captcha i], img[src*=captcha i], img[alt*=captcha i], input[name*=challenge i]")
});
static SEIZURE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)(this (hidden )?(site|service|marketplace|domain) has been seized|has been seized by|seized (by|pursuant to)|seizure warrant)",
    )
});
static GATE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)(ddos|captcha|are you (a )?human|verify (that )?you are|anti-?bot|checking your browser|you are in (the )?queue|queue position|please wait.*(redirect|queue)|security check|solve the (following )?challenge)",
    )
});
static QUEUE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)(you are in (the )?queue|queue position|position in (the )?queue|ddos protection|anti-?ddos)",
    )
});
static BANNED: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)(you (have been|are|were) banned|your (account|ip|session) (has been|is) (banned|suspended|blocked)|account (banned|suspended))",
    )
});
static NOT_FOUND: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)(\b404\b|not found|does not exist|no longer (exists|available))"));
static ERROR_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)(\berror\b|\b50[0234]\b|bad gateway|service unavailable|maintenance|internal server)",
    )
});

/// What the page is, and which rule said so (for diagnostics and debugging).
pub(crate) fn classify(
    doc: &Page<'_>,
    source: &str,
    market: Option<&Market>,
) -> (PageKind, String) {
    let root = doc.doc.root_element();
    let text_len = root.text().map(str::len).sum::<usize>();
    if source.trim().is_empty() {
        return (PageKind::Error, "the page is empty".into());
    }
    if let Some(market) = market {
        for (index, (kind, condition)) in market.page_rules.iter().enumerate() {
            if holds(condition, doc, source) {
                return (*kind, format!("{}: page_kinds[{index}]", market.file));
            }
        }
    }
    let on = |generic: Generic| market.is_none_or(|m| m.generic_on(generic));
    let is_refresh = doc.select(None, &META_REFRESH).any(|m| {
        m.value()
            .attr("http-equiv")
            .is_some_and(|v| v.eq_ignore_ascii_case("refresh"))
    });
    if on(Generic::Queue)
        && is_refresh
        && text_len < 2000
        && QUEUE_WORDS.is_match(&root.text().collect::<String>())
    {
        return (
            PageKind::Captcha,
            "generic: an anti-DDoS queue that refreshes itself".into(),
        );
    }
    if on(Generic::Redirect) && is_refresh && text_len < 2000 {
        return (
            PageKind::Redirect,
            "generic: a meta refresh on a page with little text".into(),
        );
    }
    let headings: String = doc
        .select(None, &HEADINGS)
        .map(|h| element_text(h, false, false))
        .collect::<Vec<_>>()
        .join(" | ");
    if on(Generic::Seizure) && is_seizure_banner(doc, text_len) {
        return (PageKind::Seizure, "generic: a seizure banner".into());
    }
    let has_password = doc.select(None, &PASSWORD).next().is_some();
    let has_captcha = doc.select(None, &CAPTCHA_INPUT).next().is_some();
    let ban_notice = BANNED.is_match(&headings) || (text_len < 5000 && BANNED.is_match(source));
    // A ban notice from an anti-DDoS front ("403: your IP has been banned by DDoS protection")
    // is a ban, not a gate to solve: it has nothing to answer.
    if on(Generic::Banned) && ban_notice && !has_captcha && !has_password {
        return (PageKind::Banned, "generic: a ban notice".into());
    }
    if on(Generic::Captcha)
        && !has_password
        && (GATE_WORDS.is_match(&headings) || (has_captcha && text_len < 5000))
    {
        return (PageKind::Captcha, "generic: an anti-bot gate".into());
    }
    if on(Generic::Login) && has_password {
        return (PageKind::Login, "generic: a password field".into());
    }
    if on(Generic::Banned) && ban_notice {
        return (PageKind::Banned, "generic: a ban notice".into());
    }
    if on(Generic::NotFound) && NOT_FOUND.is_match(&headings) {
        return (PageKind::NotFound, "generic: a not-found title".into());
    }
    if on(Generic::PgpKey)
        && source.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        && text_len < 10_000
    {
        return (PageKind::PgpKey, "generic: a public key block".into());
    }
    if on(Generic::Error) && ERROR_WORDS.is_match(&headings) {
        return (PageKind::Error, "generic: an error title".into());
    }
    (PageKind::Unknown, "no rule matched".into())
}

static BANNER_HEADINGS: LazyLock<Selector> = LazyLock::new(|| selector("title, h1, h2"));
static LINKS: LazyLock<Selector> = LazyLock::new(|| selector("a[href]"));
/// Words that make a "seized" heading about a parcel, not the site.
static PARCEL_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i)(customs|package|parcel|order|shipment|reship|refund|letter|post(al)?\b|mail)")
});

/// A seizure banner: the phrase in the title or a top heading (about the site, not a parcel),
/// on a page with little else (a banner has a paragraph or two and few links, a market page has
/// menus and listings).
fn is_seizure_banner(doc: &Page<'_>, text_len: usize) -> bool {
    // The heading first: it is rare, and counting links walks the whole tree.
    text_len <= 20_000
        && doc.select(None, &BANNER_HEADINGS).any(|h| {
            let text = element_text(h, false, false);
            SEIZURE.is_match(&text) && !PARCEL_WORDS.is_match(&text)
        })
        && doc.select(None, &LINKS).count() <= 25
}

/// Whether every part of a condition holds on the page.
pub(crate) fn holds(condition: &Condition, doc: &Page<'_>, source: &str) -> bool {
    if let Some(sel) = &condition.selector {
        let mut found = doc.select(None, sel);
        match &condition.text {
            Some(text) => {
                if !found.any(|el| text.is_match(&element_text(el, false, false))) {
                    return false;
                }
            }
            None => {
                if found.next().is_none() {
                    return false;
                }
            }
        }
    }
    if let Some(sel) = &condition.not_selector {
        if doc.select(None, sel).next().is_some() {
            return false;
        }
    }
    if let Some(title) = &condition.title {
        let text = doc
            .select(None, &TITLE)
            .next()
            .map(|t| element_text(t, false, false))
            .unwrap_or_default();
        if !title.is_match(&text) {
            return false;
        }
    }
    if let Some(html) = &condition.html {
        if !html.is_match(source) {
            return false;
        }
    }
    true
}

/// How specifically the page is `market`'s (0: not at all). Its recognition rule counts by the
/// evidence it needs (a selector or a title outweighs a phrase anywhere in the source, which a
/// vendor's text may quote), one of its hosts in the source counts once, and one of its own
/// page-kind rules holding counts most: `--market auto` takes the highest score, not the first
/// definition that matches.
pub(crate) fn recognition_score(market: &Market, doc: &Page<'_>, source: &str) -> u32 {
    let mut score = 0;
    if let Some(condition) = &market.recognise {
        if holds(condition, doc, source) {
            score += 1
                + 2 * u32::from(condition.selector.is_some())
                + 2 * u32::from(condition.title.is_some());
        }
    }
    if market
        .hosts
        .iter()
        .any(|host| !host.trim().is_empty() && source.contains(host.as_str()))
    {
        score += 1;
    }
    if score > 0 && market.page_rules.iter().any(|(_, c)| holds(c, doc, source)) {
        score += 8;
    }
    score
}
