"""Opens a dnmscope export with pandas and pyarrow and checks every file against the data
dictionary: the documented columns in the documented order, the documented types, the row
counts, and the SHA-256 manifest. Exits non-zero with the reasons when anything differs.

usage: python check_export.py EXPORT_DIR FORMAT
"""
import datetime
import hashlib
import json
import os
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

root, fmt = sys.argv[1], sys.argv[2]
problems = []
dictionary = json.load(open(os.path.join(root, "data_dictionary.json")))
assert dictionary["format"] == fmt, dictionary["format"]

ARROW = {
    "text": pa.string(),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
PANDAS = {"text": "string", "integer": "Int64", "float": "Float64", "boolean": "boolean"}


def check_dtypes(name, frame, columns):
    for column in columns:
        dtype = frame[column["name"]].dtype
        kind = column["type"]
        if kind == "timestamp":
            ok = isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"
        elif kind == "date":
            values = frame[column["name"]].dropna()
            ok = all(isinstance(v, datetime.date) for v in values)
        else:
            ok = str(dtype) == PANDAS[kind]
        if not ok:
            problems.append(f"{name}.{column['name']}: {kind} read as {dtype}")


def typed(frame, columns):
    """Casts a frame read as text to the documented types (fails loudly when a value does not fit)."""
    for column in columns:
        name, kind = column["name"], column["type"]
        if kind == "timestamp":
            frame[name] = pd.to_datetime(frame[name], format="ISO8601", utc=True)
        elif kind == "date":
            frame[name] = pd.to_datetime(frame[name], format="%Y-%m-%d").dt.date
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
        elif kind == "boolean":
            frame[name] = frame[name].map({"true": True, "false": False, True: True, False: False}).astype("boolean")
        else:
            frame[name] = frame[name].astype(PANDAS[kind])
    return frame


tables_checked = 0
for table in dictionary["tables"]:
    path = os.path.join(root, table["file"])
    names = [c["name"] for c in table["columns"]]
    label = table["file"]
    if not os.path.exists(path):
        problems.append(f"{label}: missing")
        continue
    if fmt == "parquet":
        schema = pq.read_schema(path)
        if schema.names != names:
            problems.append(f"{label}: columns {schema.names} != {names}")
        for column in table["columns"]:
            field = schema.field(column["name"])
            if field.type != ARROW[column["type"]]:
                problems.append(f"{label}.{column['name']}: arrow type {field.type}, documented {column['type']}")
        mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(), pa.float64(): pd.Float64Dtype(), pa.string(): pd.StringDtype()}
        frame = pq.read_table(path).to_pandas(types_mapper=mapping.get)
    elif fmt == "csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        if list(frame.columns) != names:
            problems.append(f"{label}: columns {list(frame.columns)} != {names}")
            continue
        frame = typed(frame, table["columns"])
    elif fmt == "jsonl":
        lines = open(path, encoding="utf-8").read().splitlines()
        for line in lines:
            keys = list(json.loads(line).keys())
            if keys != names:
                problems.append(f"{label}: keys {keys} != {names}")
                break
        frame = pd.DataFrame([json.loads(line) for line in lines], columns=names, dtype=object)
        frame = typed(frame, table["columns"])
    else:
        sys.exit(f"unknown format {fmt}")
    if list(frame.columns) != names:
        problems.append(f"{label}: pandas columns {list(frame.columns)} != {names}")
    if len(frame) != table["rows"]:
        problems.append(f"{label}: {len(frame)} rows, dictionary says {table['rows']}")
    check_dtypes(label, frame, table["columns"])
    tables_checked += 1

listed = {}
for line in open(os.path.join(root, "SHA256SUMS"), encoding="utf-8"):
    digest, name = line.rstrip("\n").split("  ", 1)
    listed[name] = digest
on_disk = set()
for directory, _, files in os.walk(root):
    for file in files:
        relative = os.path.relpath(os.path.join(directory, file), root).replace(os.sep, "/")
        if relative != "SHA256SUMS":
            on_disk.add(relative)
if set(listed) != on_disk:
    problems.append(f"SHA256SUMS lists {sorted(set(listed) ^ on_disk)} wrongly")
for name, digest in listed.items():
    actual = hashlib.sha256(open(os.path.join(root, name), "rb").read()).hexdigest()
    if actual != digest:
        problems.append(f"{name}: sha256 {actual} != {digest}")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"ok: {tables_checked} tables of {fmt} match the data dictionary (pandas {pd.__version__}, pyarrow {pa.__version__})")
