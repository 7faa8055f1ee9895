//! A mirror of the simulated markets as researchers hold mirrors of real ones (the Darknet
//! Market Archives): what `wget --mirror` would have saved of each market on each day,
//! `<out>/<market slug>/<YYYY-MM-DD>/<host>/<file>`, and optionally a WARC of each market-day.
//!
//! The client is a researcher's wget against a market without gates ([`ServerConfig::open`]),
//! with no session: it starts where the crawler starts (home, category index, forum), follows
//! every link to the market's own host breadth first, except the login page and what a
//! researcher tells wget to reject (logout, buy, message, vote: `--reject-regex`) or what no
//! person sees (the honeypot). Every page's bytes are the server's bytes for that request
//! ([`open_answer`], the code the server answers with), so crawling the simulator and importing
//! its mirror see the same pages.
//!
//! [`ServerConfig::open`]: crate::ServerConfig::open

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::SimError;
use crate::server::{http_date, noon, open_answer};
use crate::skin::{Page, SkinKind};
use crate::world::{Day, Market, World};

/// What to mirror and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorOptions {
    /// The days to mirror (each market on each day).
    pub days: RangeInclusive<Day>,
    /// The directory to write: `<market slug>/<YYYY-MM-DD>/<host>/…` and `warc/`.
    pub out: PathBuf,
    /// wget's `--adjust-extension`: `.html` appended to the name of every page not ending in
    /// `.html` or `.htm`.
    pub adjust_extension: bool,
    /// Also write `warc/<market slug>-<YYYY-MM-DD>.warc.gz` for each market-day with pages.
    pub warc: bool,
}

/// What a mirror wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirrorSummary {
    /// Pages saved (files, not counting WARC files).
    pub pages: usize,
    /// Bytes of the pages saved.
    pub bytes: u64,
    /// Pages saved per market slug and day, every market-day of the range (0 when the market
    /// was down or gone).
    pub per_market_day: BTreeMap<(String, Day), usize>,
    /// The WARC files written, in order of day then market.
    pub warc_files: Vec<PathBuf>,
}

/// The pages a mirror starts from, as URLs (path and query) of the skin: the crawler's seeds.
pub fn seed_urls(skin: SkinKind) -> [String; 3] {
    [
        skin.url(&Page::Home),
        skin.url(&Page::CategoryIndex),
        skin.url(&Page::Forum { page: 1 }),
    ]
}

/// Writes the mirror of every market of the world on each day of `options.days`.
pub fn write_mirror(world: &World, options: &MirrorOptions) -> Result<MirrorSummary, SimError> {
    let (first, last) = (*options.days.start(), *options.days.end());
    if first > last {
        return Err(SimError::Config(format!(
            "mirror days {first}..{last}: the range is empty"
        )));
    }
    if last >= world.config.days {
        return Err(SimError::Config(format!(
            "mirror days {first}..{last}: the world's days run from 0 to {}",
            world.config.days.saturating_sub(1)
        )));
    }
    let mut summary = MirrorSummary::default();
    for day in first..=last {
        for market in &world.markets {
            let (pages, bytes, warc) = mirror_market_day(world, market, day, options)?;
            summary.pages += pages;
            summary.bytes += bytes;
            summary
                .per_market_day
                .insert((market.slug.clone(), day), pages);
            summary.warc_files.extend(warc);
        }
    }
    Ok(summary)
}

