//! What an archive holds: its snapshots and their pages, read from disk as a stream.
//!
//! Folders of saved pages and WARC files are walked in a stable order (sorted names) and turned
//! into [`Item`]s: a snapshot (one future import run) and then its pages, each with the URL it
//! was fetched from and the time it was seen. Nothing here parses HTML or touches the store.
//!
//! Layouts:
//! - wget mirrors (the Darknet Market Archives: `<market>/<YYYY-MM-DD>/<host>/<path>`): a folder
//!   named by a date is a snapshot of that date; its first-level folders that look like host
//!   names are the hosts, and a file's path below them is the URL's path. `index.html` is the
//!   folder's own URL, a `?` in a name starts the query (`index.html?x=y` is `/?x=y`), a file
//!   with a `.orig` twin (wget's `--convert-links --backup-converted`) is the converted copy and
//!   the `.orig` original is read instead, and `.html` endings that wget's `--adjust-extension`
//!   added are taken off (see [`Snapshot`]).
//! - saved pages ("save page as", flat folders of `*.html`): a folder of files outside any dated
//!   folder is a snapshot per day of the files' modification times (or of `--observed-at`); a
//!   page's URL is the one its browser wrote in a `<!-- saved from url=(NNNN)URL -->` comment,
//!   else its path below the folder on the host `saved.invalid`.
//! - WARC and WARC.gz files (any tool's): one snapshot per file and UTC day of `WARC-Date`;
//!   `response` records (and HTML `resource` records) are pages at their `WARC-Target-URI`;
//!   `revisit` records take the body of the record they revisit (by payload digest or record
//!   id, while it is among the last [`REVISIT_CACHE_BYTES`] of bodies read).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use dnmscope_model::{Header, Truncation};
use url::Url;

use super::warc::{http_response, is_html, WarcReader};

/// How deep a folder walk goes (a hostile archive's folder chain ends here).
const MAX_DEPTH: usize = 32;

/// Bytes of body kept for revisit records to refer back to.
pub const REVISIT_CACHE_BYTES: usize = 32 << 20;

/// The host given to saved pages whose URL nothing says.
pub const UNKNOWN_HOST: &str = "saved.invalid";

/// What kind of archive a snapshot comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArchiveKind {
    /// A dated folder of a wget mirror.
    WgetMirror,
    /// A folder of saved pages outside any dated folder.
    SavedPages,
    Warc,
}

impl ArchiveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveKind::WgetMirror => "wget mirror",
            ArchiveKind::SavedPages => "saved pages",
            ArchiveKind::Warc => "WARC",
        }
    }
}

/// How a snapshot's date was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFrom {
    FolderName,
    WarcDate,
    FileMtime,
    ObservedAt,
}

impl DateFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            DateFrom::FolderName => "folder name",
            DateFrom::WarcDate => "WARC-Date",
            DateFrom::FileMtime => "file mtime",
            DateFrom::ObservedAt => "--observed-at",
        }
    }
}

/// One dated snapshot: what becomes one import run.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub kind: ArchiveKind,
    /// The folder or WARC file.
    pub path: PathBuf,
    pub date: NaiveDate,
    pub date_from: DateFrom,
    /// How the pages' times were found, with counts ("file mtime": 120, ...).
    pub page_times: BTreeMap<&'static str, u64>,
    /// The name of the folder above a dated folder (the DNM Archives' market folder).
    pub hint: Option<String>,
    /// Whether wget's `--adjust-extension` was found to be in effect (every page's name ends in
    /// `.html`), so `.html` endings it added are taken off.
    pub adjusted_extension: bool,
}

/// One saved page, read.
#[derive(Debug, Clone)]
pub struct RawPage {
    /// Index of its snapshot among the snapshots sent so far.
    pub snapshot: usize,
    pub url: String,
    pub fetched_at: DateTime<Utc>,
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    pub truncated: Option<Truncation>,
    /// Where it was read from (a file, or a WARC file and offset), for messages.
    pub origin: String,
}

/// Why a file or record was not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    NotHtml,
    /// A WARC record that is no page (request, warcinfo, metadata, ...).
    NotAPage,
    /// The same URL was read before in the snapshot with the same body.
    DuplicateBody,
    /// The same URL was read before in the snapshot with another body.
    DuplicateUrl,
    /// wget's converted copy of a page whose `.orig` original is imported instead.
    ConvertedCopy,
    Unreadable,
    /// A revisit record whose original was not found among the bodies kept.
    RevisitWithoutOriginal,
    /// A symbolic link (never followed: an archive must not reach outside itself).
    Symlink,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NotHtml => "not HTML",
            Skip::NotAPage => "not a page (WARC request, warcinfo or metadata record)",
            Skip::DuplicateBody => "duplicate body (same URL and body in the snapshot)",
            Skip::DuplicateUrl => "duplicate URL (same URL, another body, in the snapshot)",
            Skip::ConvertedCopy => "wget's converted copy (its .orig original is imported)",
            Skip::Unreadable => "unreadable",
            Skip::RevisitWithoutOriginal => "revisit record whose original is not in the archive",
            Skip::Symlink => "symbolic link (not followed)",
        }
    }
}

