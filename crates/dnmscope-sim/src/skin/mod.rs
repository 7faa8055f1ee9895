//! Skins: how a market lays out the same facts, and how its URLs look.
//!
//! Three skins modelled on how real markets differ:
//! - `table`: Dream-like; tables everywhere, path URLs (`/listing/10001`),
//!   USD with BTC beside it, ISO dates.
//! - `cards`: Empire-like; a card grid, one PHP entry point with query
//!   strings (`/index.php?p=item&id=10001`), BTC first, relative dates on
//!   reviews, feedback as positive/neutral/negative.
//! - `list`: definition lists, `.html` product pages, USD only with the
//!   exchange rates printed in the footer, European dates.
//!
//! A skin turns a request path into a [`Page`] and a page back into a URL;
//! `render.rs` turns a view (see `view.rs`) into HTML.

pub mod render;

use serde::Serialize;

/// The layout family of a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkinKind {
    Table,
    Cards,
    List,
}

impl SkinKind {
    pub const ALL: [SkinKind; 3] = [SkinKind::Table, SkinKind::Cards, SkinKind::List];

    pub fn name(self) -> &'static str {
        match self {
            SkinKind::Table => "table",
            SkinKind::Cards => "cards",
            SkinKind::List => "list",
        }
    }
}

/// Something a market serves, independent of its URL scheme.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Page {
    Home,
    Login,
    CategoryIndex,
    Category {
        slug: String,
        page: u32,
    },
    Search {
        query: String,
        page: u32,
    },
    Listing {
        id: String,
    },
    Vendor {
        handle: String,
    },
    Feedback {
        handle: String,
        page: u32,
    },
    Pgp {
        handle: String,
    },
    Forum {
        page: u32,
    },
    Thread {
        id: u32,
        page: u32,
    },
    /// A link that changes state: following it is a violation.
    Action(Action),
    /// A link no human can see: following it is a violation.
    Honeypot,
}

/// State-changing actions a crawler must never take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Buy,
    Logout,
    Message,
    Vote,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Buy => "buy",
            Action::Logout => "logout",
            Action::Message => "message",
            Action::Vote => "vote",
        }
    }
}