/// Mirrors one market on one day: pages saved, their bytes, and the WARC written if any.
fn mirror_market_day(
    world: &World,
    market: &Market,
    day: Day,
    options: &MirrorOptions,
) -> Result<(usize, u64, Option<PathBuf>), SimError> {
    let date = world.date(day).format("%Y-%m-%d").to_string();
    let host = market
        .hosts
        .first()
        .map(|h| h.to_ascii_lowercase())
        .unwrap_or_default();
    for segment in [&market.slug, &host] {
        if !safe_segment(segment) {
            return Err(write_error(
                &options.out,
                io::ErrorKind::InvalidInput,
                format!(
                    "market {:?}: {segment:?} cannot be a directory name of the mirror",
                    market.name
                ),
            ));
        }
    }
    let host_dir = options.out.join(&market.slug).join(&date).join(&host);
    let mtime = SystemTime::from(noon(world, day));
    let date_header = http_date(world, day);

    let mut queue: VecDeque<String> = VecDeque::new();
    let mut seen: HashSet<String> = HashSet::new();
    for seed in seed_urls(market.skin) {
        if seen.insert(seed.clone()) {
            queue.push_back(seed);
        }
    }
    let mut names = Names::default();
    let mut created: HashSet<PathBuf> = HashSet::new();
    let mut warc: Option<Warc> = None;
    let (mut pages, mut bytes) = (0usize, 0u64);

    while let Some(target) = queue.pop_front() {
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        // Pages the server does not answer with 200 (404, 503) are not saved.
        let Some(answer) = open_answer(world, market, day, path, query).filter(|a| a.status == 200)
        else {
            continue;
        };
        let name = wget_file_name(&target, options.adjust_extension).ok_or_else(|| {
            write_error(
                &host_dir,
                io::ErrorKind::InvalidInput,
                format!(
                    "the URL {target} has no file name inside the host's directory \
                     (`.`, `..` or empty segments)"
                ),
            )
        })?;
        names.claim(&name, &target).map_err(|message| {
            write_error(&host_dir.join(&name), io::ErrorKind::AlreadyExists, message)
        })?;
        let file = host_dir.join(&name);
        if let Some(parent) = file.parent() {
            if !created.contains(parent) {
                std::fs::create_dir_all(parent).map_err(context(parent))?;
                created.insert(parent.to_owned());
            }
        }
        write_page(&file, answer.body.as_bytes(), mtime).map_err(context(&file))?;
        pages += 1;
        bytes += answer.body.len() as u64;

        if options.warc {
            if warc.is_none() {
                let dir = options.out.join("warc");
                std::fs::create_dir_all(&dir).map_err(context(&dir))?;
                let path = dir.join(format!("{}-{date}.warc.gz", market.slug));
                warc =
                    Some(Warc::create(path.clone(), world, market, day).map_err(context(&path))?);
            }
            if let Some(warc) = warc.as_mut() {
                warc.page(&host, &target, &date_header, answer.body.as_bytes())
                    .map_err(context(&warc.path))?;
            }
        }

        for href in hrefs(&answer.body) {
            let Some(next) = resolve(&target, &href, &market.hosts) else {
                continue;
            };
            if seen.contains(&next) || !followed(market.skin, &next) {
                continue;
            }
            seen.insert(next.clone());
            queue.push_back(next);
        }
    }
    let warc = match warc {
        Some(warc) => Some(warc.finish()?),
        None => None,
    };
    Ok((pages, bytes, warc))
}

/// Whether the researcher's wget follows a link (path and query) of the market: a page of the
/// skin, not the login form, a state-changing link or the honeypot.
fn followed(skin: SkinKind, target: &str) -> bool {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    matches!(
        skin.route(path, query),
        Some(page) if !matches!(page, Page::Login | Page::Action(_) | Page::Honeypot)
    )
}

fn write_page(file: &Path, body: &[u8], mtime: SystemTime) -> io::Result<()> {
    let mut out = File::create(file)?;
    out.write_all(body)?;
    // wget's timestamping: the file is as old as the server said the page was.
    out.set_modified(mtime)?;
    Ok(())
}

fn context(path: &Path) -> impl FnOnce(io::Error) -> SimError {
    let path = path.to_owned();
    move |source| SimError::Write { path, source }
}

fn write_error(path: &Path, kind: io::ErrorKind, message: String) -> SimError {
    SimError::Write {
        path: path.to_owned(),
        source: io::Error::new(kind, message),
    }
}

/// A name that is one directory entry and nothing else.
fn safe_segment(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..") && !segment.contains(['/', '\\', '\0'])
}

