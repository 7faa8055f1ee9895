//! Page kinds and extractions: what a parser made of one capture.

use serde::{Deserialize, Serialize};

use crate::{FeedbackEntry, ForumPost, ForumThread, Listing, MarketEvent, Vendor};

/// What a page is, decided from its content (never from its HTTP status: anti-DDoS fronts
/// answer 200 with a queue page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageKind {
    Listing,
    Vendor,
    Feedback,
    /// Listing summaries: search results or a category page.
    Search,
    CategoryIndex,
    ForumThread,
    Home,
    Login,
    /// Any anti-bot gate, captcha or queue.
    Captcha,
    NotFound,
    Banned,
    /// A law-enforcement seizure banner.
    Seizure,
    PgpKey,
    /// A meta-refresh interstitial.
    Redirect,
    Error,
    Unknown,
}

impl PageKind {
    pub const ALL: [PageKind; 16] = [
        PageKind::Listing,
        PageKind::Vendor,
        PageKind::Feedback,
        PageKind::Search,
        PageKind::CategoryIndex,
        PageKind::ForumThread,
        PageKind::Home,
        PageKind::Login,
        PageKind::Captcha,
        PageKind::NotFound,
        PageKind::Banned,
        PageKind::Seizure,
        PageKind::PgpKey,
        PageKind::Redirect,
        PageKind::Error,
        PageKind::Unknown,
    ];

    /// The name used in the corpus schema, the store and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            PageKind::Listing => "listing",
            PageKind::Vendor => "vendor",
            PageKind::Feedback => "feedback",
            PageKind::Search => "search",
            PageKind::CategoryIndex => "category_index",
            PageKind::ForumThread => "forum_thread",
            PageKind::Home => "home",
            PageKind::Login => "login",
            PageKind::Captcha => "captcha",
            PageKind::NotFound => "not_found",
            PageKind::Banned => "banned",
            PageKind::Seizure => "seizure",
            PageKind::PgpKey => "pgp_key",
            PageKind::Redirect => "redirect",
            PageKind::Error => "error",
            PageKind::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<PageKind> {
        PageKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Pages that stand between the crawler and the market (gates, errors, banners): they are
    /// kept as captures but never yield observations.
    pub fn is_interstitial(self) -> bool {
        matches!(
            self,
            PageKind::Login
                | PageKind::Captcha
                | PageKind::NotFound
                | PageKind::Banned
                | PageKind::Seizure
                | PageKind::Redirect
                | PageKind::Error
                | PageKind::Unknown
        )
    }
}

/// Everything one parser version made of one capture, ready to be stored as observations.
///
/// A listing page yields one listing and the feedback rows shown on it, a vendor page a vendor
/// and feedback, a search page listing summaries, a forum page a thread and its posts, a seizure
/// banner an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extraction {
    pub page_kind: PageKind,
    /// The parser that made it (`"dream@3"`): re-parsing stored pages with a newer parser adds
    /// observations under the new version and leaves the old ones as they were.
    pub parser_version: String,
    pub listings: Vec<Listing>,
    pub vendors: Vec<Vendor>,
    pub feedback: Vec<FeedbackEntry>,
    pub threads: Vec<ForumThread>,
    pub posts: Vec<ForumPost>,
    pub events: Vec<MarketEvent>,
    /// What the parser could not extract, and why.
    pub diagnostics: Vec<String>,
}

impl Extraction {
    pub fn empty(page_kind: PageKind, parser_version: &str) -> Extraction {
        Extraction {
            page_kind,
            parser_version: parser_version.to_string(),
            listings: Vec::new(),
            vendors: Vec::new(),
            feedback: Vec::new(),
            threads: Vec::new(),
            posts: Vec::new(),
            events: Vec::new(),
            diagnostics: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_kinds_round_trip_and_match_serde() {
        for kind in PageKind::ALL {
            assert_eq!(PageKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
