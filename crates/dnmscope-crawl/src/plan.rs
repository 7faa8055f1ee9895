//! What a crawl run covers: its markets (definition, hosts, seeds, budgets) and how it behaves
//! (concurrency, retries, pauses). Also the link rules: canonical URLs, the built-in deny list,
//! staying on the market's hosts.

use std::sync::Arc;
use std::time::Duration;

use dnmscope_model::{MarketName, PseudonymKey};
use dnmscope_parse::{Limits, Market};
use url::Url;

/// One market in a run.
#[derive(Debug, Clone)]
pub struct MarketPlan {
    pub name: MarketName,
    pub definition: Arc<Market>,
    /// The market's hosts (main address and mirrors); links to any other host are never followed.
    pub hosts: Vec<String>,
    /// Where each run starts (absolute URLs): home, category index, forum.
    pub seeds: Vec<String>,
    /// At most this many pages per run (None: no limit).
    pub max_pages: Option<u64>,
    /// At most this many links away from a seed.
    pub max_depth: u32,
    /// Query parameters that carry a session and are removed from URLs.
    pub session_params: Vec<String>,
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct CrawlConfig {
    pub markets: Vec<MarketPlan>,
    /// Pages in flight at once, over all markets (the source caps each market on its own).
    pub concurrency: usize,
    /// Attempts per page before giving up.
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt.
    pub retry_delay: Duration,
    /// How long a market is left alone after a ban page.
    pub ban_pause: Duration,
    /// How long a market is left alone after a login or captcha page (a human must act).
    pub login_pause: Duration,
    /// Consecutive "site down" failures after which a market counts as unreachable for the run.
    pub unreachable_after: u32,
    /// The key that pseudonymises forum authors.
    pub pseudonyms: PseudonymKey,
    /// How much of a page the parser reads and builds (a page past them is cut or refused).
    pub parse_limits: Limits,
}

impl CrawlConfig {
    /// The run's configuration as stored with the run (no secrets: the pseudonym key is not in it).
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "markets": self.markets.iter().map(|m| serde_json::json!({
                "name": m.name.as_str(),
                "parser": m.definition.parser_version(),
                "hosts": m.hosts,
                "seeds": m.seeds,
                "max_pages": m.max_pages,
                "max_depth": m.max_depth,
                "session_params": m.session_params,
            })).collect::<Vec<_>>(),
            "concurrency": self.concurrency,
            "max_attempts": self.max_attempts,
            "retry_delay_ms": self.retry_delay.as_millis() as u64,
            "ban_pause_s": self.ban_pause.as_secs(),
            "login_pause_s": self.login_pause.as_secs(),
            "unreachable_after": self.unreachable_after,
        })
    }
}

/// Whether a URL names a state-changing action (after percent-decoding and normalising its
/// path; see [`dnmscope_parse::safety`]), whatever a market definition says. A URL that does
/// not parse is refused too.
pub fn is_denied(url: &str) -> bool {
    Url::parse(url).is_err() || dnmscope_parse::safety::state_changing(url).is_some()
}

/// The canonical form of a link found on `page_url`, if the crawler may follow it: resolved,
/// on one of the market's hosts over http(s), without fragment or session parameters, and not
/// an action.
pub fn canonical_link(plan: &MarketPlan, page_url: &str, href: &str) -> Option<String> {
    let base = Url::parse(page_url).ok()?;
    let mut url = base.join(href).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    if !plan.hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return None;
    }
    url.set_fragment(None);
    if !plan.session_params.is_empty() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !plan.session_params.iter().any(|p| p == k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    // Mirrors are one market: links are kept on the main host so a page is fetched once.
    if let Some(main) = plan.hosts.first() {
        if !main.eq_ignore_ascii_case(&host) {
            url.set_host(Some(main)).ok()?;
        }
    }
    // One page, one URL: `/listing/%31%32` is `/listing/12` (RFC 3986 6.2.2), so no page is
    // fetched twice under two spellings.
    let text = one_spelling(&url);
    (!is_denied(&text)).then_some(text)
}

/// A URL's one spelling: escapes of unreserved characters decoded (RFC 3986 6.2.2).
pub(crate) fn one_spelling(url: &Url) -> String {
    Url::parse(&unreserved_decoded(url.as_str()))
        .map_or_else(|_| url.to_string(), |u| u.to_string())
}