/// What the walk sends.
#[derive(Debug)]
pub enum Item {
    /// A new snapshot; its pages follow (and refer to it by its index).
    Snapshot(Snapshot),
    Page(RawPage),
    Skipped {
        reason: Skip,
        origin: String,
        detail: String,
    },
    /// A file on disk was looked at.
    File,
    /// A WARC record was read.
    Record,
}

/// Where a walk reports how far it got (bytes of the inputs read of their total).
#[derive(Debug, Default)]
pub struct WalkProgress {
    pub total_bytes: AtomicU64,
    pub read_bytes: AtomicU64,
}

/// Walks the inputs, sending every item to `send`; stops early when `send` returns false.
pub struct Walker<'a> {
    observed_at: Option<DateTime<Utc>>,
    max_body: usize,
    progress: &'a WalkProgress,
    send: &'a mut dyn FnMut(Item) -> bool,
    snapshots: usize,
    /// Bodies revisit records may refer to, over every WARC file of the walk (a crawl's later
    /// files revisit its earlier ones).
    revisits: RevisitCache,
}

impl std::fmt::Debug for Walker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walker")
            .field("observed_at", &self.observed_at)
            .field("max_body", &self.max_body)
            .field("snapshots", &self.snapshots)
            .finish_non_exhaustive()
    }
}

