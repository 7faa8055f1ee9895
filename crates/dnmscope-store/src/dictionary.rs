//! Per-market zstd dictionaries for raw bodies: when to train one, training it, and the
//! prepared dictionaries a store keeps in memory. No SQL here (see `queries/raw.rs`).
//!
//! A market's pages share most of their bytes with their siblings: the same header, menus,
//! styles and markup around a little text. Per-page zstd sees none of that; a dictionary trained
//! on the market's own pages does. A market gets its first dictionary once it has
//! [`TRAIN_AFTER`] stored pages (trained on its newest [`SAMPLES`]), and every [`CHECK_EVERY`]
//! pages after that a candidate is trained on its newest pages and replaces the current one only
//! when it compresses the newest pages at least [`BETTER_BY`] smaller (a layout change): an
//! unchanged market keeps its dictionary. Old bodies keep the dictionary they were made with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zstd::dict::{DecoderDictionary, EncoderDictionary};

use crate::StoreError;

thread_local! {
    /// Each thread's zstd contexts, reused for every body it compresses or decompresses.
    static COMPRESSION: std::cell::RefCell<zstd::zstd_safe::CCtx<'static>> =
        std::cell::RefCell::new(zstd::zstd_safe::CCtx::create());
    static DECOMPRESSION: std::cell::RefCell<zstd::zstd_safe::DCtx<'static>> =
        std::cell::RefCell::new(zstd::zstd_safe::DCtx::create());
}

/// A zstd error code as an I/O error, as the `zstd` crate reports them.
fn zstd_error(code: zstd::zstd_safe::ErrorCode) -> std::io::Error {
    std::io::Error::other(zstd::zstd_safe::get_error_name(code))
}

/// Pages a market must have stored before its first dictionary is trained.
pub const TRAIN_AFTER: u64 = 64;
/// Pages stored between two checks of whether a new dictionary would do better.
pub const CHECK_EVERY: u64 = 1_000;
/// The newest bodies a dictionary is trained on.
pub const SAMPLES: usize = 256;
/// How much smaller a candidate must make the newest bodies to replace the current dictionary.
pub const BETTER_BY: f64 = 0.10;
/// Older bodies of a market moved to its new dictionary when one is adopted (at most).
pub const RECOMPRESS: usize = 2_000;
/// The largest dictionary a store reads back (training makes at most 64 KiB): a stored size
/// beyond it is corruption, not an allocation to make.
pub const MAX_SIZE: usize = 16 * 1024 * 1024;

/// A trained dictionary, prepared for compressing (and, when first needed, decompressing).
pub struct Dictionary {
    pub id: i64,
    bytes: Vec<u8>,
    encoder: EncoderDictionary<'static>,
    decoder: std::sync::OnceLock<DecoderDictionary<'static>>,
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionary")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Dictionary {
    pub fn new(id: i64, bytes: &[u8], level: i32) -> Dictionary {
        Dictionary {
            id,
            bytes: bytes.to_vec(),
            encoder: EncoderDictionary::copy(bytes, level),
            decoder: std::sync::OnceLock::new(),
        }
    }

    /// Compresses a body with the dictionary, on this thread's one zstd context (making a
    /// context per body cost 7 % of an import's CPU).
    pub fn compress(&self, body: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(body.len()));
        COMPRESSION
            .with(|context| {
                context
                    .borrow_mut()
                    .compress_using_cdict(&mut out, body, self.encoder.as_cdict())
            })
            .map_err(zstd_error)?;
        Ok(out)
    }

    /// Decompresses at most `capacity` bytes, on this thread's one zstd context.
    pub fn decompress(&self, data: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
        let decoder = self
            .decoder
            .get_or_init(|| DecoderDictionary::copy(&self.bytes));
        let mut out = Vec::with_capacity(capacity);
        DECOMPRESSION
            .with(|context| {
                context
                    .borrow_mut()
                    .decompress_using_ddict(&mut out, data, decoder.as_ddict())
            })
            .map_err(zstd_error)?;
        Ok(out)
    }

    /// What it makes of `pages`, in bytes (one compression context for all of them).
    fn compressed_size(&self, pages: &[Vec<u8>]) -> usize {
        let Ok(mut compressor) = zstd::bulk::Compressor::with_prepared_dictionary(&self.encoder)
        else {
            return usize::MAX;
        };
        pages
            .iter()
            .map(|s| compressor.compress(s).map_or(s.len(), |c| c.len()))
            .sum()
    }
}

