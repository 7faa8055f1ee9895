//! The store's behaviour suite.
//!
//! Every case runs against SQLite, and against PostgreSQL when `DNMSCOPE_TEST_POSTGRES_URL` is
//! set (each PostgreSQL case in a schema of its own, dropped afterwards). Without the variable
//! the PostgreSQL cases are listed as ignored and the suite says why, so a run never passes
//! silently on half the backends.
//!
//! Cases talk to the store only through its public API, except where a case must reach under it
//! (a trigger that makes an insert fail half-way through an ingest).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use dnmscope_model::{
    Author, Capture, Country, CrawlId, Extraction, FeedbackEntry, FeedbackRating, FinishReason,
    ForumPost, ForumThread, FrontierState, Header, Listing, MarketEvent, MarketEventKind,
    MarketName, Money, NewLink, PageKind, PgpFingerprint, Pseudonym, PseudonymKey, Vendor,
};
use dnmscope_store::{
    AnalyticsFilter, IngestReport, LinkDecision, Location, Period, RateRow, RawKey, Store,
    StoreError, StoreOptions, Value, VendorRef, RELATIONS,
};
use futures_util::TryStreamExt;
use libtest_mimic::{Arguments, Trial};
use sqlx::Connection;

const POSTGRES_VARIABLE: &str = "DNMSCOPE_TEST_POSTGRES_URL";

type CaseFuture = Pin<Box<dyn Future<Output = ()>>>;
type Case = fn(Fixture) -> CaseFuture;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        const CASES: &[(&str, Case)] = &[$((stringify!($name), |fixture| Box::pin($name(fixture)))),*];
    };
}

cases![
    reingesting_a_capture_adds_no_rows,
    two_crawls_of_a_changed_listing_give_two_observations_and_one_listing,
    feedback_seen_in_three_crawls_is_stored_once,
    an_age_read_a_day_off_in_a_later_crawl_is_the_same_feedback,
    capture_body_reads_back_byte_identical,
    failure_mid_ingest_leaves_the_store_as_it_was,
    a_failed_extraction_keeps_the_raw_capture,
    reparsing_with_a_new_parser_version_adds_observations,
    interstitial_pages_never_yield_observations,
    forum_posts_keep_vendors_and_pseudonyms_only,
    market_events_are_recorded_once,
    crawl_runs_round_trip,
    stats_count_rows_and_span_observations,
    ingest_needs_a_known_crawl,
    the_frontier_keeps_each_url_once_and_orders_due_work,
    a_fetched_page_is_stored_with_its_frontier_entry_and_completed_atomically,
    unfinished_runs_and_accounting_are_found_again,
    a_page_showing_a_listing_twice_observes_it_once,
    ingesting_many_pages_in_one_transaction_stores_what_one_by_one_does,
    every_table_and_view_reads_back_in_its_documented_column_order,
    a_reparse_replaces_what_analytics_read_and_keeps_the_old_rows,
    full_text_search_finds_listings_and_posts_and_stays_in_step,
    counts_per_crawl_and_market_and_the_span_of_each_market,
    analytics_roll_up_by_day_and_week_and_filter_listings,
    weekly_summaries_equal_a_recount_of_every_observation_after_each_refresh,
    exchange_rates_are_imported_once_and_bad_ones_refused,
    link_decisions_keep_their_history_and_the_latest_counts,
    bulk_loading_observes_many_listings_in_one_transaction,
    every_listing_field_reads_back_and_data_keeps_only_the_rest,
    every_event_kind_the_model_knows_is_accepted,
    a_new_store_encrypts_raw_bodies_and_a_store_without_the_key_reads_all_else,
    encrypting_an_existing_store_converts_every_body_once,
    a_markets_bodies_share_a_trained_dictionary_and_read_back_exactly,
    purging_raw_pages_keeps_observations_and_records_an_audit_row,
];

fn main() {
    let args = Arguments::from_args();
    let postgres = std::env::var(POSTGRES_VARIABLE)
        .ok()
        .filter(|url| !url.trim().is_empty());
    match &postgres {
        Some(url) => {
            let shown = Location::parse(url)
                .map(|l| l.to_string())
                .unwrap_or_else(|_| "(invalid URL)".to_string());
            println!(
                "store behaviour suite: running {} cases on sqlite and on postgres ({shown})",
                CASES.len()
            );
        }
        None if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            eprintln!(
                "store behaviour suite: {POSTGRES_VARIABLE} is not set under CI=true; every check \
                 must run in CI (.ci/run sets it when PostgreSQL answers on 127.0.0.1:5432)"
            );
            std::process::exit(1);
        }
        None => println!(
            "store behaviour suite: {POSTGRES_VARIABLE} is not set, so the {} postgres cases \
             are ignored; set it (e.g. postgres://postgres@127.0.0.1:5432/test) to run them",
            CASES.len()
        ),
    }
    let mut trials = Vec::new();
    for (name, case) in CASES {
        let case = *case;
        trials.push(Trial::test(format!("sqlite::{name}"), move || {
            run(Kind::Sqlite, case)
        }));
        let url = postgres.clone();
        trials.push(
            Trial::test(format!("postgres::{name}"), move || match url {
                Some(url) => run(Kind::Postgres(url), case),
                None => Err(format!("{POSTGRES_VARIABLE} is not set").into()),
            })
            .with_ignored_flag(postgres.is_none()),
        );
    }
    for (name, case) in SQLITE_ONLY {
        let case = *case;
        trials.push(Trial::test(format!("sqlite::{name}"), move || {
            runtime().block_on(case());
            Ok(())
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}

#[derive(Clone)]
enum Kind {
    Sqlite,
    Postgres(String),
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn run(kind: Kind, case: Case) -> Result<(), libtest_mimic::Failed> {
    runtime().block_on(async move {
        let fixture = Fixture::new(kind).await;
        // A panicking case ends its task, not the suite; the schema is dropped either way.
        let local = tokio::task::LocalSet::new();
        let outcome = local
            .run_until(async { tokio::task::spawn_local(case(fixture.clone())).await })
            .await;
        fixture.clean_up().await;
        match outcome {
            Ok(()) => Ok(()),
            Err(join) if join.is_panic() => {
                let payload = join.into_panic();
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "the case panicked".to_string());
                Err(message.into())
            }
            Err(join) => Err(join.to_string().into()),
        }
    })
}

/// One store for one case, with a way under it for the cases that need one.
#[derive(Clone)]
struct Fixture {
    store: Store,
    kind: Kind,
    /// The SQLite file, or the PostgreSQL schema.
    place: String,
    _dir: std::sync::Arc<Option<tempfile::TempDir>>,
}

static SCHEMA_COUNTER: AtomicU32 = AtomicU32::new(0);

impl Fixture {
    async fn new(kind: Kind) -> Fixture {
        match &kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let path: PathBuf = dir.path().join("store.sqlite");
                let mut options = StoreOptions::new(Location::SqliteFile(path.clone()));
                options.create = true;
                let store = Store::open(&options)
                    .await
                    .expect("opening a new SQLite store");
                Fixture {
                    store,
                    kind,
                    place: path.display().to_string(),
                    _dir: std::sync::Arc::new(Some(dir)),
                }
            }
            Kind::Postgres(url) => {
                let schema = format!(
                    "dnmscope_test_{}_{}_{}",
                    std::process::id(),
                    SCHEMA_COUNTER.fetch_add(1, Ordering::SeqCst),
                    Utc::now().timestamp_subsec_nanos()
                );
                let mut options =
                    StoreOptions::new(Location::parse(url).expect("a valid PostgreSQL URL"));
                options.postgres_schema = Some(schema.clone());
                let store = Store::open(&options)
                    .await
                    .unwrap_or_else(|err| panic!("opening PostgreSQL at {url}: {err:?}"));
                Fixture {
                    store,
                    kind,
                    place: schema,
                    _dir: std::sync::Arc::new(None),
                }
            }
        }
    }

    /// Runs raw SQL beside the store, on its database (for fault injection).
    async fn raw(&self, sql: &str) {
        if let Err(err) = self.try_raw(sql).await {
            panic!("{sql}: {err}");
        }
    }

    async fn try_raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        match &self.kind {
            Kind::Sqlite => {
                let url = format!("sqlite://{}", self.place);
                let mut conn = sqlx::SqliteConnection::connect(&url).await?;
                let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await;
                conn.close().await?;
                result.map(drop)
            }
            Kind::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await?;
                let sql = format!("SET search_path TO {}; {sql}", self.place);
                let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&mut conn)
                    .await;
                conn.close().await?;
                result.map(drop)
            }
        }
    }

    async fn clean_up(&self) {
        self.store.clone().close().await;
        if let Kind::Postgres(url) = &self.kind {
            if let Ok(mut conn) = sqlx::PgConnection::connect(url).await {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {} CASCADE",
                    self.place
                )))
                .execute(&mut conn)
                .await;
                let _ = conn.close().await;
            }
        }
    }

    async fn counts(&self) -> BTreeMap<String, i64> {
        let stats = self.store.stats().await.expect("stats");
        stats
            .tables
            .into_iter()
            .map(|t| (t.table, t.rows))
            .collect()
    }

    /// The same store opened again with a raw-body key.
    async fn with_key(&self, key: &RawKey) -> Store {
        let mut options = match &self.kind {
            Kind::Sqlite => StoreOptions::new(Location::SqliteFile(PathBuf::from(&self.place))),
            Kind::Postgres(url) => {
                let mut options = StoreOptions::new(Location::parse(url).unwrap());
                options.postgres_schema = Some(self.place.clone());
                options
            }
        };
        options.raw_key = Some(key.clone());
        Store::open(&options)
            .await
            .expect("opening the store with a key")
    }

    /// Each listing observation's `data` as the database holds it, by listing key.
    async fn listing_data(&self) -> BTreeMap<String, serde_json::Value> {
        let rows: Vec<(String, String)> = self
            .rows_beside(
                "SELECT l.listing_key, CAST(o.data AS TEXT) FROM listing_observations o
                 JOIN listings l ON l.id = o.listing_id ORDER BY o.id",
            )
            .await;
        rows.into_iter()
            .map(|(key, data)| (key, serde_json::from_str(&data).unwrap()))
            .collect()
    }

    /// Every stored body's bytes as the database holds them, by hash.
    async fn blob_data(&self) -> Vec<(String, Vec<u8>)> {
        self.text_and_bytes("SELECT hash, data FROM blobs ORDER BY hash")
            .await
    }

    /// Rows of (text, bytes) read beside the store.
    async fn text_and_bytes(&self, sql: &str) -> Vec<(String, Vec<u8>)> {
        self.rows_beside(sql).await
    }

    /// Rows read beside the store, on a connection of their own.
    async fn rows_beside<T>(&self, sql: &str) -> Vec<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match &self.kind {
            Kind::Sqlite => {
                let url = format!("sqlite://{}", self.place);
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
            }
            Kind::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "SET search_path TO {}",
                    self.place
                )))
                .execute(&mut conn)
                .await
                .unwrap();
                sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
            }
        }
    }

    async fn set_blob_data(&self, hash: &str, data: &[u8]) {
        self.update_bytes("UPDATE blobs SET data = $1 WHERE hash = $2", data, hash)
            .await;
    }

    /// Runs `sql` (an update) with `$1` the bytes `data` and `$2` the text `key`.
    async fn update_bytes(&self, sql: &str, data: &[u8], key: &str) {
        let hash = key;
        match &self.kind {
            Kind::Sqlite => {
                let url = format!("sqlite://{}", self.place);
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(data)
                    .bind(hash)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            Kind::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "SET search_path TO {}",
                    self.place
                )))
                .execute(&mut conn)
                .await
                .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(data)
                    .bind(hash)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
    }

    async fn count(&self, table: &str) -> i64 {
        self.counts().await[table]
    }

    async fn crawl(&self, day: i64) -> CrawlId {
        self.store
            .begin_crawl(&[market()], &serde_json::json!({"test": true}), at(day))
            .await
            .expect("beginning a crawl")
    }
}

// ---------------------------------------------------------------------------------------------
// Test data.

fn market() -> MarketName {
    MarketName::new("testmarket").unwrap()
}

fn at(day: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + Duration::days(day)
}

fn capture(crawl: CrawlId, url: &str, day: i64, body: &[u8]) -> Capture {
    Capture {
        market: market(),
        crawl,
        url: url.to_string(),
        final_url: None,
        fetched_at: at(day),
        status: 200,
        headers: vec![
            Header::new("Content-Type", "text/html; charset=utf-8"),
            Header::new("Set-Cookie", "session=very-secret-cookie; HttpOnly"),
        ],
        body: body.to_vec(),
        truncated: None,
        elapsed_ms: Some(250),
    }
}

fn listing(price: &str) -> Listing {
    Listing {
        key: "1234".to_string(),
        url: Some("http://testmarket.onion/listing/1234".to_string()),
        title: Some("3.5g Dutch MDMA crystal".to_string()),
        vendor: Some("DutchVendor".to_string()),
        category: vec![
            "Drugs".to_string(),
            "Ecstasy".to_string(),
            "MDMA".to_string(),
        ],
        price: Some(Money::new(price, "USD").unwrap()),
        ships_from: Some(Country::from_code("NL").unwrap()),
        ships_to: vec![
            Country::from_code("WW").unwrap(),
            Country::from_code("EU").unwrap(),
        ],
        escrow: Some(true),
        finalize_early: Some(false),
        stock: Some(None),
        sales: Some(17),
        description: Some("Lab tested. Reagent test pictures on request.".to_string()),
        ..Listing::default()
    }
}

