"""A real Flight SQL client (ADBC's Flight SQL driver, with pyarrow) for the
end-to-end tests: it runs the steps it reads as JSON on standard input against
`codelake serve`, and leaves each step's answer in OUT_DIR for the test to read.

    flight.py URI TOKEN OUT_DIR < steps.json

Each step is {"name": ..., "op": ..., "sql": ...}; `op` is
- `statement`: a plain statement (Flight SQL CommandStatementQuery);
- `basic`: a plain statement on a connection that authenticates with user and
  password (Flight's Basic handshake), the token as the password;
- `prepared`: DB-API's `cursor.execute`, which prepares the statement first;
- `substrait`: `cursor.execute` of bytes, which ADBC sends as a Substrait plan;
- `objects`: `adbc_get_objects(depth="all")`;
- `table_schema`: `adbc_get_table_schema(sql)`, where `sql` is `database.table`.
With CODELAKE_TEST_TLS_ROOT set to a PEM file, that certificate is trusted
(for `grpc+tls://` to a test certificate).
An answer is written as NAME.arrows (an Arrow IPC stream) or NAME.json; a
failure as NAME.error (the client's message).
"""

import json
import os
import pathlib
import sys

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow


def main():
    uri, token, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    kwargs = {"adbc.flight.sql.authorization_header": f"Bearer {token}"}
    # For grpc+tls:// to a test certificate: the PEM file to trust.
    root = os.environ.get("CODELAKE_TEST_TLS_ROOT")
    if root:
        kwargs["adbc.flight.sql.client_option.tls_root_certs"] = pathlib.Path(root).read_text()
    connection = adbc_driver_flightsql.dbapi.connect(uri, db_kwargs=kwargs, autocommit=True)
    for step in json.load(sys.stdin):
        name = step["name"]
        try:
            answer = run(uri, kwargs, connection, step)
        except Exception as error:  # the message is what the test checks
            (out / f"{name}.error").write_text(f"{type(error).__name__}: {error}")
            continue
        if isinstance(answer, pyarrow.Table):
            with pyarrow.ipc.new_stream(out / f"{name}.arrows", answer.schema) as writer:
                writer.write_table(answer)
        else:
            (out / f"{name}.json").write_text(json.dumps(answer, default=str))


def run(uri, kwargs, connection, step):
    op, sql = step["op"], step.get("sql")
    if op in ("statement", "basic"):
        if op == "basic":
            kwargs = {key: value for key, value in kwargs.items() if "authorization" not in key}
            kwargs.update({"username": "analyst", "password": step["password"]})
        database = adbc_driver_flightsql.connect(uri, db_kwargs=kwargs)
        with adbc_driver_manager.AdbcConnection(database) as low, adbc_driver_manager.AdbcStatement(low) as statement:
            statement.set_sql_query(sql)
            stream, _ = statement.execute_query()
            return pyarrow.RecordBatchReader._import_from_c(stream.address).read_all()
    if op == "prepared":
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetch_arrow_table()
    if op == "substrait":
        cursor = connection.cursor()
        cursor.execute(b"\x0a\x00")
        return cursor.fetch_arrow_table()
    if op == "objects":
        return connection.adbc_get_objects(depth="all").read_all().to_pylist()
    if op == "table_schema":
        database, table = sql.split(".")
        schema = connection.adbc_get_table_schema(table, db_schema_filter=database)
        return [{"name": field.name, "type": str(field.type)} for field in schema]
    raise ValueError(f"unknown op {op}")


if __name__ == "__main__":
    main()
