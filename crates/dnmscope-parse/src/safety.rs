//! Read-only by construction: which links name an action the crawler must never take.
//!
//! A link is checked after its path and query are percent-decoded (repeatedly, so `%256C` is
//! `l`), lower-cased, with `\` read as `/`, dot segments removed and empty segments dropped: a
//! market cannot hide `logout` as `/log%6Fut`, `/BUY%2F2` or `/./%62uy/1`. The decoded text is
//! split into words at every character that is not a letter or digit (so `contactMember` is one
//! word and `add_to_cart` three), and the link is refused
//! when a word, or two adjacent words, name a state-changing action. The rule errs on the side
//! of refusing: a vendor handle made of such words (`cart_king`) is not followed either, and the
//! crawl counts the link as refused rather than losing it silently.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Words that name a state-changing action wherever they appear in a link's path or query.
const ACTION_WORDS: &[&str] = &[
    // Buying.
    "buy",
    "purchase",
    "order",
    "orders",
    "checkout",
    "cart",
    "addtocart",
    "basket",
    "pay",
    "payment",
    "escrow",
    "finalize",
    "finalise",
    "release",
    "dispute",
    "refund",
    "cancel",
    "confirm",
    // Leaving feedback, voting, favourites, reports.
    "leave",
    "rate",
    "vote",
    "votes",
    "upvote",
    "downvote",
    "like",
    "uplike",
    "dislike",
    "favorite",
    "favorites",
    "favourite",
    "favourites",
    "wishlist",
    "follow",
    "unfollow",
    "subscribe",
    "unsubscribe",
    "block",
    "unblock",
    "ignore",
    "report",
    // Messaging and posting.
    "message",
    "messages",
    "msg",
    "pm",
    "compose",
    "inbox",
    "send",
    "reply",
    "newreply",
    "newtopic",
    "newthread",
    "posting",
    "contact",
    "submit",
    // The account and its money.
    "account",
    "settings",
    "preferences",
    "profileedit",
    "edit",
    "password",
    "wallet",
    "withdraw",
    "withdrawal",
    "deposit",
    "delete",
    "remove",
    "add",
    // Leaving the session.
    "logout",
    "logoff",
    "signout",
    "signoff",
    // Changing how the session sees the market (every later page would look different from
    // what the definition reads).
    "set",
    "setview",
    "setcurrency",
    "setlang",
    "setlanguage",
    "setlocale",
    "settheme",
    "setsort",
    "toggle",
    "switch",
    // One-word forms real markets use (`addFavorite`, `newmsg`, `/balance/bitcoin`).
    "addfavorite",
    "addfavourite",
    "addblock",
    "reportpage",
    "markalert",
    "newmsg",
    "newmessage",
    "sendmessage",
    "newticket",
    "disputes",
    "balance",
    "myinfo",
    "myprofile",
    "myaccount",
    "notifications",
    // Traps markets set for crawlers.
    "trap",
    "hp",
    "honeypot",
];

/// Two adjacent words that together name an action (`log out`, `sign-out`, `add_to_cart`).
const ACTION_PAIRS: &[(&str, &str)] = &[
    ("log", "out"),
    ("log", "off"),
    ("sign", "out"),
    ("sign", "off"),
    ("to", "cart"),
    ("change", "view"),
    ("change", "currency"),
    ("change", "language"),
    ("change", "lang"),
    ("view", "mode"),
    // Writing feedback: `/feedback/new`, `/review/new`, `/new-review`, `write_review`.
    ("feedback", "new"),
    ("new", "feedback"),
    ("review", "new"),
    ("reviews", "new"),
    ("new", "review"),
    ("write", "review"),
    ("write", "feedback"),
    ("post", "feedback"),
    ("post", "review"),
];

/// [`ACTION_WORDS`] and [`ACTION_PAIRS`] to look words up in (every link of every page is
/// checked).
static WORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| ACTION_WORDS.iter().copied().collect());
static PAIRS: LazyLock<HashSet<(&'static str, &'static str)>> =
    LazyLock::new(|| ACTION_PAIRS.iter().copied().collect());

/// Why `url` (absolute, or a page's relative href) names a state-changing action, or `None`
/// when following it only reads.
pub fn state_changing(url: &str) -> Option<String> {
    let tail = path_and_query(url);
    let decoded = normalise(tail);
    let words: Vec<&str> = decoded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for (i, word) in words.iter().enumerate() {
        if WORDS.contains(word) {
            return Some(format!("`{word}` in {decoded:?} names an action"));
        }
        if let Some(next) = words.get(i + 1) {
            if PAIRS.contains(&(*word, *next)) {
                return Some(format!("`{word} {next}` in {decoded:?} names an action"));
            }
        }
    }
    None
}