/// The file wget saves a URL's page as, relative to the host's directory, with `/` between
/// directories; None when the URL is not a path or the name would leave the host's directory
/// (`.` or `..` segments, empty directory names).
///
/// - The URL path's segments are directories and the file name, kept as written (percent
///   escapes included); a path ending in `/` is saved as `index.html` in that directory.
/// - A query string is part of the file name after a `?` (a `/` in it written `%2F`).
/// - With `adjust_extension`, `.html` is appended to a name that does not end in `.html` or
///   `.htm` (in any case), also after a query.
///
/// E.g. `/` is `index.html`; `/listing/10001` is `listing/10001` (`listing/10001.html`);
/// `/index.php?p=item&id=5` is `index.php?p=item&id=5` (`index.php?p=item&id=5.html`);
/// `/p/10001.html` is `p/10001.html` either way.
pub fn wget_file_name(target: &str, adjust_extension: bool) -> Option<String> {
    let target = target.split_once('#').map_or(target, |(t, _)| t);
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let last = segments.pop().unwrap_or("");
    if !segments.iter().all(|s| safe_segment(s)) || !(last.is_empty() || safe_segment(last)) {
        return None;
    }
    let mut name = if last.is_empty() {
        "index.html".to_owned()
    } else {
        last.to_owned()
    };
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        if query.contains('\0') {
            return None;
        }
        name.push('?');
        name.push_str(&query.replace('/', "%2F"));
    }
    if adjust_extension {
        let lower = name.to_ascii_lowercase();
        if !(lower.ends_with(".html") || lower.ends_with(".htm")) {
            name.push_str(".html");
        }
    }
    segments.push(&name);
    Some(segments.join("/"))
}

/// The names taken in one host's directory: a name is a file or a directory, never both, and
/// one URL's only.
#[derive(Default)]
struct Names {
    /// File name -> the URL saved there.
    files: HashMap<String, String>,
    /// Directory name -> the first URL saved under it.
    dirs: HashMap<String, String>,
}

impl Names {
    fn claim(&mut self, name: &str, target: &str) -> Result<(), String> {
        if let Some(other) = self.files.get(name) {
            return Err(format!(
                "{other} and {target} would both be saved as {name}"
            ));
        }
        if let Some(other) = self.dirs.get(name) {
            return Err(format!(
                "{name} is needed as a file for {target} and as a directory for {other} \
                 (wget's --adjust-extension avoids this)"
            ));
        }
        let prefixes = name.match_indices('/').map(|(at, _)| &name[..at]);
        for dir in prefixes.clone() {
            if let Some(other) = self.files.get(dir) {
                return Err(format!(
                    "{dir} is needed as a file for {other} and as a directory for {target} \
                     (wget's --adjust-extension avoids this)"
                ));
            }
        }
        for dir in prefixes {
            self.dirs
                .entry(dir.to_owned())
                .or_insert_with(|| target.to_owned());
        }
        self.files.insert(name.to_owned(), target.to_owned());
        Ok(())
    }
}

/// The `href` values of a page's tags, entity-decoded, in document order (comments and the
/// text of `script` and `style` elements are not markup).
fn hrefs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        let start = at + offset;
        let rest = &html[start..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            at = start + 4 + comment.find("-->").map_or(comment.len(), |end| end + 3);
            continue;
        }
        let name_len = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len() - 1);
        if name_len == 0 || !rest[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            at = start + 1;
            continue;
        }
        let name = rest[1..1 + name_len].to_ascii_lowercase();
        let (attributes, end) = tag_attributes(&rest[1 + name_len..]);
        out.extend(
            attributes
                .into_iter()
                .filter(|(key, _)| key.eq_ignore_ascii_case("href"))
                .map(|(_, value)| decode_entities(value)),
        );
        at = start + 1 + name_len + end;
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            let lower = html[at..].to_ascii_lowercase();
            at += lower.find(&close).unwrap_or(lower.len());
        }
    }
    out
}

