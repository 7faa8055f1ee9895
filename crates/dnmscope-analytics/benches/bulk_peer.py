#!/usr/bin/env python3
"""The peer for the weekly benchmark's build rate: Python's sqlite3 storing the same kind of
listing observations into the same SQLite schema (every migration in migrations/sqlite applied),
three ways, in one transaction each, and the rows stored per CPU-second:

  row       executemany, one statement per row (the full-text trigger runs per statement)
  batch     multi-row INSERTs of 1,000 rows (as dnmscope's bulk path writes)
  deferred  executemany with the vendor index and the full-text trigger dropped, then the index
            built and the full-text index filled in one statement after the load

    python3 crates/dnmscope-analytics/benches/bulk_peer.py [ROWS]   (default 300000)
"""
import glob
import os
import sqlite3
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
COLUMNS = ("listing_id, extraction_id, crawl_id, capture_id, observed_at, parser_version, "
           "page_kind, title, vendor_id, price_amount, price_currency, category, quantity_count, "
           "quantity_amount, quantity_unit, ships_from, ships_to, data")


def rows(n):
    return [(k + 1, 1, 1, 1, "2026-01-05T12:00:00+00:00", "bench@1", "search",
             f"Cocaine {1 + k % 10} g, lot {k}", k % 2000 + 1, f"{20 + k % 300}.{k % 100:02}", "USD",
             '["Stimulants","Cocaine"]', 1, str(1 + k % 10), "g", "NL", '["WW"]', "{}")
            for k in range(n)]


def store(mode, data):
    path = os.path.join(tempfile.mkdtemp(), "peer.sqlite")
    db = sqlite3.connect(path)
    for migration in sorted(glob.glob(os.path.join(ROOT, "migrations", "sqlite", "*.sql"))):
        db.executescript(open(migration).read())
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    if mode == "deferred":
        db.executescript("DROP TRIGGER listing_observations_fts_insert;"
                         " DROP INDEX listing_observations_by_vendor;")
    marks = ",".join(["?"] * 18)
    started = time.process_time()
    if mode == "batch":
        per = 1000
        sql = f"INSERT INTO listing_observations ({COLUMNS}) VALUES " + ",".join([f"({marks})"] * per)
        for i in range(0, len(data), per):
            chunk = data[i:i + per]
            if len(chunk) < per:
                db.executemany(f"INSERT INTO listing_observations ({COLUMNS}) VALUES ({marks})", chunk)
            else:
                db.execute(sql, [v for r in chunk for v in r])
    else:
        db.executemany(f"INSERT INTO listing_observations ({COLUMNS}) VALUES ({marks})", data)
    if mode == "deferred":
        db.execute("CREATE INDEX listing_observations_by_vendor ON listing_observations"
                   " (vendor_id, observed_at, listing_id, price_currency, price_amount)")
        db.execute("INSERT INTO listing_observations_fts (rowid, title, description)"
                   " SELECT id, title, description FROM listing_observations")
    db.commit()
    return len(data) / (time.process_time() - started)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    data = rows(n)
    for mode in ("row", "batch", "deferred"):
        print(f"{mode:9} {n} rows: {store(mode, data):,.0f} rows per CPU-second")


if __name__ == "__main__":
    main()