fn feedback(text: &str, date_text: &str) -> FeedbackEntry {
    FeedbackEntry {
        vendor: None,
        listing_key: None,
        rating: FeedbackRating::Positive,
        text: text.to_string(),
        date_text: Some(date_text.to_string()),
        left_on: NaiveDate::from_ymd_opt(2025, 12, 30),
        left_on_within_days: 0,
        item: Some("3.5g Dutch MDMA crystal".to_string()),
        price: Some(Money::new("49.00", "USD").unwrap()),
    }
}

fn listing_page(price: &str) -> Extraction {
    let mut extraction = Extraction::empty(PageKind::Listing, "test@1");
    extraction.listings.push(listing(price));
    extraction
        .feedback
        .push(feedback("great stealth, fast delivery", "2 days ago"));
    extraction
        .feedback
        .push(feedback("as described", "2 days ago"));
    extraction
}

fn vendor_page(feedback_date_text: &str) -> Extraction {
    let mut extraction = Extraction::empty(PageKind::Vendor, "test@1");
    extraction.vendors.push(Vendor {
        handle: "DutchVendor".to_string(),
        rating: Some(4.93),
        positive_percent: Some(99.1),
        sales: Some(1200),
        level: Some("Level 5".to_string()),
        pgp_fingerprint: Some(
            PgpFingerprint::new("0123456789abcdef0123456789abcdef01234567").unwrap(),
        ),
        pgp_key: Some(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n...\n-----END PGP PUBLIC KEY BLOCK-----"
                .to_string(),
        ),
        ..Vendor::default()
    });
    extraction
        .feedback
        .push(feedback("great stealth, fast delivery", feedback_date_text));
    extraction
}

// ---------------------------------------------------------------------------------------------
// Cases on every backend.

async fn reingesting_a_capture_adds_no_rows(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let page = capture(
        crawl,
        "http://testmarket.onion/listing/1234",
        0,
        b"<html>listing</html>",
    );
    let first = fx
        .store
        .ingest(&page, &listing_page("49.00"))
        .await
        .unwrap();
    assert!(first.capture_new && first.extraction_new);
    assert_eq!(first.listing_observations, 1);
    assert_eq!(first.feedback_new, 2);
    let before = fx.counts().await;

    let again = fx
        .store
        .ingest(&page, &listing_page("49.00"))
        .await
        .unwrap();
    assert!(!again.capture_new, "{again:?}");
    assert!(!again.extraction_new, "{again:?}");
    assert_eq!(again.listing_observations + again.feedback_new, 0);
    let stored = fx.store.store_capture(&page).await.unwrap();
    assert_eq!((stored.id, stored.new), (first.capture_id, false));
    let report = fx
        .store
        .ingest_extraction(first.capture_id, &listing_page("49.00"))
        .await
        .unwrap();
    assert!(!report.extraction_new);
    assert_eq!(fx.counts().await, before, "re-ingesting added rows");
}

async fn two_crawls_of_a_changed_listing_give_two_observations_and_one_listing(fx: Fixture) {
    let url = "http://testmarket.onion/listing/1234";
    let first_crawl = fx.crawl(0).await;
    fx.store
        .ingest(
            &capture(first_crawl, url, 0, b"<p>49</p>"),
            &listing_page("49.00"),
        )
        .await
        .unwrap();
    let second_crawl = fx.crawl(7).await;
    let report = fx
        .store
        .ingest(
            &capture(second_crawl, url, 7, b"<p>45</p>"),
            &listing_page("45.50"),
        )
        .await
        .unwrap();
    assert_eq!(report.listings_new, 0);
    assert_eq!(report.listing_observations, 1);
    assert_eq!(fx.count("listings").await, 1);
    assert_eq!(fx.count("listing_observations").await, 2);
    assert_eq!(fx.count("captures").await, 2);
    assert_eq!(fx.count("vendors").await, 1);
    // The same two feedback entries were on both pages.
    assert_eq!(fx.count("feedback").await, 2);
    assert_eq!(fx.count("feedback_sightings").await, 4);
    let stats = fx.store.stats().await.unwrap();
    assert_eq!(stats.first_observation, Some(at(0)));
    assert_eq!(stats.last_observation, Some(at(7)));
}

/// Dream's "10d" on one crawl may resolve a day away on the next ("13d" three and a half days
/// later): within the age's resolution it is the same entry, while a review left the day
/// before, shown beside it on the same page, stays an entry of its own.
async fn an_age_read_a_day_off_in_a_later_crawl_is_the_same_feedback(fx: Fixture) {
    let url = "http://testmarket.onion/vendor/DutchVendor";
    let page = |left_on: [u32; 2]| {
        let mut page = vendor_page("10d");
        let template = page.feedback[0].clone();
        page.feedback.clear();
        for day in left_on {
            let mut entry = template.clone();
            entry.left_on = NaiveDate::from_ymd_opt(2025, 12, day);
            entry.left_on_within_days = 1;
            page.feedback.push(entry);
        }
        page
    };
    // Day 0 stores two; day 3 resolves both a day later (seen again, none new); day 5 is three
    // days off the stored ones (20, 21), beyond the resolution: two new entries.
    for (day, left_on, new, stored) in [
        (0, [20, 21], 2, 2),
        (3, [21, 22], 0, 2),
        (5, [24, 25], 2, 4),
    ] {
        let crawl = fx.crawl(day).await;
        let body = format!("<html>day {day}</html>");
        let report = fx
            .store
            .ingest(&capture(crawl, url, day, body.as_bytes()), &page(left_on))
            .await
            .unwrap();
        assert_eq!(report.feedback_new, new, "day {day}: {report:?}");
        assert_eq!(fx.count("feedback").await, stored, "day {day}");
    }
}

async fn feedback_seen_in_three_crawls_is_stored_once(fx: Fixture) {
    let url = "http://testmarket.onion/vendor/DutchVendor";
    // Relative dates change from crawl to crawl; the date they resolve to does not.
    for (day, shown) in [(0, "2 days ago"), (1, "3 days ago"), (2, "4 days ago")] {
        let crawl = fx.crawl(day).await;
        let body = format!("<html>vendor page, day {day}</html>");
        let report = fx
            .store
            .ingest(
                &capture(crawl, url, day, body.as_bytes()),
                &vendor_page(shown),
            )
            .await
            .unwrap();
        assert_eq!(
            report.feedback_new,
            u64::from(day == 0),
            "day {day}: {report:?}"
        );
        assert_eq!(report.feedback_seen_again, u64::from(day != 0));
    }
    assert_eq!(fx.count("feedback").await, 1);
    assert_eq!(fx.count("feedback_sightings").await, 3);
    assert_eq!(fx.count("vendor_observations").await, 3);
    assert_eq!(fx.count("vendors").await, 1);
    assert_eq!(fx.count("pgp_keys").await, 1);
    assert_eq!(fx.count("crawls").await, 3);
}

async fn capture_body_reads_back_byte_identical(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    // Not UTF-8, with NULs, long enough to compress: raw bytes must survive exactly.
    let mut body: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    body.extend_from_slice(b"\0\xff\xfe<html>\xc3\x28</html>");
    body.extend(std::iter::repeat_n(b'a', 100_000));
    let mut page = capture(crawl, "http://testmarket.onion/big", 0, &body);
    page.final_url = Some("http://testmarket.onion/big?page=1".to_string());
    page.truncated = Some(dnmscope_model::Truncation::Length);
    let stored = fx.store.store_capture(&page).await.unwrap();
    let back = fx.store.capture(stored.id).await.unwrap();
    assert!(
        back.body == body,
        "the body changed on its way through the store"
    );
    assert_eq!(back.url, page.url);
    assert_eq!(back.final_url, page.final_url);
    assert_eq!(back.fetched_at, page.fetched_at);
    assert_eq!(back.status, 200);
    assert_eq!(back.truncated, page.truncated);
    assert_eq!(back.elapsed_ms, Some(250));
    assert_eq!(back.crawl, crawl);
    assert_eq!(back.market, market());
    assert_eq!(back.headers, page.redacted_headers());
    assert!(
        !format!("{:?}", back.headers).contains("very-secret-cookie"),
        "a session cookie was stored"
    );
    // The same body under another URL is stored once.
    let twin = capture(crawl, "http://testmarket.onion/big-mirror", 0, &body);
    fx.store.store_capture(&twin).await.unwrap();
    assert_eq!(fx.count("captures").await, 2);
    assert_eq!(fx.count("blobs").await, 1);
    let stats = fx.store.stats().await.unwrap();
    assert_eq!(stats.body_bytes, body.len() as i64);
    assert!(stats.stored_body_bytes < stats.body_bytes, "{stats:?}");
    // An empty body is a body too.
    let empty = fx
        .store
        .store_capture(&capture(crawl, "http://testmarket.onion/empty", 0, b""))
        .await
        .unwrap();
    assert!(fx.store.capture(empty.id).await.unwrap().body.is_empty());
}

async fn failure_mid_ingest_leaves_the_store_as_it_was(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let url = "http://testmarket.onion/listing/1234";
    fx.store
        .ingest(
            &capture(crawl, "http://testmarket.onion/", 0, b"<html>home</html>"),
            &Extraction::empty(PageKind::Home, "test@1"),
        )
        .await
        .unwrap();
    let before = fx.counts().await;
    // Feedback rows are inserted after the capture, the listing and the vendor: make them fail.
    install_feedback_failure(&fx).await;
    let err = fx
        .store
        .ingest(
            &capture(crawl, url, 0, b"<html>listing</html>"),
            &listing_page("49.00"),
        )
        .await
        .expect_err("the injected failure must surface");
    let chain = error_chain(&err);
    assert!(chain.contains("injected failure"), "{chain}");
    assert!(
        chain.contains("feedback"),
        "the error says what was being stored: {chain}"
    );
    assert_eq!(
        fx.counts().await,
        before,
        "a failed ingest left rows behind"
    );

    remove_feedback_failure(&fx).await;
    let report = fx
        .store
        .ingest(
            &capture(crawl, url, 0, b"<html>listing</html>"),
            &listing_page("49.00"),
        )
        .await
        .unwrap();
    assert!(report.capture_new && report.extraction_new);
    assert_eq!(report.feedback_new, 2);
}

async fn a_failed_extraction_keeps_the_raw_capture(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let page = capture(
        crawl,
        "http://testmarket.onion/listing/1234",
        0,
        b"<html>x</html>",
    );
    let stored = fx.store.store_capture(&page).await.unwrap();
    let before = fx.counts().await;
    install_feedback_failure(&fx).await;
    fx.store
        .ingest_extraction(stored.id, &listing_page("49.00"))
        .await
        .expect_err("the injected failure must surface");
    assert_eq!(fx.counts().await, before);
    assert_eq!(fx.count("captures").await, 1, "the raw page was lost");
    remove_feedback_failure(&fx).await;
    let report = fx
        .store
        .ingest_extraction(stored.id, &listing_page("49.00"))
        .await
        .unwrap();
    assert!(report.extraction_new);
}

async fn reparsing_with_a_new_parser_version_adds_observations(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let page = capture(
        crawl,
        "http://testmarket.onion/listing/1234",
        0,
        b"<html>x</html>",
    );
    let first = fx
        .store
        .ingest(&page, &listing_page("49.00"))
        .await
        .unwrap();
    let mut improved = listing_page("49.00");
    improved.parser_version = "test@2".to_string();
    improved.listings[0].quantity = Some(dnmscope_model::Quantity {
        count: 1,
        amount: "3.5".parse().unwrap(),
        unit: "g".to_string(),
    });
    let second = fx
        .store
        .ingest_extraction(first.capture_id, &improved)
        .await
        .unwrap();
    assert!(second.extraction_new);
    assert_eq!(second.listing_observations, 1);
    assert_eq!(second.feedback_new, 0, "feedback is the same entries");
    assert_eq!(fx.count("extractions").await, 2);
    assert_eq!(fx.count("listing_observations").await, 2);
    assert_eq!(fx.count("captures").await, 1);
}

async fn interstitial_pages_never_yield_observations(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let page = capture(
        crawl,
        "http://testmarket.onion/listing/1234",
        0,
        b"<form>login</form>",
    );
    let before = fx.counts().await;
    let mut login = listing_page("49.00");
    login.page_kind = PageKind::Login;
    let err = fx.store.ingest(&page, &login).await.unwrap_err();
    assert!(matches!(err, StoreError::Refused { .. }), "{err:?}");
    assert_eq!(fx.counts().await, before);

    // A seizure banner yields an event, and the capture is kept.
    let mut seized = Extraction::empty(PageKind::Seizure, "test@1");
    seized.events.push(MarketEvent {
        kind: MarketEventKind::SeizureBanner,
        observed_at: at(0),
        detail: "This hidden site has been seized".to_string(),
    });
    let report = fx.store.ingest(&page, &seized).await.unwrap();
    assert_eq!(report.events_new, 1);
    assert_eq!(fx.count("market_events").await, 1);
    assert_eq!(fx.count("listing_observations").await, 0);
}

