"""What a Delta Lake table log beside the archive would cost (issue 18,
point 6): appends the rows of a data directory's archive to a Delta table in
COMMITS small commits, as a trickle of ingest batches would, then prints the
time per commit, the log's objects and bytes, and what a compaction
(`optimize.compact`) writes to the log.

    pip install deltalake pyarrow
    python3 benches/table-log-cost.py DATA_DIR [COMMITS]

Figures in README, "When one machine is not enough" (why no table log).
"""
import glob
import os
import shutil
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake


def main(data_dir: str, commits: int = 200) -> None:
    files = sorted(glob.glob(f"{data_dir}/archive/**/*.parquet", recursive=True))
    rows = pa.concat_tables([pq.read_table(f) for f in files])
    rows = rows.append_column("date", pc.strftime(rows.column("timestamp"), format="%Y-%m-%d"))
    path = tempfile.mkdtemp(prefix="delta-")
    try:
        step = max(1, rows.num_rows // commits)
        times = []
        for i in range(commits):
            start = time.perf_counter()
            write_deltalake(path, rows.slice(i * step, step), mode="append", partition_by=["date"])
            times.append(time.perf_counter() - start)
        times.sort()
        log = os.path.join(path, "_delta_log")
        names = os.listdir(log)
        size = sum(os.path.getsize(os.path.join(log, n)) for n in names)
        print(f"{commits} commits: median {times[commits // 2] * 1000:.1f} ms, p90 {times[int(commits * .9)] * 1000:.1f} ms")
        print(f"_delta_log: {len(names)} objects, {size} bytes ({size / commits:.0f} B per commit)")
        start = time.perf_counter()
        table = DeltaTable(path)
        read = table.to_pyarrow_table(columns=["timestamp"]).num_rows
        print(f"open the snapshot and read {read} rows: {time.perf_counter() - start:.3f} s")
        start = time.perf_counter()
        metrics = table.optimize.compact()
        latest = sorted(n for n in os.listdir(log) if n.endswith(".json"))[-1]
        print(f"optimize.compact: {time.perf_counter() - start:.3f} s, {metrics['numFilesRemoved']} files -> "
              f"{metrics['numFilesAdded']}, its log entry {os.path.getsize(os.path.join(log, latest))} bytes")
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
