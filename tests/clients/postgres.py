"""A real Postgres client (psycopg 3) for the end-to-end tests: it runs the
steps it reads as JSON on standard input against `codelake serve`'s Postgres
port, and prints one JSON answer per step, in order.

    postgres.py CONNINFO < steps.json

CONNINFO is a libpq connection string without the password; each step is
{"op": ..., "sql": ..., "password": ..., "params": [...]}, where `op` is
- `query`: `cursor.execute(sql)`, which psycopg sends with the extended
  protocol (Parse, Bind, Describe, Execute);
- `binary`: the same, asking for every column in binary;
- `params`: `cursor.execute(sql, params)`, with `%s` placeholders bound as `$n`;
- `prepared`: the same statement executed twice on one connection with
  `prepare=True` (a named server-side statement);
- `transaction`: `sql` inside a transaction (BEGIN ... COMMIT), as drivers do
  with autocommit off.
An answer is {"columns": [[name, type oid], ...], "rows": [...], "exact": [...]}
where rows hold JSON values (decimals as numbers, dates as ISO text) and
`exact` every decimal as its exact text; or {"error": message, "sqlstate": code}.
"""

import datetime
import decimal
import json
import sys

import psycopg


def value(cell):
    if isinstance(cell, decimal.Decimal):
        return float(cell)
    if isinstance(cell, (datetime.date, datetime.datetime, datetime.time)):
        return cell.isoformat()
    return cell


def answer(cursor):
    columns = [[column.name, column.type_code] for column in cursor.description]
    rows, exact = [], []
    for row in cursor.fetchall():
        rows.append({name: value(cell) for (name, _), cell in zip(columns, row)})
        exact.extend(str(cell) for cell in row if isinstance(cell, decimal.Decimal))
    return {"columns": columns, "rows": rows, "exact": exact}


def run(conninfo, step):
    op, sql = step["op"], step.get("sql")
    with psycopg.connect(conninfo, password=step["password"], autocommit=op != "transaction") as connection:
        if op == "query":
            return answer(connection.execute(sql))
        if op == "binary":
            return answer(connection.cursor(binary=True).execute(sql))
        if op == "params":
            return answer(connection.execute(sql, step["params"]))
        if op == "prepared":
            connection.execute(sql, prepare=True).fetchall()
            return answer(connection.execute(sql, prepare=True))
        if op == "transaction":
            result = answer(connection.execute(sql))
            connection.commit()
            return result
    raise ValueError(f"unknown op {op}")


def main():
    conninfo = sys.argv[1]
    answers = []
    for step in json.load(sys.stdin):
        try:
            answers.append(run(conninfo, step))
        except psycopg.Error as error:  # the message and the code are what the test checks
            answers.append({"error": str(error), "sqlstate": error.sqlstate})
    print(json.dumps(answers, default=str))


if __name__ == "__main__":
    main()