impl<'a> Walker<'a> {
    pub fn new(
        observed_at: Option<DateTime<Utc>>,
        max_body: usize,
        progress: &'a WalkProgress,
        send: &'a mut dyn FnMut(Item) -> bool,
    ) -> Walker<'a> {
        Walker {
            observed_at,
            max_body,
            progress,
            send,
            snapshots: 0,
            revisits: RevisitCache::default(),
        }
    }

    /// Sums the sizes of the inputs' files (for a progress bar's end).
    pub fn measure(paths: &[PathBuf]) -> u64 {
        fn size(path: &Path, depth: usize) -> u64 {
            let Ok(meta) = fs::symlink_metadata(path) else {
                return 0;
            };
            if meta.is_file() {
                return meta.len();
            }
            if !meta.is_dir() || depth > MAX_DEPTH {
                return 0;
            }
            fs::read_dir(path)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .map(|e| size(&e.path(), depth + 1))
                        .sum()
                })
                .unwrap_or(0)
        }
        paths.iter().map(|p| size(p, 0)).sum()
    }

    /// Walks every input in order. False when `send` asked to stop.
    pub fn walk(&mut self, paths: &[PathBuf]) -> bool {
        for path in paths {
            let go_on = match fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => self.folder(path, None, 0),
                Ok(meta) if meta.is_file() => {
                    if is_warc(path) {
                        self.warc(path)
                    } else {
                        let parent = path.parent().unwrap_or(Path::new("."));
                        self.loose_files(parent, vec![path.clone()])
                    }
                }
                Ok(_) => (self.send)(Item::Skipped {
                    reason: Skip::Symlink,
                    origin: path.display().to_string(),
                    detail: String::new(),
                }),
                Err(error) => (self.send)(Item::Skipped {
                    reason: Skip::Unreadable,
                    origin: path.display().to_string(),
                    detail: error.to_string(),
                }),
            };
            if !go_on {
                return false;
            }
        }
        true
    }

    /// A folder: dated folders below it are snapshots, WARC files are read, other folders are
    /// walked, and the loose files are saved pages.
    fn folder(&mut self, dir: &Path, hint: Option<String>, depth: usize) -> bool {
        if let Some(date) = folder_date(dir) {
            return self.mirror_snapshot(dir, date, hint);
        }
        if depth > MAX_DEPTH {
            return true;
        }
        let (dirs, files, links) = match list(dir) {
            Ok(listed) => listed,
            Err(skipped) => return (self.send)(skipped),
        };
        if !self.skip_links(links) {
            return false;
        }
        let mut loose = Vec::new();
        for file in files {
            if is_warc(&file) {
                if !self.warc(&file) {
                    return false;
                }
            } else {
                loose.push(file);
            }
        }
        if !loose.is_empty() && !self.loose_files(dir, loose) {
            return false;
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        for sub in dirs {
            if !self.folder(&sub, name.clone(), depth + 1) {
                return false;
            }
        }
        true
    }

    fn next_snapshot(&mut self, snapshot: Snapshot) -> Option<usize> {
        let index = self.snapshots;
        self.snapshots += 1;
        (self.send)(Item::Snapshot(snapshot)).then_some(index)
    }

    /// A dated folder of a wget mirror.
    fn mirror_snapshot(&mut self, dir: &Path, date: NaiveDate, hint: Option<String>) -> bool {
        let mut files = Vec::new();
        if !self.files_below(dir, 0, &mut files) {
            return false;
        }
        // Host folders: first-level folders named like host names.
        let hosted: Vec<(Option<String>, PathBuf, String)> = files
            .into_iter()
            .map(|path| {
                let rel = relative(dir, &path);
                match rel.split_once('/') {
                    Some((first, rest)) if looks_like_host(first) => {
                        (Some(first.to_ascii_lowercase()), path, rest.to_owned())
                    }
                    _ => (None, path, rel),
                }
            })
            .collect();
        let pages: Vec<&(Option<String>, PathBuf, String)> =
            hosted.iter().filter(|(_, _, rel)| !is_asset(rel)).collect();
        let adjusted = !pages.is_empty()
            && pages.iter().all(|(_, _, rel)| {
                let name = rel.rsplit('/').next().unwrap_or(rel);
                let name = name.strip_suffix(".orig").unwrap_or(name);
                has_html_ending(name)
            });
        let day_start = date.and_time(NaiveTime::MIN).and_utc();
        let times: Vec<(DateTime<Utc>, &'static str)> = hosted
            .iter()
            .map(|(_, path, _)| self.page_time(path, date, day_start))
            .collect();
        let mut page_times = BTreeMap::new();
        for (_, how) in &times {
            *page_times.entry(*how).or_default() += 1;
        }
        let Some(index) = self.next_snapshot(Snapshot {
            kind: ArchiveKind::WgetMirror,
            path: dir.to_path_buf(),
            date,
            date_from: if self.observed_at.is_some() {
                DateFrom::ObservedAt
            } else {
                DateFrom::FolderName
            },
            page_times,
            hint,
            adjusted_extension: adjusted,
        }) else {
            return false;
        };
        // The links of the snapshot's pages decide which `.html` endings were added by wget.
        let linked = if adjusted {
            linked_urls(&hosted)
        } else {
            HashSet::new()
        };
        let originals: HashSet<&Path> = hosted
            .iter()
            .filter(|(_, p, _)| p.extension().is_some_and(|e| e == "orig"))
            .map(|(_, p, _)| p.as_path())
            .collect();
        let mut seen: HashMap<String, blake3::Hash> = HashMap::new();
        for ((host, path, rel), (at, _)) in hosted.iter().zip(times) {
            if !(self.send)(Item::File) {
                return false;
            }
            let origin = path.display().to_string();
            let twin = PathBuf::from(format!("{}.orig", path.display()));
            if originals.contains(twin.as_path()) {
                self.progress
                    .read_bytes
                    .fetch_add(file_len(path), Ordering::Relaxed);
                if !(self.send)(Item::Skipped {
                    reason: Skip::ConvertedCopy,
                    origin,
                    detail: String::new(),
                }) {
                    return false;
                }
                continue;
            }
            let url = match host {
                Some(host) => mirror_url(host, rel, adjusted, &linked),
                None => None,
            };
            if !self.file_page(index, path, url, at, &mut seen) {
                return false;
            }
        }
        true
    }

    /// Loose files of a folder (saved pages): one snapshot per day of their times.
    fn loose_files(&mut self, dir: &Path, files: Vec<PathBuf>) -> bool {
        let mut by_day: BTreeMap<NaiveDate, Vec<(PathBuf, DateTime<Utc>)>> = BTreeMap::new();
        for path in files {
            let at = match self.observed_at {
                Some(at) => at,
                None => mtime(&path).unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            };
            by_day.entry(at.date_naive()).or_default().push((path, at));
        }
        for (date, files) in by_day {
            let (date_from, how) = match self.observed_at {
                Some(_) => (DateFrom::ObservedAt, "--observed-at"),
                None => (DateFrom::FileMtime, "file mtime"),
            };
            let Some(index) = self.next_snapshot(Snapshot {
                kind: ArchiveKind::SavedPages,
                path: dir.to_path_buf(),
                date,
                date_from,
                page_times: BTreeMap::from([(how, files.len() as u64)]),
                hint: None,
                adjusted_extension: false,
            }) else {
                return false;
            };
            let mut seen = HashMap::new();
            for (path, at) in files {
                if !(self.send)(Item::File) {
                    return false;
                }
                if !self.file_page(index, &path, None, at, &mut seen) {
                    return false;
                }
            }
        }
        true
    }

    /// When a mirrored page was seen: its file's modification time when that falls on the
    /// folder's day or the next (a scrape that ran past midnight), else the start of the day.
    fn page_time(
        &self,
        path: &Path,
        date: NaiveDate,
        day_start: DateTime<Utc>,
    ) -> (DateTime<Utc>, &'static str) {
        if let Some(at) = self.observed_at {
            return (at, "--observed-at");
        }
        match mtime(path) {
            Some(at) if at.date_naive() == date || Some(at.date_naive()) == date.succ_opt() => {
                (at, "file mtime")
            }
            _ => (
                day_start,
                "start of the folder's day (file mtime outside it)",
            ),
        }
    }

    /// Reads one saved page and sends it (or why it was skipped).
    fn file_page(
        &mut self,
        snapshot: usize,
        path: &Path,
        url: Option<String>,
        at: DateTime<Utc>,
        seen: &mut HashMap<String, blake3::Hash>,
    ) -> bool {
        let origin = path.display().to_string();
        let (body, truncated) = match read_capped(path, self.max_body) {
            Ok(read) => read,
            Err(error) => {
                return (self.send)(Item::Skipped {
                    reason: Skip::Unreadable,
                    origin,
                    detail: error.to_string(),
                })
            }
        };
        self.progress
            .read_bytes
            .fetch_add(file_len(path), Ordering::Relaxed);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if !looks_like_html(name.as_deref().unwrap_or(""), &body) {
            return (self.send)(Item::Skipped {
                reason: Skip::NotHtml,
                origin,
                detail: String::new(),
            });
        }
        let url = url
            .or_else(|| saved_from(&body))
            .unwrap_or_else(|| saved_url(name.as_deref().unwrap_or("page.html")));
        if let Some(reason) = repeated(seen, url.clone(), &body) {
            return (self.send)(Item::Skipped {
                reason,
                origin,
                detail: url,
            });
        }
        (self.send)(Item::Page(RawPage {
            snapshot,
            url,
            fetched_at: at,
            status: 200,
            headers: Vec::new(),
            body,
            truncated,
            origin,
        }))
    }

    /// Files below `dir`, sorted, symbolic links skipped.
    fn files_below(&mut self, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> bool {
        if depth > MAX_DEPTH {
            return true;
        }
        let (dirs, files, links) = match list(dir) {
            Ok(listed) => listed,
            Err(skipped) => return (self.send)(skipped),
        };
        if !self.skip_links(links) {
            return false;
        }
        out.extend(files);
        for sub in dirs {
            if !self.files_below(&sub, depth + 1, out) {
                return false;
            }
        }
        true
    }

    /// Reports symbolic links as skipped: an archive must not reach outside itself.
    fn skip_links(&mut self, links: Vec<PathBuf>) -> bool {
        links.into_iter().all(|link| {
            (self.send)(Item::Skipped {
                reason: Skip::Symlink,
                origin: link.display().to_string(),
                detail: String::new(),
            })
        })
    }

    /// A WARC file: one snapshot per UTC day of its records' dates.
    fn warc(&mut self, path: &Path) -> bool {
        if !(self.send)(Item::File) {
            return false;
        }
        let origin = path.display().to_string();
        let reader = match WarcReader::open_counting(path, Some(&self.progress.read_bytes)) {
            Ok(reader) => reader,
            Err(error) => {
                return (self.send)(Item::Skipped {
                    reason: Skip::Unreadable,
                    origin,
                    detail: error.to_string(),
                })
            }
        };
        let mut days: HashMap<NaiveDate, usize> = HashMap::new();
        let mut seen: HashMap<(usize, String), blake3::Hash> = HashMap::new();
        for record in reader {
            if !(self.send)(Item::Record) {
                return false;
            }
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    if !(self.send)(Item::Skipped {
                        reason: Skip::Unreadable,
                        origin: origin.clone(),
                        detail: error.to_string(),
                    }) {
                        return false;
                    }
                    continue;
                }
            };
            let at_origin = format!("{origin}@{}", record.offset);
            let skip = |reason: Skip, detail: String| Item::Skipped {
                reason,
                origin: at_origin.clone(),
                detail,
            };
            let page = match record.record_type.as_str() {
                "response" | "revisit" | "resource" => {
                    let (Some(uri), Some(date)) = (record.target_uri.clone(), record.date) else {
                        if !(self.send)(skip(
                            Skip::Unreadable,
                            "a record without WARC-Target-URI or WARC-Date".into(),
                        )) {
                            return false;
                        }
                        continue;
                    };
                    let response = if record.record_type == "resource" {
                        Ok(super::warc::HttpResponse {
                            status: 200,
                            headers: record
                                .content_type
                                .iter()
                                .map(|t| Header::new("Content-Type", t))
                                .collect(),
                            body: record.block.clone(),
                            truncated: record.truncated.then_some(Truncation::Length),
                        })
                    } else {
                        http_response(&record.block, self.max_body)
                    };
                    let mut response = match response {
                        Ok(response) => response,
                        Err(error) => {
                            if !(self.send)(skip(Skip::Unreadable, error.to_string())) {
                                return false;
                            }
                            continue;
                        }
                    };
                    if record.truncated && response.truncated.is_none() {
                        response.truncated = Some(Truncation::Length);
                    }
                    if record.record_type == "revisit" {
                        let original = record
                            .refers_to
                            .as_deref()
                            .and_then(|id| self.revisits.get(id))
                            .or_else(|| {
                                record
                                    .payload_digest
                                    .as_deref()
                                    .and_then(|d| self.revisits.get(d))
                            })
                            .map(<[u8]>::to_vec);
                        match original {
                            Some(body) => response.body = body,
                            None => {
                                if !(self.send)(skip(Skip::RevisitWithoutOriginal, uri)) {
                                    return false;
                                }
                                continue;
                            }
                        }
                    }
                    if !is_html(&response) {
                        if !(self.send)(skip(Skip::NotHtml, uri)) {
                            return false;
                        }
                        continue;
                    }
                    if record.record_type != "revisit" {
                        let body: Arc<[u8]> = response.body.as_slice().into();
                        if let Some(id) = &record.record_id {
                            self.revisits.put(id.clone(), Arc::clone(&body));
                        }
                        if let Some(digest) = &record.payload_digest {
                            self.revisits.put(digest.clone(), body);
                        }
                    }
                    (uri, date, response)
                }
                _ => {
                    if !(self.send)(skip(Skip::NotAPage, record.record_type.clone())) {
                        return false;
                    }
                    continue;
                }
            };
            let (uri, date, response) = page;
            let at = self.observed_at.unwrap_or(date);
            let day = at.date_naive();
            let snapshot = match days.get(&day) {
                Some(index) => *index,
                None => {
                    let Some(index) = self.next_snapshot(Snapshot {
                        kind: ArchiveKind::Warc,
                        path: path.to_path_buf(),
                        date: day,
                        date_from: if self.observed_at.is_some() {
                            DateFrom::ObservedAt
                        } else {
                            DateFrom::WarcDate
                        },
                        // Each record's own time (or --observed-at): counted by nobody.
                        page_times: BTreeMap::new(),
                        hint: None,
                        adjusted_extension: false,
                    }) else {
                        return false;
                    };
                    days.insert(day, index);
                    index
                }
            };
            let Some(url) = canonical_url(&uri) else {
                if !(self.send)(skip(Skip::Unreadable, format!("not an http(s) URL: {uri}"))) {
                    return false;
                }
                continue;
            };
            if let Some(reason) = repeated(&mut seen, (snapshot, url.clone()), &response.body) {
                if !(self.send)(skip(reason, url)) {
                    return false;
                }
                continue;
            }
            if !(self.send)(Item::Page(RawPage {
                snapshot,
                url,
                fetched_at: at,
                status: response.status,
                headers: response.headers,
                body: response.body,
                truncated: response.truncated,
                origin: at_origin,
            })) {
                return false;
            }
        }
        true
    }
}

