//! A cookie jar per market session: filled from `Set-Cookie`, importable from and writable to a
//! browser's Netscape `cookies.txt`. Values are secrets: `Debug` shows names only, and nothing
//! here logs a value.

use std::fmt;
use std::path::Path;

use crate::error::FetchError;

#[derive(Clone, PartialEq, Eq)]
pub struct Cookie {
    /// Domain without a leading dot.
    pub domain: String,
    /// Whether subdomains of `domain` get it too.
    pub include_subdomains: bool,
    pub path: String,
    pub secure: bool,
    /// Unix time; 0 for a session cookie.
    pub expires: i64,
    pub name: String,
    pub value: String,
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cookie({} for {}{})", self.name, self.domain, self.path)
    }
}

impl Cookie {
    fn matches(&self, host: &str, path: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let domain_ok = host == self.domain
            || (self.include_subdomains && host.ends_with(&format!(".{}", self.domain)));
        // Tor Browser treats an onion service as a secure context (the connection is end-to-end
        // encrypted), so it sets and sends `Secure` cookies over http there: so does dnmscope.
        let secure_ok = !self.secure || host.ends_with(".onion");
        domain_ok && path.starts_with(&self.path) && secure_ok
    }
}

/// Why a cookie name or value cannot go into a `Cookie` header (control bytes such as CR or LF
/// would split the request; `;` would smuggle another cookie), or `None` when it can.
fn unsendable(name: &str, value: &str) -> Option<&'static str> {
    let control = |c: char| c.is_control();
    if name.is_empty() {
        Some("the cookie has no name")
    } else if name
        .chars()
        .any(|c| control(c) || c == ' ' || c == '=' || c == ';' || c == ',')
    {
        Some("the cookie name holds a control byte, a space or one of = ; ,")
    } else if value.chars().any(|c| control(c) || c == ';') {
        Some("the cookie value holds a control byte (CR, LF, ...) or a ;")
    } else {
        None
    }
}

/// The cookies of one market session.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.cookies).finish()
    }
}

impl CookieJar {
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    pub fn cookies(&self) -> &[Cookie] {
        &self.cookies
    }

    pub fn insert(&mut self, cookie: Cookie) {
        self.cookies.retain(|c| {
            !(c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path)
        });
        self.cookies.push(cookie);
    }

    /// Keep only cookies whose domain is one of `hosts` (or a parent of one).
    pub fn retain_hosts(&mut self, hosts: &[String]) {
        self.cookies.retain(|c| {
            hosts
                .iter()
                .any(|h| c.matches(h, &c.path) || h.eq_ignore_ascii_case(&c.domain))
        });
    }

    /// The `Cookie` header for a request, if any cookie applies. Expired cookies
    /// (`now_unix` past their expiry) are left out.
    pub fn header_for(&self, host: &str, path: &str, now_unix: i64) -> Option<String> {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|c| c.matches(host, path) && (c.expires == 0 || c.expires > now_unix))
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Take in one `Set-Cookie` value from `host`. A cookie for another domain is ignored.
    pub fn store_set_cookie(&mut self, host: &str, value: &str, now_unix: i64) {
        let mut parts = value.split(';');
        let Some((name, cookie_value)) = parts.next().and_then(|kv| kv.trim().split_once('='))
        else {
            return;
        };
        if let Some(why) = unsendable(name.trim(), cookie_value.trim()) {
            tracing::debug!(%host, "a Set-Cookie is ignored: {why}");
            return;
        }
        let host = host.to_ascii_lowercase();
        let mut cookie = Cookie {
            domain: host.clone(),
            include_subdomains: false,
            path: "/".to_string(),
            secure: false,
            expires: 0,
            name: name.trim().to_string(),
            value: cookie_value.trim().to_string(),
        };
        let mut remove = false;
        for attribute in parts {
            let (key, val) = attribute
                .trim()
                .split_once('=')
                .unwrap_or((attribute.trim(), ""));
            match key.to_ascii_lowercase().as_str() {
                "path" if val.starts_with('/') => cookie.path = val.to_string(),
                "domain" => {
                    let domain = val.trim_start_matches('.').to_ascii_lowercase();
                    if host == domain || host.ends_with(&format!(".{domain}")) {
                        cookie.domain = domain;
                        cookie.include_subdomains = true;
                    } else {
                        return;
                    }
                }
                "max-age" => match val.parse::<i64>() {
                    Ok(age) if age <= 0 => remove = true,
                    Ok(age) => cookie.expires = now_unix.saturating_add(age),
                    Err(_) => {}
                },
                "secure" => cookie.secure = true,
                _ => {}
            }
        }
        if remove {
            self.cookies
                .retain(|c| !(c.name == cookie.name && c.domain == cookie.domain));
        } else {
            self.insert(cookie);
        }
    }

