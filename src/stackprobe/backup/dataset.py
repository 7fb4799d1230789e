"""The canary dataset: tables of generated edge cases plus a routine, a procedure, a trigger, an
event and a view, created in a canary database (never in live data).

Values come from hypothesis strategies (4-byte utf8mb4 text, NULLs, empty strings, blobs, JSON,
DECIMAL, DOUBLE, DATETIME(6), TIMESTAMP(6) written from sessions in several time zones, TIME,
YEAR) plus fixed rows with the cases a random draw might miss: every byte value in one blob,
the limits of every type, quotes/backslashes/NUL in text, rows larger than a megabyte. The
draw is reproducible from its seed, which the checks record.

DDL is ASCII only, so a dump that mangles characters changes the data (BKP-02), not whether
the restore runs at all.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

# --- schema -------------------------------------------------------------------------------------
TABLE_OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
TABLES: dict[str, str] = {
    "edge_text": "id INT PRIMARY KEY, v VARCHAR(255) NULL, t TEXT NULL, c CHAR(12) NULL, "
                 "e ENUM('plain','quoted','empty') NULL",
    "edge_blob": "id INT PRIMARY KEY, b BLOB NULL, vb VARBINARY(300) NULL, fb BINARY(16) NULL",
    "edge_json": "id INT PRIMARY KEY, j JSON NULL",
    "edge_num": "id INT PRIMARY KEY, d DECIMAL(65,30) NULL, m DECIMAL(10,2) NULL, i BIGINT NULL, "
                "u BIGINT UNSIGNED NULL, f DOUBLE NULL, bits BIT(16) NULL",
    "edge_time": "id INT PRIMARY KEY, zone VARCHAR(32) NOT NULL, dt DATETIME(6) NULL, "
                 "ts TIMESTAMP(6) NULL DEFAULT NULL, d DATE NULL, tm TIME(6) NULL, y YEAR NULL",
    "edge_large": "id INT PRIMARY KEY, t LONGTEXT NULL, b LONGBLOB NULL",
    "edge_audit": "id INT AUTO_INCREMENT PRIMARY KEY, edge_id INT NOT NULL, note VARCHAR(64) NOT NULL",
}
OBJECTS: dict[str, str] = {
    "trigger edge_text_audit": (
        "CREATE TRIGGER edge_text_audit AFTER INSERT ON edge_text FOR EACH ROW "
        "INSERT INTO edge_audit (edge_id, note) VALUES (NEW.id, CONCAT('inserted ', NEW.id))"),
    "function stackprobe_add": (
        "CREATE FUNCTION stackprobe_add(a INT, b INT) RETURNS INT DETERMINISTIC NO SQL "
        "COMMENT 'stackprobe canary' RETURN a + b"),
    "procedure stackprobe_count": (
        "CREATE PROCEDURE stackprobe_count(OUT n INT) READS SQL DATA "
        "SELECT COUNT(*) INTO n FROM edge_text"),
    # disabled, and scheduled far ahead: it never runs, on a live server or a restored copy
    "event stackprobe_tick": (
        "CREATE EVENT stackprobe_tick ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01 00:00:00' "
        "ON COMPLETION PRESERVE DISABLE COMMENT 'stackprobe canary' DO DELETE FROM edge_audit WHERE id < 0"),
    "view edge_summary": (
        "CREATE VIEW edge_summary AS SELECT COUNT(*) AS n, SUM(LENGTH(t)) AS text_bytes FROM edge_text"),
}
EDGE_TABLES = tuple(TABLES)

# --- strategies ---------------------------------------------------------------------------------
UNICODE = st.characters(exclude_categories=["Cs"])  # every code point utf8mb4 stores
ASTRAL = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, exclude_categories=["Cs"])
OFFSETS = ("+00:00", "+08:00", "-05:00", "+05:45", "+13:00", "-12:00")
NAMED_ZONES = ("Europe/Berlin", "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe")


def texts(max_size: int) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.just(""), st.text(UNICODE, max_size=max_size),
                     st.text(ASTRAL, min_size=1, max_size=min(max_size, 64)))


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(UNICODE, max_size=20)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(UNICODE, max_size=8), inner, max_size=4), max_leaves=12)


DECIMAL_65_30 = st.decimals(min_value=Decimal("-" + "9" * 35 + "." + "9" * 30),
                            max_value=Decimal("9" * 35 + "." + "9" * 30), places=30,
                            allow_nan=False, allow_infinity=False)
DECIMAL_10_2 = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2,
                           allow_nan=False, allow_infinity=False)
# TIMESTAMP's range is 1970-01-01 00:00:01 .. 2038-01-19 03:14:07 UTC; a day inside it either
# way keeps every zone's wall-clock text inside it too
INSTANTS = st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2038, 1, 18))
DATETIMES = st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999))
TIMES = st.timedeltas(min_value=-dt.timedelta(hours=838, minutes=59, seconds=59),
                      max_value=dt.timedelta(hours=838, minutes=59, seconds=59))


def row_strategies(zones: tuple[str, ...]) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    """One strategy per table, drawing one row (without its id)."""
    return {
        "edge_text": st.fixed_dictionaries({
            "v": texts(255), "t": texts(2000), "c": texts(12),
            "e": st.none() | st.sampled_from(["plain", "quoted", "empty"])}),
        "edge_blob": st.fixed_dictionaries({
            "b": st.none() | st.binary(max_size=2000), "vb": st.none() | st.binary(max_size=300),
            "fb": st.none() | st.binary(max_size=16)}),
        "edge_json": st.fixed_dictionaries({"j": st.none() | json_values().map(
            lambda v: json.dumps(v, ensure_ascii=False))}),
        "edge_num": st.fixed_dictionaries({
            "d": st.none() | DECIMAL_65_30, "m": st.none() | DECIMAL_10_2,
            "i": st.none() | st.integers(-(2**63), 2**63 - 1), "u": st.none() | st.integers(0, 2**64 - 1),
            "f": st.none() | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != 0.0 or
                                                                                    str(f) == "0.0"),
            "bits": st.none() | st.integers(0, 2**16 - 1)}),
        "edge_time": st.fixed_dictionaries({
            "zone": st.sampled_from(zones), "dt": st.none() | DATETIMES, "ts": st.none() | INSTANTS,
            "d": st.none() | st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31)),
            "tm": st.none() | TIMES, "y": st.none() | st.integers(1901, 2155)}),
    }


def draw(strategy: st.SearchStrategy[Any], count: int, draw_seed: int) -> list[Any]:
    """`count` examples of `strategy`, as hypothesis generates them (simple ones first, then
    random ones), reproducible from `draw_seed`."""
    found: list[Any] = []

    @seed(draw_seed)
    @settings(max_examples=max(count, 1), database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        if len(found) < count:
            found.append(value)

    collect()
    return found


# --- fixed edge rows ----------------------------------------------------------------------------
def fixed_rows(zones: tuple[str, ...], large_row_bytes: int, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    every_byte = bytes(range(256))
    four_byte = "😀𝄞𠜎🀄🎉👩‍👩‍👧‍👦"
    tricky = "'\"\\\n\r\t\0 ; -- /* */ `x` %s {} \u2028\u2029 ünï 漢字"
    large_chars = max(1, large_row_bytes // 4)
    return {
        "edge_text": [
            {"v": None, "t": None, "c": None, "e": None},
            {"v": "", "t": "", "c": "", "e": "empty"},
            {"v": four_byte, "t": four_byte * 50, "c": "😀😀😀😀😀😀😀😀😀😀😀😀", "e": "plain"},
            {"v": tricky[:255], "t": tricky * 10, "c": "'\\\"\0", "e": "quoted"},
            {"v": "𠜎" * 255, "t": "𝄞" * 16000, "c": " trailing  ", "e": None},
        ],
        "edge_blob": [
            {"b": None, "vb": None, "fb": None},
            {"b": b"", "vb": b"", "fb": b""},
            {"b": every_byte, "vb": every_byte[::-1][:255] + b"\0\0", "fb": b"\0" * 8 + b"\xff" * 8},
            {"b": every_byte * 8, "vb": b"'\"\\\n\r\x1a", "fb": every_byte[:16]},
        ],
        "edge_json": [
            {"j": None}, {"j": "null"}, {"j": "{}"}, {"j": "[]"}, {"j": '""'},
            {"j": json.dumps({"emoji": four_byte, "nested": [1, [2, [3, {"k": None}]]], "quote": "'\"\\"},
                             ensure_ascii=False)},
            {"j": json.dumps({"big": 2**53, "neg": -(2**53), "unicode_escape": "\u0000\u001f"})},
        ],
        "edge_num": [
            {"d": None, "m": None, "i": None, "u": None, "f": None, "bits": None},
            {"d": Decimal("9" * 35 + "." + "9" * 30), "m": Decimal("99999999.99"), "i": 2**63 - 1,
             "u": 2**64 - 1, "f": 1.7976931348623157e308, "bits": 2**16 - 1},
            {"d": Decimal("-" + "9" * 35 + "." + "9" * 30), "m": Decimal("-99999999.99"), "i": -(2**63),
             "u": 0, "f": 5e-324, "bits": 0},
            {"d": Decimal("0." + "0" * 29 + "1"), "m": Decimal("0.01"), "i": 0, "u": 1, "f": 0.1, "bits": 1},
        ],
        "edge_time": [
            {"zone": zones[0], "dt": None, "ts": None, "d": None, "tm": None, "y": None},
            {"zone": "+00:00", "dt": dt.datetime(1000, 1, 1), "ts": dt.datetime(1970, 1, 1, 0, 0, 1),
             "d": dt.date(1000, 1, 1), "tm": -dt.timedelta(hours=838, minutes=59, seconds=59), "y": 1901},
            {"zone": "+00:00", "dt": dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
             "ts": dt.datetime(2038, 1, 19, 3, 14, 7, 999999), "d": dt.date(9999, 12, 31),
             "tm": dt.timedelta(hours=838, minutes=59, seconds=59), "y": 2155},
            # the hour a DST change skips or repeats, written from sessions in those zones
            *({"zone": zone, "dt": dt.datetime(2021, 3, 28, 2, 30, 0, 123456),
               "ts": dt.datetime(2021, 10, 31, 2, 30, 0, 654321), "d": dt.date(2021, 3, 28),
               "tm": dt.timedelta(microseconds=1), "y": 2021} for zone in zones),
        ],
        "edge_large": [
            {"t": "".join(rng.choice("😀𝄞𠜎🀄") for _ in range(large_chars)), "b": rng.randbytes(large_row_bytes)},
            {"t": "x" * large_row_bytes, "b": (every_byte * (large_row_bytes // 256 + 1))[:large_row_bytes]},
        ],
        "edge_audit": [],
    }


# --- the dataset ---------------------------------------------------------------------------------
@dataclass
class Dataset:
    seed: int
    zones: tuple[str, ...]
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.rows.items()}

    def summary(self) -> dict[str, Any]:
        return {"seed": self.seed, "time_zones": list(self.zones), "rows": self.counts()}


def generate(draw_seed: int, rows: int, large_row_bytes: int, zones: tuple[str, ...] = OFFSETS) -> Dataset:
    """Fixed edge rows plus `rows` generated rows per table (not edge_large / edge_audit)."""
    rng = random.Random(draw_seed)
    data = fixed_rows(zones, large_row_bytes, rng)
    for offset, (table, strategy) in enumerate(row_strategies(zones).items()):
        data[table] = data[table] + draw(strategy, rows, draw_seed + offset)
    return Dataset(draw_seed, zones, data)


def _sql_value(column: str, value: Any) -> Any:
    if isinstance(value, dt.timedelta):  # TIME: [-]H:MM:SS.ffffff
        sign = "-" if value < dt.timedelta(0) else ""
        total = abs(value)
        seconds = total.days * 86400 + total.seconds
        return f"{sign}{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}.{total.microseconds:06d}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def available_zones(cursor: Any) -> tuple[str, ...]:
    """UTC offsets, plus the named zones this server knows (its time zone tables may be empty)."""
    named = []
    for zone in NAMED_ZONES:
        cursor.execute("SELECT CONVERT_TZ('2021-01-01 00:00:00', '+00:00', %s)", (zone,))
        if cursor.fetchone()[0] is not None:
            named.append(zone)
    return (*OFFSETS, *named)


def create_objects(cursor: Any) -> None:
    for table, columns in TABLES.items():
        cursor.execute(f"CREATE TABLE {table} ({columns}) {TABLE_OPTIONS}")
    for statement in OBJECTS.values():
        cursor.execute(statement)


def insert(connection: Any, dataset: Dataset, progress: Callable[[str], None] | None = None) -> None:
    """Insert every row (ids 1..n per table); TIMESTAMPs from a session in the row's zone."""
    with connection.cursor() as cursor:
        for table, rows in dataset.rows.items():
            if not rows:
                continue
            columns = list(rows[0])
            marks = ", ".join(["%s"] * (len(columns) + 1))
            sql = f"INSERT INTO {table} (id, {', '.join(columns)}) VALUES ({marks})"
            numbered = [(n, row) for n, row in enumerate(rows, start=1)]
            if table == "edge_time":
                zones = sorted({row["zone"] for _, row in numbered})
                for zone in zones:
                    cursor.execute("SET SESSION time_zone = %s", (zone,))
                    cursor.executemany(sql, [(n, *(_sql_value(c, row[c]) for c in columns))
                                             for n, row in numbered if row["zone"] == zone])
                cursor.execute("SET SESSION time_zone = '+00:00'")
            elif table == "edge_large":
                for n, row in numbered:  # one statement per large row: well under max_allowed_packet
                    cursor.execute(sql, (n, *(row[c] for c in columns)))
            else:
                cursor.executemany(sql, [(n, *(_sql_value(c, row[c]) for c in columns)) for n, row in numbered])
            if progress:
                progress(table)
    connection.commit()