/// Why a page read before in its snapshot (by `key`: its URL) is not read again, noting it
/// otherwise.
fn repeated<K: std::hash::Hash + Eq>(
    seen: &mut HashMap<K, blake3::Hash>,
    key: K,
    body: &[u8],
) -> Option<Skip> {
    let hash = blake3::hash(body);
    match seen.get(&key) {
        Some(before) if *before == hash => Some(Skip::DuplicateBody),
        Some(_) => Some(Skip::DuplicateUrl),
        None => {
            seen.insert(key, hash);
            None
        }
    }
}

/// The last bodies read, by record id and payload digest, at most [`REVISIT_CACHE_BYTES`].
#[derive(Default)]
struct RevisitCache {
    bodies: HashMap<String, Arc<[u8]>>,
    order: VecDeque<String>,
    bytes: usize,
}

impl RevisitCache {
    fn put(&mut self, key: String, body: Arc<[u8]>) {
        if body.len() > REVISIT_CACHE_BYTES {
            return;
        }
        self.bytes += body.len();
        if let Some(old) = self.bodies.insert(key.clone(), body) {
            self.bytes -= old.len();
        } else {
            self.order.push_back(key);
        }
        while self.bytes > REVISIT_CACHE_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(body) = self.bodies.remove(&oldest) {
                self.bytes -= body.len();
            }
        }
    }

    fn get(&self, key: &str) -> Option<&[u8]> {
        self.bodies.get(key).map(|b| &b[..])
    }
}

