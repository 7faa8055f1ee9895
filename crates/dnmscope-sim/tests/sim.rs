//! Behaviour of the simulator, end to end: the world is deterministic, every
//! page kind of every skin is served over real HTTP on loopback and matches
//! the truth, the gates (queue, captcha login, sessions, rate limit) behave
//! like a market's, and every state-changing or honeypot request is logged.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dnmscope_sim::corpus;
use dnmscope_sim::skin::Page;
use dnmscope_sim::view::Ctx;
use dnmscope_sim::{
    generate, write_mirror, Action, EventKind, Hostile, ManualClock, MirrorOptions, Outcome,
    ServerConfig, SimServer, SkinKind, World, WorldConfig,
};
use serde_json::Value;

fn small_world(seed: u64) -> Arc<World> {
    Arc::new(generate(&WorldConfig::small(seed)).expect("world generates"))
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A client that reaches every market host at the simulator's loopback
/// address, follows no redirects and keeps no cookies of its own.
fn client(world: &World, addr: SocketAddr) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    for market in &world.markets {
        for host in &market.hosts {
            builder = builder.resolve(host, addr);
        }
    }
    builder.build().unwrap()
}

struct Fetched {
    status: u16,
    cookies: Vec<(String, String)>,
    location: Option<String>,
    body: String,
}

async fn get(
    client: &reqwest::Client,
    addr: SocketAddr,
    host: &str,
    path: &str,
    cookies: &str,
) -> Fetched {
    let mut request = client.get(format!("http://{host}:{}{path}", addr.port()));
    if !cookies.is_empty() {
        request = request.header("cookie", cookies);
    }
    fetched(request.send().await.expect("request")).await
}

async fn fetched(response: reqwest::Response) -> Fetched {
    let status = response.status().as_u16();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    Fetched {
        status,
        cookies,
        location,
        body,
    }
}

fn escape(text: &str) -> String {
    dnmscope_sim::skin::render::esc(text)
}