async fn forum_posts_keep_vendors_and_pseudonyms_only(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let key = PseudonymKey::from_bytes([42; 32]);
    let mut page = Extraction::empty(PageKind::ForumThread, "test@1");
    page.threads.push(ForumThread {
        key: "t77".to_string(),
        url: None,
        board: Some("Harm reduction".to_string()),
        title: Some("Fentanyl test strips: how to use them".to_string()),
    });
    for (author, text) in [
        (
            Author::Vendor("DutchVendor".to_string()),
            "We test every batch.",
        ),
        (
            Author::Pseudonym(Pseudonym::of(&key, &market(), "some_buyer")),
            "Always start with a low dose.",
        ),
    ] {
        page.posts.push(ForumPost {
            thread_key: "t77".to_string(),
            key: None,
            author: Some(author),
            date_text: Some("2026-01-01".to_string()),
            text: text.to_string(),
        });
    }
    let url = "http://testmarket.onion/forum/t77";
    let report = fx
        .store
        .ingest(&capture(crawl, url, 0, b"<html>thread</html>"), &page)
        .await
        .unwrap();
    assert_eq!((report.threads_new, report.posts_new), (1, 2));
    // Seen again the next day: the same posts, new observations.
    let next = fx.crawl(1).await;
    let report = fx
        .store
        .ingest(&capture(next, url, 1, b"<html>thread</html>"), &page)
        .await
        .unwrap();
    assert_eq!((report.threads_new, report.posts_new), (0, 0));
    assert_eq!(report.post_observations, 2);
    assert_eq!(fx.count("forum_posts").await, 2);
    assert_eq!(fx.count("post_observations").await, 4);

    // Under the API, the schema itself refuses a plain handle passed off as a pseudonym. The
    // probe rows hang off an extraction of their own, so no other constraint is in the way: a
    // well-formed pseudonym goes in, a plain handle is refused by the CHECK.
    fx.raw(
        "INSERT INTO extractions (capture_id, parser_version, page_kind, diagnostics, ingested_at)
         SELECT capture_id, 'probe', 'forum_thread', '[]', observed_at
         FROM post_observations LIMIT 1",
    )
    .await;
    let probe = |author: &str| {
        format!(
            "INSERT INTO post_observations (post_id, extraction_id, crawl_id, capture_id,
                 observed_at, parser_version, author_kind, author, text)
             SELECT o.post_id, e.id, o.crawl_id, o.capture_id, o.observed_at, 'probe',
                    'pseudonym', '{author}', 'x'
             FROM post_observations o, extractions e
             WHERE e.parser_version = 'probe' AND o.id = (SELECT MIN(id) FROM post_observations)"
        )
    };
    fx.raw(&probe("p:0123456789abcdef0123456789abcdef")).await;
    let refused = fx
        .try_raw(&probe("some_buyer"))
        .await
        .expect_err("the schema accepted a plain handle as a pseudonym");
    assert!(
        refused.to_string().to_lowercase().contains("check"),
        "refused for another reason than the author check: {refused}"
    );
}

async fn market_events_are_recorded_once(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let event = MarketEvent {
        kind: MarketEventKind::Outage,
        observed_at: at(3),
        detail: "no answer for 3 days".to_string(),
    };
    assert!(fx
        .store
        .record_event(&market(), &event, Some(crawl))
        .await
        .unwrap());
    assert!(!fx
        .store
        .record_event(&market(), &event, Some(crawl))
        .await
        .unwrap());
    let other = MarketEvent {
        kind: MarketEventKind::ExitScam,
        ..event.clone()
    };
    assert!(fx
        .store
        .record_event(&market(), &other, None)
        .await
        .unwrap());
    assert_eq!(fx.count("market_events").await, 2);
}

async fn crawl_runs_round_trip(fx: Fixture) {
    let markets = [market(), MarketName::new("othermarket").unwrap()];
    let config = serde_json::json!({"pages": 500, "markets": ["testmarket", "othermarket"]});
    let crawl = fx
        .store
        .begin_crawl(&markets, &config, at(0))
        .await
        .unwrap();
    let run = fx.store.crawl(crawl).await.unwrap();
    assert_eq!(run.markets, markets);
    assert_eq!(run.config, config);
    assert_eq!(run.started_at, at(0));
    assert_eq!(run.finish_reason, None);
    fx.store
        .finish_crawl(crawl, FinishReason::Interrupted, at(1))
        .await
        .unwrap();
    let run = fx.store.crawl(crawl).await.unwrap();
    assert_eq!(run.finish_reason, Some(FinishReason::Interrupted));
    assert_eq!(run.finished_at, Some(at(1)));
    let missing = fx
        .store
        .finish_crawl(CrawlId(999), FinishReason::Completed, at(1))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, StoreError::Missing { what: "crawl", .. }),
        "{missing:?}"
    );
    assert_eq!(fx.count("markets").await, 2);
}

async fn stats_count_rows_and_span_observations(fx: Fixture) {
    let empty = fx.store.stats().await.unwrap();
    assert!(empty.tables.iter().all(|t| t.rows == 0), "{empty:?}");
    assert_eq!(empty.first_observation, None);
    let crawl = fx.crawl(2).await;
    fx.store
        .ingest(
            &capture(crawl, "http://testmarket.onion/listing/1234", 2, b"x"),
            &listing_page("10"),
        )
        .await
        .unwrap();
    fx.store
        .finish_crawl(crawl, FinishReason::Completed, at(3))
        .await
        .unwrap();
    let stats = fx.store.stats().await.unwrap();
    assert_eq!(stats.rows("listings"), Some(1));
    assert_eq!(stats.rows("feedback"), Some(2));
    assert_eq!(stats.first_observation, Some(at(2)));
    assert_eq!(stats.crawls.len(), 1);
    assert_eq!(stats.crawls[0].captures, 1);
    assert_eq!(stats.crawls[0].finish_reason.as_deref(), Some("completed"));
    let table = stats.to_string();
    assert!(table.contains("listing_observations"), "{table}");
    assert!(table.contains("completed"), "{table}");
}

async fn ingest_needs_a_known_crawl(fx: Fixture) {
    let page = capture(CrawlId(4242), "http://testmarket.onion/", 0, b"x");
    let err = fx
        .store
        .ingest(&page, &Extraction::empty(PageKind::Home, "test@1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Missing {
                what: "crawl",
                id: 4242
            }
        ),
        "{err:?}"
    );
    assert_eq!(fx.count("captures").await, 0);
}

// ---------------------------------------------------------------------------------------------
// Fault injection and helpers.

async fn install_feedback_failure(fx: &Fixture) {
    match fx.kind {
        Kind::Sqlite => {
            fx.raw(
                "CREATE TRIGGER inject_failure BEFORE INSERT ON feedback
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            )
            .await
        }
        Kind::Postgres(_) => {
            fx.raw(
                "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
                 CREATE TRIGGER inject_failure BEFORE INSERT ON feedback
                 FOR EACH ROW EXECUTE FUNCTION inject_failure();",
            )
            .await
        }
    }
}

async fn remove_feedback_failure(fx: &Fixture) {
    match fx.kind {
        Kind::Sqlite => fx.raw("DROP TRIGGER inject_failure;").await,
        Kind::Postgres(_) => fx.raw("DROP TRIGGER inject_failure ON feedback;").await,
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

// ---------------------------------------------------------------------------------------------
// SQLite-only cases: files.

type FileCase = fn() -> Pin<Box<dyn Future<Output = ()>>>;

const SQLITE_ONLY: &[(&str, FileCase)] = &[
    ("a_missing_file_is_an_error_not_a_new_store", || {
        Box::pin(a_missing_file_is_an_error_not_a_new_store())
    }),
    (
        "a_corrupt_file_is_a_clear_error_and_stays_untouched",
        || Box::pin(a_corrupt_file_is_a_clear_error_and_stays_untouched()),
    ),
    (
        "full_text_search_covers_rows_stored_before_the_views_migration",
        || Box::pin(full_text_search_covers_rows_stored_before_the_views_migration()),
    ),
];

async fn a_missing_file_is_an_error_not_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.sqlite");
    let err = Store::open(&StoreOptions::new(Location::SqliteFile(path.clone())))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("typo.sqlite"), "{err}");
    assert!(!path.exists(), "opening a missing store created it");
}

async fn a_corrupt_file_is_a_clear_error_and_stays_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.sqlite");
    let garbage: Vec<u8> = b"this is not a database, it is a shopping list\n".repeat(200);
    std::fs::write(&path, &garbage).unwrap();
    let err = Store::open(&StoreOptions::new(Location::SqliteFile(path.clone())))
        .await
        .unwrap_err();
    let chain = error_chain(&err);
    assert!(chain.contains("corrupt.sqlite"), "{chain}");
    assert!(chain.contains("not a database"), "{chain}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the file was changed"
    );
}

fn link(url: &str, kind: &str, priority: i32) -> NewLink {
    NewLink {
        url: url.to_string(),
        kind: kind.to_string(),
        depth: 1,
        priority,
    }
}

async fn the_frontier_keeps_each_url_once_and_orders_due_work(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let links = [
        link("http://testmarket.onion/listing/1", "listing", 1),
        link("http://testmarket.onion/category/a", "search", 5),
        link("http://testmarket.onion/listing/1", "listing", 9),
    ];
    assert_eq!(
        fx.store
            .enqueue(crawl, &market(), &links, None, at(0))
            .await
            .unwrap()
            .added,
        2,
        "a URL is queued once per run"
    );
    assert_eq!(
        fx.store
            .enqueue(crawl, &market(), &links, None, at(0))
            .await
            .unwrap(),
        dnmscope_store::Enqueued { added: 0, taken: 3 }
    );
    // A budget's room counts new links only: those already queued are passed over for free,
    // and links after the room is filled are not looked at.
    let budgeted = fx.crawl(5).await;
    fx.store
        .enqueue(budgeted, &market(), &links, None, at(0))
        .await
        .unwrap();
    let more = [
        link("http://testmarket.onion/listing/1", "listing", 1),
        link("http://testmarket.onion/listing/2", "listing", 1),
        link("http://testmarket.onion/category/a", "search", 5),
        link("http://testmarket.onion/listing/3", "listing", 1),
        link("http://testmarket.onion/listing/4", "listing", 1),
    ];
    assert_eq!(
        fx.store
            .enqueue(budgeted, &market(), &more, Some(2), at(0))
            .await
            .unwrap(),
        dnmscope_store::Enqueued { added: 2, taken: 4 }
    );
    let due = fx.store.due(crawl, at(0), 10).await.unwrap();
    let urls: Vec<&str> = due.iter().map(|e| e.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "http://testmarket.onion/category/a",
            "http://testmarket.onion/listing/1"
        ],
        "priority first"
    );
    assert!(due
        .iter()
        .all(|e| e.state == FrontierState::Pending && e.attempts == 0 && e.capture_id.is_none()));

    // A failed attempt waits; a give-up is final.
    let first = &due[0];
    fx.store
        .retry_later(first.id, at(3), true, "timed out")
        .await
        .unwrap();
    assert_eq!(
        fx.store.due(crawl, at(1), 10).await.unwrap().len(),
        1,
        "not due before its time"
    );
    assert_eq!(fx.store.next_due(crawl).await.unwrap(), Some(at(0)));
    let again = fx.store.frontier_entry(first.id).await.unwrap();
    assert_eq!(
        (again.attempts, again.last_error.as_deref()),
        (1, Some("timed out"))
    );
    fx.store.give_up(due[1].id, "404").await.unwrap();
    assert_eq!(fx.store.next_due(crawl).await.unwrap(), Some(at(3)));
    let counts = fx.store.frontier_counts(crawl).await.unwrap();
    assert_eq!(
        counts,
        vec![
            ("testmarket".to_string(), FrontierState::Failed, 1),
            ("testmarket".to_string(), FrontierState::Pending, 1)
        ]
    );

    // Another run has a frontier of its own.
    let other = fx.crawl(1).await;
    assert_eq!(
        fx.store
            .enqueue(other, &market(), &links, None, at(1))
            .await
            .unwrap()
            .added,
        2
    );
    assert!(fx.store.frontier_entry(99_999).await.is_err());
}

async fn a_fetched_page_is_stored_with_its_frontier_entry_and_completed_atomically(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let url = "http://testmarket.onion/listing/1234";
    fx.store
        .enqueue(crawl, &market(), &[link(url, "listing", 0)], None, at(0))
        .await
        .unwrap();
    let entry = fx.store.due(crawl, at(0), 1).await.unwrap().remove(0);
    let stored = fx
        .store
        .store_fetched(entry.id, &capture(crawl, url, 0, b"<html>listing</html>"))
        .await
        .unwrap();
    // Killed here, a resumed run finds the page stored and parses it instead of fetching it.
    let resumed = fx.store.due(crawl, at(0), 1).await.unwrap().remove(0);
    assert_eq!(resumed.capture_id, Some(stored.id));
    // A page that must be fetched again (a queue page, say) loses its capture link.
    fx.store
        .retry_later(entry.id, at(0), false, "queue")
        .await
        .unwrap();
    assert_eq!(
        fx.store.frontier_entry(entry.id).await.unwrap().capture_id,
        None
    );
    let stored = fx
        .store
        .store_fetched(entry.id, &capture(crawl, url, 0, b"<html>listing</html>"))
        .await
        .unwrap();
    assert!(!stored.new, "the same capture is stored once");
    assert_eq!(
        fx.store.frontier_entry(entry.id).await.unwrap().capture_id,
        Some(stored.id)
    );

    let found = [link(
        "http://testmarket.onion/vendor/DutchVendor",
        "vendor",
        2,
    )];
    let completed = fx
        .store
        .complete(
            entry.id,
            Some((stored.id, &listing_page("10"))),
            crawl,
            &market(),
            &found,
            None,
            at(0),
        )
        .await
        .unwrap();
    assert_eq!(completed.links_added, 1);
    assert_eq!(completed.report.unwrap().listing_observations, 1);
    let done = fx.store.frontier_entry(entry.id).await.unwrap();
    assert_eq!((done.state, done.attempts), (FrontierState::Done, 1));
    let next = fx.store.due(crawl, at(0), 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].url, "http://testmarket.onion/vendor/DutchVendor");

    // Completing an entry that does not exist rolls the whole step back.
    let before = fx.count("listing_observations").await;
    let error = fx
        .store
        .complete(
            99_999,
            Some((stored.id, &listing_page("11"))),
            crawl,
            &market(),
            &found,
            None,
            at(0),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Missing {
                what: "frontier entry",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        fx.count("listing_observations").await,
        before,
        "nothing half-written"
    );
}

