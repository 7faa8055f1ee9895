-- A market event kind for the crawl's own record: `needs_human`, written when a market answers
-- with a login or captcha page and a person must log in and run `dnmscope session import`.

ALTER TABLE market_events DROP CONSTRAINT market_events_kind_check;
ALTER TABLE market_events ADD CONSTRAINT market_events_kind_check
    CHECK (kind IN ('takedown', 'seizure_banner', 'exit_scam', 'outage', 'mirror_change', 'needs_human'));