/// Every value the truth expects must be on the page: strings verbatim
/// (HTML-escaped), numbers in one of the ways the skins print them.
fn assert_expected_on_page(expected: &Value, body: &str, context: &str) {
    match expected {
        Value::String(s) => {
            // The cards skin shows a verdict as an icon only: the truth's word is its meaning.
            let icon = match s.as_str() {
                "positive" if context.ends_with(".rating") => Some("ico-plus"),
                "neutral" if context.ends_with(".rating") => Some("ico-dot"),
                "negative" if context.ends_with(".rating") => Some("ico-minus"),
                _ => None,
            };
            let found = icon.is_some_and(|class| body.contains(class))
                || body.contains(&escape(s))
                || s.lines().all(|line| body.contains(&escape(line)));
            assert!(found, "{context}: {s:?} is not on the page");
        }
        Value::Number(n) => {
            let f = n.as_f64().unwrap();
            let forms = [
                n.to_string(),
                format!("{f:.2}"),
                format!("{f:.1}"),
                format!("{f:.8}"),
                format!("{f:.4}"),
                thousands(f),
            ];
            assert!(
                forms.iter().any(|form| body.contains(form.as_str())),
                "{context}: number {n} is not on the page"
            );
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| assert_expected_on_page(v, body, &format!("{context}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| assert_expected_on_page(v, body, &format!("{context}.{k}"))),
        Value::Bool(_) | Value::Null => {}
    }
}

fn thousands(value: f64) -> String {
    let text = format!("{value:.2}");
    let (int, frac) = text.split_once('.').unwrap();
    let mut out = String::new();
    for (n, ch) in int.chars().enumerate() {
        if n > 0 && (int.len() - n) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{out}.{frac}")
}

#[test]
fn same_seed_same_world_and_pages() {
    let render = |seed: u64| {
        let world = generate(&WorldConfig::small(seed)).unwrap();
        let truth = serde_json::to_string(&dnmscope_sim::truth::truth(&world)).unwrap();
        let pages: Vec<String> = corpus::pages(&world, 10, 2)
            .into_iter()
            .map(|p| p.html)
            .collect();
        (truth, pages)
    };
    let (truth_a, pages_a) = render(7);
    let (truth_b, pages_b) = render(7);
    assert_eq!(truth_a, truth_b, "same seed, same truth");
    assert_eq!(pages_a, pages_b, "same seed, same pages");
    let (truth_c, pages_c) = render(8);
    assert_ne!(truth_a, truth_c, "another seed, another world");
    assert_ne!(pages_a, pages_c);
}

#[test]
fn the_world_holds_what_research_needs() {
    let world = generate(&WorldConfig::small(3)).unwrap();
    let truth = dnmscope_sim::truth::truth(&world);
    assert_eq!(world.markets.len(), 3);
    let skins: BTreeSet<_> = world.markets.iter().map(|m| m.skin.name()).collect();
    assert_eq!(skins.len(), 3, "three different skins");

    // Scripted events: a seizure, an outage and an exit scam.
    let kinds: Vec<EventKind> = world.events.iter().map(|e| e.kind).collect();
    for kind in [EventKind::Seizure, EventKind::Outage, EventKind::ExitScam] {
        assert!(kinds.contains(&kind), "{kind:?} is scripted");
    }

    // Vendors on several markets, and migrations after the seizure keeping
    // the PGP key in most cases.
    assert!(world.persons.iter().any(|p| p.accounts.len() > 1));
    let migrants: Vec<_> = world
        .vendors
        .iter()
        .filter(|v| v.migrated_from.is_some())
        .collect();
    assert!(!migrants.is_empty(), "vendors migrate after a closure");
    for m in &migrants {
        let old = &world.vendors[m.migrated_from.unwrap() as usize];
        assert_eq!(old.person, m.person);
        assert_ne!(old.market, m.market);
        assert!(m.joined >= old.left.unwrap());
        assert_eq!(
            m.imported[0].market,
            world.markets[old.market as usize].name
        );
    }
    assert!(migrants
        .iter()
        .any(|m| m.pgp_key == world.vendors[m.migrated_from.unwrap() as usize].pgp_key));

    // Feedback for a share of real sales; fake campaigns with new accounts.
    let real_sales: u32 = truth.listings.iter().map(|l| l.real_sales).sum();
    let real_reviews = world.feedback.iter().filter(|f| !f.fake).count() as f64;
    assert!(real_sales > 500, "{real_sales} sales");
    let share = real_reviews / f64::from(real_sales);
    assert!(
        (0.55..0.75).contains(&share),
        "review share {share} near the configured 0.7 (reviews after the last day are lost)"
    );
    let fakes: Vec<_> = world.feedback.iter().filter(|f| f.fake).collect();
    assert!(fakes.len() >= 15);
    assert!(fakes.iter().all(|f| f.stars == 5 && f.buyer_orders == 0));
    assert!(world.vendors.iter().any(|v| v.fake_campaign.is_some()));

    // Harm-reduction discussion on the forums.
    use dnmscope_sim::Topic;
    let topics: BTreeSet<Topic> = world
        .posts
        .iter()
        .flat_map(|p| p.topics.iter().copied())
        .collect();
    for topic in [
        Topic::Dosing,
        Topic::ReagentTesting,
        Topic::Adulterants,
        Topic::OverdoseNaloxone,
        Topic::ScamWarning,
    ] {
        assert!(topics.contains(&topic), "{topic:?} is discussed");
    }

    // Real keys: every fingerprint is 40 hex digits, every armored block parses.
    assert!(world
        .pgp_keys
        .iter()
        .all(|k| k.fingerprint.len() == 40 && k.armored.contains("BEGIN PGP PUBLIC KEY BLOCK")));
    // Prices follow the BTC rate: the BTC figure of a listing changes with it.
    assert!(world.btc_usd.windows(2).any(|w| w[0] != w[1]));
}

#[tokio::test]
async fn every_page_kind_of_every_skin_is_served_and_matches_the_truth() {
    let world = small_world(11);
    let day = 5;
    let server = SimServer::start(world.clone(), ServerConfig::open(day), loopback())
        .await
        .unwrap();
    let addr = server.addr();
    let http = client(&world, addr);
    let pages = corpus::pages(&world, day, 4);
    let mut kinds_by_skin: BTreeSet<(String, &str)> = BTreeSet::new();
    let mut checked = 0;
    for page in &pages {
        let market = world
            .markets
            .iter()
            .find(|m| m.slug == page.market)
            .unwrap();
        if [
            "login",
            "queue",
            "banned",
            "redirect",
            "seizure",
            "error_503",
        ]
        .contains(&page.name.as_str())
        {
            continue;
        }
        let fetched = get(&http, addr, &market.hosts[0], &page.url, "").await;
        let context = format!("{} {}", market.slug, page.url);
        let expected_status = if page.page_kind == "not_found" {
            404
        } else {
            200
        };
        assert_eq!(fetched.status, expected_status, "{context}");
        assert_expected_on_page(&page.fields, &fetched.body, &context);
        kinds_by_skin.insert((market.skin.name().to_owned(), page.page_kind));
        checked += 1;
    }
    for skin in ["table", "cards", "list"] {
        for kind in [
            "home",
            "category_index",
            "search",
            "listing",
            "vendor",
            "feedback",
            "pgp_key",
            "forum_thread",
            "not_found",
        ] {
            assert!(
                kinds_by_skin.contains(&(skin.to_owned(), kind)),
                "{skin} serves {kind}"
            );
        }
    }
    assert!(checked > 80, "{checked} pages checked");
    assert!(server.violations().is_empty());

    // A mirror serves the same market.
    let market = &world.markets[1];
    assert!(market.hosts.len() > 1);
    let main = get(&http, addr, &market.hosts[0], "/index.php?p=cats", "").await;
    let mirror = get(&http, addr, &market.hosts[1], "/index.php?p=cats", "").await;
    assert_eq!(main.status, 200);
    assert_eq!(strip_honeypot(&main.body), strip_honeypot(&mirror.body));
    // An unknown host is refused.
    let unknown = http
        .get(format!("http://{addr}/"))
        .header("host", "nowhere.onion")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    server.stop().await;
}

fn strip_honeypot(body: &str) -> String {
    body.lines()
        .filter(|l| !l.contains("display:none"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Logs in the way a human would: wait out the queue, read the captcha.
async fn log_in(
    http: &reqwest::Client,
    server: &SimServer,
    clock: &ManualClock,
    market: u32,
) -> String {
    let world = server.world();
    let addr = server.addr();
    let host = world.markets[market as usize].hosts[0].clone();
    let queued = get(http, addr, &host, "/", "").await;
    assert!(
        queued.body.contains("http-equiv=\"refresh\""),
        "queue page first"
    );
    let ticket = queued
        .cookies
        .iter()
        .find(|(k, _)| k == "dq")
        .unwrap()
        .1
        .clone();
    clock.advance(Duration::from_secs(6));
    let form = get(http, addr, &host, "/", &format!("dq={ticket}")).await;
    let pass = form
        .cookies
        .iter()
        .find(|(k, _)| k == "dpass")
        .unwrap()
        .1
        .clone();
    assert!(
        form.body.contains("type=\"password\""),
        "login form after the queue"
    );
    let challenge = form
        .body
        .split("name=\"challenge\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let account = world.accounts.iter().find(|a| a.market == market).unwrap();
    let answer = world.captcha_answer(market, &challenge);
    let login_path = Ctx {
        world,
        market: &world.markets[market as usize],
        day: 0,
        layout: 1,
    }
    .url(&Page::Login);
    let response = http
        .post(format!("http://{host}:{}{login_path}", addr.port()))
        .header("cookie", format!("dpass={pass}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username={}&password={}&challenge={challenge}&captcha={answer}",
            account.username, account.password
        ))
        .send()
        .await
        .unwrap();
    let logged = fetched(response).await;
    let sid = logged
        .cookies
        .iter()
        .find(|(k, _)| k == "sid")
        .expect("session cookie")
        .1
        .clone();
    format!("dpass={pass}; sid={sid}")
}

#[tokio::test]
async fn gates_behave_like_a_market_front() {
    let world = small_world(5);
    let clock = Arc::new(ManualClock::default());
    let config = ServerConfig {
        forced_logout_rate: 0.0,
        session_ttl: Duration::from_secs(120),
        ..ServerConfig::default()
    };
    let server = SimServer::start_with_clock(world.clone(), config, loopback(), clock.clone())
        .await
        .unwrap();
    let addr = server.addr();
    let http = client(&world, addr);
    let host = world.markets[0].hosts[0].clone();

    // Coming back to the queue before its time gets the ticket banned.
    let queued = get(&http, addr, &host, "/", "").await;
    assert_eq!(queued.status, 200);
    let ticket = &queued.cookies.iter().find(|(k, _)| k == "dq").unwrap().1;
    let early = get(&http, addr, &host, "/", &format!("dq={ticket}")).await;
    assert!(early.body.contains("banned"), "early return is banned");

    // A wrong captcha is refused.
    clock.advance(Duration::from_secs(6));
    let fresh = get(&http, addr, &host, "/", "").await;
    let t = &fresh.cookies.iter().find(|(k, _)| k == "dq").unwrap().1;
    clock.advance(Duration::from_secs(6));
    let form = get(&http, addr, &host, "/", &format!("dq={t}")).await;
    let pass = &form.cookies.iter().find(|(k, _)| k == "dpass").unwrap().1;
    let account = world.accounts.iter().find(|a| a.market == 0).unwrap();
    let wrong = http
        .post(format!("http://{host}:{}/login", addr.port()))
        .header("cookie", format!("dpass={pass}"))
        .body(format!(
            "username={}&password={}&challenge=nope&captcha=AAAAAA",
            account.username, account.password
        ))
        .send()
        .await
        .unwrap();
    let wrong = fetched(wrong).await;
    assert!(wrong.body.contains("Wrong captcha"));
    assert!(wrong.cookies.iter().all(|(k, _)| k != "sid"));

    // The right one logs in; pages show the account.
    let cookies = log_in(&http, &server, &clock, 0).await;
    let home = get(&http, addr, &host, "/", &cookies).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains(&world.accounts[0].username));
    assert!(home.body.contains("Featured listings"));

    // Too many requests in the window: the session is banned.
    let mut banned = false;
    for _ in 0..40 {
        let page = get(&http, addr, &host, "/categories", &cookies).await;
        if page.body.contains("too many requests") {
            banned = true;
            break;
        }
    }
    assert!(banned, "the rate limit bans the session");

    // Sessions expire (the queue pass outlives them).
    clock.advance(Duration::from_secs(601));
    let cookies = log_in(&http, &server, &clock, 0).await;
    assert!(get(&http, addr, &host, "/categories", &cookies)
        .await
        .body
        .contains("Categories"));
    clock.advance(Duration::from_secs(121));
    let expired = get(&http, addr, &host, "/categories", &cookies).await;
    assert!(
        expired.body.contains("session has expired"),
        "{}",
        expired.body
    );
    assert!(expired.body.contains("type=\"password\""));

    let outcomes: Vec<Outcome> = server.requests().into_iter().map(|r| r.outcome).collect();
    for wanted in [
        Outcome::Queue,
        Outcome::Banned,
        Outcome::LoginForm,
        Outcome::LoginFailed,
        Outcome::LoggedIn,
        Outcome::SessionEnded,
    ] {
        assert!(outcomes.contains(&wanted), "{wanted:?} in the log");
    }
    assert!(
        server.violations().is_empty(),
        "no state-changing request so far"
    );
    server.stop().await;
}

#[tokio::test]
async fn state_changing_and_honeypot_requests_are_logged_as_violations() {
    let world = small_world(5);
    let server = SimServer::start(world.clone(), ServerConfig::open(3), loopback())
        .await
        .unwrap();
    let addr = server.addr();
    let http = client(&world, addr);
    let mut wanted = Vec::new();
    for market in &world.markets {
        let host = &market.hosts[0];
        let listing = world
            .listings
            .iter()
            .find(|l| l.market == market.id && world.listing_active(l, 3))
            .unwrap();
        let home = get(&http, addr, host, &market.skin.url(&Page::Home), "").await;
        // The honeypot is on the page, hidden.
        // Hidden by an inline style, or (list skin) by a class its stylesheet hides.
        let hidden = home
            .body
            .split("<div style=\"display:none\"><a href=\"")
            .nth(1)
            .or_else(|| {
                home.body
                    .split("<div class=\"aux-links\"><a href=\"")
                    .nth(1)
            })
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let paths = [
            (
                market.skin.buy_url(&listing.public_id),
                Outcome::StateChanging(Action::Buy),
            ),
            (
                market.skin.logout_url("t"),
                Outcome::StateChanging(Action::Logout),
            ),
            (
                market.skin.message_url("someone"),
                Outcome::StateChanging(Action::Message),
            ),
            (
                market.skin.vote_url(1),
                Outcome::StateChanging(Action::Vote),
            ),
            (hidden.replace("&amp;", "&"), Outcome::Honeypot),
        ];
        for (path, outcome) in paths {
            let response = get(&http, addr, host, &path, "").await;
            assert_eq!(response.status, 403, "{path}");
            wanted.push((path, outcome));
        }
    }
    let violations = server.violations();
    assert_eq!(violations.len(), wanted.len());
    for (record, (path, outcome)) in violations.iter().zip(&wanted) {
        assert_eq!(&record.target, path);
        assert_eq!(&record.outcome, outcome);
        assert!(record.headers.iter().any(|(k, _)| k == "host"));
    }
    // Ordinary requests are logged too, but are not violations.
    assert_eq!(
        server.requests().len(),
        violations.len() + world.markets.len()
    );
    server.stop().await;
}

#[tokio::test]
async fn seizure_outage_and_exit_scam_change_what_is_served() {
    let world = small_world(9);
    let server = SimServer::start(world.clone(), ServerConfig::open(0), loopback())
        .await
        .unwrap();
    let addr = server.addr();
    let http = client(&world, addr);
    for event in &world.events {
        let market = &world.markets[event.market as usize];
        server.set_day(event.day.saturating_sub(1));
        let before = get(
            &http,
            addr,
            &market.hosts[0],
            &market.skin.url(&Page::Home),
            "",
        )
        .await;
        assert_eq!(before.status, 200);
        assert!(
            before.body.contains("Featured listings"),
            "{:?} day before",
            event.kind
        );
        server.set_day(event.day);
        let after = get(
            &http,
            addr,
            &market.hosts[0],
            &market.skin.url(&Page::Home),
            "",
        )
        .await;
        match event.kind {
            EventKind::Seizure => {
                assert_eq!(after.status, 200, "a seizure banner is served with 200");
                assert!(after.body.contains("HAS BEEN SEIZED"));
            }
            EventKind::Outage | EventKind::ExitScam => assert_eq!(after.status, 503),
        }
        if let Some(until) = event.until {
            server.set_day(until);
            assert_eq!(
                get(&http, addr, &market.hosts[0], "/index.php", "")
                    .await
                    .status,
                200,
                "back after the outage"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn hostile_modes_misbehave_on_request() {
    let world = small_world(4);
    let config = ServerConfig {
        hostile: Hostile::ALL.into_iter().collect(),
        layout_change_day: Some(8),
        ..ServerConfig::open(2)
    };
    let server = SimServer::start(world.clone(), config, loopback())
        .await
        .unwrap();
    let addr = server.addr();
    let http = client(&world, addr);
    let market = &world.markets[0];
    let host = &market.hosts[0];

    let home = get(&http, addr, host, "/", "").await;
    for path in ["/h/offsite", "/h/local", "/h/bomb", "/h/truncated"] {
        assert!(home.body.contains(path), "home links {path}");
    }
    let offsite = get(&http, addr, host, "/h/offsite", "").await;
    assert_eq!(offsite.status, 302);
    assert_eq!(
        offsite.location.as_deref(),
        Some("http://example.com/collect")
    );
    let local = get(&http, addr, host, "/h/local", "").await;
    assert!(local.location.unwrap().starts_with("http://127.0.0.1"));
    let file = get(&http, addr, host, "/h/file", "").await;
    assert!(file.location.unwrap().starts_with("file://"));

    let bomb = http
        .get(format!("http://{host}:{}/h/bomb", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(bomb.headers()["content-encoding"], "gzip");
    let compressed = bomb.bytes().await.unwrap();
    assert!(
        compressed.len() < 2 << 20,
        "small on the wire: {}",
        compressed.len()
    );
    let mut inflated = 0u64;
    let mut decoder = flate2::read::GzDecoder::new(&compressed[..]);
    inflated += std::io::copy(&mut decoder, &mut std::io::sink()).unwrap();
    assert_eq!(inflated, 64 << 20, "inflates to 64 MiB");

    let truncated = http
        .get(format!("http://{host}:{}/h/truncated", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(truncated.headers()["content-length"], "100000");
    assert!(truncated.bytes().await.is_err(), "the body ends early");

    let listing = world
        .listings
        .iter()
        .find(|l| l.market == 0 && world.listing_active(l, 2))
        .unwrap();
    let malformed = get(
        &http,
        addr,
        host,
        &market.skin.url(&Page::Listing {
            id: listing.public_id.clone(),
        }),
        "",
    )
    .await;
    assert!(malformed.body.starts_with("<!DOCTYPE html>"));
    assert!(malformed.body.contains("<div <<p"));

    // Layout change: the same page, other class names.
    let before = get(&http, addr, host, "/categories", "").await;
    server.set_day(8);
    let after = get(&http, addr, host, "/categories", "").await;
    assert!(before.body.contains("class=\"categories\""));
    assert!(!after.body.contains("class=\"categories\""));
    assert!(after.body.contains("class=\"n2-categories\""));
    server.stop().await;
}

/// A host alias (an onion address of a private Tor network in front of the simulator) is
/// answered as the market it maps to; other unknown hosts still are not.
#[tokio::test]
async fn a_host_alias_is_answered_as_its_market() {
    let world = small_world(5);
    let alias = "aliasaliasaliasaliasaliasaliasaliasaliasaliasaliasalias.onion";
    let market = &world.markets[1];
    let config = ServerConfig {
        host_aliases: [(alias.to_owned(), market.hosts[0].clone())]
            .into_iter()
            .collect(),
        ..ServerConfig::open(1)
    };
    let server = SimServer::start(world.clone(), config, loopback())
        .await
        .unwrap();
    let addr = server.addr();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .resolve(alias, addr)
        .resolve("unknownunknown.onion", addr)
        .build()
        .unwrap();
    let aliased = get(&http, addr, alias, "/", "").await;
    assert_eq!(aliased.status, 200);
    // The market's own page.
    assert!(
        aliased
            .body
            .contains(&format!("<title>Home | {}</title>", market.name)),
        "the alias serves the market's page: {}",
        aliased.body
    );
    let unknown = get(&http, addr, "unknownunknown.onion", "/", "").await;
    assert_eq!(unknown.status, 404);
    let log = server.requests();
    assert_eq!(log[0].host, alias, "the log keeps the host as asked");
    assert_eq!(log[0].market, Some(market.id));
    assert_eq!(log[1].market, None);
    server.stop().await;
}

#[tokio::test]
async fn same_seed_same_bytes_over_http() {
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let world = small_world(21);
        let clock = Arc::new(ManualClock::default());
        let config = ServerConfig {
            forced_logout_rate: 0.0,
            ..ServerConfig::default()
        };
        let server = SimServer::start_with_clock(world.clone(), config, loopback(), clock.clone())
            .await
            .unwrap();
        let http = client(&world, server.addr());
        let cookies = log_in(&http, &server, &clock, 2).await;
        let host = world.markets[2].hosts[0].clone();
        let mut seen = Vec::new();
        for path in ["/", "/browse", "/board/page/1"] {
            seen.push(get(&http, server.addr(), &host, path, &cookies).await.body);
        }
        bodies.push((cookies, seen));
        server.stop().await;
    }
    assert_eq!(bodies[0], bodies[1]);
}

#[test]
fn truth_and_corpus_are_written() {
    let world = generate(&WorldConfig::small(2)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let truth_path = dir.path().join("truth.json");
    dnmscope_sim::truth::write_truth(&world, &truth_path).unwrap();
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(&truth_path).unwrap()).unwrap();
    assert_eq!(truth["format"], "dnmscope-sim-truth/1");
    assert_eq!(
        truth["listings"].as_array().unwrap().len(),
        world.listings.len()
    );
    let listing = &truth["listings"][0];
    let days = listing["end_day"].as_u64().unwrap() - listing["first_day"].as_u64().unwrap();
    assert_eq!(
        listing["price_usd"].as_array().unwrap().len() as u64,
        days,
        "a price per day"
    );

    let count = corpus::write_corpus(&world, 4, 2, &dir.path().join("corpus")).unwrap();
    assert!(count > 30);
    for market in &world.markets {
        let expected = dir
            .path()
            .join("corpus")
            .join(&market.slug)
            .join("expected");
        let files = std::fs::read_dir(&expected).unwrap().count();
        let pages = std::fs::read_dir(dir.path().join("corpus").join(&market.slug).join("pages"))
            .unwrap()
            .count();
        assert_eq!(files, pages);
        let login: Value =
            serde_json::from_str(&std::fs::read_to_string(expected.join("login.json")).unwrap())
                .unwrap();
        assert_eq!(login["page_kind"], "login");
    }

    // A bad path is a clear error.
    let error =
        dnmscope_sim::truth::write_truth(&world, &dir.path().join("missing/dir/truth.json"))
            .unwrap_err();
    assert!(
        error.to_string().contains("missing/dir/truth.json"),
        "{error}"
    );
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let mut config = WorldConfig::small(1);
    config.days = 0;
    assert!(generate(&config).unwrap_err().to_string().contains("days"));
    let mut config = WorldConfig::small(1);
    config.feedback_rate = 1.5;
    assert!(generate(&config)
        .unwrap_err()
        .to_string()
        .contains("feedback_rate"));
    let mut config = WorldConfig::small(1);
    config.events = Some(vec![dnmscope_sim::ScriptedEvent {
        market: 9,
        kind: EventKind::Seizure,
        day: 3,
        length: 0,
    }]);
    assert!(generate(&config)
        .unwrap_err()
        .to_string()
        .contains("market 9"));
}

#[tokio::test]
async fn the_server_refuses_to_listen_beyond_loopback() {
    let world = small_world(1);
    let error = SimServer::start(world, ServerConfig::open(0), "0.0.0.0:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("loopback"), "{error}");
}

#[tokio::test]
async fn forced_logouts_end_sessions_and_days_advance_with_the_clock() {
    let world = small_world(6);
    let clock = Arc::new(ManualClock::default());
    let config = ServerConfig {
        forced_logout_rate: 1.0,
        day: dnmscope_sim::DaySchedule::Advancing {
            from: 0,
            days_per_minute: 2.0,
        },
        ..ServerConfig::default()
    };
    let server = SimServer::start_with_clock(world.clone(), config, loopback(), clock.clone())
        .await
        .unwrap();
    let http = client(&world, server.addr());
    let cookies = log_in(&http, &server, &clock, 1).await;
    let host = world.markets[1].hosts[0].clone();
    let kicked = get(&http, server.addr(), &host, "/index.php?p=cats", &cookies).await;
    assert!(
        kicked.body.contains("type=\"password\""),
        "logged out at once"
    );
    assert_eq!(
        server.requests().last().unwrap().outcome,
        Outcome::SessionEnded
    );

    assert_eq!(server.day(), 0);
    clock.advance(Duration::from_secs(60));
    assert_eq!(server.day(), 2, "two days per minute");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(server.day(), world.config.days - 1, "the last day holds");
    server.stop().await;
}

fn world_from_file(text: &str, base: WorldConfig) -> World {
    generate(&WorldConfig::from_toml(text, base).expect("the world file reads")).expect("world")
}

#[test]
fn a_handles_world_changes_handles_in_every_family_and_records_which() {
    use dnmscope_sim::HandleFamily;
    let base = WorldConfig {
        vendors: 150,
        listings_per_vendor: 2.0,
        threads_per_market: 2,
        ..WorldConfig::small(23)
    };
    // The default world changes handles only by decorations.
    let plain = generate(&base).unwrap();
    assert!(plain.vendors.iter().all(|v| v.impersonates.is_none()
        && v.handle_change
            .is_none_or(|f| f == HandleFamily::Decorations)));
    let world = world_from_file(include_str!("../../../config/worlds/handles.toml"), base);
    let mut families = std::collections::BTreeMap::new();
    for v in &world.vendors {
        let Some(family) = v.handle_change else {
            continue;
        };
        *families.entry(format!("{family:?}")).or_insert(0) += 1;
        // The changed handle differs from the one it came from: the account it moved from, or
        // the person's own handle (on the person's accounts that neither moved nor changed).
        let person = &world.persons[v.person as usize];
        let sources: Vec<&str> = match v.migrated_from {
            Some(from) => {
                assert_eq!(world.vendors[from as usize].person, v.person);
                vec![&world.vendors[from as usize].handle]
            }
            None => person
                .accounts
                .iter()
                .map(|&a| &world.vendors[a as usize])
                .filter(|o| o.handle_change.is_none() && o.migrated_from.is_none())
                .map(|o| o.handle.as_str())
                .collect(),
        };
        for source in sources {
            assert_ne!(
                source.to_lowercase(),
                v.handle.to_lowercase(),
                "{family:?} left {source} as it was"
            );
        }
    }
    assert_eq!(families.len(), 5, "every family occurs: {families:?}");
    let changed: u32 = families.values().sum();
    assert!(changed >= 40, "{changed} changed handles: {families:?}");
    for (family, n) in &families {
        // Equal weights: each family's share is a fifth, within sampling noise.
        let share = f64::from(*n) / f64::from(changed);
        assert!((0.08..=0.35).contains(&share), "{family}: {n} of {changed}");
    }
    // The truth says which.
    let truth = serde_json::to_value(dnmscope_sim::truth::truth(&world)).unwrap();
    let recorded = truth["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v.get("handle_change").is_some())
        .count();
    assert_eq!(recorded as u32, changed);
}

#[test]
fn impersonators_copy_famous_handles_with_keys_and_persons_of_their_own() {
    let base = WorldConfig {
        vendors: 60,
        listings_per_vendor: 2.0,
        threads_per_market: 2,
        ..WorldConfig::small(29)
    };
    let world = world_from_file(
        include_str!("../../../config/worlds/impersonators.toml"),
        base,
    );
    let impersonators: Vec<_> = world
        .vendors
        .iter()
        .filter(|v| v.impersonates.is_some())
        .collect();
    assert_eq!(impersonators.len(), 12);
    let mut forged = 0;
    for fake in &impersonators {
        let victim = &world.vendors[fake.impersonates.unwrap() as usize];
        assert_ne!(fake.person, victim.person, "another person");
        assert_eq!(world.persons[fake.person as usize].accounts, vec![fake.id]);
        assert!(
            fake.handle
                .to_lowercase()
                .starts_with(&victim.handle.to_lowercase()),
            "{} copies {}",
            fake.handle,
            victim.handle
        );
        let victim_keys: BTreeSet<u32> = world.persons[victim.person as usize]
            .accounts
            .iter()
            .map(|&a| world.vendors[a as usize].pgp_key)
            .collect();
        assert!(!victim_keys.contains(&fake.pgp_key), "a key of its own");
        assert!(
            world.listings.iter().any(|l| l.vendor == fake.id),
            "{} sells",
            fake.handle
        );
        if let Some(rating) = fake.imported.first() {
            assert_eq!(rating.market, world.markets[victim.market as usize].name);
            // The copied vendor's own figures when the impersonator appeared.
            let sales = world
                .sales
                .iter()
                .filter(|s| {
                    s.day < fake.joined && world.listings[s.listing as usize].vendor == victim.id
                })
                .count();
            assert_eq!(
                rating.sales as usize, sales,
                "{} copies {}",
                fake.handle, victim.handle
            );
            forged += 1;
        }
    }
    assert!((2..=10).contains(&forged), "{forged} forged ratings of 12");
}

#[test]
fn a_fake_reviews_world_spreads_campaigns_with_real_texts_and_aged_buyers() {
    let base = WorldConfig {
        vendors: 80,
        listings_per_vendor: 3.0,
        threads_per_market: 2,
        ..WorldConfig::small(31)
    };
    let default = generate(&base).unwrap();
    let world = world_from_file(
        include_str!("../../../config/worlds/fake_reviews.toml"),
        base,
    );
    let fakes: Vec<_> = world.feedback.iter().filter(|f| f.fake).collect();
    assert!(fakes.len() >= 60, "{} fake reviews", fakes.len());
    let real_texts: BTreeSet<&str> = world
        .feedback
        .iter()
        .filter(|f| !f.fake && f.stars == 5)
        .map(|f| f.text.as_str())
        .collect();
    assert!(
        fakes.iter().all(|f| real_texts.contains(f.text.as_str())),
        "fake texts are real ones"
    );
    let aged = fakes.iter().filter(|f| f.buyer_orders > 0).count();
    assert!(
        (fakes.len() / 5..=fakes.len() * 4 / 5).contains(&aged),
        "{aged} of {} fake reviews by buyers with orders behind them",
        fakes.len()
    );
    for v in world.vendors.iter().filter(|v| v.fake_campaign.is_some()) {
        let (start, stop) = v.fake_campaign.unwrap();
        // At least two weeks, unless cut short by the account's end.
        let end = v.left.unwrap_or(world.config.days).min(world.config.days);
        assert!(
            stop - start >= 14 || stop == end,
            "{start}..{stop}, account ends {end}"
        );
        assert!(world
            .feedback
            .iter()
            .filter(|f| f.fake && f.vendor == v.id)
            .all(|f| (start..stop).contains(&f.day)));
    }
    // The default world's campaigns: two or three days, short texts, new accounts.
    let default_fakes: Vec<_> = default.feedback.iter().filter(|f| f.fake).collect();
    assert!(!default_fakes.is_empty());
    assert!(default_fakes
        .iter()
        .all(|f| f.buyer_orders == 0 && f.text.len() < 20));
}

/// One record of a WARC file: its headers and block.
struct WarcRecord {
    headers: Vec<(String, String)>,
    block: Vec<u8>,
}

impl WarcRecord {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The records of a WARC file, and how many gzip members it has (each member one record).
fn read_warc(path: &std::path::Path) -> (Vec<WarcRecord>, usize) {
    use std::io::Read;
    let bytes = std::fs::read(path).unwrap();
    let mut members = 0;
    let mut rest: &[u8] = &bytes;
    while !rest.is_empty() {
        let mut member = flate2::bufread::GzDecoder::new(rest);
        let mut text = Vec::new();
        member.read_to_end(&mut text).unwrap();
        assert!(text.starts_with(b"WARC/1.1\r\n"), "a member holds a record");
        rest = member.into_inner();
        members += 1;
    }
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut text)
        .unwrap();
    let mut records = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let head_end = at + find(&text[at..], b"\r\n\r\n").expect("record head");
        let head = std::str::from_utf8(&text[at..head_end]).unwrap();
        let mut lines = head.split("\r\n");
        assert_eq!(lines.next(), Some("WARC/1.1"));
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let record = WarcRecord {
            headers,
            block: Vec::new(),
        };
        let length: usize = record.header("Content-Length").parse().unwrap();
        let start = head_end + 4;
        let block = text[start..start + length].to_vec();
        assert_eq!(&text[start + length..start + length + 4], b"\r\n\r\n");
        at = start + length + 4;
        records.push(WarcRecord { block, ..record });
    }
    (records, members)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Every file under a directory, relative to it, with `/` between names.
fn files_under(dir: &std::path::Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

fn mirror_options(
    out: &std::path::Path,
    days: std::ops::RangeInclusive<u32>,
    adjust_extension: bool,
) -> MirrorOptions {
    MirrorOptions {
        days,
        out: out.to_owned(),
        adjust_extension,
        warc: true,
    }
}

#[tokio::test]
async fn a_mirror_holds_what_the_server_sends_and_every_listing() {
    let world = small_world(7);
    let day = 5;
    let dir = tempfile::tempdir().unwrap();
    let summary = write_mirror(&world, &mirror_options(dir.path(), day..=day, true)).unwrap();
    assert!(summary.pages > 100, "{summary:?}");
    assert_eq!(summary.warc_files.len(), world.markets.len());

    let server = SimServer::start(world.clone(), ServerConfig::open(day), loopback())
        .await
        .unwrap();
    let addr = server.addr();
    let http = client(&world, addr);
    let date = world.date(day).format("%Y-%m-%d").to_string();
    let noon =
        std::time::SystemTime::from(world.date(day).and_hms_opt(12, 0, 0).unwrap().and_utc());
    let mut total_bytes = 0u64;
    for market in &world.markets {
        assert_eq!(world.state(market.id, day), dnmscope_sim::MarketState::Up);
        let host = &market.hosts[0];
        let host_dir = dir.path().join(&market.slug).join(&date).join(host);
        let on_disk = files_under(&host_dir);
        let pages = summary.per_market_day[&(market.slug.clone(), day)];
        assert_eq!(on_disk.len(), pages, "{}", market.slug);

        // (e) The WARC: a warcinfo record, then a request and a response per page, each
        // record its own gzip member.
        let warc_path = dir
            .path()
            .join("warc")
            .join(format!("{}-{date}.warc.gz", market.slug));
        assert!(summary.warc_files.contains(&warc_path));
        let (records, members) = read_warc(&warc_path);
        assert_eq!(members, records.len());
        assert_eq!(records[0].header("WARC-Type"), "warcinfo");
        let responses: Vec<&WarcRecord> = records
            .iter()
            .filter(|r| r.header("WARC-Type") == "response")
            .collect();
        assert_eq!(responses.len(), pages, "one response record per page");
        assert_eq!(records.len(), 1 + 2 * pages);
        let mut named = BTreeSet::new();
        let mut listings = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for record in responses {
            assert_eq!(
                record.header("Content-Type"),
                "application/http;msgtype=response"
            );
            assert_eq!(
                record.header("WARC-Date"),
                format!("{date}T12:00:00Z"),
                "noon of the day"
            );
            assert!(ids.insert(record.header("WARC-Record-ID").to_owned()));
            let uri = record.header("WARC-Target-URI");
            let target = uri
                .strip_prefix(&format!("http://{host}"))
                .expect("the market's main host");
            let split = find(&record.block, b"\r\n\r\n").unwrap();
            let http_head = format!(
                "{}\r\n",
                std::str::from_utf8(&record.block[..split]).unwrap()
            );
            let body = &record.block[split + 4..];
            assert!(http_head.starts_with("HTTP/1.1 200 OK\r\n"));
            assert!(http_head.contains(&format!("Content-Length: {}\r\n", body.len())));

            // (a) The file holds the WARC's body, which is what the server sends for the URL.
            let name = dnmscope_sim::mirror::wget_file_name(target, true).unwrap();
            let file = host_dir.join(&name);
            assert_eq!(std::fs::read(&file).unwrap(), body, "{name}");
            named.insert(name.clone());
            let response = http
                .get(format!("http://{host}:{}{target}", addr.port()))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{target}");
            let date_header = response.headers()["date"].to_str().unwrap().to_owned();
            assert!(http_head.contains(&format!("Date: {date_header}\r\n")));
            let served = response.bytes().await.unwrap();
            assert_eq!(served.as_ref(), body, "{target} byte for byte");
            total_bytes += body.len() as u64;

            // (d) wget's timestamp: the server's Date, noon of the day.
            let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
            assert_eq!(modified, noon, "{name}");

            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            if let Some(Page::Listing { id }) = market.skin.route(path, query) {
                listings.insert(id);
            }
        }
        assert_eq!(named, on_disk, "every file is a page of the WARC");

        // (b) The mirror reached every listing on sale that day, and nothing else.
        let ctx = Ctx {
            world: &world,
            market,
            day,
            layout: 1,
        };
        let active: BTreeSet<String> = dnmscope_sim::view::active_listings(&ctx)
            .map(|l| l.public_id.clone())
            .collect();
        assert!(!active.is_empty());
        assert_eq!(listings, active, "{}", market.slug);
    }
    assert_eq!(total_bytes, summary.bytes);
    assert!(server.violations().is_empty());
    server.stop().await;

    // Same world, same mirror, byte for byte.
    let again = tempfile::tempdir().unwrap();
    let second = write_mirror(&world, &mirror_options(again.path(), day..=day, true)).unwrap();
    assert_eq!(second.per_market_day, summary.per_market_day);
    for (first, second) in summary.warc_files.iter().zip(&second.warc_files) {
        assert_eq!(
            std::fs::read(first).unwrap(),
            std::fs::read(second).unwrap()
        );
    }
}

#[test]
fn a_mirror_names_files_as_wget_and_refuses_to_lose_a_page() {
    let world = small_world(7);
    let day = 5;
    let date = world.date(day).format("%Y-%m-%d").to_string();
    let dir = tempfile::tempdir().unwrap();
    let options = MirrorOptions {
        warc: false,
        ..mirror_options(dir.path(), day..=day, true)
    };
    let summary = write_mirror(&world, &options).unwrap();
    assert!(summary.warc_files.is_empty());
    let root = |market: &dnmscope_sim::Market| {
        dir.path()
            .join(&market.slug)
            .join(&date)
            .join(&market.hosts[0])
    };
    let table = world
        .markets
        .iter()
        .find(|m| m.skin == SkinKind::Table)
        .unwrap();
    let files = files_under(&root(table));
    for name in ["index.html", "categories.html", "forum.html"] {
        assert!(files.contains(name), "{name}");
    }
    // A vendor's page and its feedback page, side by side.
    let both = files.iter().any(|f| {
        f.strip_prefix("vendor/")
            .and_then(|f| f.strip_suffix("/feedback.html"))
            .is_some_and(|handle| files.contains(&format!("vendor/{handle}.html")))
    });
    assert!(both, "{files:?}");
    let cards = world
        .markets
        .iter()
        .find(|m| m.skin == SkinKind::Cards)
        .unwrap();
    let files = files_under(&root(cards));
    assert!(files.contains("index.php?p=home.html"));
    assert!(files.iter().any(|f| f.starts_with("index.php?p=item&id=")));
    let list = world
        .markets
        .iter()
        .find(|m| m.skin == SkinKind::List)
        .unwrap();
    let files = files_under(&root(list));
    assert!(files.contains("index.html") && files.contains("browse.html"));
    assert!(files.contains("board/page/1.html"));
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("p/") && f.ends_with(".html") && !f.ends_with(".html.html")),
        "listing pages keep their own .html"
    );

    // Without --adjust-extension the table skin's /vendor/x and /vendor/x/feedback cannot
    // both be saved: an error names the clash.
    let plain = tempfile::tempdir().unwrap();
    let options = MirrorOptions {
        warc: false,
        ..mirror_options(plain.path(), day..=day, false)
    };
    let error = write_mirror(&world, &options).unwrap_err();
    let message = format!(
        "{error}: {}",
        std::error::Error::source(&error).map_or(String::new(), |s| s.to_string())
    );
    assert!(
        message.contains("is needed as a file for /vendor/") && message.contains("as a directory"),
        "{message}"
    );

    // Days outside the world are refused.
    let error = write_mirror(
        &world,
        &mirror_options(dir.path(), 0..=world.config.days, true),
    )
    .unwrap_err();
    assert!(error.to_string().contains("days"), "{error}");
}

#[test]
fn a_mirror_saves_the_seizure_banner_and_nothing_of_a_market_down() {
    let world = small_world(9);
    let seized = world
        .events
        .iter()
        .find(|e| e.kind == EventKind::Seizure)
        .unwrap();
    let outage = world
        .events
        .iter()
        .find(|e| e.kind == EventKind::Outage)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = MirrorOptions {
        warc: false,
        ..mirror_options(dir.path(), outage.day..=outage.day, true)
    };
    let summary = write_mirror(&world, &options).unwrap();
    let down = &world.markets[outage.market as usize];
    assert_eq!(summary.per_market_day[&(down.slug.clone(), outage.day)], 0);
    assert!(!dir.path().join(&down.slug).exists());

    let options = mirror_options(dir.path(), seized.day..=seized.day, true);
    let summary = write_mirror(&world, &options).unwrap();
    let market = &world.markets[seized.market as usize];
    assert_eq!(
        summary.per_market_day[&(market.slug.clone(), seized.day)],
        3
    );
    let date = world.date(seized.day).format("%Y-%m-%d").to_string();
    let host_dir = dir
        .path()
        .join(&market.slug)
        .join(&date)
        .join(&market.hosts[0]);
    for name in files_under(&host_dir) {
        let body = std::fs::read_to_string(host_dir.join(&name)).unwrap();
        assert!(body.contains("HAS BEEN SEIZED"), "{name}");
    }
}