/// The slug of a category name in URLs.
pub fn slug(name: &str) -> String {
    name.to_lowercase().replace(' ', "-")
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn page_number(value: Option<&str>) -> u32 {
    value
        .and_then(|v| v.parse().ok())
        .filter(|&n: &u32| n >= 1)
        .unwrap_or(1)
}

/// Percent-decoding of a URL component (`+` is a space).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encoding of a URL component.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl SkinKind {
    /// The page a path and query ask for, if the skin has one there.
    pub fn route(self, path: &str, query: &str) -> Option<Page> {
        let q = query_pairs(query);
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
            .collect();
        match self {
            SkinKind::Table => match parts.as_slice() {
                [] => Some(Page::Home),
                ["login"] => Some(Page::Login),
                ["logout"] => Some(Page::Action(Action::Logout)),
                ["categories"] => Some(Page::CategoryIndex),
                ["category", slug] => Some(Page::Category {
                    slug: (*slug).to_owned(),
                    page: page_number(param(&q, "page")),
                }),
                ["search"] => Some(Page::Search {
                    query: param(&q, "q").unwrap_or("").to_owned(),
                    page: page_number(param(&q, "page")),
                }),
                ["listing", id] => Some(Page::Listing {
                    id: (*id).to_owned(),
                }),
                ["listing", _, "buy"] => Some(Page::Action(Action::Buy)),
                ["vendor", handle] => Some(Page::Vendor {
                    handle: decode(handle),
                }),
                ["vendor", handle, "feedback"] => Some(Page::Feedback {
                    handle: decode(handle),
                    page: page_number(param(&q, "page")),
                }),
                ["vendor", handle, "pgp"] => Some(Page::Pgp {
                    handle: decode(handle),
                }),
                ["messages", "new"] => Some(Page::Action(Action::Message)),
                ["forum"] => Some(Page::Forum {
                    page: page_number(param(&q, "page")),
                }),
                ["forum", "thread", id] => Some(Page::Thread {
                    id: id.parse().ok()?,
                    page: page_number(param(&q, "page")),
                }),
                ["forum", "post", _, "vote"] => Some(Page::Action(Action::Vote)),
                ["hp", _] => Some(Page::Honeypot),
                _ => None,
            },
            SkinKind::Cards => {
                if parts.as_slice() == ["go", "away"] {
                    return Some(Page::Honeypot);
                }
                if !(parts.is_empty() || parts.as_slice() == ["index.php"]) {
                    return None;
                }
                let pg = page_number(param(&q, "pg"));
                match param(&q, "p").unwrap_or("home") {
                    "home" => Some(Page::Home),
                    "login" => Some(Page::Login),
                    "logout" => Some(Page::Action(Action::Logout)),
                    "cats" => Some(Page::CategoryIndex),
                    "cat" => Some(Page::Category {
                        slug: param(&q, "c")?.to_owned(),
                        page: pg,
                    }),
                    "search" => Some(Page::Search {
                        query: param(&q, "q").unwrap_or("").to_owned(),
                        page: pg,
                    }),
                    "item" => Some(Page::Listing {
                        id: param(&q, "id")?.to_owned(),
                    }),
                    "buy" => Some(Page::Action(Action::Buy)),
                    "user" => Some(Page::Vendor {
                        handle: param(&q, "u")?.to_owned(),
                    }),
                    "feedback" => Some(Page::Feedback {
                        handle: param(&q, "u")?.to_owned(),
                        page: pg,
                    }),
                    "pgp" => Some(Page::Pgp {
                        handle: param(&q, "u")?.to_owned(),
                    }),
                    "msg" => Some(Page::Action(Action::Message)),
                    "forum" => Some(Page::Forum { page: pg }),
                    "thread" => Some(Page::Thread {
                        id: param(&q, "t")?.parse().ok()?,
                        page: pg,
                    }),
                    "vote" => Some(Page::Action(Action::Vote)),
                    "trap" => Some(Page::Honeypot),
                    _ => None,
                }
            }
            SkinKind::List => match parts.as_slice() {
                [] => Some(Page::Home),
                ["login"] => Some(Page::Login),
                ["account", "logout"] => Some(Page::Action(Action::Logout)),
                ["browse"] => Some(Page::CategoryIndex),
                ["browse", slug] => Some(Page::Category {
                    slug: (*slug).to_owned(),
                    page: 1,
                }),
                ["browse", slug, page] => Some(Page::Category {
                    slug: (*slug).to_owned(),
                    page: page_number(Some(page)),
                }),
                ["find"] => Some(Page::Search {
                    query: param(&q, "term").unwrap_or("").to_owned(),
                    page: page_number(param(&q, "p")),
                }),
                ["p", file] => Some(Page::Listing {
                    id: file.strip_suffix(".html")?.to_owned(),
                }),
                ["cart", "add", _] => Some(Page::Action(Action::Buy)),
                ["v", handle] => Some(Page::Vendor {
                    handle: decode(handle),
                }),
                ["v", handle, "reviews"] => Some(Page::Feedback {
                    handle: decode(handle),
                    page: 1,
                }),
                ["v", handle, "reviews", page] => Some(Page::Feedback {
                    handle: decode(handle),
                    page: page_number(Some(page)),
                }),
                ["v", handle, "key"] => Some(Page::Pgp {
                    handle: decode(handle),
                }),
                ["inbox", "compose", _] => Some(Page::Action(Action::Message)),
                ["board"] => Some(Page::Forum { page: 1 }),
                ["board", "vote", _] => Some(Page::Action(Action::Vote)),
                ["board", "page", page] => Some(Page::Forum {
                    page: page_number(Some(page)),
                }),
                ["board", thread] => Some(Page::Thread {
                    id: thread.strip_prefix('t')?.parse().ok()?,
                    page: 1,
                }),
                ["board", thread, page] => Some(Page::Thread {
                    id: thread.strip_prefix('t')?.parse().ok()?,
                    page: page_number(Some(page)),
                }),
                ["x", _] => Some(Page::Honeypot),
                _ => None,
            },
        }
    }

    /// The path (and query) of a page. Actions need a target, so they have
    /// their own functions below.
    pub fn url(self, page: &Page) -> String {
        match (self, page) {
            (SkinKind::Table, Page::Home) => "/".to_owned(),
            (SkinKind::Table, Page::Login) => "/login".to_owned(),
            (SkinKind::Table, Page::CategoryIndex) => "/categories".to_owned(),
            (SkinKind::Table, Page::Category { slug, page }) => {
                with_page(&format!("/category/{slug}"), "page", *page)
            }
            (SkinKind::Table, Page::Search { query, page }) => {
                with_page(&format!("/search?q={}", encode(query)), "page", *page)
            }
            (SkinKind::Table, Page::Listing { id }) => format!("/listing/{id}"),
            (SkinKind::Table, Page::Vendor { handle }) => format!("/vendor/{}", encode(handle)),
            (SkinKind::Table, Page::Feedback { handle, page }) => with_page(
                &format!("/vendor/{}/feedback", encode(handle)),
                "page",
                *page,
            ),
            (SkinKind::Table, Page::Pgp { handle }) => format!("/vendor/{}/pgp", encode(handle)),
            (SkinKind::Table, Page::Forum { page }) => with_page("/forum", "page", *page),
            (SkinKind::Table, Page::Thread { id, page }) => {
                with_page(&format!("/forum/thread/{id}"), "page", *page)
            }
            (SkinKind::Table, Page::Action(_) | Page::Honeypot) => "/".to_owned(),

            (SkinKind::Cards, Page::Home) => "/index.php?p=home".to_owned(),
            (SkinKind::Cards, Page::Login) => "/index.php?p=login".to_owned(),
            (SkinKind::Cards, Page::CategoryIndex) => "/index.php?p=cats".to_owned(),
            (SkinKind::Cards, Page::Category { slug, page }) => {
                with_page(&format!("/index.php?p=cat&c={slug}"), "pg", *page)
            }
            (SkinKind::Cards, Page::Search { query, page }) => with_page(
                &format!("/index.php?p=search&q={}", encode(query)),
                "pg",
                *page,
            ),
            (SkinKind::Cards, Page::Listing { id }) => format!("/index.php?p=item&id={id}"),
            (SkinKind::Cards, Page::Vendor { handle }) => {
                format!("/index.php?p=user&u={}", encode(handle))
            }
            (SkinKind::Cards, Page::Feedback { handle, page }) => with_page(
                &format!("/index.php?p=feedback&u={}", encode(handle)),
                "pg",
                *page,
            ),
            (SkinKind::Cards, Page::Pgp { handle }) => {
                format!("/index.php?p=pgp&u={}", encode(handle))
            }
            (SkinKind::Cards, Page::Forum { page }) => with_page("/index.php?p=forum", "pg", *page),
            (SkinKind::Cards, Page::Thread { id, page }) => {
                with_page(&format!("/index.php?p=thread&t={id}"), "pg", *page)
            }
            (SkinKind::Cards, Page::Action(_) | Page::Honeypot) => "/index.php?p=home".to_owned(),

            (SkinKind::List, Page::Home) => "/".to_owned(),
            (SkinKind::List, Page::Login) => "/login".to_owned(),
            (SkinKind::List, Page::CategoryIndex) => "/browse".to_owned(),
            (SkinKind::List, Page::Category { slug, page }) => format!("/browse/{slug}/{page}"),
            (SkinKind::List, Page::Search { query, page }) => {
                with_page(&format!("/find?term={}", encode(query)), "p", *page)
            }
            (SkinKind::List, Page::Listing { id }) => format!("/p/{id}.html"),
            (SkinKind::List, Page::Vendor { handle }) => format!("/v/{}", encode(handle)),
            (SkinKind::List, Page::Feedback { handle, page }) => {
                format!("/v/{}/reviews/{page}", encode(handle))
            }
            (SkinKind::List, Page::Pgp { handle }) => format!("/v/{}/key", encode(handle)),
            (SkinKind::List, Page::Forum { page }) => format!("/board/page/{page}"),
            (SkinKind::List, Page::Thread { id, page }) => format!("/board/t{id}/{page}"),
            (SkinKind::List, Page::Action(_) | Page::Honeypot) => "/".to_owned(),
        }
    }

    pub fn buy_url(self, listing: &str) -> String {
        match self {
            SkinKind::Table => format!("/listing/{listing}/buy"),
            SkinKind::Cards => format!("/index.php?p=buy&id={listing}"),
            SkinKind::List => format!("/cart/add/{listing}"),
        }
    }

    pub fn logout_url(self, token: &str) -> String {
        match self {
            SkinKind::Table => format!("/logout?token={token}"),
            SkinKind::Cards => format!("/index.php?p=logout&t={token}"),
            SkinKind::List => format!("/account/logout?csrf={token}"),
        }
    }

    pub fn message_url(self, handle: &str) -> String {
        match self {
            SkinKind::Table => format!("/messages/new?to={}", encode(handle)),
            SkinKind::Cards => format!("/index.php?p=msg&to={}", encode(handle)),
            SkinKind::List => format!("/inbox/compose/{}", encode(handle)),
        }
    }

    pub fn vote_url(self, post: u32) -> String {
        match self {
            SkinKind::Table => format!("/forum/post/{post}/vote?dir=up"),
            SkinKind::Cards => format!("/index.php?p=vote&post={post}&d=up"),
            SkinKind::List => format!("/board/vote/{post}"),
        }
    }

    pub fn honeypot_url(self, token: &str) -> String {
        match self {
            SkinKind::Table => format!("/hp/{token}"),
            SkinKind::Cards => format!("/index.php?p=trap&k={token}"),
            SkinKind::List => format!("/x/{token}"),
        }
    }
}