fn is_warc(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".warc") || name.ends_with(".warc.gz")
}

/// A folder's date when its name is one (`YYYY-MM-DD`).
fn folder_date(dir: &Path) -> Option<NaiveDate> {
    let name = dir.file_name()?.to_str()?;
    if name.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()
}

/// A folder's sub-folders, files and symbolic links (never followed), sorted by name.
type Listed = (Vec<PathBuf>, Vec<PathBuf>, Vec<PathBuf>);

fn list(dir: &Path) -> Result<Listed, Item> {
    let entries = fs::read_dir(dir).map_err(|error| Item::Skipped {
        reason: Skip::Unreadable,
        origin: dir.display().to_string(),
        detail: error.to_string(),
    })?;
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    let mut links = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => dirs.push(path),
            Ok(t) if t.is_file() => files.push(path),
            Ok(t) if t.is_symlink() => links.push(path),
            _ => {}
        }
    }
    dirs.sort();
    files.sort();
    links.sort();
    Ok((dirs, files, links))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A folder name that is a host name (`name.onion`, `example.com`, `host:8080`).
fn looks_like_host(name: &str) -> bool {
    let (host, port) = name.split_once(':').unwrap_or((name, ""));
    host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.bytes().all(|b| b.is_ascii_digit())
}

/// Files a mirror keeps beside its pages (styles, scripts, images, fonts).
fn is_asset(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let name = name.split('?').next().unwrap_or(name).to_ascii_lowercase();
    const ASSETS: &[&str] = &[
        ".css", ".js", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".svg", ".webp", ".woff", ".woff2",
        ".ttf", ".eot", ".pdf", ".txt", ".json", ".xml", ".zip", ".gz", ".asc",
    ];
    ASSETS.iter().any(|ext| name.ends_with(ext))
}