async fn unfinished_runs_and_accounting_are_found_again(fx: Fixture) {
    assert_eq!(fx.store.unfinished_crawl().await.unwrap(), None);
    let first = fx.crawl(0).await;
    let second = fx.crawl(1).await;
    fx.store
        .finish_crawl(second, FinishReason::Completed, at(2))
        .await
        .unwrap();
    assert_eq!(fx.store.unfinished_crawl().await.unwrap(), Some(first));
    let data = serde_json::json!({"attempted": 10, "fetched": 9, "failed": {"timeout": 1}});
    fx.store
        .save_accounting(first, &market(), &data)
        .await
        .unwrap();
    let updated = serde_json::json!({"attempted": 12, "fetched": 11, "failed": {"timeout": 1}});
    fx.store
        .save_accounting(first, &market(), &updated)
        .await
        .unwrap();
    assert_eq!(
        fx.store.accounting(first).await.unwrap(),
        vec![("testmarket".to_string(), updated)]
    );
}

// Regression: a simulated forum page showing a double post stopped a crawl with a UNIQUE
// violation; a page that shows an entity twice observes it once.
async fn a_page_showing_a_listing_twice_observes_it_once(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let mut page = listing_page("10");
    let again = page.listings[0].clone();
    page.listings.push(again);
    let report = fx
        .store
        .ingest(
            &capture(crawl, "http://testmarket.onion/listing/1234", 0, b"twice"),
            &page,
        )
        .await
        .unwrap();
    assert_eq!(report.listing_observations, 1);
    assert_eq!(fx.count("listing_observations").await, 1);
}

/// The bulk path stores the same rows as a transaction per page: the same pages ingested one by
/// one on one market and all at once on another give the same reports and the same rows, and a
/// page the store must refuse is refused in its place without costing the others.
async fn ingesting_many_pages_in_one_transaction_stores_what_one_by_one_does(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let mut twice = listing_page("12.50");
    let same = twice.feedback[0].clone();
    twice.feedback.push(same);
    let mut mixed_case = listing_page("3");
    mixed_case.listings.push(Listing {
        key: "l-2".to_string(),
        vendor: Some("dutchvendor".to_string()),
        ..listing("4")
    });
    let mut login = listing_page("1");
    login.page_kind = PageKind::Login;
    let pages = [
        listing_page("49.00"),
        vendor_page("3 days ago"),
        forum_page(&["first", "second", "first"]),
        login,
        twice,
        mixed_case,
        vendor_page("4 days ago"),
    ];
    let mut stored = BTreeMap::new();
    for name in ["testmarket", "othermarket"] {
        let mut ids = Vec::new();
        for (i, _) in pages.iter().enumerate() {
            let mut page = capture(crawl, &format!("http://{name}.onion/p/{i}"), 0, b"page");
            page.market = MarketName::new(name).unwrap();
            page.body
                .extend_from_slice(format!("{name} {i}").as_bytes());
            ids.push(fx.store.store_capture(&page).await.unwrap().id);
        }
        stored.insert(name, ids);
    }
    let before = fx.counts().await;
    let mut one_by_one = Vec::new();
    for (id, page) in stored["testmarket"].iter().zip(&pages) {
        one_by_one.push(fx.store.ingest_extraction(*id, page).await);
    }
    let middle = fx.counts().await;
    let items: Vec<(i64, &Extraction)> =
        stored["othermarket"].iter().copied().zip(&pages).collect();
    let at_once = fx.store.ingest_extractions(&items).await.unwrap();
    let after = fx.counts().await;
    assert_eq!(at_once.len(), pages.len());
    for (i, (a, b)) in one_by_one.iter().zip(&at_once).enumerate() {
        match (a, b) {
            (Ok(a), Ok(b)) => {
                let b = IngestReport {
                    capture_id: a.capture_id,
                    ..b.clone()
                };
                assert_eq!(*a, b, "page {i}");
            }
            (Err(StoreError::Refused { .. }), Err(StoreError::Refused { .. })) => {
                assert_eq!(i, 3, "only the login page is refused")
            }
            other => panic!("page {i}: {other:?}"),
        }
    }
    let first = one_by_one[0].as_ref().unwrap();
    assert_eq!((first.listing_observations, first.feedback_new), (1, 2));
    let forum = one_by_one[2].as_ref().unwrap();
    assert_eq!(
        (forum.post_observations, forum.posts_new),
        (2, 2),
        "{forum:?}"
    );
    let twice = one_by_one[4].as_ref().unwrap();
    assert_eq!(
        (twice.feedback_new, twice.feedback_seen_again),
        (0, 3),
        "{twice:?}"
    );
    let mixed = one_by_one[5].as_ref().unwrap();
    assert_eq!(
        (mixed.listing_observations, mixed.vendors_new),
        (2, 0),
        "{mixed:?}"
    );
    // The same rows, table by table (PGP keys are kept once per fingerprint, whatever the
    // market: the second market's vendor finds its key stored).
    for (table, rows) in after.iter().filter(|(t, _)| *t != "pgp_keys") {
        let by_one = middle[table] - before[table];
        let at_once = rows - middle[table];
        assert_eq!(
            by_one, at_once,
            "{table}: {by_one} rows one by one, {at_once} at once"
        );
    }
    assert!(after["listing_observations"] > before["listing_observations"]);
    // Ingesting them again adds nothing.
    let again = fx.store.ingest_extractions(&items).await.unwrap();
    assert!(again.iter().flatten().all(|r| !r.extraction_new));
    assert_eq!(fx.counts().await, after);
}

/// A market's page: `layout`'s boilerplate (the same on every page of a layout, as a real
/// market's header, menus and styles are) around text of its own.
fn market_page(i: usize, layout: usize) -> Vec<u8> {
    let mut page =
        format!("<!DOCTYPE html><html><head><title>Market layout {layout}</title><style>");
    for rule in 0..120 {
        page.push_str(&format!(
            ".l{layout}-rule-{rule} {{ margin: {}px; color: #{:06x}; }}\n",
            rule % 17,
            rule * 7919 * (layout + 1)
        ));
    }
    page.push_str("</style></head><body><nav>");
    for link in 0..60 {
        page.push_str(&format!(
            "<a href=\"/l{layout}/category/{link}\">Category {link} of layout {layout}</a>"
        ));
    }
    page.push_str("</nav><main>");
    // Text of its own: words drawn from a generator seeded by the page.
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

/// A market's pages get a dictionary trained on its own pages once it has enough of them; later
/// bodies are compressed with it, far smaller than per-page zstd makes them, and read back
/// byte-identical, also through a store that has to load the dictionary from the database and
/// after the dictionary was sealed with the raw-body key. A layout change brings a new
/// dictionary; old bodies keep theirs.
async fn a_markets_bodies_share_a_trained_dictionary_and_read_back_exactly(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let mut ids = Vec::new();
    let mut bodies = Vec::new();
    for i in 0..200 {
        let body = market_page(i, 0);
        let page = capture(crawl, &format!("http://testmarket.onion/p/{i}"), 0, &body);
        ids.push(fx.store.store_capture(&page).await.unwrap().id);
        bodies.push(body);
    }
    let trained = fx.count("raw_dictionaries").await;
    assert!(trained >= 1, "no dictionary after 200 pages of one market");
    let stored = fx
        .text_and_bytes("SELECT COALESCE(CAST(dictionary_id AS TEXT), 'none'), data FROM blobs")
        .await;
    let mean = |with: bool| {
        let sizes: Vec<usize> = stored
            .iter()
            .filter(|(d, _)| (d != "none") == with)
            .map(|(_, data)| data.len())
            .collect();
        (
            sizes.len(),
            sizes.iter().sum::<usize>() as f64 / sizes.len().max(1) as f64,
        )
    };
    let ((plain_n, _), (dict_n, dict)) = (mean(false), mean(true));
    // The first 64 pages were stored before the dictionary and moved to it when it came.
    assert_eq!((plain_n, dict_n), (0, 200));
    // What per-page zstd (the store's level, 3) makes of the same pages.
    let plain = bodies
        .iter()
        .map(|b| zstd::bulk::compress(b, 3).unwrap().len())
        .sum::<usize>() as f64
        / bodies.len() as f64;
    assert!(
        dict < plain * 0.5,
        "with a dictionary {dict:.0} bytes per page, without {plain:.0}"
    );
    let raw: usize = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len();
    assert!(
        raw as f64 / dict >= 10.0,
        "{raw} bytes per page stored in {dict:.0}"
    );
    for (id, body) in ids.iter().zip(&bodies) {
        assert_eq!(&fx.store.capture(*id).await.unwrap().body, body);
    }
    // Another store on the same database reads the dictionary from it.
    let key = RawKey::from_bytes([4; 32]);
    let keyed = fx.with_key(&key).await;
    for (id, body) in ids.iter().zip(&bodies).step_by(7) {
        assert_eq!(&keyed.capture(*id).await.unwrap().body, body);
    }
    // Dictionaries are stored compressed (they are mostly markup) ...
    let stored = fx
        .text_and_bytes(
            "SELECT hash || ' ' || CAST(size AS TEXT) || ' ' || COALESCE(compression, 'none'), data
             FROM raw_dictionaries ORDER BY id",
        )
        .await;
    for (about, data) in &stored {
        let size: usize = about.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(about.ends_with(" zstd"), "{about}");
        assert!(data.len() < size, "{about}: {} bytes stored", data.len());
    }
    let (about, compressed) = &stored[0];
    let hash = about.split(' ').next().unwrap();
    let size: usize = about.split(' ').nth(1).unwrap().parse().unwrap();
    // ... a dictionary stored as is (as before they were compressed) still reads ...
    let plain = zstd::bulk::decompress(compressed, size).unwrap();
    fx.update_bytes(
        "UPDATE raw_dictionaries SET data = $1, compression = NULL WHERE hash = $2",
        &plain,
        hash,
    )
    .await;
    let fresh = fx.with_key(&key).await;
    for (id, body) in ids.iter().zip(&bodies).step_by(9) {
        assert_eq!(&fresh.capture(*id).await.unwrap().body, body);
    }
    // ... and one that does not decompress is refused as corrupt, never read as something else.
    fx.update_bytes(
        "UPDATE raw_dictionaries SET data = $1, compression = 'zstd' WHERE hash = $2",
        b"not a zstd frame",
        hash,
    )
    .await;
    let fresh = fx.with_key(&key).await;
    let err = fresh.capture(ids[0]).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { what } if what.contains("does not decompress")),
        "{err:?}"
    );
    fx.update_bytes(
        "UPDATE raw_dictionaries SET data = $1, compression = 'zstd' WHERE hash = $2",
        compressed,
        hash,
    )
    .await;
    // Sealed with the raw-body key: no boilerplate left readable, still read back with the key.
    keyed.encrypt_raw(50, "test", |_, _| {}).await.unwrap();
    let dictionaries = fx
        .text_and_bytes("SELECT hash, data FROM raw_dictionaries")
        .await;
    assert_eq!(dictionaries.len() as i64, trained);
    assert!(
        dictionaries
            .iter()
            .all(|(_, data)| !contains(data, b"Category")),
        "the dictionary holds page text in the clear"
    );
    let reopened = fx.with_key(&key).await;
    for (id, body) in ids.iter().zip(&bodies).step_by(5) {
        assert_eq!(&reopened.capture(*id).await.unwrap().body, body);
    }
    let err = fx.store.capture(ids[150]).await.unwrap_err();
    assert!(matches!(err, StoreError::RawKeyNeeded { .. }), "{err:?}");
    // A new layout: 1,000 pages later a candidate trained on it does better, and replaces it.
    for i in 200..1_300 {
        let body = market_page(i, 1);
        let page = capture(crawl, &format!("http://testmarket.onion/p/{i}"), 0, &body);
        reopened.store_capture(&page).await.unwrap();
    }
    assert!(
        fx.count("raw_dictionaries").await > trained,
        "the layout change brought none"
    );
    let last = reopened
        .store_capture(&capture(
            crawl,
            "http://testmarket.onion/last",
            0,
            &market_page(9_999, 1),
        ))
        .await
        .unwrap();
    assert_eq!(
        reopened.capture(last.id).await.unwrap().body,
        market_page(9_999, 1)
    );
    assert_eq!(reopened.capture(ids[100]).await.unwrap().body, bodies[100]);
}

