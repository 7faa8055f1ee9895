"""The peer of the store-writes benchmark: Python's sqlite3 `executemany` writing the same rows
into the same schema.

    python3 executemany.py SOURCE.sqlite MIGRATIONS_DIR

SOURCE is a store dnmscope just ingested into. A new database gets the same schema (the same
migration files, applied in order), the rows an ingest does not write (markets, crawls, raw
bodies, captures) copied untimed, then every row the ingest wrote (extractions, entities,
observations, feedback and its sightings, forum rows, events) inserted table by table with one
`executemany` per table in one transaction: the peer's best case (statements prepared once, no
lookups, no per-page transactions). The FTS triggers fire as they do for dnmscope. Prints one
JSON line: rows written, CPU seconds of the process while writing, wall seconds.
"""

import json
import os
import sqlite3
import sys
import tempfile
import time

WRITTEN = [
    "extractions",
    "pgp_keys",
    "vendors",
    "listings",
    "vendor_observations",
    "listing_observations",
    "feedback",
    "feedback_sightings",
    "forum_threads",
    "thread_observations",
    "forum_posts",
    "post_observations",
    "market_events",
]
COPIED = ["markets", "crawls", "raw_dictionaries", "blobs", "captures"]


def main():
    source, migrations = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "peer.sqlite")
        db = sqlite3.connect(target, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        for name in sorted(os.listdir(migrations)):
            if name.endswith(".sql"):
                with open(os.path.join(migrations, name)) as f:
                    db.executescript(f.read())
        db.execute("ATTACH DATABASE ? AS src", (source,))
        db.execute("BEGIN")
        for table in COPIED:
            db.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
        db.execute("COMMIT")
        tables = []
        for table in WRITTEN:
            rows = db.execute(f"SELECT * FROM src.{table} ORDER BY rowid").fetchall()
            tables.append((table, rows))
        db.execute("DETACH DATABASE src")
        written = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        db.execute("BEGIN")
        for table, rows in tables:
            if not rows:
                continue
            marks = ", ".join("?" * len(rows[0]))
            db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            written += len(rows)
        db.execute("COMMIT")
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        db.close()
    print(json.dumps({"rows": written, "cpu_s": cpu, "wall_s": wall}))


if __name__ == "__main__":
    main()