/// A job for the trainer thread.
type Job = Box<dyn FnOnce() + Send>;

/// The one thread that trains dictionaries, started when first needed.
static TRAINER: std::sync::LazyLock<Mutex<Option<std::sync::mpsc::Sender<Job>>>> =
    std::sync::LazyLock::new(|| {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("dnmscope-dictionary-trainer".into())
            .spawn(move || {
                for job in queue {
                    job();
                }
            });
        Mutex::new(started.ok().map(|_| jobs))
    });

/// [`train`] on the process's one trainer thread (the caller waits). zstd's trainer takes about
/// 11 MiB while it runs and glibc keeps what a thread frees in that thread's arena: trained on
/// whichever blocking thread was free, a crawl kept one such arena per thread (peak RSS 66 MiB
/// against 31 without dictionaries, on three markets); on one thread it reuses one. Where the
/// thread cannot be had (it could not start, or a job panicked and ended it), trains here.
pub fn train_on_trainer(samples: Vec<Vec<u8>>, level: i32) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
    let (done, result) = std::sync::mpsc::channel();
    let samples = Arc::new(samples);
    let job = {
        let samples = samples.clone();
        Box::new(move || {
            let trained = train(&samples, level);
            // Before answering: the caller takes the samples back as soon as it is answered.
            drop(samples);
            let _ = done.send(trained);
        }) as Job
    };
    let sent = TRAINER
        .lock()
        .ok()
        .and_then(|trainer| trainer.as_ref().map(|jobs| jobs.send(job).is_ok()))
        .unwrap_or(false);
    let trained = match sent.then(|| result.recv().ok()).flatten() {
        Some(trained) => trained,
        None => train(&samples, level),
    };
    // The job has ended (its result came, or it never ran): the samples are the caller's again.
    let samples = Arc::try_unwrap(samples).unwrap_or_else(|shared| (*shared).clone());
    (samples, trained)
}

/// The most page bytes a dictionary is trained on.
const LEARN_BYTES: usize = 512 * 1024;

/// Pages (the newest) kept out of training to judge candidates on.
const HELD_OUT: usize = 16;