// ---------------------------------------------------------------------------------------------
// Reading the store out: relations, views, full-text search, aggregates.

fn forum_page(texts: &[&str]) -> Extraction {
    let key = PseudonymKey::from_bytes([7; 32]);
    let mut page = Extraction::empty(PageKind::ForumThread, "test@1");
    page.threads.push(ForumThread {
        key: "t1".to_string(),
        url: None,
        board: Some("Harm reduction".to_string()),
        title: Some("Reagent testing".to_string()),
    });
    for text in texts {
        page.posts.push(ForumPost {
            thread_key: "t1".to_string(),
            key: None,
            author: Some(Author::Pseudonym(Pseudonym::of(&key, &market(), "a_buyer"))),
            date_text: Some("2026-01-01".to_string()),
            text: text.to_string(),
        });
    }
    page
}

/// A store with two crawls of a listing, a vendor, feedback, a forum thread, an event and
/// accounting: something in every table and view.
async fn populate(fx: &Fixture) -> (CrawlId, CrawlId) {
    let first = fx.crawl(0).await;
    let second = fx.crawl(1).await;
    for (crawl, day) in [(first, 0), (second, 1)] {
        let url = "http://testmarket.onion/listing/1234";
        fx.store
            .ingest(
                &capture(crawl, url, day, b"listing"),
                &listing_page("49.00"),
            )
            .await
            .unwrap();
    }
    fx.store
        .ingest(
            &capture(first, "http://testmarket.onion/vendor/d", 0, b"vendor"),
            &vendor_page("2 days ago"),
        )
        .await
        .unwrap();
    fx.store
        .ingest(
            &capture(second, "http://testmarket.onion/forum/t1", 1, b"thread"),
            &forum_page(&[
                "Always test with a reagent kit; fentanyl strips are cheap.",
                "Start low, go slow.",
            ]),
        )
        .await
        .unwrap();
    let event = MarketEvent {
        kind: MarketEventKind::Outage,
        observed_at: at(1),
        detail: "no answer".to_string(),
    };
    fx.store
        .record_event(&market(), &event, Some(second))
        .await
        .unwrap();
    let accounting = serde_json::json!({
        "attempted": 12, "fetched": 10, "failed": {"timeout": 1, "site_down": 1},
        "parsed": {"listing": 6, "vendor": 4}, "listings_announced": 8, "listings_fetched": 6,
        "given_up": 1, "gates": {"queue": 2}, "unreachable": false, "seized": true
    });
    fx.store
        .save_accounting(first, &market(), &accounting)
        .await
        .unwrap();
    fx.store
        .enqueue(
            first,
            &market(),
            &[link("http://testmarket.onion/listing/1234", "listing", 1)],
            None,
            at(0),
        )
        .await
        .unwrap();
    fx.store
        .finish_crawl(first, FinishReason::Completed, at(0) + Duration::hours(1))
        .await
        .unwrap();
    // The analytics tables: a rate, a researcher's decision, the weekly roll-up.
    fx.store
        .import_rates(&[RateRow {
            day: at(0).date_naive(),
            currency: "BTC".to_string(),
            usd: "90000".to_string(),
            source: "test".to_string(),
        }])
        .await
        .unwrap();
    fx.store
        .decide_link(
            &VendorRef::new("testmarket", "DutchVendor"),
            &VendorRef::new("othermarket", "DutchVendor"),
            LinkDecision::Confirmed,
            "same key",
            at(1),
        )
        .await
        .unwrap();
    fx.store.refresh_rollups().await.unwrap();
    (first, second)
}

async fn read_all(fx: &Fixture, name: &str) -> Vec<Vec<Value>> {
    let relation = dnmscope_store::Relation::find(name).unwrap();
    fx.store
        .rows(relation)
        .try_collect()
        .await
        .unwrap_or_else(|err| panic!("reading {name}: {err:?}"))
}

fn cell<'a>(name: &str, rows: &'a [Vec<Value>], row: usize, column: &str) -> &'a Value {
    let relation = dnmscope_store::Relation::find(name).unwrap();
    let index = relation
        .columns
        .iter()
        .position(|c| c.name == column)
        .unwrap_or_else(|| panic!("{name} has no column {column}"));
    &rows[row][index]
}

async fn a_reparse_replaces_what_analytics_read_and_keeps_the_old_rows(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let page = capture(
        crawl,
        "http://testmarket.onion/listing/1234",
        0,
        b"<html>1</html>",
    );
    let stored = fx
        .store
        .ingest(&page, &listing_page("49.00"))
        .await
        .unwrap();
    let filter = AnalyticsFilter::default();
    let week = |rows: Vec<dnmscope_store::ActivityRow>| -> Vec<(i64, i64)> {
        rows.into_iter()
            .map(|r| (r.listings, r.observations))
            .collect()
    };
    let before = week(fx.store.activity(&filter, Period::Week).await.unwrap());
    assert_eq!(before, [(1, 1)]);
    let candidates = fx
        .store
        .reparse_candidates(&dnmscope_store::ReparseSelection::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(candidates.len(), 1);
    assert_eq!(candidates[0].parser_version.as_deref(), Some("test@1"));
    let old = candidates[0].extraction_id.unwrap();
    let contents = fx.store.extraction_contents(old).await.unwrap();
    assert_eq!(contents.listings, [listing("49.00")]);

    // A newer definition reads another price: analytics read it, once.
    let mut newer = listing_page("45.00");
    newer.parser_version = "test@2".to_string();
    let done = fx
        .store
        .reparse_pages(&[(stored.capture_id, &newer)])
        .await
        .unwrap();
    assert_eq!(done[0].superseded, 1);
    assert!(done[0].ingest.as_ref().unwrap().extraction_new);
    let prices = |rows: Vec<dnmscope_store::ListingObservationRow>| -> Vec<String> {
        rows.into_iter()
            .map(|r| r.listing.price.unwrap().amount.to_string())
            .collect()
    };
    assert_eq!(
        prices(fx.store.listing_observations(&filter).await.unwrap()),
        ["45.00"]
    );
    assert_eq!(
        week(fx.store.activity(&filter, Period::Week).await.unwrap()),
        before,
        "the roll-ups count the capture once"
    );
    let candidates = fx
        .store
        .reparse_candidates(&dnmscope_store::ReparseSelection::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(candidates[0].parser_version.as_deref(), Some("test@2"));
    // The old rows stay.
    let versions: Vec<String> = fx
        .store
        .parser_versions()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.parser_version)
        .collect();
    assert_eq!(versions, ["test@1", "test@2"]);
    assert_eq!(fx.store.extraction_contents(old).await.unwrap(), contents);

    // Back to the first definition: its extraction is current again.
    let first = listing_page("49.00");
    let done = fx
        .store
        .reparse_pages(&[(stored.capture_id, &first)])
        .await
        .unwrap();
    assert!(!done[0].ingest.as_ref().unwrap().extraction_new);
    assert_eq!(
        prices(fx.store.listing_observations(&filter).await.unwrap()),
        ["49.00"]
    );
    assert_eq!(
        week(fx.store.activity(&filter, Period::Week).await.unwrap()),
        before
    );
}

async fn every_table_and_view_reads_back_in_its_documented_column_order(fx: Fixture) {
    let (first, _) = populate(&fx).await;
    // Enough pages of one market for it to get a raw-body dictionary.
    let archive = fx.crawl(2).await;
    let mut archived = Vec::new();
    for i in 0..70 {
        let page = capture(
            archive,
            &format!("http://testmarket.onion/archive/{i}"),
            2,
            &market_page(i, 0),
        );
        archived.push(fx.store.store_capture(&page).await.unwrap().id);
    }
    // A page parsed, then parsed again by a newer definition (its first extraction replaced);
    // the roll-ups a re-parse empties are read again.
    let first_parse = dnmscope_model::Extraction::empty(PageKind::Search, "testmarket@1");
    fx.store
        .ingest_extraction(archived[0], &first_parse)
        .await
        .unwrap();
    let second_parse = dnmscope_model::Extraction::empty(PageKind::Search, "testmarket@2");
    let reparsed = fx
        .store
        .reparse_pages(&[(archived[0], &second_parse)])
        .await
        .unwrap();
    assert_eq!(reparsed[0].superseded, 1);
    fx.store.refresh_rollups().await.unwrap();
    // Raw protection's tables: the bodies encrypted, then day 0's raw pages purged.
    let keyed = fx.with_key(&RawKey::from_bytes([5; 32])).await;
    keyed.encrypt_raw(2, "test", |_, _| {}).await.unwrap();
    let purge = keyed
        .purge_raw(at(0) + Duration::hours(1), None, "tester@host")
        .await
        .unwrap();
    assert!(purge.is_some());
    let counts = fx.counts().await;
    for relation in RELATIONS {
        let rows = read_all(&fx, relation.name).await;
        assert!(!rows.is_empty(), "{} is empty", relation.name);
        for row in &rows {
            assert_eq!(row.len(), relation.columns.len(), "{}", relation.name);
        }
        if let Some(count) = counts.get(relation.name) {
            assert_eq!(rows.len() as i64, *count, "{}", relation.name);
        }
    }
    // Values come typed, the same on both backends.
    let name = "listing_observations_view";
    let rows = read_all(&fx, name).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        cell(name, &rows, 0, "market"),
        &Value::Text("testmarket".into())
    );
    assert_eq!(
        cell(name, &rows, 0, "vendor"),
        &Value::Text("DutchVendor".into())
    );
    assert_eq!(
        cell(name, &rows, 0, "price_amount"),
        &Value::Text("49.00".into())
    );
    assert_eq!(cell(name, &rows, 0, "escrow"), &Value::Boolean(true));
    assert_eq!(
        cell(name, &rows, 0, "observed_at"),
        &Value::Timestamp(at(0))
    );
    assert_eq!(
        cell(name, &rows, 1, "observed_at"),
        &Value::Timestamp(at(1))
    );
    assert_eq!(
        cell(name, &rows, 0, "category"),
        &Value::Text(r#"["Drugs","Ecstasy","MDMA"]"#.into())
    );
    let name = "feedback_view";
    let rows = read_all(&fx, name).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        cell(name, &rows, 0, "left_on"),
        &Value::Date(NaiveDate::from_ymd_opt(2025, 12, 30).unwrap())
    );
    // Seen on the listing page in both crawls and on the vendor page in the first: two crawls.
    assert_eq!(cell(name, &rows, 0, "crawls_seen"), &Value::Integer(2));
    let name = "crawl_accounting_view";
    let rows = read_all(&fx, name).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(cell(name, &rows, 0, "crawl_id"), &Value::Integer(first.0));
    assert_eq!(
        cell(name, &rows, 0, "finish_reason"),
        &Value::Text("completed".into())
    );
    for (column, value) in [
        ("attempted", 12),
        ("fetched", 10),
        ("failed", 2),
        ("given_up", 1),
        ("gates", 2),
        ("parsed", 10),
        ("listings_announced", 8),
        ("listings_fetched", 6),
    ] {
        assert_eq!(
            cell(name, &rows, 0, column),
            &Value::Integer(value),
            "{column}"
        );
    }
    assert_eq!(cell(name, &rows, 0, "seized"), &Value::Boolean(true));
    assert_eq!(cell(name, &rows, 0, "unreachable"), &Value::Boolean(false));
    let name = "forum_posts_view";
    let rows = read_all(&fx, name).await;
    assert_eq!(
        cell(name, &rows, 0, "thread_title"),
        &Value::Text("Reagent testing".into())
    );
    assert_eq!(
        cell(name, &rows, 0, "author_kind"),
        &Value::Text("pseudonym".into())
    );
    let name = "market_events_view";
    let rows = read_all(&fx, name).await;
    assert_eq!(cell(name, &rows, 0, "kind"), &Value::Text("outage".into()));
}

async fn full_text_search_finds_listings_and_posts_and_stays_in_step(fx: Fixture) {
    populate(&fx).await;
    // Two observations of the listing; "tested" finds "Lab tested" by its stem too.
    let hits = fx
        .store
        .search_listings("reagent tested", 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits[0].observed_at > hits[1].observed_at, "newest first");
    assert_eq!(hits[0].title.as_deref(), Some("3.5g Dutch MDMA crystal"));
    assert_eq!(hits[0].market, "testmarket");
    assert!(fx
        .store
        .search_listings("heroin", 10)
        .await
        .unwrap()
        .is_empty());
    assert!(fx
        .store
        .search_listings("   ", 10)
        .await
        .unwrap()
        .is_empty());
    // Words that are operators in FTS5 syntax are searched as words (and none is there).
    assert!(fx
        .store
        .search_listings("MDMA NEAR( \"", 10)
        .await
        .unwrap()
        .is_empty());

    let posts = fx.store.search_posts("fentanyl strip", 10).await.unwrap();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].text.contains("reagent kit"));
    // Rows stored later are found too (the index follows inserts).
    let third = fx.crawl(2).await;
    fx.store
        .ingest(
            &capture(third, "http://testmarket.onion/forum/t1", 2, b"thread2"),
            &forum_page(&["Naloxone saves lives: carry it."]),
        )
        .await
        .unwrap();
    let posts = fx.store.search_posts("naloxone", 10).await.unwrap();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        fx.store.search_posts("fentanyl", 10).await.unwrap().len(),
        1
    );
    assert_eq!(
        fx.store.search_listings("mdma", 1).await.unwrap().len(),
        1,
        "limit"
    );
}

