"""Reads a Sluice archive with DuckDB, pyarrow, Polars, DataFusion and
Spark, as users will, each the way its documentation reads a Hive-partitioned Parquet
directory, and checks each against the corpus generator's expected counts:
row count, counts by level, column types, and the first and last timestamps
to the nanosecond.

    python3 tests/interop/check_archive.py DATA_DIR EXPECTED_JSON

Prints one line per check and exits non-zero on the first failure.

Spark's TIMESTAMP holds microseconds and Spark refuses Parquet's nanosecond
timestamps unless `spark.sql.legacy.parquet.nanosAsLong` is set; then it
reads them as nanoseconds since the epoch (BIGINT), which is what this
checks (and what README's "When one machine is not enough" says).
"""
import glob
import json
import sys

import datafusion
import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq


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
    last = con.execute(f"select epoch_ns(max(timestamp)) from {source}").fetchone()[0]
    check("duckdb last timestamp to the nanosecond", last, iso_to_ns(expected["last_timestamp"]))

    table = ds.dataset(f"{data_dir}/archive", format="parquet", partitioning="hive").to_table()
    check("pyarrow row count", table.num_rows, expected["accepted"])
    check("pyarrow timestamp type", str(table.schema.field("timestamp").type), "timestamp[ns, tz=UTC]")
    nanos = table.column("timestamp").cast("int64").to_pylist()
    check("pyarrow first timestamp to the nanosecond", min(nanos), iso_to_ns(expected["first_timestamp"]))
    check("pyarrow last timestamp to the nanosecond", max(nanos), iso_to_ns(expected["last_timestamp"]))
    counted = table.group_by("level").aggregate([([], "count_all")]).to_pylist()
    check("pyarrow counts by level", {row["level"]: row["count_all"] for row in counted}, expected["by_level"])
    layouts = {pq.read_metadata(f).metadata.get(b"sluice.archive_layout") for f in glob.glob(pattern, recursive=True)}
    check("every file names layout version 3", layouts, {b"3"})
    check("the archive names layout version 3", json.load(open(f"{data_dir}/archive/_sluice_layout.json")),
          {"layout_version": 3})
    check("pyarrow partition columns", (str(table.schema.field("date").type), str(table.schema.field("hour").type)),
          ("string", "int32"))

    logs = pl.scan_parquet(f"{data_dir}/archive/**/*.parquet", hive_partitioning=True)
    schema = logs.collect_schema()
    check("polars row count", logs.select(pl.len()).collect().item(), expected["accepted"])
    check("polars timestamp type", str(schema["timestamp"]), "Datetime(time_unit='ns', time_zone='UTC')")
    check("polars string columns", {str(schema[c]) for c in ["level", "message", "service", "attributes"]}, {"String"})
    by_level = dict(logs.group_by("level").len().collect().iter_rows())
    check("polars counts by level", by_level, expected["by_level"])
    first, last = logs.select(first=pl.col("timestamp").min().dt.epoch("ns"), last=pl.col("timestamp").max().dt.epoch("ns")).collect().row(0)
    check("polars first timestamp to the nanosecond", first, iso_to_ns(expected["first_timestamp"]))
    check("polars last timestamp to the nanosecond", last, iso_to_ns(expected["last_timestamp"]))

    context = datafusion.SessionContext()
    context.register_parquet("logs", f"{data_dir}/archive/", file_extension=".parquet",
                             table_partition_cols=[("date", pa.string()), ("hour", pa.string())])
    check("datafusion row count", context.sql("SELECT count(*) AS n FROM logs").to_pylist()[0]["n"], expected["accepted"])
    check("datafusion timestamp type", str(context.table("logs").schema().field("timestamp").type), "timestamp[ns, tz=UTC]")
    rows = context.sql("SELECT level, count(*) AS n FROM logs GROUP BY level").to_pylist()
    check("datafusion counts by level", {row["level"]: row["n"] for row in rows}, expected["by_level"])
    bounds = context.sql("SELECT CAST(min(timestamp) AS BIGINT) AS first, CAST(max(timestamp) AS BIGINT) AS last FROM logs").to_pylist()[0]
    check("datafusion first timestamp to the nanosecond", bounds["first"], iso_to_ns(expected["first_timestamp"]))
    check("datafusion last timestamp to the nanosecond", bounds["last"], iso_to_ns(expected["last_timestamp"]))

    check_spark(f"{data_dir}/archive", expected)


def check_spark(archive: str, expected: dict) -> None:
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[1]").appName("sluice-archive-check")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.legacy.parquet.nanosAsLong", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        logs = spark.read.parquet(archive)
        types = dict(logs.dtypes)
        check("spark row count", logs.count(), expected["accepted"])
        check("spark timestamp type (nanoseconds since the epoch)", types["timestamp"], "bigint")
        check("spark column types", {c: types[c] for c in ["level", "message", "service", "date", "hour"]},
              {"level": "string", "message": "string", "service": "string", "date": "date", "hour": "int"})
        by_level = {row["level"]: row["count"] for row in logs.groupBy("level").count().collect()}
        check("spark counts by level", by_level, expected["by_level"])
        bounds = logs.selectExpr("min(timestamp) AS first", "max(timestamp) AS last").collect()[0]
        check("spark first timestamp to the nanosecond", bounds["first"], iso_to_ns(expected["first_timestamp"]))
        check("spark last timestamp to the nanosecond", bounds["last"], iso_to_ns(expected["last_timestamp"]))
    finally:
        spark.stop()


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
