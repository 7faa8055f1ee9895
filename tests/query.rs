//! `dnmscope query`, `dnmscope rates import` and `dnmscope links confirm|reject` on a small
//! store written through the store's API: one vendor on two markets with the same PGP key.

use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use dnmscope_model::{
    Capture, Country, Extraction, FeedbackEntry, FeedbackRating, Listing, MarketName, Money,
    PageKind, PgpFingerprint, Quantity, Vendor,
};
use dnmscope_store::{Location, Store, StoreOptions};

use crate::cli::{assert_clean_failure, dnmscope, stderr, stdout};

/// Two markets, `alpha` (prices in USD) and `beta` (prices in BTC only), crawled on
/// 2026-03-02 and 2026-03-09; `DutchVendor` sells 3.5 g of MDMA on both, with one key.
fn populate(path: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut options = StoreOptions::new(Location::SqliteFile(path.to_path_buf()));
        options.create = true;
        let store = Store::open(&options).await.unwrap();
        for (week, price) in [(0i64, "35.00"), (1, "31.50")] {
            let at = Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap() + Duration::weeks(week);
            for (market, amount, currency) in [
                ("alpha", price, "USD"),
                ("beta", if week == 0 { "0.0005" } else { "0.0004" }, "BTC"),
            ] {
                let name = MarketName::new(market).unwrap();
                let crawl = store
                    .begin_crawl(std::slice::from_ref(&name), &serde_json::json!({}), at)
                    .await
                    .unwrap();
                let capture = |url: &str| Capture {
                    market: name.clone(),
                    crawl,
                    url: format!("http://{market}.onion/{url}"),
                    final_url: None,
                    fetched_at: at,
                    status: 200,
                    headers: vec![],
                    body: format!("<html>{url} {week}</html>").into_bytes(),
                    truncated: None,
                    elapsed_ms: None,
                };
                let mut page = Extraction::empty(PageKind::Listing, "test@1");
                page.listings.push(Listing {
                    key: "7".to_string(),
                    title: Some("3.5g Dutch MDMA crystal".to_string()),
                    vendor: Some("DutchVendor".to_string()),
                    category: vec!["Drugs".to_string(), "MDMA".to_string()],
                    price: Some(Money::new(amount, currency).unwrap()),
                    quantity: Some(Quantity {
                        count: 1,
                        amount: "3.5".parse().unwrap(),
                        unit: "g".to_string(),
                    }),
                    ships_from: Some(Country::from_code("NL").unwrap()),
                    ships_to: vec![Country::from_code("WW").unwrap()],
                    ..Listing::default()
                });
                page.feedback.push(FeedbackEntry {
                    vendor: None,
                    listing_key: None,
                    rating: FeedbackRating::Positive,
                    text: format!("good stuff, week {week}"),
                    date_text: None,
                    left_on: Some(at.date_naive() - Duration::days(1)),
                    left_on_within_days: 0,
                    item: None,
                    price: None,
                });
                store.ingest(&capture("listing/7"), &page).await.unwrap();
                let mut profile = Extraction::empty(PageKind::Vendor, "test@1");
                profile.vendors.push(Vendor {
                    handle: "DutchVendor".to_string(),
                    rating: Some(4.9),
                    sales: Some(100 + week as u64),
                    pgp_fingerprint: Some(
                        PgpFingerprint::new("0123456789abcdef0123456789abcdef01234567").unwrap(),
                    ),
                    ..Vendor::default()
                });
                store
                    .ingest(&capture("vendor/DutchVendor"), &profile)
                    .await
                    .unwrap();
            }
        }
        store.close().await;
    });
}

fn run(dir: &Path, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--db", "store.sqlite"]);
    let output = dnmscope(dir, &all);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    stdout(&output)
}