    /// Parse a Netscape `cookies.txt` (as browsers and curl write it).
    pub fn parse_netscape(text: &str, path: &str) -> Result<CookieJar, FetchError> {
        let mut jar = CookieJar::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            let line = line.strip_prefix("#HttpOnly_").unwrap_or(line);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |reason: &str| FetchError::CookieFile {
                path: path.to_string(),
                line: index + 1,
                reason: reason.to_string(),
            };
            let fields: Vec<&str> = line.split('\t').collect();
            if fields.len() != 7 {
                return Err(error(&format!(
                    "expected 7 tab-separated fields, found {}",
                    fields.len()
                )));
            }
            let flag = |text: &str, what: &str| match text.to_ascii_uppercase().as_str() {
                "TRUE" => Ok(true),
                "FALSE" => Ok(false),
                _ => Err(error(&format!("{what} is neither TRUE nor FALSE"))),
            };
            let domain = fields[0].trim_start_matches('.').to_ascii_lowercase();
            if domain.is_empty() {
                return Err(error("empty domain"));
            }
            if let Some(why) = unsendable(fields[5], fields[6]) {
                return Err(error(why));
            }
            jar.insert(Cookie {
                include_subdomains: flag(fields[1], "the subdomain flag")?,
                domain,
                path: fields[2].to_string(),
                secure: flag(fields[3], "the secure flag")?,
                expires: fields[4]
                    .parse()
                    .map_err(|_| error("the expiry is not a number"))?,
                name: fields[5].to_string(),
                value: fields[6].to_string(),
            });
        }
        Ok(jar)
    }

    pub fn load(path: &Path) -> Result<CookieJar, FetchError> {
        let text = std::fs::read_to_string(path).map_err(|source| FetchError::Io {
            action: format!("reading the cookie file {}", path.display()),
            source,
        })?;
        CookieJar::parse_netscape(&text, &path.display().to_string())
    }

    pub fn to_netscape(&self) -> String {
        let mut out =
            String::from("# Netscape HTTP Cookie File\n# written by dnmscope; these are secrets\n");
        for c in &self.cookies {
            let flag = |b: bool| if b { "TRUE" } else { "FALSE" };
            out.push_str(&format!(
                "{}{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                if c.include_subdomains { "." } else { "" },
                c.domain,
                flag(c.include_subdomains),
                c.path,
                flag(c.secure),
                c.expires,
                c.name,
                c.value
            ));
        }
        out
    }

    /// Write the jar readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), FetchError> {
        let io = |source| FetchError::Io {
            action: format!("writing the cookie file {}", path.display()),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        // Written beside the file and renamed over it, so a crawl that reloads the session
        // while it is being imported reads the old file or the new one, never half of one.
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&partial).map_err(io)?;
        // `mode` applies only when the file is created: narrow an older, wider file too.
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(io)?;
        std::io::Write::write_all(&mut file, self.to_netscape().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&partial, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# Netscape HTTP Cookie File\n\
        .abc.onion\tTRUE\t/\tFALSE\t0\tsid\ts3cr3t\n\
        #HttpOnly_abc.onion\tFALSE\t/market\tFALSE\t4102444800\tpref\tdark\n\
        other.onion\tFALSE\t/\tFALSE\t0\tx\ty\n";

    #[test]
    fn netscape_files_round_trip_and_match_hosts_and_paths() {
        let jar = CookieJar::parse_netscape(FILE, "cookies.txt").unwrap();
        assert_eq!(jar.len(), 3);
        assert_eq!(
            jar.header_for("abc.onion", "/market/1", 0).as_deref(),
            Some("sid=s3cr3t; pref=dark")
        );
        assert_eq!(
            jar.header_for("abc.onion", "/", 0).as_deref(),
            Some("sid=s3cr3t")
        );
        assert_eq!(
            jar.header_for("abc.onion", "/market", 4102444801)
                .as_deref(),
            Some("sid=s3cr3t"),
            "expired"
        );
        assert_eq!(jar.header_for("zzz.onion", "/", 0), None);
        let again = CookieJar::parse_netscape(&jar.to_netscape(), "again").unwrap();
        assert_eq!(again, jar);
        let mut only = jar.clone();
        only.retain_hosts(&["abc.onion".to_string()]);
        assert_eq!(only.len(), 2);
    }

    #[test]
    fn values_never_show_in_debug_output() {
        let jar = CookieJar::parse_netscape(FILE, "cookies.txt").unwrap();
        let shown = format!("{jar:?}");
        assert!(
            shown.contains("sid") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }

    #[test]
    fn set_cookie_is_stored_replaced_and_deleted() {
        let mut jar = CookieJar::new();
        jar.store_set_cookie("abc.onion", "sid=one; Path=/; HttpOnly", 0);
        jar.store_set_cookie("abc.onion", "sid=two; Path=/", 0);
        assert_eq!(
            jar.header_for("abc.onion", "/x", 0).as_deref(),
            Some("sid=two")
        );
        jar.store_set_cookie("abc.onion", "evil=1; Domain=other.onion", 0);
        assert_eq!(jar.len(), 1, "a cookie for another domain is ignored");
        jar.store_set_cookie("abc.onion", "sid=; Max-Age=0", 0);
        assert!(jar.is_empty());
    }

    #[test]
    fn cookies_that_would_split_a_request_are_refused_and_secure_ones_go_to_onions() {
        for line in [
            "a.onion\tFALSE\t/\tFALSE\t0\tsid\tab\rX-Evil: 1",
            "a.onion\tFALSE\t/\tFALSE\t0\tsid\tab\u{1}c",
            "a.onion\tFALSE\t/\tFALSE\t0\tsid\ta; admin=1",
            "a.onion\tFALSE\t/\tFALSE\t0\ts id\tab",
            "a.onion\tFALSE\t/\tFALSE\t0\t\tab",
        ] {
            let err = CookieJar::parse_netscape(line, "c.txt").unwrap_err();
            assert!(err.to_string().contains("line 1"), "{line:?}: {err}");
        }
        let mut jar = CookieJar::new();
        jar.store_set_cookie("a.onion", "bad=x\ry", 0);
        assert!(
            jar.is_empty(),
            "a Set-Cookie with a control byte is ignored"
        );
        jar.store_set_cookie("a.onion", "long=1; Max-Age=9223372036854775807", 100);
        assert_eq!(
            jar.header_for("a.onion", "/", 100).as_deref(),
            Some("long=1")
        );
        jar.store_set_cookie("a.onion", "long=1; Max-Age=0", 100);
        jar.store_set_cookie("a.onion", "sid=1; Secure; HttpOnly", 0);
        assert_eq!(jar.header_for("a.onion", "/", 0).as_deref(), Some("sid=1"));
        let mut clear = CookieJar::new();
        clear.store_set_cookie("example.com", "sid=1; Secure", 0);
        assert_eq!(clear.header_for("example.com", "/", 0), None);
    }

    #[test]
    fn a_bad_line_says_where() {
        let err = CookieJar::parse_netscape("a.onion\tTRUE\t/\n", "c.txt").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(
            !err.to_string().contains("TRUE\t/"),
            "the line itself is not echoed"
        );
    }
}
