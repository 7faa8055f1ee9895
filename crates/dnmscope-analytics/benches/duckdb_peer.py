"""The analyst's alternative to dnmscope's weekly indicators: DuckDB over the Parquet export.

Runs, over `tables/*.parquet` of a `dnmscope export --format parquet` directory, the same
questions the weekly benchmark asks the store (weekly activity, vendor spans, observed weeks,
the weekly activity filtered by a substance and by an origin, and one vendor's trend), each
twice, and prints wall time and row counts so they can be put beside the store's figures.

    python duckdb_peer.py EXPORT_DIR [VENDOR_MARKET VENDOR_HANDLE ...]

Needs `duckdb` (pip install duckdb). Reads only the local files it is given.
"""

import sys
import time

import duckdb

WEEK = "CAST(date_trunc('week', o.observed_at) AS DATE)"
JOINS = """FROM obs o JOIN listings l ON l.id = o.listing_id
           JOIN markets m ON m.id = l.market_id"""

QUERIES = {
    "activity": f"""
        SELECT m.name, {WEEK} AS w, COUNT(DISTINCT o.listing_id),
               COUNT(DISTINCT o.vendor_id), COUNT(*)
        {JOINS} GROUP BY 1, 2 ORDER BY 1, 2""",
    "vendor spans": f"""
        SELECT m.name, o.vendor_id, v.handle, MIN({WEEK}), MAX({WEEK}),
               COUNT(DISTINCT o.listing_id)
        {JOINS} JOIN vendors v ON v.id = o.vendor_id
        GROUP BY 1, 2, 3 ORDER BY 1, 2""",
    "observed weeks": f"SELECT DISTINCT m.name, {WEEK} AS w {JOINS} ORDER BY 1, 2",
    "activity, substance Cocaine": f"""
        SELECT m.name, {WEEK} AS w, COUNT(DISTINCT o.listing_id),
               COUNT(DISTINCT o.vendor_id), COUNT(*)
        {JOINS} WHERE o.category LIKE '%"Cocaine"]'
        GROUP BY 1, 2 ORDER BY 1, 2""",
    "activity, origin NL": f"""
        SELECT m.name, {WEEK} AS w, COUNT(DISTINCT o.listing_id),
               COUNT(DISTINCT o.vendor_id), COUNT(*)
        {JOINS} WHERE o.ships_from = 'NL'
        GROUP BY 1, 2 ORDER BY 1, 2""",
}

VENDOR_TREND = f"""
    SELECT CAST(o.observed_at AS DATE) AS d, COUNT(DISTINCT o.listing_id),
           median(CASE WHEN o.price_currency = 'USD'
                       THEN CAST(o.price_amount AS DOUBLE) END)
    {JOINS} JOIN vendors v ON v.id = o.vendor_id
    WHERE m.name = ? AND v.handle_key = lower(trim(?))
    GROUP BY 1 ORDER BY 1"""


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    tables = sys.argv[1].rstrip("/") + "/tables"
    vendors = sys.argv[2:]
    con = duckdb.connect()
    for name, file in [
        ("obs", "listing_observations"),
        ("listings", "listings"),
        ("markets", "markets"),
        ("vendors", "vendors"),
    ]:
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{tables}/{file}.parquet')"
        )
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"duckdb {duckdb.__version__}, {threads} threads")
    total = [0.0, 0.0]
    for name, sql in QUERIES.items():
        times = []
        for _ in range(2):
            started = time.perf_counter()
            rows = con.execute(sql).fetchall()
            times.append(time.perf_counter() - started)
        if not name.startswith("activity,"):
            total[0] += times[0]
            total[1] += times[1]
        print(f"  {name}: {times[0]:.2f} s, again {times[1]:.2f} s ({len(rows)} rows)")
    print(
        f"duckdb weekly indicators (activity, vendor spans, observed weeks): "
        f"{total[0]:.2f} s, again {total[1]:.2f} s"
    )
    if vendors:
        times = []
        days = 0
        for market, handle in zip(vendors[0::2], vendors[1::2]):
            started = time.perf_counter()
            rows = con.execute(VENDOR_TREND, [market, handle]).fetchall()
            times.append((time.perf_counter() - started) * 1000)
            days += len(rows)
        times.sort()
        print(
            f"duckdb one vendor's trend ({len(times)} vendors, {days / len(times):.0f} days each "
            f"on average): median {times[len(times) // 2]:.1f} ms, slowest {times[-1]:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