/// `url` with percent-escapes of unreserved characters (letters, digits, `-._~`) decoded and
/// the hex digits of the other escapes in upper case: the same resource, one spelling.
fn unreserved_decoded(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = String::with_capacity(url.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                let c = (h * 16 + l) as u8;
                if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                    out.push(c as char);
                } else {
                    out.push('%');
                    out.push_str(&format!("{c:02X}"));
                }
                i += 3;
                continue;
            }
        }
        // Not an escape: copy the character whole (the URL may hold non-ASCII text).
        let len = url[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&url[i..i + len]);
        i += len;
    }
    out
}

/// The order pages are fetched in: navigation first, so listings are discovered early.
pub fn priority(kind: &str) -> i32 {
    match kind {
        "home" | "category_index" => 6,
        "search" => 5,
        "listing" => 4,
        "vendor" => 3,
        "feedback" | "forum_thread" => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> MarketPlan {
        let markets = dnmscope_parse::builtin_markets().unwrap();
        let definition = Arc::new(markets.into_iter().find(|m| m.name == "cobalt").unwrap());
        MarketPlan {
            name: MarketName::new("cobalt").unwrap(),
            definition,
            hosts: vec!["main.onion".into(), "mirror.onion".into()],
            seeds: vec![],
            max_pages: None,
            max_depth: 5,
            session_params: vec!["sid".into(), "t".into()],
        }
    }

    #[test]
    fn links_are_canonical_and_stay_on_the_market() {
        let p = plan();
        let page = "http://main.onion/index.php?p=home";
        let check = |href: &str| canonical_link(&p, page, href);
        assert_eq!(
            check("/index.php?p=item&id=7#reviews").as_deref(),
            Some("http://main.onion/index.php?p=item&id=7")
        );
        assert_eq!(
            check("http://mirror.onion/index.php?p=item&id=7&sid=abc").as_deref(),
            Some("http://main.onion/index.php?p=item&id=7")
        );
        assert_eq!(check("http://example.com/"), None, "another host");
        assert_eq!(check("file:///etc/passwd"), None);
        for action in [
            "/index.php?p=buy&id=7",
            "/index.php?p=logout&t=x",
            "/index.php?p=msg&to=v",
            "/index.php?p=vote&post=1",
            "/index.php?p=trap&k=1",
            "/listing/7/buy",
            "/messages/new?to=x",
            "/cart/add/7",
            "/account/logout?csrf=1",
            "/board/vote/3",
            "/log%6Fut",
            "/BUY%2F2",
            "/%62uy/1",
            "/purchase/3",
            "/account/logoff",
            "/escrow/finalize/3",
            "/feedback/leave/3",
            "/dispute/open/3",
            "/favorite/add/3",
            "/setview/list",
        ] {
            let denied =
                check(action).is_none() || is_denied(&format!("http://main.onion{action}"));
            assert!(denied, "{action} must never be followed");
        }
        assert!(check("/index.php?p=cat&c=cannabis&pg=2").is_some());
        assert!(check("/v/greenleaf/reviews/2").is_some());
    }

    #[test]
    fn one_page_has_one_url_whatever_its_escapes() {
        let p = plan();
        let page = "http://main.onion/index.php?p=home";
        let check = |href: &str| canonical_link(&p, page, href);
        for spelling in [
            "/listing/12",
            "/listing/%31%32",
            "/%6Cisting/1%32",
            "/listing/x/%2e%2e/12",
            "/./listing/12",
        ] {
            assert_eq!(
                check(spelling).as_deref(),
                Some("http://main.onion/listing/12"),
                "{spelling}"
            );
        }
        // Reserved characters stay escaped (a decoded `/` or `&` would change the URL's
        // meaning), with their hex in upper case; text outside ASCII is kept.
        assert_eq!(
            check("/search?q=a%2fb%26c").as_deref(),
            Some("http://main.onion/search?q=a%2Fb%26c")
        );
        assert_eq!(
            check("/v/caf%C3%A9").as_deref(),
            Some("http://main.onion/v/caf%C3%A9")
        );
    }
}