/// Makes a dictionary from `samples` (bodies, newest first), at compression `level`.
/// Candidates are made from all but the newest [`HELD_OUT`] pages: zstd's trained dictionary
/// (16 and 32 KB), and the newest pages themselves as a raw-content dictionary (16, 32 and
/// 64 KB, the newest last; it wins where pages share long identical runs the trainer breaks up). Each is judged
/// by what it would cost over the next [`CHECK_EVERY`] pages: its own size plus that many
/// pages compressed as it compresses the held-out ones. The cheapest is kept if it beats plain
/// zstd; `None` when there is too little to learn from or nothing helps (bodies then stay
/// plain zstd).
pub fn train(samples: &[Vec<u8>], level: i32) -> Option<Vec<u8>> {
    let total: usize = samples.iter().map(Vec::len).sum();
    if samples.len() < HELD_OUT + 8 || total < 16 * 1024 {
        return None;
    }
    let (held_out, learn) = samples.split_at(HELD_OUT);
    // zstd's trainer needs several bytes of memory per byte it learns from: the newest pages up
    // to LEARN_BYTES are enough for a market's markup and keep a crawl's memory flat.
    let mut budget = LEARN_BYTES;
    let take = learn
        .iter()
        .take_while(|s| {
            let fits = budget >= s.len();
            budget = budget.saturating_sub(s.len());
            fits
        })
        .count()
        .max(8.min(learn.len()));
    let learn = &learn[..take];
    let learn_bytes: usize = learn.iter().map(Vec::len).sum();
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for size in [16 * 1024, 32 * 1024, 64 * 1024] {
        if size > learn_bytes {
            continue;
        }
        // zstd's trainer, at the two smaller sizes (its larger dictionaries did no better on
        // simulated markets' pages, and training is the costly part).
        if size < 64 * 1024 {
            match zstd::dict::from_samples(learn, size) {
                Ok(trained) => candidates.push(trained),
                Err(err) => tracing::debug!("zstd trained no dictionary of {size} bytes: {err}"),
            }
        }
        let mut room = size;
        let newest: Vec<&Vec<u8>> = learn
            .iter()
            .take_while(|s| {
                let fits = s.len() <= room;
                room = room.saturating_sub(s.len());
                fits
            })
            .collect();
        if !newest.is_empty() {
            candidates.push(newest.into_iter().rev().flatten().copied().collect());
        }
    }
    let pages = CHECK_EVERY as usize;
    let cost = |dictionary_size: usize, compressed: usize| {
        dictionary_size + compressed * pages / held_out.len()
    };
    let plain = cost(
        0,
        held_out
            .iter()
            .map(|s| zstd::bulk::compress(s, level).map_or(s.len(), |c| c.len()))
            .sum(),
    );
    candidates
        .into_iter()
        .map(|bytes| {
            let compressed = Dictionary::new(0, &bytes, level).compressed_size(held_out);
            (cost(bytes.len(), compressed), bytes)
        })
        .filter(|(cost, _)| *cost < plain)
        .min_by_key(|(cost, _)| *cost)
        .map(|(_, bytes)| bytes)
}

/// Whether `candidate` compresses the newest of `samples` at least [`BETTER_BY`] smaller than
/// `current` does.
pub fn better(candidate: &Dictionary, current: &Dictionary, samples: &[Vec<u8>]) -> bool {
    let newest = &samples[..samples.len().min(HELD_OUT)];
    let (new, old) = (
        candidate.compressed_size(newest),
        current.compressed_size(newest),
    );
    (new as f64) < (old as f64) * (1.0 - BETTER_BY)
}

/// Pages to store with a dictionary trained on `trained_on` pages before trying a new one: a
/// market's first dictionary learns from its first pages (mostly home and category pages), so
/// the next tries come soon (after twice as many pages again), until one has learnt from
/// [`SAMPLES`] pages; then every [`CHECK_EVERY`].
pub fn next_check(trained_on: u64) -> u64 {
    if trained_on < SAMPLES as u64 {
        (2 * trained_on).max(TRAIN_AFTER)
    } else {
        CHECK_EVERY
    }
}

/// What a store knows of one market's dictionaries in this process.
#[derive(Debug, Default)]
pub struct MarketState {
    /// The dictionary new bodies are compressed with.
    pub current: Option<Arc<Dictionary>>,
    /// Pages stored since it was trained (or, without one, in all), counted from the store when
    /// first looked at and then in memory.
    pub since: u64,
    /// A page of this market is training one now: the others go on with the current one.
    pub training: bool,
    /// Pages the current one was trained on (0 without one).
    pub trained_on: u64,
}

impl MarketState {
    /// Whether the next body of this market is the time to train (or try a new) dictionary.
    pub fn due(&self) -> bool {
        if self.training {
            return false;
        }
        match self.current {
            None => self.since >= TRAIN_AFTER,
            Some(_) => self.since >= next_check(self.trained_on),
        }
    }
}

/// The dictionaries a store keeps prepared: per market the current one, and every one read by
/// id (to decompress old bodies).
#[derive(Debug, Default)]
pub struct Cache {
    pub(crate) markets: Mutex<HashMap<String, MarketState>>,
    by_id: Mutex<HashMap<i64, Arc<Dictionary>>>,
}

