//! Regression tests on real pages, named after the defects they pin (issue 12): what a
//! researcher saw go silently wrong on Dream and Empire pages.
//!
//! They read `../shared/corpus/real` beside the workspace. Without it each trial is listed as
//! ignored and the reason is printed: these checks need the real pages, and a fabricated page
//! would prove nothing about real markets.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use dnmscope_model::{FeedbackRating, MarketName, PageKind, PseudonymKey};
use dnmscope_parse::compare::schema_kind;
use dnmscope_parse::{builtin_markets, parse_page, to_extraction, Limits, Market, PageContext};
use libtest_mimic::{Arguments, Failed, Trial};
use regex::Regex;

/// One regression case: the corpus directory in, pass or why not out.
type Case = fn(&Path) -> Result<(), Failed>;

fn main() {
    let args = Arguments::from_args();
    let corpus = corpus_dir();
    let cases: Vec<(&str, Case)> = vec![
        (
            "dream_short_review_ages_keep_their_content_keys_across_crawls",
            dream_short_ages_keep_keys,
        ),
        (
            "seized_by_customs_in_vendor_text_is_not_a_seizure",
            seized_by_customs_is_not_a_seizure,
        ),
        (
            "a_banned_empire_vendor_is_a_vendor_page_not_a_ban",
            banned_vendor_is_a_vendor_page,
        ),
        ("empire_feedback_is_extracted", empire_feedback_is_extracted),
        (
            "an_unreadable_rating_keeps_the_feedback_row",
            unreadable_rating_keeps_the_row,
        ),
    ];
    let present = corpus.join("dream/unlabelled").is_dir() && corpus.join("empire").is_dir();
    if !present {
        eprintln!(
            "real::*: ignored: the real corpus is not at {}",
            corpus.display()
        );
    }
    let trials = cases
        .into_iter()
        .map(|(name, case)| {
            let corpus = corpus.clone();
            Trial::test(format!("real::{name}"), move || case(&corpus)).with_ignored_flag(!present)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/real")
}

fn read(corpus: &Path, page: &str) -> Result<String, Failed> {
    let path = corpus.join(page);
    let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn market(name: &str) -> Market {
    builtin_markets()
        .expect("the built-in definitions compile")
        .into_iter()
        .find(|m| m.name == name)
        .expect("a built-in definition")
}

fn extraction(
    html: &str,
    market: &Market,
    url: &str,
    at: DateTime<Utc>,
) -> dnmscope_model::Extraction {
    let page = parse_page(html, Some(market), Limits::default());
    let name = MarketName::new(&market.name).expect("a market name");
    let key = PseudonymKey::from_bytes([3; 32]);
    to_extraction(
        &page,
        &PageContext {
            market: &name,
            url,
            captured_at: at,
            pseudonyms: &key,
        },
    )
}

/// Dream prints review ages as "10d", "1d 4h" or today's "22:58". The same page captured
/// 3 days 13 hours later, its ages advanced as Dream prints them, must give every review a
/// key the first crawl stored (its own, or one a neighbouring day within the age's resolution,
/// which the store takes as the same entry).
fn dream_short_ages_keep_keys(corpus: &Path) -> Result<(), Failed> {
    let dream = market("dream");
    let name = MarketName::new("dream").expect("a market name");
    let first = Utc.with_ymd_and_hms(2018, 2, 10, 23, 30, 0).unwrap();
    let later = Duration::days(3) + Duration::hours(13);
    let second = first + later;
    let age_cell = Regex::new(r#"<td class="dontwrap center">([^<]*)</td>"#).unwrap();
    for page in [
        "dream/unlabelled/seller_9.html",
        "dream/unlabelled/seller_6.html",
    ] {
        let html = read(corpus, page)?;
        let mut unreadable = Vec::new();
        let advanced = age_cell.replace_all(&html, |caps: &regex::Captures<'_>| {
            let shown = caps[1].trim();
            let advanced = match dream_age(shown, first) {
                Some((age, with_hours)) => print_dream_age(age + later, with_hours),
                None => {
                    unreadable.push(shown.to_owned());
                    shown.to_owned()
                }
            };
            format!(r#"<td class="dontwrap center">{advanced}</td>"#)
        });
        if !unreadable.is_empty() {
            return Err(format!("{page}: ages this test cannot advance: {unreadable:?}").into());
        }
        let url = "http://lchudifyeqm4ldjj.onion/contactMember?member=x&tab=ratings";
        let before = extraction(&html, &dream, url, first);
        let after = extraction(&advanced, &dream, url, second);
        if before.feedback.len() < 50 || before.feedback.len() != after.feedback.len() {
            return Err(format!(
                "{page}: {} rows, then {}",
                before.feedback.len(),
                after.feedback.len()
            )
            .into());
        }
        if let Some(entry) = before.feedback.iter().find(|f| f.left_on.is_none()) {
            return Err(format!("{page}: an age left unread: {:?}", entry.date_text).into());
        }
        let stored: std::collections::BTreeSet<_> = before
            .feedback
            .iter()
            .map(|f| f.content_key(&name))
            .collect();
        for entry in &after.feedback {
            let key = entry.content_key(&name);
            let found = stored.contains(&key)
                || entry
                    .keys_within_resolution(&name)
                    .iter()
                    .any(|k| stored.contains(k));
            if !found {
                return Err(format!(
                    "{page}: {:?} ({:?}) is a new entry on the second crawl",
                    entry.date_text, entry.left_on
                )
                .into());
            }
        }
    }
    Ok(())
}

/// An age as Dream prints it, and whether it shows hours: "10d", "1d 4h", "22:58" (today).
fn dream_age(shown: &str, at: DateTime<Utc>) -> Option<(Duration, bool)> {
    if let Some((h, m)) = shown.split_once(':') {
        let today = at
            .date_naive()
            .and_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)?;
        return Some((at.naive_utc() - today, true));
    }
    let mut age = Duration::zero();
    let mut with_hours = false;
    for part in shown.split_whitespace() {
        if let Some(days) = part.strip_suffix('d') {
            age += Duration::days(days.parse().ok()?);
        } else if let Some(hours) = part.strip_suffix('h') {
            age += Duration::hours(hours.parse().ok()?);
            with_hours = true;
        } else {
            return None;
        }
    }
    Some((age, with_hours))
}

fn print_dream_age(age: Duration, with_hours: bool) -> String {
    if with_hours {
        format!("{}d {}h", age.num_days(), age.num_hours() % 24)
    } else {
        format!("{}d", age.num_days())
    }
}

/// Vendors write "seized by customs" in their terms; such a page (and the same page cut down
/// to little text) is the vendor's page, never a seizure of the market.
fn seized_by_customs_is_not_a_seizure(corpus: &Path) -> Result<(), Failed> {
    let dream = market("dream");
    let html = read(corpus, "dream/pages/seller_0.html")?;
    let phrase = "<h2>If your order is seized by customs</h2><p>Orders seized by customs are \
                  reshipped once. This marketplace has been seized by nobody.</p>";
    let with_phrase = html.replacen("<body", &format!("<div>{phrase}</div><body"), 1);
    let page = parse_page(&with_phrase, Some(&dream), Limits::default());
    if page.page_kind != PageKind::Vendor {
        return Err(format!("classified as {:?}", page.page_kind).into());
    }
    let short =
        format!("<html><head><title>Vendor terms</title></head><body>{phrase}</body></html>");
    for market in [None, Some(&dream)] {
        let page = parse_page(&short, market, Limits::default());
        if page.page_kind == PageKind::Seizure {
            return Err("a short page with the phrase in its text is a seizure".into());
        }
    }
    let banner = "<html><head><title>This Hidden Site Has Been Seized</title></head><body>\
                  <h1>THIS HIDDEN SITE HAS BEEN SEIZED</h1><p>by the FBI.</p></body></html>";
    if parse_page(banner, Some(&dream), Limits::default()).page_kind != PageKind::Seizure {
        return Err("a real banner is no longer recognised".into());
    }
    Ok(())
}

/// Empire shows "User Profile (BANNED)" for a vendor it banned: a vendor page with a status,
/// which the crawl observes (the visitor is not banned); SCHEMA.md calls it `banned`.
fn banned_vendor_is_a_vendor_page(corpus: &Path) -> Result<(), Failed> {
    let empire = market("empire");
    let html = read(corpus, "empire/pages/saved_empire_user_1.html")?;
    let page = parse_page(&html, Some(&empire), Limits::default());
    if page.page_kind != PageKind::Vendor || schema_kind(&page) != "banned" {
        return Err(format!("{:?} / {}", page.page_kind, schema_kind(&page)).into());
    }
    let at = Utc.with_ymd_and_hms(2019, 10, 7, 12, 0, 0).unwrap();
    let out = extraction(&html, &empire, "http://empiremktxgjovhm.onion/u/ICON", at);
    match out.vendors.as_slice() {
        [vendor] if vendor.status.as_deref() == Some("banned") && vendor.handle == "ICON" => Ok(()),
        other => Err(format!("vendors: {other:?}").into()),
    }
}

/// Empire's feedback tabs carry rating (an icon), text, item, price and date for every row.
fn empire_feedback_is_extracted(corpus: &Path) -> Result<(), Failed> {
    let empire = market("empire");
    let at = Utc.with_ymd_and_hms(2019, 10, 7, 12, 0, 0).unwrap();
    for page in [
        "empire/unlabelled/saved_empire_feedback_0.html",
        "empire/unlabelled/saved_empire_feedback_1.html",
    ] {
        let html = read(corpus, page)?;
        let url = "http://empiremktxgjovhm.onion/Profile/setUserTab/p_feedback/x";
        let out = extraction(&html, &empire, url, at);
        if out.page_kind != PageKind::Feedback || out.feedback.len() < 10 {
            return Err(format!("{page}: {:?}, {} rows", out.page_kind, out.feedback.len()).into());
        }
        for entry in &out.feedback {
            let complete = entry.vendor.is_some()
                && entry.item.is_some()
                && entry.price.is_some()
                && entry.left_on.is_some()
                && entry.rating != FeedbackRating::Unknown;
            if !complete {
                return Err(format!("{page}: an incomplete row: {entry:?}").into());
            }
        }
        if !out.diagnostics.is_empty() {
            return Err(format!("{page}: {:?}", out.diagnostics).into());
        }
    }
    Ok(())
}

/// A rating icon the definition has no meaning for keeps the row (a sale all the same), with
/// rating unknown and a diagnostic.
fn unreadable_rating_keeps_the_row(corpus: &Path) -> Result<(), Failed> {
    let empire = market("empire");
    let at = Utc.with_ymd_and_hms(2019, 10, 7, 12, 0, 0).unwrap();
    let html = read(corpus, "empire/unlabelled/saved_empire_feedback_0.html")?;
    let url = "http://empiremktxgjovhm.onion/Profile/setUserTab/p_feedback/x";
    let all = extraction(&html, &empire, url, at).feedback.len();
    let table = html
        .find("user_feedbackTbl")
        .ok_or("the page has no feedback table")?;
    let altered = format!(
        "{}{}",
        &html[..table],
        html[table..].replacen("image/feedback1.png", "image/feedback9.png", 1)
    );
    let out = extraction(&altered, &empire, url, at);
    let unknown = out
        .feedback
        .iter()
        .filter(|f| f.rating == FeedbackRating::Unknown)
        .count();
    if out.feedback.len() != all || unknown != 1 {
        return Err(format!("{} of {all} rows, {unknown} unknown", out.feedback.len()).into());
    }
    if !out.diagnostics.iter().any(|d| d.contains("feedback9.png")) {
        return Err(format!("no diagnostic names the icon: {:?}", out.diagnostics).into());
    }
    Ok(())
}