async fn counts_per_crawl_and_market_and_the_span_of_each_market(fx: Fixture) {
    let (first, second) = populate(&fx).await;
    let counts = fx.store.crawl_market_counts().await.unwrap();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_eq!(
        (counts[0].crawl_id, counts[1].crawl_id),
        (first.0, second.0)
    );
    assert_eq!(counts[0].market, "testmarket");
    assert_eq!((counts[0].listings, counts[0].vendors), (1, 1));
    assert_eq!(counts[0].new_feedback, 2);
    assert_eq!((counts[0].posts, counts[1].posts), (0, 2));
    assert_eq!(counts[1].new_feedback, 0);
    assert_eq!(counts[0].started_at, at(0));

    let spans = fx.store.market_spans().await.unwrap();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(
        (span.first_observed, span.last_observed),
        (Some(at(0)), Some(at(1)))
    );
    assert_eq!((span.crawls, span.listings, span.vendors), (2, 1, 1));
    assert_eq!((span.feedback, span.posts), (2, 2));

    let versions = fx.store.parser_versions().await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].parser_version, "test@1");
    assert_eq!(versions[0].extractions, 4);

    // A search page shows the listing without its origin, and another listing that never
    // shows one: the first still counts once, under NL; the second under null.
    let mut search = Extraction::empty(PageKind::Search, "test@1");
    let mut known = listing("49.00");
    known.ships_from = None;
    let mut unknown = listing("10.00");
    unknown.key = "999".to_string();
    unknown.ships_from = None;
    search.listings.extend([known, unknown]);
    fx.store
        .ingest(
            &capture(second, "http://testmarket.onion/search", 1, b"search"),
            &search,
        )
        .await
        .unwrap();
    let origins = fx.store.listings_by_origin().await.unwrap();
    let origins: Vec<(Option<&str>, i64)> = origins
        .iter()
        .map(|o| (o.ships_from.as_deref(), o.listings))
        .collect();
    assert_eq!(origins, vec![(Some("NL"), 1), (None, 1)]);
}

/// A store written before migration 0004 (simulated by removing what 0004 made and its record)
/// gets its existing rows indexed when the migration runs on the next open.
async fn full_text_search_covers_rows_stored_before_the_views_migration() {
    let fx = Fixture::new(Kind::Sqlite).await;
    populate(&fx).await;
    fx.store.clone().close().await;
    fx.raw(
        "DROP TRIGGER listing_observations_fts_insert;
         DROP TRIGGER listing_observations_fts_delete;
         DROP TRIGGER listing_observations_fts_update;
         DROP TRIGGER post_observations_fts_insert;
         DROP TRIGGER post_observations_fts_delete;
         DROP TRIGGER post_observations_fts_update;
         DROP TABLE listing_observations_fts;
         DROP TABLE post_observations_fts;
         DROP VIEW listing_observations_view;
         DROP VIEW vendor_observations_view;
         DROP VIEW feedback_view;
         DROP VIEW forum_posts_view;
         DROP VIEW crawl_accounting_view;
         DROP VIEW market_events_view;
         DELETE FROM _sqlx_migrations WHERE version = 4;",
    )
    .await;
    let store = Store::open(&StoreOptions::new(Location::SqliteFile(
        fx.place.clone().into(),
    )))
    .await
    .expect("reopening the store applies 0004");
    assert_eq!(store.search_listings("reagent", 10).await.unwrap().len(), 2);
    assert_eq!(store.search_posts("fentanyl", 10).await.unwrap().len(), 1);
    let relation = dnmscope_store::Relation::find("listing_observations_view").unwrap();
    let rows: Vec<Vec<Value>> = store.rows(relation).try_collect().await.unwrap();
    assert_eq!(rows.len(), 2);
    store.close().await;
}

// Analytics reads, rates, link decisions and bulk loading.

fn filter(edit: impl FnOnce(&mut AnalyticsFilter)) -> AnalyticsFilter {
    let mut filter = AnalyticsFilter::default();
    edit(&mut filter);
    filter
}

async fn analytics_roll_up_by_day_and_week_and_filter_listings(fx: Fixture) {
    // 2026-01-01 (day 0) is a Thursday: days 0 and 1 fall in the week of Monday 2025-12-29,
    // day 5 in the week of 2026-01-05.
    for day in [0, 1, 5] {
        let crawl = fx.crawl(day).await;
        let page = if day == 5 {
            let mut other = listing("20.00");
            other.key = "999".to_string();
            other.vendor = Some("YankeeVendor".to_string());
            other.category = vec![
                "Drugs".to_string(),
                "Cannabis".to_string(),
                "Weed".to_string(),
            ];
            other.ships_from = Some(Country::from_code("US").unwrap());
            other.ships_to = vec![Country::from_code("US").unwrap()];
            let mut page = Extraction::empty(PageKind::Search, "test@1");
            page.listings = vec![listing("49.00"), other];
            page
        } else {
            listing_page("49.00")
        };
        let url = format!("http://testmarket.onion/page/{day}");
        fx.store
            .ingest(&capture(crawl, &url, day, url.as_bytes()), &page)
            .await
            .unwrap();
    }
    let all = AnalyticsFilter::default();
    let summary = |rows: Vec<dnmscope_store::ActivityRow>| -> Vec<(String, i64, i64, i64)> {
        rows.into_iter()
            .map(|r| {
                (
                    r.period_start.to_string(),
                    r.listings,
                    r.vendors,
                    r.observations,
                )
            })
            .collect()
    };
    let days = fx.store.activity(&all, Period::Day).await.unwrap();
    assert_eq!(
        summary(days),
        vec![
            ("2026-01-01".to_string(), 1, 1, 1),
            ("2026-01-02".to_string(), 1, 1, 1),
            ("2026-01-06".to_string(), 2, 2, 2),
        ]
    );
    let weeks = fx.store.activity(&all, Period::Week).await.unwrap();
    assert_eq!(
        summary(weeks),
        vec![
            ("2025-12-29".to_string(), 1, 1, 2),
            ("2026-01-05".to_string(), 2, 2, 2),
        ]
    );
    // Filters narrow the listings.
    for (name, narrowed, keys) in [
        (
            "origin NL",
            filter(|f| f.origin = Some("nl".into())),
            vec!["1234"],
        ),
        (
            "to US",
            filter(|f| f.destination = Some("US".into())),
            vec!["999"],
        ),
        (
            "to WW",
            filter(|f| f.destination = Some("WW".into())),
            vec!["1234"],
        ),
        (
            "substance",
            filter(|f| f.substance = Some("Weed".into())),
            vec!["999"],
        ),
        (
            "substance is last",
            filter(|f| f.substance = Some("Ecstasy".into())),
            vec![],
        ),
        (
            "category",
            filter(|f| f.category = Some("Ecstasy".into())),
            vec!["1234"],
        ),
        (
            "top category",
            filter(|f| f.category = Some("Drugs".into())),
            vec!["1234", "999"],
        ),
        (
            "market",
            filter(|f| f.markets = vec!["testmarket".into()]),
            vec!["1234", "999"],
        ),
        (
            "other market",
            filter(|f| f.markets = vec!["elsewhere".into()]),
            vec![],
        ),
    ] {
        let rows = fx.store.listing_observations(&narrowed).await.unwrap();
        let mut seen: Vec<String> = rows.iter().map(|r| r.listing.key.clone()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, keys, "{name}");
        assert!(rows.iter().all(|r| r.market == "testmarket"), "{name}");
    }
    let weekly = fx.store.vendor_spans(&all, Period::Week).await.unwrap();
    assert_eq!(
        weekly
            .iter()
            .map(|s| (
                s.handle.as_str(),
                s.first_seen.date_naive().to_string(),
                s.last_seen.date_naive().to_string()
            ))
            .collect::<Vec<_>>(),
        vec![
            (
                "DutchVendor",
                "2025-12-29".to_string(),
                "2026-01-05".to_string()
            ),
            (
                "YankeeVendor",
                "2026-01-05".to_string(),
                "2026-01-05".to_string()
            ),
        ]
    );
    let weeks: Vec<String> = fx
        .store
        .observed_periods(&all, Period::Week)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.day.to_string())
        .collect();
    assert_eq!(weeks, vec!["2025-12-29", "2026-01-05"]);
    // The weekly roll-up takes in later observations incrementally.
    assert_eq!(
        fx.store.refresh_rollups().await.unwrap(),
        0,
        "already up to date"
    );
    let crawl = fx.crawl(6).await;
    fx.store
        .ingest(
            &capture(crawl, "http://testmarket.onion/page/6", 6, b"day 6"),
            &listing_page("48.00"),
        )
        .await
        .unwrap();
    let weeks = fx.store.activity(&all, Period::Week).await.unwrap();
    assert_eq!(
        summary(weeks),
        vec![
            ("2025-12-29".to_string(), 1, 1, 2),
            ("2026-01-05".to_string(), 2, 2, 3),
        ]
    );
    assert_eq!(fx.store.refresh_rollups().await.unwrap(), 0);
    let spans = fx.store.vendor_spans(&all, Period::Day).await.unwrap();
    let spans: Vec<(String, DateTime<Utc>, DateTime<Utc>, i64)> = spans
        .into_iter()
        .map(|s| (s.handle, s.first_seen, s.last_seen, s.listings))
        .collect();
    assert_eq!(
        spans,
        vec![
            ("DutchVendor".to_string(), at(0), at(6), 1),
            ("YankeeVendor".to_string(), at(5), at(5), 1),
        ]
    );
    let observed = fx.store.observed_days(&all).await.unwrap();
    assert_eq!(observed.len(), 4);
    // Feedback: two entries, left on 2025-12-30, each seen by three crawls.
    let feedback = fx.store.feedback_rows(&all).await.unwrap();
    assert_eq!(feedback.len(), 2);
    assert!(feedback.iter().all(|f| f.sightings == 3
        && f.vendor.as_deref() == Some("DutchVendor")
        && f.listing_id.is_some()));
    // One vendor, found through the vendor indexes (the handle compared without regard to
    // case): its listing observations, profile observations, feedback and per-day prices.
    let dutch = filter(|f| f.vendor = Some(" dutchVENDOR ".into()));
    let every = fx.store.listing_observations(&all).await.unwrap();
    let theirs: Vec<_> = every
        .iter()
        .filter(|r| r.vendor.as_deref() == Some("DutchVendor"))
        .cloned()
        .collect();
    assert!(!theirs.is_empty() && theirs.len() < every.len());
    assert_eq!(fx.store.listing_observations(&dutch).await.unwrap(), theirs);
    let profiles = fx.store.vendor_observations(&all).await.unwrap();
    let profiles: Vec<_> = profiles
        .into_iter()
        .filter(|r| r.handle == "DutchVendor")
        .collect();
    assert_eq!(
        fx.store.vendor_observations(&dutch).await.unwrap(),
        profiles
    );
    assert_eq!(fx.store.feedback_rows(&dutch).await.unwrap(), feedback);
    let yankee = filter(|f| f.vendor = Some("YankeeVendor".into()));
    assert!(fx.store.feedback_rows(&yankee).await.unwrap().is_empty());
    let prices = fx
        .store
        .vendor_prices("testmarket", "DUTCHVENDOR")
        .await
        .unwrap();
    let mut expected: BTreeMap<NaiveDate, (Vec<i64>, Vec<Money>)> = BTreeMap::new();
    for row in &theirs {
        let day = expected.entry(row.observed_at.date_naive()).or_default();
        if !day.0.contains(&row.listing_id) {
            day.0.push(row.listing_id);
        }
        let price = row.listing.price.as_ref().unwrap();
        day.1.push(price.clone());
    }
    for day in expected.values_mut() {
        day.0.sort_unstable();
    }
    let days: BTreeMap<NaiveDate, (Vec<i64>, Vec<Money>)> = prices
        .days
        .into_iter()
        .map(|d| (d.day, (d.listing_ids, d.usd_prices)))
        .collect();
    assert_eq!(days, expected);
    assert!(prices.converted.is_empty(), "every price is in USD");
    assert_eq!(
        fx.store
            .vendor_prices("testmarket", "nobody")
            .await
            .unwrap(),
        dnmscope_store::VendorPrices::default()
    );
    let by_week = fx
        .store
        .feedback_activity(&all, Period::Week)
        .await
        .unwrap();
    assert_eq!(by_week.len(), 1);
    assert_eq!(
        (
            by_week[0].period_start.to_string(),
            by_week[0].entries,
            by_week[0].vendors
        ),
        ("2025-12-29".to_string(), 2, 1)
    );
    assert!(fx.store.vendor_observations(&all).await.unwrap().is_empty());
    assert!(fx.store.event_rows(&all).await.unwrap().is_empty());
    assert!(fx.store.post_rows(&all).await.unwrap().is_empty());
}