/// The part of a link that names the resource: everything after `scheme://host[:port]`.
fn path_and_query(url: &str) -> &str {
    let trimmed = url.trim();
    let lower = trimmed.get(..8).unwrap_or(trimmed).to_ascii_lowercase();
    let after_scheme = if lower.starts_with("http://") {
        &trimmed[7..]
    } else if lower.starts_with("https://") {
        &trimmed[8..]
    } else if let Some(rest) = trimmed.strip_prefix("//") {
        rest
    } else {
        return trimmed;
    };
    match after_scheme.find(['/', '?', '#', '\\']) {
        Some(at) => &after_scheme[at..],
        None => "",
    }
}

/// Percent-decoded until stable (at most 4 rounds), lower-cased, `+` and `\` read as
/// separators, the fragment dropped, dot segments resolved.
fn normalise(tail: &str) -> String {
    let mut text = tail.to_owned();
    for _ in 0..4 {
        if !text.contains('%') {
            break;
        }
        let next = percent_decode(&text);
        if next == text {
            break;
        }
        text = next;
    }
    let text = text.to_lowercase().replace(['\\', '+'], "/");
    let text = text.split('#').next().unwrap_or("").to_owned();
    let (path, query) = match text.find('?') {
        Some(at) => (&text[..at], Some(&text[at..])),
        None => (text.as_str(), None),
    };
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = format!("/{}", segments.join("/"));
    if let Some(query) = query {
        out.push_str(query);
    }
    out
}

/// `%XX` decoded (invalid UTF-8 replaced); malformed escapes kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disguised_actions_are_refused() {
        for url in [
            "/log%6Fut",
            "/BUY%2F2",
            "/%62uy/1",
            "/%252562uy/1",
            "/./listing/../buy/3",
            "http://m.onion:8080/listing/7\\buy",
            "/purchase/7",
            "/account/logoff",
            "/escrow/finalize/9",
            "/feedback/leave/9",
            "/dispute/open/9",
            "/favorite/add/9",
            "/wishlist?id=3",
            "/setview/list",
            "/index.php?p=logout&t=x",
            "/index.php?action=sign-out",
            "/shop?do=add_to_cart&id=2",
            "/messages/new?to=x",
            "/wallet/withdraw",
            "/settings/currency/EUR",
            "/user/edit",
            "/hp/7",
            "?a=LogOut",
            "http://empiremktxgjovhm.onion/index/logout",
            "./?logout",
            "http://empiremktxgjovhm.onion/balance/bitcoin",
            "/u/x/addFavorite",
            "./inbox?action=conversation",
            "http://empiremktxgjovhm.onion/message/newmsg",
            "./cart",
            "/vendor/x/feedback/new?rating=5",
            "/review/new/3",
            "/listing/3/write-review",
            "/search?q=x&submit=Go",
        ] {
            assert!(state_changing(url).is_some(), "{url} must be refused");
        }
    }

    #[test]
    fn reading_links_are_followed() {
        for url in [
            "/listing/7",
            "/vendor/greenleaf/feedback",
            "/v/greenleaf/reviews/2",
            "/index.php?p=cat&c=cannabis&pg=2",
            "http://buy.onion/listing/7",
            "/forum/thread/12",
            "/vendor/greenleaf/pgp",
            "welcome?action=show&listing=4",
            "/search?q=mdma&sort=price",
            "/login",
            "/%zz/listing",
            "./viewProduct?offer=123.456",
            "./contactMember?member=PinkQueen&tab=ratings",
            "?page=2&amp;member=hammerhome1",
            "http://empiremktxgjovhm.onion/product/1/2/3",
            "http://empiremktxgjovhm.onion/u/x/setUserTab/p_feedback",
            "/category/categories/3/12",
            "/category/new",
            "/vendor/greenleaf/feedback?sort=newest",
        ] {
            assert_eq!(state_changing(url), None, "{url} only reads");
        }
    }

    #[test]
    fn the_reason_names_the_decoded_word() {
        expect_test::expect![[r#"Some("`logout` in \"/logout\" names an action")"#]]
            .assert_eq(&format!("{:?}", state_changing("/log%6Fut")));
    }
}
