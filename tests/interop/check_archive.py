"""Reads a Sluice archive with DuckDB and pyarrow, as users will, and checks
it against the corpus generator's expected counts.

    python3 tests/interop/check_archive.py DATA_DIR EXPECTED_JSON

Prints one line per check and exits non-zero on the first failure.
"""
import json
import sys

import duckdb
import pyarrow.dataset as ds


def main(data_dir: str, expected_path: str) -> None:
    expected = json.load(open(expected_path))
    pattern = f"{data_dir}/archive/**/*.parquet"
    con = duckdb.connect()
    source = f"read_parquet('{pattern}', hive_partitioning = true)"

    rows = con.execute(f"select count(*) from {source}").fetchone()[0]
    check("duckdb row count", rows, expected["accepted"])

    types = dict(con.execute(f"select column_name, column_type from (describe select * from {source})").fetchall())
    check("duckdb timestamp is a UTC nanosecond timestamp", types["timestamp"] in ("TIMESTAMPTZ_NS", "TIMESTAMP_NS WITH TIME ZONE", "TIMESTAMP WITH TIME ZONE"), True)
    for column in ["timestamp", "observed_timestamp", "level", "severity_number", "message", "service", "host",
                   "trace_id", "span_id", "attributes", "notes", "producer", "date", "hour"]:
        check(f"duckdb column {column}", column in types, True)

    by_level = dict(con.execute(f"select level, count(*) from {source} group by level").fetchall())
    check("duckdb counts by level", by_level, expected["by_level"])
    by_service = dict(con.execute(f"select service, count(*) from {source} group by service").fetchall())
    check("duckdb counts by service", by_service, expected["by_service"])

    first = con.execute(f"select strftime(min(timestamp) at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%n') from {source}").fetchone()[0]
    check("duckdb first timestamp to the nanosecond", first + "Z", expected["first_timestamp"])

    table = ds.dataset(f"{data_dir}/archive", format="parquet", partitioning="hive").to_table()
    check("pyarrow row count", table.num_rows, expected["accepted"])
    check("pyarrow timestamp type", str(table.schema.field("timestamp").type), "timestamp[ns, tz=UTC]")
    last_ns = max(table.column("timestamp").cast("int64").to_pylist())
    check("pyarrow last timestamp to the nanosecond", last_ns, iso_to_ns(expected["last_timestamp"]))


def iso_to_ns(text: str) -> int:
    from datetime import datetime, timezone
    seconds, fraction = text.rstrip("Z").split(".")
    whole = datetime.strptime(seconds, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(whole.timestamp()) * 1_000_000_000 + int(fraction.ljust(9, "0"))


def check(name, actual, wanted) -> None:
    if actual != wanted:
        print(f"FAIL {name}: got {actual!r}, expected {wanted!r}")
        sys.exit(1)
    print(f"ok   {name}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