fn has_html_ending(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".html") || lower.ends_with(".htm")
}

/// Whether a file is an HTML page: not an asset by its name, and markup by its first bytes.
fn looks_like_html(name: &str, body: &[u8]) -> bool {
    if is_asset(name.strip_suffix(".orig").unwrap_or(name)) {
        return false;
    }
    let head = &body[..body.len().min(4096)];
    if head.contains(&0) {
        return false;
    }
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    trimmed.starts_with('<')
        && [
            "<html",
            "<!doctype html",
            "<head",
            "<body",
            "<div",
            "<table",
            "<p",
            "<title",
        ]
        .iter()
        .any(|tag| text.contains(tag))
}

/// The URL a browser wrote into a saved page (`<!-- saved from url=(0044)http://... -->`: the
/// number is the URL's length in characters, at most four digits).
fn saved_from(body: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(2048)]).into_owned();
    let at = head.find("saved from url=(")?;
    let rest = &head[at + "saved from url=(".len()..];
    let (length, rest) = rest.split_once(')')?;
    if length.is_empty() || length.len() > 4 {
        return None;
    }
    let length: usize = length.parse().ok()?;
    let url: String = rest.chars().take(length).collect();
    (url.chars().count() == length).then_some(())?;
    canonical_url(&url)
}

/// The URL of a saved page nothing else names: its file name on [`UNKNOWN_HOST`].
fn saved_url(name: &str) -> String {
    canonical_url(&format!("http://{UNKNOWN_HOST}/{}", encode_path(name)))
        .unwrap_or_else(|| format!("http://{UNKNOWN_HOST}/"))
}

/// The URL of a mirrored file (`rel` below its host folder), as wget named it.
fn mirror_url(host: &str, rel: &str, adjusted: bool, linked: &HashSet<String>) -> Option<String> {
    let path_query = wget_name_to_path(rel, adjusted, linked);
    canonical_url(&format!("http://{host}{path_query}"))
}

/// `rel` (a wget file name below the host folder) back to the URL's path and query.
fn wget_name_to_path(rel: &str, adjusted: bool, linked: &HashSet<String>) -> String {
    let rel = rel.strip_suffix(".orig").unwrap_or(rel);
    let (dir, name) = match rel.rsplit_once('/') {
        Some((dir, name)) => (format!("/{dir}/"), name),
        None => ("/".to_owned(), rel),
    };
    let dir = encode_path(&dir);
    // The name wget gave the empty file part of a URL.
    let as_url = |name: &str| -> String {
        let (file, query) = match name.split_once('?') {
            Some((file, query)) => (file, Some(query)),
            None => (name, None),
        };
        let file = if file == "index.html" { "" } else { file };
        match query {
            Some(query) => format!("{dir}{}?{query}", encode_path(file)),
            None => format!("{dir}{}", encode_path(file)),
        }
    };
    if adjusted && has_html_ending(name) && name != "index.html" {
        // `--adjust-extension` added `.html` unless the URL itself ended so; the pages' links
        // say which.
        let cut = if name.to_ascii_lowercase().ends_with(".html") {
            5
        } else {
            4
        };
        let stripped = as_url(&name[..name.len() - cut]);
        let kept = as_url(name);
        if linked.contains(&kept) && !linked.contains(&stripped) {
            return kept;
        }
        return stripped;
    }
    as_url(name)
}

/// Spaces and other characters a file name may hold and a URL may not, percent-encoded (what
/// the URL parser would do).
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '"' => out.push_str("%22"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '`' => out.push_str("%60"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            '#' => out.push_str("%23"),
            '\\' => out.push_str("%5C"),
            c => out.push(c),
        }
    }
    out
}