#[test]
fn vendor_history_prints_a_table_csv_or_json() {
    let dir = tempfile::tempdir().unwrap();
    populate(&dir.path().join("store.sqlite"));
    let table = run(
        dir.path(),
        &[
            "query",
            "vendor",
            "--market",
            "alpha",
            "--handle",
            "dutchvendor",
        ],
    );
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("day"), "{table}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("2026-03-09") && l.contains("31.5")),
        "{table}"
    );
    let csv = run(
        dir.path(),
        &[
            "query",
            "vendor",
            "--market",
            "alpha",
            "--handle",
            "DutchVendor",
            "--format",
            "csv",
        ],
    );
    assert_eq!(
        csv.lines().next().unwrap(),
        "day,listings,median_price_usd,rating,profile_sales,feedback_entries"
    );
    assert!(csv.contains("2026-03-02,1,35,4.9,100,0"), "{csv}");
    let json = run(
        dir.path(),
        &[
            "query",
            "vendor",
            "--market",
            "alpha",
            "--handle",
            "DutchVendor",
            "--format",
            "json",
        ],
    );
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Days with a sighting or a feedback entry: 03-01, 03-02, 03-08, 03-09.
    assert_eq!(rows.as_array().unwrap().len(), 4, "{json}");
    assert_eq!(rows[3]["profile_sales"], 101);
}

/// A vendor's history reads only that vendor's rows, except where a coin price needs the
/// market's rates of the day: then they come from every listing of the market, as in the
/// report (here another vendor's page on `beta` shows 80 USD beside 0.001 BTC on 2026-03-02).
#[test]
fn vendor_history_converts_coin_prices_with_the_markets_rates_of_the_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    populate(&path);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Store::open(&StoreOptions::new(Location::SqliteFile(path.clone())))
            .await
            .unwrap();
        let name = MarketName::new("beta").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 13, 0, 0).unwrap();
        let crawl = store
            .begin_crawl(std::slice::from_ref(&name), &serde_json::json!({}), at)
            .await
            .unwrap();
        let mut page = Extraction::empty(PageKind::Listing, "test@1");
        page.listings.push(Listing {
            key: "8".to_string(),
            title: Some("1g speed".to_string()),
            vendor: Some("OtherVendor".to_string()),
            price: Some(Money::new("0.001", "BTC").unwrap()),
            other_prices: vec![Money::new("80.00", "USD").unwrap()],
            ..Listing::default()
        });
        let capture = Capture {
            market: name.clone(),
            crawl,
            url: "http://beta.onion/listing/8".to_string(),
            final_url: None,
            fetched_at: at,
            status: 200,
            headers: vec![],
            body: b"<html>listing 8</html>".to_vec(),
            truncated: None,
            elapsed_ms: None,
        };
        store.ingest(&capture, &page).await.unwrap();
        store.close().await;
    });
    let csv = run(
        dir.path(),
        &[
            "query",
            "vendor",
            "--market",
            "beta",
            "--handle",
            "DutchVendor",
            "--format",
            "csv",
        ],
    );
    // 0.0005 BTC at the market's 80,000 USD on 03-02; no rate is known on 03-09.
    assert!(csv.contains("2026-03-02,1,40,4.9,100,0"), "{csv}");
    assert!(csv.contains("2026-03-09,1,,4.9,101,0"), "{csv}");
}

#[test]
fn price_trends_convert_coin_prices_with_imported_rates() {
    let dir = tempfile::tempdir().unwrap();
    populate(&dir.path().join("store.sqlite"));
    // Before any rate is known, the BTC-only market's prices cannot be converted.
    let csv = run(
        dir.path(),
        &[
            "query",
            "prices",
            "--substance",
            "MDMA",
            "--market",
            "beta",
            "--format",
            "csv",
        ],
    );
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
    std::fs::write(
        dir.path().join("btc.csv"),
        "date,currency,usd\n2026-03-02,BTC,70000\n2026-03-09,BTC,80000\n",
    )
    .unwrap();
    let imported = run(dir.path(), &["rates", "import", "--csv", "btc.csv"]);
    assert!(imported.starts_with("2 new rates"), "{imported}");
    let again = run(dir.path(), &["rates", "import", "--csv", "btc.csv"]);
    assert!(again.starts_with("0 new rates"), "{again}");
    let csv = run(
        dir.path(),
        &[
            "query",
            "prices",
            "--substance",
            "MDMA",
            "--origin",
            "nl",
            "--format",
            "csv",
        ],
    );
    // 0.0005 BTC × 70,000 = 35 USD for 3.5 g: 10 USD per gram; the next week 32 / 3.5.
    assert!(csv.contains("beta,2026-03-02,MDMA,NL,g,1,10,"), "{csv}");
    assert!(csv.contains("beta,2026-03-09,MDMA,NL,g,1,9.14,"), "{csv}");
    assert!(csv.contains("alpha,2026-03-09,MDMA,NL,g,1,9,"), "{csv}");
    let none = run(
        dir.path(),
        &[
            "query",
            "prices",
            "--substance",
            "Heroin",
            "--format",
            "csv",
        ],
    );
    assert_eq!(none.lines().count(), 1, "{none}");
}