/// The attributes of a tag from just after its name, and where the tag ends (after its `>`).
fn tag_attributes(text: &str) -> (Vec<(&str, &str)>, usize) {
    let bytes = text.as_bytes();
    let mut attributes = Vec::new();
    let mut i = 0;
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_space(i);
        while i < bytes.len() && bytes[i] == b'/' {
            i = skip_space(i + 1);
        }
        if i >= bytes.len() {
            return (attributes, bytes.len());
        }
        if bytes[i] == b'>' {
            return (attributes, i + 1);
        }
        let name_start = i;
        while i < bytes.len() && !matches!(bytes[i], b'=' | b'>' | b'/') {
            if bytes[i].is_ascii_whitespace() {
                break;
            }
            i += 1;
        }
        let name = &text[name_start..i];
        let after_name = skip_space(i);
        if after_name < bytes.len() && bytes[after_name] == b'=' {
            i = skip_space(after_name + 1);
            let value = match bytes.get(i) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let end = text[i + 1..]
                        .find(quote as char)
                        .map_or(bytes.len(), |e| i + 1 + e);
                    let value = &text[(i + 1).min(end)..end];
                    i = (end + 1).min(bytes.len());
                    value
                }
                _ => {
                    let start = i;
                    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                        i += 1;
                    }
                    &text[start..i]
                }
            };
            attributes.push((name, value));
        } else if name.is_empty() {
            // A stray character: step over it.
            i += 1;
        } else {
            attributes.push((name, ""));
        }
    }
}

/// HTML character references in an attribute value: the named ones URLs meet, and numeric ones.
fn decode_entities(value: &str) -> String {
    if !value.contains('&') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A link resolved against the URL (path and query) of the page it is on, as path and query
/// on the market (no fragment, dot segments removed, bytes a URL cannot hold percent-encoded),
/// if it leads to one of the market's hosts over plain HTTP or is host-relative.
fn resolve(base: &str, href: &str, hosts: &[String]) -> Option<String> {
    let href = href.trim_matches(|c: char| c.is_ascii_whitespace());
    let href = href.split_once('#').map_or(href, |(h, _)| h);
    let base_path = base.split_once('?').map_or(base, |(p, _)| p);
    let scheme_len = href
        .find(':')
        .filter(|&at| {
            href[..at].starts_with(|c: char| c.is_ascii_alphabetic())
                && href[..at]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .map(|at| at + 1);
    let href = match scheme_len {
        Some(len) if href[..len].eq_ignore_ascii_case("http:") => &href[len..],
        Some(_) => return None,
        None => href,
    };
    let joined = if let Some(network) = href.strip_prefix("//") {
        let end = network.find(['/', '?']).unwrap_or(network.len());
        let authority = &network[..end];
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return None;
        }
        let rest = &network[end..];
        if rest.starts_with('/') {
            rest.to_owned()
        } else {
            format!("/{rest}")
        }
    } else if scheme_len.is_some() {
        // `http:path`: relative to the page, as browsers read it.
        relative(base_path, href)
    } else if href.starts_with('/') {
        href.to_owned()
    } else if href.is_empty() {
        base.to_owned()
    } else if href.starts_with('?') {
        format!("{base_path}{href}")
    } else {
        relative(base_path, href)
    };
    let (path, query) = match joined.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (joined.as_str(), None),
    };
    let mut target = escape_url(&remove_dot_segments(path));
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        target.push('?');
        target.push_str(&escape_url(query));
    }
    Some(target)
}

/// `href` in the directory of `base_path`.
fn relative(base_path: &str, href: &str) -> String {
    let dir = base_path.rfind('/').map_or("/", |at| &base_path[..=at]);
    format!("{dir}{href}")
}