/// The paths (with queries) the snapshot's pages link to, resolved against each page's place.
fn linked_urls(files: &[(Option<String>, PathBuf, String)]) -> HashSet<String> {
    let mut linked = HashSet::new();
    for (host, path, rel) in files {
        let Some(host) = host else { continue };
        if is_asset(rel) {
            continue;
        }
        let Ok(body) = read_capped(path, 8 << 20) else {
            continue;
        };
        let text = String::from_utf8_lossy(&body.0);
        // The page's place: its folder is all relative links need, and its name without the
        // `.html` (query-only links keep the path, whose name ends before any `?`).
        let provisional = wget_name_to_path(rel, false, &HashSet::new());
        let Ok(base) = Url::parse(&format!("http://{host}{provisional}")) else {
            continue;
        };
        for href in hrefs(&text) {
            let href = href.replace("&amp;", "&");
            if let Ok(url) = base.join(&href) {
                if url.host_str() == base.host_str() {
                    let mut key = url.path().to_owned();
                    if let Some(query) = url.query() {
                        key.push('?');
                        key.push_str(query);
                    }
                    linked.insert(key);
                }
            }
        }
    }
    linked
}

/// The values of `href` attributes, found by their bytes (no parse).
fn hrefs(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("href=").filter_map(move |(at, _)| {
        let rest = &text[at + 5..];
        let quote = rest.chars().next()?;
        if quote == '"' || quote == '\'' {
            let rest = &rest[1..];
            rest.find(quote).map(|end| &rest[..end])
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '>')
                .unwrap_or(rest.len());
            Some(&rest[..end])
        }
    })
}

