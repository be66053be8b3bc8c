"""The shared archive on S3: ingests with `sluice-ingest --archive
s3://sluice/logs` into a local S3-compatible server (moto in server mode,
started here; never a cloud), compacts, drops a day past the retention, and
after each step reads the archive back where it lives with `sluice sql
--archive`, DuckDB (httpfs) and pyarrow's S3 filesystem: all three must
agree on the row count and the first and last timestamps to the nanosecond,
and with the data directory's own answer.

    python3 tests/interop/s3_archive.py BIN_DIR WORK_DIR CORPUS EXPECTED_JSON

Prints one line per check and exits non-zero on the first failure.
"""
import json
import logging
import os
import pathlib
import socket
import subprocess
import sys

import boto3
import duckdb
import duckdb_extension_httpfs
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from moto.server import ThreadedMotoServer

BUCKET = "sluice"
PREFIX = "logs"
URL = f"s3://{BUCKET}/{PREFIX}"


def main(bin_dir: str, work: str, corpus: str, expected_path: str) -> None:
    expected = json.load(open(expected_path))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint)
        env.pop("SLUICE_DATA_DIR", None)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket=BUCKET)
        data = f"{work}/data"
        sluice_ingest = [f"{bin_dir}/sluice-ingest", "--data-dir", data]

        run(sluice_ingest + ["--archive", URL, "--batch-bytes", "60000", "--compact-after", "off", corpus], env)
        check("objects: one per archive file of the data directory", len(parquet_keys(s3)), local_files(data))
        answers = read_back("after ingest", bin_dir, data, endpoint, env)
        check("after ingest: rows", answers[0], expected["accepted"])
        check("after ingest: first timestamp", answers[1], iso_to_ns(expected["first_timestamp"]))
        check("after ingest: last timestamp", answers[2], iso_to_ns(expected["last_timestamp"]))

        run(sluice_ingest[:1] + ["compact"] + sluice_ingest[1:] + ["--zstd-level", "3", "--archive", URL], env)
        keys = parquet_keys(s3)
        check("after compaction: objects are compacted files", all(k.count("-") >= 2 for k in keys), True)
        check("after compaction: one object per hour", len(keys), local_files(data))
        check("after compaction: the same answers", read_back("after compaction", bin_dir, data, endpoint, env),
              answers)

        run(sluice_ingest[:1] + ["compact"] + sluice_ingest[1:]
            + ["--retention", "2d", "--now", "2024-03-04T00:00:00Z", "--archive", URL], env)
        keys = parquet_keys(s3)
        check("after retention: 2024-03-01 is gone", any("/date=2024-03-01/" in k for k in keys), False)
        kept = read_back("after retention", bin_dir, data, endpoint, env)
        check("after retention: fewer rows", 0 < kept[0] < answers[0], True)
    finally:
        server.stop()


def read_back(when, bin_dir, data, endpoint, env):
    """(rows, first ns, last ns), checked equal across every reader."""
    statement = ("SELECT count(*) AS n, CAST(min(timestamp) AS BIGINT) AS first, "
                 "CAST(max(timestamp) AS BIGINT) AS last FROM logs")
    local = sql([f"--data-dir={data}"], bin_dir, statement, env)
    remote = sql([f"--archive={URL}"], bin_dir, statement, env)
    check(f"{when}: sluice sql --archive {URL} agrees with the data directory", remote, local)

    con = duckdb.connect()
    extension = pathlib.Path(duckdb_extension_httpfs.__file__).parent / "extensions" / f"v{duckdb.__version__}" \
        / "httpfs.duckdb_extension"
    con.execute(f"LOAD '{extension}'")
    host = endpoint.removeprefix("http://")
    con.execute(f"SET s3_endpoint = '{host}'; SET s3_use_ssl = false; SET s3_url_style = 'path'; "
                "SET s3_region = 'us-east-1'; SET s3_access_key_id = 'testing'; SET s3_secret_access_key = 'testing'")
    source = f"read_parquet('{URL}/**/*.parquet', hive_partitioning = true)"
    # DuckDB reads Parquet's UTC nanosecond timestamps as TIMESTAMPTZ, which holds microseconds.
    duck = con.execute(f"select count(*), epoch_ns(min(timestamp)), epoch_ns(max(timestamp)) from {source}").fetchone()
    micros = (local[0], local[1] // 1000 * 1000, local[2] // 1000 * 1000)
    check(f"{when}: DuckDB httpfs agrees (to the microsecond, its TIMESTAMPTZ's unit)", tuple(duck), micros)

    fs = pafs.S3FileSystem(endpoint_override=host, scheme="http", access_key="testing", secret_key="testing",
                           region="us-east-1")
    table = ds.dataset(f"{BUCKET}/{PREFIX}", filesystem=fs, format="parquet", partitioning="hive").to_table(
        columns=["timestamp"])
    nanos = table.column("timestamp").cast("int64")
    arrow = (table.num_rows, pc.min(nanos).as_py(), pc.max(nanos).as_py())
    check(f"{when}: pyarrow S3FileSystem agrees", arrow, local)
    return local


def sql(target, bin_dir, statement, env):
    out = run([f"{bin_dir}/sluice", "sql", statement, "--format", "csv"] + target, env)
    n, first, last = out.strip().splitlines()[1].split(",")
    return (int(n), int(first), int(last))


def parquet_keys(s3):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX + "/"):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".parquet")]
    return keys


def local_files(data):
    return sum(1 for _ in pathlib.Path(data, "archive").rglob("*.parquet"))


def run(command, env):
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso_to_ns(text: str) -> int:
    import datetime
    seconds, _, fraction = text.rstrip("Z").partition(".")
    whole = datetime.datetime.fromisoformat(seconds).replace(tzinfo=datetime.timezone.utc)
    return int(whole.timestamp()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))


def check(what, got, want):
    if got != want:
        sys.exit(f"FAILED {what}: got {got!r}, want {want!r}")
    print(f"ok {what}")


if __name__ == "__main__":
    main(*sys.argv[1:])