impl Cache {
    pub(crate) fn get(&self, id: i64) -> Option<Arc<Dictionary>> {
        self.by_id
            .lock()
            .expect("dictionary lock")
            .get(&id)
            .cloned()
    }

    pub(crate) fn insert(&self, dictionary: Arc<Dictionary>) {
        self.by_id
            .lock()
            .expect("dictionary lock")
            .insert(dictionary.id, dictionary);
    }

    /// Counts a page stored for `market`.
    pub(crate) fn stored(&self, market: &str) {
        if let Some(state) = self
            .markets
            .lock()
            .expect("dictionary lock")
            .get_mut(market)
        {
            state.since += 1;
        }
    }
}

/// The error of a dictionary whose bytes do not match their recorded hash.
pub(crate) fn corrupt(id: i64, what: &str) -> StoreError {
    StoreError::Corrupt {
        what: format!("raw-body dictionary {id}: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(i: usize, layout: usize) -> Vec<u8> {
        let mut page = format!("<html><head><title>Layout {layout}</title><style>");
        for rule in 0..120 {
            page.push_str(&format!(
                ".l{layout}-r{rule} {{ margin: {}px; color: #{:06x}; }}\n",
                rule % 17,
                rule * 7919 * (layout + 1)
            ));
        }
        page.push_str("</style></head><body><main>");
        let mut state = (i as u64 + 1).wrapping_mul(6364136223846793005);
        for _ in 0..120 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            page.push_str(&format!("w{:x} ", state >> 44));
        }
        page.push_str("</main></body></html>");
        page.into_bytes()
    }

    #[test]
    fn pages_sharing_boilerplate_compress_far_smaller_with_a_dictionary() {
        let samples: Vec<Vec<u8>> = (0..64).rev().map(|i| page(i, 0)).collect();
        let bytes = train(&samples, 3).expect("a dictionary");
        let dictionary = Dictionary::new(1, &bytes, 3);
        let new_page = page(500, 0);
        let plain = zstd::bulk::compress(&new_page, 3).unwrap().len();
        let with = dictionary.compress(&new_page).unwrap();
        assert!(
            with.len() * 2 < plain,
            "{} with, {plain} without",
            with.len()
        );
        assert_eq!(
            dictionary.decompress(&with, new_page.len()).unwrap(),
            new_page
        );
        // Too little to learn from: none.
        assert!(train(&samples[..10], 3).is_none());
    }

    #[test]
    fn the_trainer_thread_trains_as_train_does() {
        let samples: Vec<Vec<u8>> = (0..64).map(|i| page(i, 0)).collect();
        let (back, trained) = train_on_trainer(samples.clone(), 3);
        assert_eq!(back, samples, "the samples come back as they went");
        assert_eq!(
            trained,
            train(&samples, 3),
            "the same dictionary as on this thread"
        );
        assert!(trained.is_some());
        // And again, on the same thread, concurrently from several callers.
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let samples = samples.clone();
                std::thread::spawn(move || train_on_trainer(samples, 3).1)
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().expect("no panic"), trained);
        }
    }

    #[test]
    fn only_a_layout_change_makes_a_candidate_better() {
        let old: Vec<Vec<u8>> = (0..64).rev().map(|i| page(i, 0)).collect();
        let current = Dictionary::new(1, &train(&old, 3).unwrap(), 3);
        let same: Vec<Vec<u8>> = (64..128).rev().map(|i| page(i, 0)).collect();
        let candidate = Dictionary::new(2, &train(&same, 3).unwrap(), 3);
        assert!(!better(&candidate, &current, &same));
        let changed: Vec<Vec<u8>> = (128..192).rev().map(|i| page(i, 1)).collect();
        let candidate = Dictionary::new(3, &train(&changed, 3).unwrap(), 3);
        assert!(better(&candidate, &current, &changed));
    }
}