fn with_page(base: &str, key: &str, page: u32) -> String {
    if page <= 1 {
        return base.to_owned();
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{key}={page}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_routes_back_to_itself() {
        let pages = [
            Page::Home,
            Page::Login,
            Page::CategoryIndex,
            Page::Category {
                slug: "cannabis".into(),
                page: 1,
            },
            Page::Category {
                slug: "cannabis".into(),
                page: 3,
            },
            Page::Search {
                query: "lsd tabs & more".into(),
                page: 2,
            },
            Page::Listing { id: "10042".into() },
            Page::Vendor {
                handle: "Green Leaf".into(),
            },
            Page::Feedback {
                handle: "greenleaf".into(),
                page: 4,
            },
            Page::Pgp {
                handle: "greenleaf".into(),
            },
            Page::Forum { page: 2 },
            Page::Thread { id: 7, page: 2 },
        ];
        for skin in SkinKind::ALL {
            for page in &pages {
                let url = skin.url(page);
                let (path, query) = url.split_once('?').unwrap_or((&url, ""));
                assert_eq!(
                    skin.route(path, query).as_ref(),
                    Some(page),
                    "{skin:?} {url}"
                );
            }
            let actions = [
                (skin.buy_url("10001"), Action::Buy),
                (skin.logout_url("abc"), Action::Logout),
                (skin.message_url("greenleaf"), Action::Message),
                (skin.vote_url(3), Action::Vote),
            ];
            for (url, action) in actions {
                let (path, query) = url.split_once('?').unwrap_or((&url, ""));
                assert_eq!(
                    skin.route(path, query),
                    Some(Page::Action(action)),
                    "{skin:?} {url}"
                );
            }
            let trap = skin.honeypot_url("k1");
            let (path, query) = trap.split_once('?').unwrap_or((&trap, ""));
            assert_eq!(skin.route(path, query), Some(Page::Honeypot));
        }
    }
}