async fn exchange_rates_are_imported_once_and_bad_ones_refused(fx: Fixture) {
    let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let rate = |currency: &str, usd: &str| RateRow {
        day,
        currency: currency.to_string(),
        usd: usd.to_string(),
        source: "rates.csv".to_string(),
    };
    let rates = vec![rate("XMR", "150.25"), rate("BTC", "43000.5")];
    assert_eq!(fx.store.import_rates(&rates).await.unwrap(), 2);
    assert_eq!(
        fx.store.import_rates(&rates).await.unwrap(),
        0,
        "stored once"
    );
    let stored = fx.store.rates().await.unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|r| (r.currency.as_str(), r.usd.as_str(), r.day))
            .collect::<Vec<_>>(),
        vec![("BTC", "43000.5", day), ("XMR", "150.25", day)]
    );
    for (bad, reason) in [
        (rate("BTC", "-1"), "not a positive amount"),
        (rate("BTC", "lots"), "not a decimal number"),
        (rate("B$", "1"), "currency"),
    ] {
        let err = fx
            .store
            .import_rates(&[rate("LTC", "70"), bad])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Refused { .. }), "{err:?}");
        assert!(
            error_chain(&err).to_lowercase().contains(reason),
            "{}",
            error_chain(&err)
        );
    }
    assert_eq!(
        fx.store.rates().await.unwrap().len(),
        2,
        "nothing of a refused batch"
    );
}

async fn link_decisions_keep_their_history_and_the_latest_counts(fx: Fixture) {
    let dream = VendorRef::new("dream", "DutchVendor");
    let empire = VendorRef::new("empire", "dutch_vendor");
    fx.store
        .decide_link(&empire, &dream, LinkDecision::Confirmed, "same key", at(1))
        .await
        .unwrap();
    assert_eq!(
        fx.store.link_decisions().await.unwrap()[0].decision,
        LinkDecision::Confirmed
    );
    fx.store
        .decide_link(&dream, &empire, LinkDecision::Rejected, "two people", at(2))
        .await
        .unwrap();
    let decisions = fx.store.link_decisions().await.unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    let latest = &decisions[0];
    assert_eq!(latest.a, VendorRef::new("dream", "dutchvendor"));
    assert_eq!(latest.b, VendorRef::new("empire", "dutch_vendor"));
    assert_eq!(latest.decision, LinkDecision::Rejected);
    assert_eq!(latest.note, "two people");
    assert_eq!(latest.decided_at, at(2));
    assert_eq!(
        fx.count("vendor_link_decisions").await,
        2,
        "the history is kept"
    );
    let same = fx
        .store
        .decide_link(
            &dream,
            &VendorRef::new("dream", "Other"),
            LinkDecision::Confirmed,
            "",
            at(3),
        )
        .await
        .unwrap_err();
    assert!(same.to_string().contains("same market"), "{same}");
    let bad = fx
        .store
        .decide_link(
            &VendorRef::new("Dream!", "x"),
            &empire,
            LinkDecision::Confirmed,
            "",
            at(3),
        )
        .await
        .unwrap_err();
    assert!(matches!(bad, StoreError::Refused { .. }), "{bad:?}");
}

/// Whether an observed listing matches a filter, decided in Rust.
type ListingTest = fn(&Listing) -> bool;

/// The weekly summaries (`market_weeks`, `vendor_weeks`, `vendor_listings`) and the roll-up by
/// attributes (`attribute_weeks`) are kept by refreshes over batches of one or several days,
/// some spanning two weeks; whatever the batching, the weekly roll-ups, unfiltered and
/// filtered by listing attributes, equal a recount of every observation.
async fn weekly_summaries_equal_a_recount_of_every_observation_after_each_refresh(fx: Fixture) {
    let filters: Vec<(&str, AnalyticsFilter, ListingTest)> = vec![
        ("all", AnalyticsFilter::default(), |_| true),
        ("origin NL", filter(|f| f.origin = Some("nl".into())), |l| {
            l.ships_from.is_some_and(|c| c.code() == "NL")
        }),
        (
            "substance Weed",
            filter(|f| f.substance = Some("Weed".into())),
            |l| l.category.last().is_some_and(|c| c == "Weed"),
        ),
        (
            "category Cannabis, to DE",
            filter(|f| {
                f.category = Some("Cannabis".into());
                f.destination = Some("de".into());
            }),
            |l| {
                l.category.iter().any(|c| c == "Cannabis")
                    && l.ships_to.iter().any(|c| c.code() == "DE")
            },
        ),
    ];
    // 2026-01-01 is a Thursday: 19 days cover four weeks. Listings come and go (a listing
    // lives six to ten days), each keeps its vendor; vendors come and go with them.
    for day in 0..19i64 {
        let crawl = fx.crawl(day).await;
        let url = format!("http://testmarket.onion/bulk/{day}");
        let stored = fx
            .store
            .store_capture(&capture(crawl, &url, day, url.as_bytes()))
            .await
            .unwrap();
        let listings: Vec<Listing> = (0..60i64)
            .filter(|n| {
                let born = n % 17;
                let life = 6 + n % 5;
                day >= born && day < born + life && (n + day) % 4 != 0
            })
            .map(|n| {
                let mut l = listing("10.00");
                l.key = format!("roll-{n}");
                l.vendor = Some(format!("Vendor{}", n % 9));
                if n % 3 == 0 {
                    l.category = vec!["Drugs".into(), "Cannabis".into(), "Weed".into()];
                }
                // Some listings change origin and destinations in the middle of a week.
                if n % 2 == 0 || (n % 5 == 0 && day >= 9) {
                    l.ships_from = Some(Country::from_code("DE").unwrap());
                    l.ships_to = vec![Country::from_code("DE").unwrap()];
                }
                if n % 7 == 0 {
                    l.category = vec![];
                    l.ships_from = None;
                    l.ships_to = vec![];
                }
                l
            })
            .collect();
        fx.store
            .bulk_observe_listings(stored.id, "bulk@1", &listings)
            .await
            .unwrap();
        // Refreshed after some days only: batches of one to three days.
        if day % 3 != 1 {
            fx.store.refresh_rollups().await.unwrap();
        }
        for (name, narrowed, matches) in &filters {
            check_weekly_against_a_recount(&fx, day, name, narrowed, *matches).await;
        }
    }
    assert_eq!(fx.count("market_weeks").await, 4);
    assert!(fx.count("vendor_listings").await >= 50);
    assert!(fx.count("listing_attributes").await >= 4);
}

async fn check_weekly_against_a_recount(
    fx: &Fixture,
    day: i64,
    name: &str,
    narrowed: &AnalyticsFilter,
    matches: ListingTest,
) {
    use std::collections::{BTreeSet, HashMap};
    let week = |t: DateTime<Utc>| Period::Week.start_of(t.date_naive());
    let all = AnalyticsFilter::default();
    let every = fx.store.listing_observations(&all).await.unwrap();
    let observed: BTreeSet<NaiveDate> = every.iter().map(|r| week(r.observed_at)).collect();
    let rows: Vec<_> = every.into_iter().filter(|r| matches(&r.listing)).collect();
    {
        let mut activity: BTreeMap<NaiveDate, (BTreeSet<i64>, BTreeSet<i64>, i64)> =
            BTreeMap::new();
        let mut spans: BTreeMap<i64, (NaiveDate, NaiveDate, BTreeSet<i64>)> = BTreeMap::new();
        let mut handles: HashMap<i64, String> = HashMap::new();
        for row in &rows {
            let w = week(row.observed_at);
            let entry = activity.entry(w).or_default();
            entry.0.insert(row.listing_id);
            entry.2 += 1;
            if let Some(vendor) = row.vendor_id {
                entry.1.insert(vendor);
                let span = spans.entry(vendor).or_insert((w, w, BTreeSet::new()));
                span.0 = span.0.min(w);
                span.1 = span.1.max(w);
                span.2.insert(row.listing_id);
                handles.insert(vendor, row.vendor.clone().unwrap());
            }
        }
        let expected: Vec<(NaiveDate, i64, i64, i64)> = activity
            .iter()
            .map(|(w, (l, v, n))| (*w, l.len() as i64, v.len() as i64, *n))
            .collect();
        let weekly: Vec<(NaiveDate, i64, i64, i64)> = fx
            .store
            .activity(narrowed, Period::Week)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.period_start, r.listings, r.vendors, r.observations))
            .collect();
        assert_eq!(weekly, expected, "{name}: activity after day {day}");
        let expected: Vec<(String, NaiveDate, NaiveDate, i64)> = spans
            .iter()
            .map(|(v, (first, last, l))| (handles[v].clone(), *first, *last, l.len() as i64))
            .collect();
        let weekly: Vec<(String, NaiveDate, NaiveDate, i64)> = fx
            .store
            .vendor_spans(narrowed, Period::Week)
            .await
            .unwrap()
            .into_iter()
            .map(|s| {
                (
                    s.handle,
                    s.first_seen.date_naive(),
                    s.last_seen.date_naive(),
                    s.listings,
                )
            })
            .collect();
        assert_eq!(weekly, expected, "{name}: vendor spans after day {day}");
        let weeks: Vec<NaiveDate> = fx
            .store
            .observed_periods(narrowed, Period::Week)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.day)
            .collect();
        // Weeks the market was observed at all, whatever the filter.
        assert_eq!(
            weeks,
            observed.iter().copied().collect::<Vec<_>>(),
            "{name}: observed weeks after day {day}"
        );
    }
}

async fn bulk_loading_observes_many_listings_in_one_transaction(fx: Fixture) {
    let crawl = fx.crawl(0).await;
    let stored = fx
        .store
        .store_capture(&capture(crawl, "http://testmarket.onion/bulk", 0, b"bulk"))
        .await
        .unwrap();
    let listings: Vec<Listing> = (0..2500)
        .map(|n| {
            let mut l = listing("10.00");
            l.key = format!("bulk-{n}");
            l.vendor = Some(format!("Vendor{}", n % 50));
            l
        })
        .collect();
    let added = fx
        .store
        .bulk_observe_listings(stored.id, "bulk@1", &listings)
        .await
        .unwrap();
    assert_eq!(added, 2500);
    let again = fx
        .store
        .bulk_observe_listings(stored.id, "bulk@1", &listings)
        .await
        .unwrap();
    assert_eq!(again, 0, "the same extraction is loaded once");
    assert_eq!(fx.count("listings").await, 2500);
    assert_eq!(fx.count("vendors").await, 50);
    assert_eq!(fx.count("listing_observations").await, 2500);
    let activity = fx
        .store
        .activity(&AnalyticsFilter::default(), Period::Day)
        .await
        .unwrap();
    assert_eq!(activity.len(), 1);
    assert_eq!((activity[0].listings, activity[0].vendors), (2500, 50));
    let weekly = fx
        .store
        .activity(&AnalyticsFilter::default(), Period::Week)
        .await
        .unwrap();
    assert_eq!(
        (
            weekly[0].listings,
            weekly[0].vendors,
            weekly[0].observations
        ),
        (2500, 50, 2500)
    );
    let rows = fx
        .store
        .listing_observations(&filter(|f| f.origin = Some("NL".into())))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2500);
    assert_eq!(rows[0].listing.price, listings[0].price);
    let missing = fx
        .store
        .bulk_observe_listings(999_999, "bulk@1", &listings)
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::Missing { .. }), "{missing:?}");
}

/// What the typed columns hold is not kept again as JSON, and every field reads back: through
/// ingest and through the bulk path, for a full listing, a search page's summary, a vendor shown
/// otherwise than its stored handle, a count no column can hold and a listing with no vendor.
async fn every_listing_field_reads_back_and_data_keeps_only_the_rest(fx: Fixture) {
    use dnmscope_model::{Currency, PriceTier, Quantity, ShippingOption};
    use rust_decimal::Decimal;
    let crawl = fx.crawl(0).await;
    let mut full = listing("49.00");
    full.key = "full".to_string();
    full.other_prices = vec![Money::new("0.0021", "BTC").unwrap()];
    full.price_tiers = vec![PriceTier {
        quantity: Decimal::from(10),
        price: Money::new("400", "USD").unwrap(),
    }];
    full.quantity = Some(Quantity {
        count: 100,
        amount: "2.50".parse().unwrap(),
        unit: "mg".to_string(),
    });
    full.shipping_options = vec![ShippingOption {
        name: "Express".to_string(),
        price: Some(Money::new("12.5", "EUR").unwrap()),
    }];
    full.accepted_currencies = vec![Currency::new("XMR").unwrap()];
    full.exchange_rates = [(Currency::new("USD").unwrap(), Decimal::from(19_000))].into();
    full.stock = Some(Some(7));
    let summary = Listing {
        key: "summary".to_string(),
        title: Some("Speed 1g".to_string()),
        vendor: Some("DutchVendor".to_string()),
        price: Some(Money::new("5", "EUR").unwrap()),
        ..Listing::default()
    };
    let mut respelled = summary.clone();
    respelled.key = "respelled".to_string();
    respelled.vendor = Some(" dutchvendor ".to_string());
    let mut huge = listing("1.00");
    huge.key = "huge".to_string();
    huge.sales = Some(u64::MAX);
    let anonymous = Listing {
        key: "anonymous".to_string(),
        title: Some("No vendor shown".to_string()),
        ..Listing::default()
    };
    let listings = vec![full, summary, respelled, huge, anonymous];
    let mut page = Extraction::empty(PageKind::Search, "test@1");
    page.listings = listings.clone();
    fx.store
        .ingest(
            &capture(crawl, "http://testmarket.onion/search", 0, b"search"),
            &page,
        )
        .await
        .unwrap();
    // Enough rows that PostgreSQL sends them with COPY.
    let bulk: Vec<Listing> = (0..13)
        .flat_map(|copy| {
            listings.iter().map(move |l| Listing {
                key: format!("bulk{copy}-{}", l.key),
                ..l.clone()
            })
        })
        .collect();
    let stored = fx
        .store
        .store_capture(&capture(crawl, "http://testmarket.onion/bulk", 1, b"bulk"))
        .await
        .unwrap();
    assert_eq!(
        fx.store
            .bulk_observe_listings(stored.id, "bulk@1", &bulk)
            .await
            .unwrap(),
        65
    );

    let read: BTreeMap<String, Listing> = fx
        .store
        .listing_observations(&AnalyticsFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.listing.key.clone(), r.listing))
        .collect();
    assert_eq!(read.len(), 70);
    for listing in listings.iter().chain(&bulk) {
        assert_eq!(read.get(&listing.key), Some(listing), "{}", listing.key);
    }

    let data = fx.listing_data().await;
    let empty = serde_json::json!({});
    for key in ["summary", "anonymous", "bulk0-summary", "bulk12-anonymous"] {
        assert_eq!(data[key], empty, "{key}");
    }
    for key in ["full", "bulk0-full", "bulk12-full"] {
        let names: Vec<&String> = data[key].as_object().unwrap().keys().collect();
        assert_eq!(
            names,
            [
                "accepted_currencies",
                "exchange_rates",
                "other_prices",
                "price_tiers",
                "shipping_options",
                "url"
            ],
            "{key}"
        );
    }
    for key in ["respelled", "bulk7-respelled"] {
        assert_eq!(
            data[key],
            serde_json::json!({"vendor": " dutchvendor "}),
            "{key}"
        );
    }
    for key in ["huge", "bulk3-huge"] {
        // No column holds this count: the listing is kept whole but for its description.
        assert_eq!(data[key]["sales"], serde_json::json!(u64::MAX), "{key}");
        assert_eq!(data[key]["title"], "3.5g Dutch MDMA crystal", "{key}");
        assert!(data[key].get("description").is_none(), "{key}");
    }
}

