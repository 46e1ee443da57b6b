"""One of `cargo xtask bench`'s Python engines (DuckDB or Polars), answering
queries over standard input and output, in the protocol of
`codelake-bench-engine` (xtask/bench-engine/src/main.rs):

    python_engine.py duckdb|duckdb-memory|polars TABLES_JSON

`duckdb-memory` loads every table into DuckDB's own in-memory tables
(`CREATE TABLE … AS SELECT * FROM read_parquet(…)`) before it says it is ready.

TABLES_JSON names each table (`tpch.lineitem`), its format (`parquet` or
`csv`), its path (a file, or a directory of `.parquet` files) and, for CSV,
its delimiter. The engine prints one JSON line when ready, then answers each
input line `{"sql": ...}` with `{"ms": F, "rows": [[...]]}` or `{"error": ...}`.
The time covers planning, running and collecting the result, as for the other
engines; turning the (small) result into text is not timed.
"""

import datetime
import decimal
import json
import os
import re
import sys
import time


def text(value):
    if value is None:
        return "NULL"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def duckdb_engine(tables, in_memory=False):
    import duckdb

    con = duckdb.connect()
    schemas = {name.split(".")[0] for name in tables if "." in name}
    for schema in sorted(schemas):
        con.execute(f"CREATE SCHEMA {schema}")
    for name, table in tables.items():
        path = table["path"]
        if table["format"] == "parquet":
            source = f"read_parquet('{path}/*.parquet')" if os.path.isdir(path) else f"read_parquet('{path}')"
        else:
            source = f"read_csv('{path}', delim='{table['delimiter']}', header=true)"
        kind = "TABLE" if in_memory else "VIEW"
        con.execute(f"CREATE {kind} {name} AS SELECT * FROM {source}")

    def run(sql):
        start = time.perf_counter()
        rows = con.execute(sql).fetchall()
        return (time.perf_counter() - start) * 1e3, rows

    return f"DuckDB {duckdb.__version__}", run


def polars_engine(tables):
    import polars as pl

    ctx = pl.SQLContext(register_globals=False)
    for name, table in tables.items():
        path = table["path"]
        if table["format"] == "parquet":
            frame = pl.scan_parquet(os.path.join(path, "*.parquet") if os.path.isdir(path) else path)
        else:
            frame = pl.scan_csv(path, separator=table["delimiter"], has_header=True)
        # Polars' SQL has one namespace: `tpch.lineitem` is registered as `lineitem`.
        ctx.register(name.split(".")[-1], frame)
    qualified = re.compile(r"\b(" + "|".join(sorted({n.split(".")[0] for n in tables})) + r")\.(?=\w)")

    def run(sql):
        sql = qualified.sub("", sql)
        start = time.perf_counter()
        frame = ctx.execute(sql, eager=False).collect()
        elapsed = (time.perf_counter() - start) * 1e3
        return elapsed, frame.rows()

    return f"Polars {pl.__version__}", run


def main():
    engines = {
        "duckdb": duckdb_engine,
        "duckdb-memory": lambda tables: duckdb_engine(tables, in_memory=True),
        "polars": polars_engine,
    }
    if len(sys.argv) != 3 or sys.argv[1] not in engines:
        sys.exit("usage: python_engine.py duckdb|duckdb-memory|polars TABLES_JSON (run by `cargo xtask bench`)")
    engine, tables = sys.argv[1], json.loads(sys.argv[2])
    version, run = engines[engine](tables)
    print(json.dumps({"engine": engine, "version": version}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            ms, rows = run(request["sql"])
            answer = {"ms": ms, "rows": [[text(value) for value in row] for row in rows]}
        except Exception as error:  # the orchestrator reports it, naming the engine and query
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
