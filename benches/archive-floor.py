#!/usr/bin/env python3
"""How small the archive could get with a general-purpose compressor.

For each column of a Sluice archive (`DIR/archive/**/*.parquet`), prints
what it takes on disk and what `xz -9e` (LZMA at its strongest) makes of
the same values in the same order: one stream per column, every file's rows
in turn, so xz sees far more context than any Parquet page. Timestamps are
given to xz as 8-byte deltas, the form delta encoding stores; every other
column as its values, one per line. The last line sums, per column, the
smaller of the two (dictionary columns already beat xz): about the least a
time-ordered columnar archive compressed with LZMA, zstd or brotli can take
(an estimate, not a proof: xz is not an optimal coder). Getting well under
it takes a different encoding (message templates with their variables
stored apart, as CLP does) or a different row order.

    benches/archive-floor.py DATA_DIR RAW_BYTES

RAW_BYTES is the size of the input the archive was ingested from; sizes are
quoted as shares of it. xz runs at about 1 MB/s: use a corpus of about
100 MB (`sluice-corpus --size 100MB`). Needs pyarrow (no numpy).
"""

import glob
import lzma
import struct
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data_dir, raw = sys.argv[1], int(sys.argv[2])
    files = sorted(glob.glob(f"{data_dir}/archive/**/*.parquet", recursive=True))
    if not files:
        sys.exit(f"no Parquet files under {data_dir}/archive")
    stored: dict[str, int] = {}
    streams: dict[str, bytearray] = {}
    rows = 0
    for path in files:
        parquet = pq.ParquetFile(path)
        metadata = parquet.metadata
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for index in range(row_group.num_columns):
                column = row_group.column(index)
                name = column.path_in_schema
                stored[name] = stored.get(name, 0) + column.total_compressed_size
        table = parquet.read()
        rows += table.num_rows
        for name in table.column_names:
            column = table.column(name)
            stream = streams.setdefault(name, bytearray())
            if pa.types.is_timestamp(column.type):
                values = column.cast(pa.int64()).to_pylist()
                deltas = values[:1] + [b - a for a, b in zip(values, values[1:])]
                stream += struct.pack(f"<{len(deltas)}q", *deltas)
            else:
                stream += "".join("" if v is None else f"{v}\n" for v in column.to_pylist()).encode()
    print(f"{len(files)} files, {rows} rows, raw input {raw} bytes")
    print(f"{'column':20} {'stored':>10} {'% of raw':>9} {'xz -9e':>10} {'% of raw':>9}")
    total_stored = total_floor = total_best = 0
    for name in sorted(stored, key=stored.get, reverse=True):
        floor = len(lzma.compress(bytes(streams.get(name, b"")), preset=9 | lzma.PRESET_EXTREME))
        total_stored += stored[name]
        total_floor += floor
        total_best += min(floor, stored[name])
        print(f"{name:20} {stored[name]:10} {stored[name] / raw:9.2%} {floor:10} {floor / raw:9.2%}")
    print(f"{'all columns':20} {total_stored:10} {total_stored / raw:9.2%} {total_floor:10} {total_floor / raw:9.2%}")
    print(f"{'floor (smaller of the two, per column)':41} {total_best:10} {total_best / raw:9.2%}")


if __name__ == "__main__":
    main()