#[test]
fn market_timelines_and_vendor_links_with_decisions() {
    let dir = tempfile::tempdir().unwrap();
    populate(&dir.path().join("store.sqlite"));
    let timeline = run(
        dir.path(),
        &["query", "market", "--market", "alpha", "--format", "csv"],
    );
    assert_eq!(
        timeline.lines().next().unwrap(),
        "period_start,listings,active_vendors,new_vendors,departed_vendors,feedback_entries,events"
    );
    assert!(timeline.contains("2026-03-02,1,1,1,0,1,"), "{timeline}");
    let links = run(dir.path(), &["query", "links", "--format", "csv"]);
    assert!(
        links.contains("alpha,DutchVendor,beta,DutchVendor"),
        "{links}"
    );
    assert!(links.contains(",probable,true,"), "{links}");
    let done = run(
        dir.path(),
        &[
            "links",
            "reject",
            "alpha:DutchVendor",
            "beta:dutchvendor",
            "--note",
            "a copycat",
        ],
    );
    assert!(done.contains("rejected"), "{done}");
    let links = run(
        dir.path(),
        &[
            "query",
            "links",
            "--handle",
            "dutchvendor",
            "--format",
            "csv",
        ],
    );
    assert!(links.contains(",rejected,"), "{links}");
    run(
        dir.path(),
        &["links", "confirm", "beta:DutchVendor", "alpha:DutchVendor"],
    );
    let links = run(dir.path(), &["query", "links", "--market", "beta"]);
    assert!(links.contains("confirmed"), "{links}");
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    populate(&dir.path().join("store.sqlite"));
    let cases: &[(&[&str], &str)] = &[
        (
            &["query", "vendor", "--market", "alpha", "--handle", "nobody"],
            "no observation of this vendor",
        ),
        (
            &["query", "market", "--market", "gamma"],
            "no observation of this market",
        ),
        (&["query", "prices", "--origin", "Narnia"], "origin filter"),
        (
            &["query", "prices", "--market", "Not A Market"],
            "market filter",
        ),
        (
            &["links", "confirm", "alpha", "beta:x"],
            "is not MARKET:HANDLE",
        ),
        (&["links", "confirm", "alpha:x", "alpha:y"], "same market"),
        (
            &["rates", "import", "--csv", "missing.csv"],
            "reading the rates file",
        ),
    ];
    for (args, expected) in cases {
        let mut all = args.to_vec();
        all.extend(["--db", "store.sqlite"]);
        let output = dnmscope(dir.path(), &all);
        assert_clean_failure(&output);
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    std::fs::write(
        dir.path().join("bad.csv"),
        "date,currency,usd\n2026-03-02,BTC,lots\n",
    )
    .unwrap();
    let output = dnmscope(
        dir.path(),
        &[
            "rates",
            "import",
            "--csv",
            "bad.csv",
            "--db",
            "store.sqlite",
        ],
    );
    assert_clean_failure(&output);
    assert!(
        stderr(&output).contains("bad.csv, line 2"),
        "{}",
        stderr(&output)
    );
    let output = dnmscope(dir.path(), &["query", "links", "--db", "absent.sqlite"]);
    assert_clean_failure(&output);
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
}