/// A URL in the crawler's one spelling (parsed, fragment dropped, unreserved escapes decoded),
/// or None for anything that is not http(s).
pub fn canonical_url(text: &str) -> Option<String> {
    let mut url = Url::parse(text.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_fragment(None);
    Some(crate::plan::one_spelling(&url))
}

fn mtime(path: &Path) -> Option<DateTime<Utc>> {
    let modified = fs::metadata(path).ok()?.modified().ok()?;
    Some(DateTime::<Utc>::from(modified))
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// A file's bytes, at most `max` of them (the rest is left unread: the page is truncated).
fn read_capped(path: &Path, max: usize) -> std::io::Result<(Vec<u8>, Option<Truncation>)> {
    let file = fs::File::open(path)?;
    let mut body = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut body)?;
    if body.len() > max {
        body.truncate(max);
        return Ok((body, Some(Truncation::Length)));
    }
    Ok((body, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(rel: &str, adjusted: bool, linked: &[&str]) -> String {
        let linked = linked.iter().map(|s| s.to_string()).collect();
        wget_name_to_path(rel, adjusted, &linked)
    }

    #[test]
    fn wget_names_map_back_to_urls() {
        assert_eq!(path_of("index.html", false, &[]), "/");
        assert_eq!(path_of("forum/index.html", false, &[]), "/forum/");
        assert_eq!(path_of("index.html?x=y", false, &[]), "/?x=y");
        assert_eq!(path_of("listing/12", false, &[]), "/listing/12");
        assert_eq!(
            path_of("index.php?p=item&id=5", false, &[]),
            "/index.php?p=item&id=5"
        );
        assert_eq!(path_of("vendor/x.orig", false, &[]), "/vendor/x");
        assert_eq!(path_of("a b/c", false, &[]), "/a%20b/c");
    }

    #[test]
    fn adjusted_extensions_come_off_unless_the_links_say_the_url_had_one() {
        assert_eq!(path_of("vendor/x.html", true, &[]), "/vendor/x");
        assert_eq!(
            path_of("index.php?p=item&id=5.html", true, &[]),
            "/index.php?p=item&id=5"
        );
        assert_eq!(path_of("p/12.html", true, &["/p/12.html"]), "/p/12.html");
        assert_eq!(
            path_of("p/12.html", true, &["/p/12.html", "/p/12"]),
            "/p/12",
            "both linked: the added ending is the likelier"
        );
        assert_eq!(path_of("index.html", true, &[]), "/");
    }

    #[test]
    fn hosts_dates_and_html_are_recognised() {
        assert!(looks_like_host("abcdefgh.onion"));
        assert!(looks_like_host("127.0.0.1:8080"));
        assert!(!looks_like_host("vendor"));
        assert!(!looks_like_host("a b.onion"));
        assert_eq!(
            folder_date(Path::new("/x/agora/2014-05-03")),
            NaiveDate::from_ymd_opt(2014, 5, 3)
        );
        assert_eq!(folder_date(Path::new("/x/agora/2014-13-03")), None);
        assert!(looks_like_html("page", b"  <!DOCTYPE html><html></html>"));
        assert!(!looks_like_html("style.css", b"<html>"));
        assert!(!looks_like_html("image", b"\x89PNG\r\n\x1a\n\0\0"));
        assert!(!looks_like_html("notes", b"just text"));
    }

    #[test]
    fn a_saved_page_names_its_url() {
        let body =
            b"<!DOCTYPE html>\n<!-- saved from url=(0031)http://abc.onion/listing/7#x -->\n<html>";
        assert_eq!(
            saved_from(body).as_deref(),
            Some("http://abc.onion/listing/7")
        );
        assert_eq!(saved_from(b"<html>"), None);
        assert_eq!(
            saved_url("My page.html"),
            "http://saved.invalid/My%20page.html"
        );
    }

    #[test]
    fn hrefs_are_found_in_any_quoting() {
        let found: Vec<&str> =
            hrefs("<a href=\"/a?x=1&amp;y=2\">a</a><a href='b'>b</a><a href=c>c</a>").collect();
        assert_eq!(found, ["/a?x=1&amp;y=2", "b", "c"]);
    }

    /// Walks `paths`, returning every item.
    fn walk(paths: &[PathBuf], observed_at: Option<DateTime<Utc>>) -> Vec<Item> {
        let progress = WalkProgress::default();
        let mut items = Vec::new();
        let mut send = |item: Item| {
            items.push(item);
            true
        };
        assert!(Walker::new(observed_at, 1 << 20, &progress, &mut send).walk(paths));
        items
    }

    #[test]
    fn a_mirror_folder_becomes_dated_snapshots_of_pages_with_their_urls() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("agora");
        let host = root.join("2014-05-03/abcdefgh.onion");
        fs::create_dir_all(host.join("listing")).unwrap();
        fs::create_dir_all(host.join("vendor")).unwrap();
        let page = |text: &str| format!("<!DOCTYPE html><html><body>{text}</body></html>");
        fs::write(host.join("index.html"), page("home")).unwrap();
        fs::write(host.join("listing/12"), page("a listing")).unwrap();
        fs::write(host.join("vendor/x"), page("converted")).unwrap();
        fs::write(host.join("vendor/x.orig"), page("original")).unwrap();
        fs::write(host.join("search?q=a b"), page("results")).unwrap();
        fs::write(host.join("style.css"), "body { color: red }").unwrap();
        fs::write(host.join("notes"), "plain text, no markup").unwrap();
        std::os::unix::fs::symlink("/etc", host.join("escape")).unwrap();
        // A loose saved page outside the dated folder, with the URL its browser wrote.
        fs::write(
            root.join("saved.html"),
            "<!-- saved from url=(0027)http://abcdefgh.onion/forum -->\n<html><body>f</body></html>",
        )
        .unwrap();
        let at = "2014-06-01T10:00:00Z".parse().unwrap();
        let items = walk(std::slice::from_ref(&root), None);
        let mut snapshots = Vec::new();
        let mut pages = BTreeMap::new();
        let mut skipped = Vec::new();
        for item in &items {
            match item {
                Item::Snapshot(s) => snapshots.push((s.kind, s.date.to_string(), s.date_from)),
                Item::Page(p) => {
                    pages.insert(p.url.clone(), String::from_utf8_lossy(&p.body).into_owned());
                }
                Item::Skipped { reason, .. } => skipped.push(*reason),
                _ => {}
            }
        }
        assert!(snapshots.contains(&(
            ArchiveKind::WgetMirror,
            "2014-05-03".to_owned(),
            DateFrom::FolderName
        )));
        assert!(snapshots.iter().any(
            |(kind, _, from)| *kind == ArchiveKind::SavedPages && *from == DateFrom::FileMtime
        ));
        let urls: Vec<&str> = pages.keys().map(String::as_str).collect();
        assert_eq!(
            urls,
            [
                "http://abcdefgh.onion/",
                "http://abcdefgh.onion/forum",
                "http://abcdefgh.onion/listing/12",
                "http://abcdefgh.onion/search?q=a%20b",
                "http://abcdefgh.onion/vendor/x",
            ]
        );
        assert!(pages["http://abcdefgh.onion/vendor/x"].contains("original"));
        skipped.sort();
        assert_eq!(
            skipped,
            [
                Skip::NotHtml,
                Skip::NotHtml,
                Skip::ConvertedCopy,
                Skip::Symlink
            ]
        );

        // --observed-at dates every page, and says so.
        let items = walk(&[root], Some(at));
        for item in items {
            match item {
                Item::Snapshot(s) => assert_eq!(s.date_from, DateFrom::ObservedAt),
                Item::Page(p) => assert_eq!(p.fetched_at, at),
                _ => {}
            }
        }
    }

    #[test]
    fn the_revisit_cache_keeps_the_newest_bodies_within_its_bound() {
        let mut cache = RevisitCache::default();
        let big: Arc<[u8]> = vec![1u8; REVISIT_CACHE_BYTES / 2 + 1].into();
        cache.put("a".into(), Arc::clone(&big));
        cache.put("b".into(), Arc::clone(&big));
        assert!(cache.get("a").is_none(), "the oldest went");
        assert!(cache.get("b").is_some());
        assert!(cache.bytes <= REVISIT_CACHE_BYTES);
    }
}
