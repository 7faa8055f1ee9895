//! Forum threads and posts, where harm-reduction knowledge and scam warnings circulate.

use serde::{Deserialize, Serialize};

use crate::Pseudonym;

/// Who wrote a post. Vendors are public actors and keep their handle; everybody else is kept
/// only as a pseudonym. There is deliberately no variant for a plain non-vendor handle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Vendor(String),
    Pseudonym(Pseudonym),
}

impl Author {
    /// `("vendor", handle)` or `("pseudonym", "p:…")`: the stored pair.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Author::Vendor(handle) => ("vendor", handle),
            Author::Pseudonym(p) => ("pseudonym", p.as_str()),
        }
    }
}

/// What a forum thread showed when it was seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForumThread {
    /// The market's stable id for the thread (from its URL).
    pub key: String,
    pub url: Option<String>,
    /// The board or sub-forum it sits in.
    pub board: Option<String>,
    pub title: Option<String>,
}

/// One post in a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForumPost {
    pub thread_key: String,
    /// The market's id for the post when it shows one; otherwise the position-free content key
    /// is used (see [`ForumPost::identity`]).
    pub key: Option<String>,
    pub author: Option<Author>,
    /// The date as shown.
    pub date_text: Option<String>,
    pub text: String,
}

impl ForumPost {
    /// The post's identity in its thread: the market's post id, or else a hash of author, date
    /// and the start of the text (an edited post keeps its identity while its start stands).
    pub fn identity(&self) -> String {
        if let Some(key) = &self.key {
            return key.clone();
        }
        let mut hasher = blake3::Hasher::new();
        let author = self.author.as_ref().map(|a| a.parts().1).unwrap_or("");
        let start: String = self
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect();
        for part in [
            self.thread_key.as_str(),
            author,
            self.date_text.as_deref().unwrap_or(""),
            &start,
        ] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
        format!("h:{}", &hasher.finalize().to_hex()[..32])
    }
}