async fn every_event_kind_the_model_knows_is_accepted(fx: Fixture) {
    for (i, kind) in MarketEventKind::ALL.into_iter().enumerate() {
        let event = MarketEvent {
            kind,
            observed_at: at(i as i64),
            detail: format!("a {} event", kind.as_str()),
        };
        assert!(fx
            .store
            .record_event(&market(), &event, None)
            .await
            .unwrap());
    }
    let events = read_all(&fx, "market_events_view").await;
    assert_eq!(events.len(), MarketEventKind::ALL.len());
}

// ---------------------------------------------------------------------------------------------
// Raw pages at rest: encryption and retention.

/// The page text a test looks for in the stored bytes: a masked buyer, as markets show them.
const PERSON: &[u8] = b"<td class=buyer>b***s (12)</td>";

fn page_with_person(n: usize) -> Vec<u8> {
    let mut body = format!("<html><p>page {n}</p><table>").into_bytes();
    for _ in 0..40 {
        body.extend_from_slice(PERSON);
    }
    body.extend_from_slice(b"</table></html>");
    body
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn a_new_store_encrypts_raw_bodies_and_a_store_without_the_key_reads_all_else(fx: Fixture) {
    let key = RawKey::from_bytes([1; 32]);
    // The fixture's store is new and empty: opening it with a key turns encryption on.
    let keyed = fx.with_key(&key).await;
    let policy = keyed.raw_policy().await.unwrap().expect("encryption is on");
    assert_eq!(policy.key_id, key.id());
    assert_eq!(policy.cipher, "xchacha20poly1305");
    let crawl = fx.crawl(0).await;
    let body = page_with_person(1);
    let stored = keyed
        .ingest(
            &capture(crawl, "http://testmarket.onion/listing/1", 0, &body),
            &listing_page("10.00"),
        )
        .await
        .unwrap();
    assert_eq!(keyed.capture(stored.capture_id).await.unwrap().body, body);
    // What the database holds is ciphertext: no zstd frame, no page text.
    let blobs = fx.blob_data().await;
    assert_eq!(blobs.len(), 1);
    let data = &blobs[0].1;
    assert!(!contains(data, b"b***s") && !contains(data, b"<html>"));
    assert!(
        !contains(&data[24..], &[0x28, 0xb5, 0x2f, 0xfd]),
        "a zstd frame in the clear"
    );
    // The same body again (another URL) is one blob: the hash is of the plaintext.
    keyed
        .store_capture(&capture(
            crawl,
            "http://testmarket.onion/listing/1?m=2",
            0,
            &body,
        ))
        .await
        .unwrap();
    assert_eq!(fx.count("blobs").await, 1);
    // Without the key: everything but raw bodies reads, and the error names the key needed.
    let stats = fx.store.stats().await.unwrap();
    assert_eq!(stats.raw.bodies_encrypted, 1);
    assert_eq!(stats.raw.key_ids, vec![key.id().to_string()]);
    assert!(stats.to_string().contains(key.id()), "{stats}");
    assert_eq!(fx.count("listing_observations").await, 1);
    let err = fx.store.capture(stored.capture_id).await.unwrap_err();
    assert!(matches!(err, StoreError::RawKeyNeeded { .. }), "{err:?}");
    assert!(err.to_string().contains(key.id()), "{err}");
    // Storing a new body needs the key too (the policy says bodies are encrypted).
    let err = fx
        .store
        .store_capture(&capture(crawl, "http://testmarket.onion/x", 0, b"new"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::RawKeyNeeded { .. }), "{err:?}");
    // A wrong key is an error naming both keys, never garbage.
    let wrong_key = RawKey::from_bytes([2; 32]);
    let wrong = fx.with_key(&wrong_key).await;
    let err = wrong.capture(stored.capture_id).await.unwrap_err();
    assert!(matches!(err, StoreError::WrongRawKey { .. }), "{err:?}");
    assert!(err.to_string().contains(wrong_key.id()), "{err}");
    assert!(wrong
        .store_capture(&capture(crawl, "http://testmarket.onion/y", 0, b"new"))
        .await
        .is_err());
    assert_eq!(
        fx.count("captures").await,
        2,
        "nothing was stored by the refused writes"
    );
    // A damaged ciphertext is an error, never garbage.
    let (hash, mut damaged) = fx.blob_data().await.remove(0);
    damaged[40] ^= 0x01;
    fx.set_blob_data(&hash, &damaged).await;
    let err = keyed.capture(stored.capture_id).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    keyed.close().await;
    wrong.close().await;
}

async fn encrypting_an_existing_store_converts_every_body_once(fx: Fixture) {
    // An unencrypted store (as before this version), with bodies in it.
    let crawl = fx.crawl(0).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let url = format!("http://testmarket.onion/listing/{n}");
        let stored = fx
            .store
            .store_capture(&capture(crawl, &url, 0, &page_with_person(n)))
            .await
            .unwrap();
        ids.push(stored.id);
    }
    assert!(fx.store.raw_policy().await.unwrap().is_none());
    let plain = fx.blob_data().await;
    assert_eq!(plain.len(), 5);
    let key = RawKey::from_bytes([3; 32]);
    // A key alone does not change a store that already has plain bodies.
    let keyed = fx.with_key(&key).await;
    assert!(keyed.raw_policy().await.unwrap().is_none());
    assert_eq!(keyed.stats().await.unwrap().raw.bodies_plain, 5);
    let mut seen = Vec::new();
    let converted = keyed
        .encrypt_raw(2, "tester", |done, total| seen.push((done, total)))
        .await
        .unwrap();
    assert_eq!(converted, 5);
    assert_eq!(seen, vec![(2, 5), (4, 5), (5, 5)]);
    let stats = keyed.stats().await.unwrap();
    assert_eq!((stats.raw.bodies_encrypted, stats.raw.bodies_plain), (5, 0));
    assert_eq!(stats.raw.policy.unwrap().enabled_by, "tester");
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(keyed.capture(*id).await.unwrap().body, page_with_person(n));
        assert!(matches!(
            fx.store.capture(*id).await.unwrap_err(),
            StoreError::RawKeyNeeded { .. }
        ));
    }
    for ((hash, before), (hash_after, after)) in plain.iter().zip(fx.blob_data().await.iter()) {
        assert_eq!(hash, hash_after);
        assert_ne!(before, after);
        assert!(!contains(after, b"b***s"));
    }
    // Again: nothing to do. With another key: refused (no rotation), nothing changed.
    assert_eq!(keyed.encrypt_raw(2, "tester", |_, _| {}).await.unwrap(), 0);
    let other = fx.with_key(&RawKey::from_bytes([4; 32])).await;
    let err = other.encrypt_raw(2, "tester", |_, _| {}).await.unwrap_err();
    assert!(matches!(err, StoreError::WrongRawKey { .. }), "{err:?}");
    assert_eq!(fx.count("raw_encryption").await, 1);
    // New bodies are encrypted from now on.
    let new = keyed
        .store_capture(&capture(
            crawl,
            "http://testmarket.onion/new",
            0,
            b"new page",
        ))
        .await
        .unwrap();
    assert_eq!(keyed.capture(new.id).await.unwrap().body, b"new page");
    assert_eq!(keyed.stats().await.unwrap().raw.bodies_encrypted, 6);
    keyed.compact().await.unwrap();
    assert_eq!(keyed.capture(new.id).await.unwrap().body, b"new page");
    keyed.close().await;
    other.close().await;
}

async fn purging_raw_pages_keeps_observations_and_records_an_audit_row(fx: Fixture) {
    let first = fx.crawl(0).await;
    let second = fx.crawl(2).await;
    // Day 0: a listing page and a vendor page; day 2: the same listing page, byte for byte.
    let listing0 = fx
        .store
        .ingest(
            &capture(
                first,
                "http://testmarket.onion/listing/1",
                0,
                b"same listing",
            ),
            &listing_page("10.00"),
        )
        .await
        .unwrap();
    let vendor0 = fx
        .store
        .store_capture(&capture(
            first,
            "http://testmarket.onion/vendor/v",
            0,
            b"vendor page",
        ))
        .await
        .unwrap();
    let listing2 = fx
        .store
        .ingest(
            &capture(
                second,
                "http://testmarket.onion/listing/1",
                2,
                b"same listing",
            ),
            &listing_page("11.00"),
        )
        .await
        .unwrap();
    let observations = fx.count("listing_observations").await;
    // An unknown market is refused, nothing written.
    let err = fx
        .store
        .purge_raw(
            at(1),
            Some(&MarketName::new("nosuch").unwrap()),
            "tester@host",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused { .. }), "{err:?}");
    assert_eq!(fx.count("raw_purges").await, 0);
    let report = fx
        .store
        .purge_raw(at(1), Some(&market()), "tester@host")
        .await
        .unwrap()
        .expect("something to purge");
    // Two captures purged; the vendor body deleted; the listing body kept for day 2's capture.
    assert_eq!((report.captures, report.bodies), (2, 1));
    assert_eq!(report.bytes, b"vendor page".len() as u64);
    for id in [listing0.capture_id, vendor0.id] {
        let err = fx.store.capture(id).await.unwrap_err();
        assert!(matches!(err, StoreError::Purged { .. }), "{err:?}");
    }
    assert_eq!(
        fx.store.capture(listing2.capture_id).await.unwrap().body,
        b"same listing"
    );
    let data: BTreeMap<String, Vec<u8>> = fx.blob_data().await.into_iter().collect();
    assert!(
        data.values().any(|d| d.is_empty()),
        "the vendor body's bytes are gone"
    );
    assert_eq!(data.len(), 2, "its hash and size stay");
    assert_eq!(fx.count("listing_observations").await, observations);
    let stats = fx.store.stats().await.unwrap();
    assert_eq!(stats.raw.captures_purged, 2);
    assert_eq!(stats.raw.bodies_purged, 1);
    assert_eq!(stats.raw.oldest_kept, Some(at(2)));
    let audit = &stats.raw.purges;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].purged_by, "tester@host");
    assert_eq!(audit[0].before, at(1));
    assert_eq!(audit[0].market.as_deref(), Some("testmarket"));
    assert!(stats.to_string().contains("tester@host"), "{stats}");
    // Purging the same range again finds nothing and writes no audit row.
    assert!(fx
        .store
        .purge_raw(at(1), None, "tester@host")
        .await
        .unwrap()
        .is_none());
    // Purging everything later takes the shared body too.
    let report = fx
        .store
        .purge_raw(at(3), None, "tester@host")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.captures, report.bodies), (1, 1));
    assert_eq!(fx.count("raw_purges").await, 2);
    fx.store.compact().await.unwrap();
    assert_eq!(fx.count("listing_observations").await, observations);
    // The same page fetched again after its body was purged is kept whole; the purged captures
    // still say their page was purged.
    let again = fx
        .store
        .store_capture(&capture(
            second,
            "http://testmarket.onion/vendor/v?again",
            4,
            b"vendor page",
        ))
        .await
        .unwrap();
    assert!(again.new);
    assert_eq!(
        fx.store.capture(again.id).await.unwrap().body,
        b"vendor page"
    );
    let err = fx.store.capture(vendor0.id).await.unwrap_err();
    assert!(matches!(err, StoreError::Purged { .. }), "{err:?}");
    let stats = fx.store.stats().await.unwrap();
    assert_eq!(stats.raw.bodies_purged, 1, "{:?}", stats.raw);
}