/// RFC 3986's remove_dot_segments on an absolute path (`..` above the root stays at the root).
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let count = segments.len();
    for (n, segment) in segments.into_iter().enumerate() {
        let last = n + 1 == count;
        match segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Bytes a URL cannot hold (spaces, controls, quotes, non-ASCII) percent-encoded, as wget
/// sends them; everything else, percent escapes included, as written.
fn escape_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_graphic()
            && !matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A WARC file of one market-day: each record its own gzip member.
struct Warc {
    path: PathBuf,
    out: BufWriter<File>,
    /// `WARC-Date`: noon of the day.
    date: String,
    seed: u64,
    warcinfo_id: String,
}

impl Warc {
    fn create(path: PathBuf, world: &World, market: &Market, day: Day) -> io::Result<Warc> {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let date = noon(world, day).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let seed = world.config.seed;
        let warcinfo_id = record_id(seed, "warcinfo", &file_name, &date);
        let mut warc = Warc {
            out: BufWriter::new(File::create(&path)?),
            path,
            date,
            seed,
            warcinfo_id,
        };
        let info = format!(
            "software: dnmscope-sim/{}\r\nformat: WARC File Format 1.1\r\n\
             conformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n\
             robots: ignore\r\nisPartOf: {}\r\n\
             description: wget --mirror of the simulated market {} on day {day}, seed {seed}\r\n",
            env!("CARGO_PKG_VERSION"),
            market.slug,
            market.name,
        );
        let headers = [
            ("WARC-Type", "warcinfo".to_owned()),
            ("WARC-Record-ID", warc.warcinfo_id.clone()),
            ("WARC-Date", warc.date.clone()),
            ("WARC-Filename", file_name),
            ("Content-Type", "application/warc-fields".to_owned()),
        ];
        warc.record(&headers, info.as_bytes())?;
        Ok(warc)
    }

    /// The request and response records of a page.
    fn page(&mut self, host: &str, target: &str, date_header: &str, body: &[u8]) -> io::Result<()> {
        let uri = format!("http://{host}{target}");
        let request_id = record_id(self.seed, "request", &uri, &self.date);
        let response_id = record_id(self.seed, "response", &uri, &self.date);
        let request = format!(
            "GET {target} HTTP/1.1\r\nUser-Agent: Wget/1.21.4 (dnmscope-sim mirror)\r\n\
             Accept: */*\r\nAccept-Encoding: identity\r\nHost: {host}\r\n\
             Connection: Keep-Alive\r\n\r\n"
        );
        self.record(
            &[
                ("WARC-Type", "request".to_owned()),
                ("WARC-Record-ID", request_id.clone()),
                ("WARC-Warcinfo-ID", self.warcinfo_id.clone()),
                ("WARC-Target-URI", uri.clone()),
                ("WARC-Date", self.date.clone()),
                (
                    "Content-Type",
                    "application/http;msgtype=request".to_owned(),
                ),
            ],
            request.as_bytes(),
        )?;
        let mut block = format!(
            "HTTP/1.1 200 OK\r\nDate: {date_header}\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        block.extend_from_slice(body);
        self.record(
            &[
                ("WARC-Type", "response".to_owned()),
                ("WARC-Record-ID", response_id),
                ("WARC-Warcinfo-ID", self.warcinfo_id.clone()),
                ("WARC-Concurrent-To", request_id),
                ("WARC-Target-URI", uri),
                ("WARC-Date", self.date.clone()),
                (
                    "Content-Type",
                    "application/http;msgtype=response".to_owned(),
                ),
            ],
            &block,
        )
    }

    /// One record, one gzip member.
    fn record(&mut self, headers: &[(&str, String)], block: &[u8]) -> io::Result<()> {
        let mut head = String::from("WARC/1.1\r\n");
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", block.len()));
        let mut gz = GzEncoder::new(&mut self.out, Compression::default());
        gz.write_all(head.as_bytes())?;
        gz.write_all(block)?;
        gz.write_all(b"\r\n\r\n")?;
        gz.finish()?;
        Ok(())
    }

    fn finish(mut self) -> Result<PathBuf, SimError> {
        self.out.flush().map_err(context(&self.path))?;
        Ok(self.path)
    }
}

/// A record's `<urn:uuid:…>`: a hash of the seed, the record type, the URI and the date, shaped
/// as a UUID (version 8, RFC 9562's custom version), so the same world writes the same WARC.
fn record_id(seed: u64, kind: &str, uri: &str, date: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"dnmscope-sim warc record\0");
    hasher.update(&seed.to_le_bytes());
    for part in [kind, uri, date] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let hash = hasher.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash.as_bytes()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_wgets() {
        let name = |t: &str, adjust: bool| wget_file_name(t, adjust);
        assert_eq!(name("/", false).as_deref(), Some("index.html"));
        assert_eq!(name("/", true).as_deref(), Some("index.html"));
        assert_eq!(
            name("/listing/10001", false).as_deref(),
            Some("listing/10001")
        );
        assert_eq!(
            name("/listing/10001", true).as_deref(),
            Some("listing/10001.html")
        );
        assert_eq!(
            name("/vendor/Green+Leaf%21/feedback?page=2", true).as_deref(),
            Some("vendor/Green+Leaf%21/feedback?page=2.html")
        );
        assert_eq!(
            name("/index.php?p=item&id=5", false).as_deref(),
            Some("index.php?p=item&id=5")
        );
        assert_eq!(
            name("/index.php?p=item&id=5", true).as_deref(),
            Some("index.php?p=item&id=5.html")
        );
        assert_eq!(name("/p/10001.html", true).as_deref(), Some("p/10001.html"));
        assert_eq!(name("/p/10001.HTM", true).as_deref(), Some("p/10001.HTM"));
        assert_eq!(name("/a/?x=1", false).as_deref(), Some("a/index.html?x=1"));
        assert_eq!(
            name("/find?term=a/b", false).as_deref(),
            Some("find?term=a%2Fb")
        );
        assert_eq!(name("/../etc/passwd", true), None);
        assert_eq!(name("/a/./b", true), None);
        assert_eq!(name("/a//b", true), None);
        assert_eq!(name("/a/..", true), None);
        assert_eq!(name("relative", true), None);
    }

    #[test]
    fn a_name_is_a_file_or_a_directory() {
        let mut names = Names::default();
        names.claim("vendor/x", "/vendor/x").unwrap();
        let clash = names
            .claim("vendor/x/feedback", "/vendor/x/feedback")
            .unwrap_err();
        assert!(clash.contains("vendor/x is needed as a file"), "{clash}");
        let mut names = Names::default();
        names.claim("vendor/x/pgp", "/vendor/x/pgp").unwrap();
        let clash = names.claim("vendor/x", "/vendor/x").unwrap_err();
        assert!(clash.contains("/vendor/x/pgp"), "{clash}");
        let same = names.claim("vendor/x/pgp", "/vendor/x/pgp?").unwrap_err();
        assert!(same.contains("both be saved"), "{same}");
    }

    #[test]
    fn links_resolve_like_a_browser() {
        let hosts = ["abc.onion".to_owned(), "def.onion".to_owned()];
        let r = |base: &str, href: &str| resolve(base, href, &hosts);
        assert_eq!(r("/vendor/x", "/listing/1").as_deref(), Some("/listing/1"));
        assert_eq!(
            r("/index.php?p=home", "?p=item&id=5").as_deref(),
            Some("/index.php?p=item&id=5")
        );
        assert_eq!(
            r("/vendor/x/pgp", "feedback").as_deref(),
            Some("/vendor/x/feedback")
        );
        assert_eq!(r("/vendor/x/pgp", "../y").as_deref(), Some("/vendor/y"));
        assert_eq!(r("/a", "../../../b").as_deref(), Some("/b"));
        assert_eq!(r("/a/b", "./").as_deref(), Some("/a/"));
        assert_eq!(
            r("/a", "http://DEF.onion:80/x?y=1#top").as_deref(),
            Some("/x?y=1")
        );
        assert_eq!(r("/a", "//abc.onion").as_deref(), Some("/"));
        assert_eq!(r("/a", "http://evil.onion/x"), None);
        assert_eq!(r("/a", "https://abc.onion/x"), None);
        assert_eq!(r("/a", "mailto:x@abc.onion"), None);
        assert_eq!(r("/a", "javascript:void(0)"), None);
        assert_eq!(r("/a?b=1", "#top").as_deref(), Some("/a?b=1"));
        assert_eq!(r("/a", "/x y").as_deref(), Some("/x%20y"));
    }

    #[test]
    fn hrefs_are_read_from_tags_only() {
        let html = "<a href=\"/a?x=1&amp;y=2\">a</a><!-- <a href=\"/no\"> --><A HREF='/b'>\
                    <area href=/c><script>var s = '<a href=\"/no2\">';</script>\
                    <p data-href=\"/no3\" title=\"a > b\">href=\"/no4\"</p><a class=x href = \"/d&#47;e\">";
        assert_eq!(hrefs(html), ["/a?x=1&y=2", "/b", "/c", "/d/e"]);
    }

    #[test]
    fn record_ids_are_uuids() {
        let id = record_id(1, "response", "http://abc.onion/", "2021-01-01T12:00:00Z");
        assert_eq!(id.len(), "<urn:uuid:>".len() + 36);
        assert_eq!(&id[24..25], "8");
        assert_ne!(
            id,
            record_id(1, "request", "http://abc.onion/", "2021-01-01T12:00:00Z")
        );
    }
}
