"""Per-table checksums computed in SQL, the same way on both sides of a restore.

For each base table: the row count, and two order-independent aggregates (BIT_XOR and SUM) of
a 64-bit row hash. The row hash is the first 64 bits of SHA-1 over every column in ordinal
order, each encoded unambiguously: `N` for NULL, else `V<byte length>:<bytes>`, so neither a
NULL nor a separator inside a value can make two different rows hash alike. XOR alone would
let duplicate rows cancel out; SUM catches that. The hash is computed once per row (a derived
table the optimizer cannot merge, so the two aggregates do not compute it twice). Not
`CHECKSUM TABLE`: its value depends on the row format and the server version, and it says
nothing about which rows differ in count.

TIMESTAMP columns are rendered in the session time zone, so the connection is set to UTC
first: the checksum compares instants, not the wall-clock text of some zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from stackprobe import keyed


class TableChecksum(NamedTuple):
    rows: int
    xor: int
    sum: int


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def column_piece(column: str) -> str:
    c = quote(column)
    return f"IF({c} IS NULL, _binary'N', CONCAT(_binary'V', LENGTH({c}), _binary':', {c}))"


def row_hash_sql(columns: Iterable[str]) -> str:
    """A 64-bit unsigned hash of one row over `columns` (SQL expression)."""
    pieces = [column_piece(c) for c in columns]
    if not pieces:
        raise ValueError("a table without columns has no row hash")
    return f"CAST(CONV(LEFT(SHA1(CONCAT({', '.join(pieces)})), 16), 16, 10) AS UNSIGNED)"


def checksum_sql(database: str, table: str, columns: Iterable[str]) -> str:
    """SELECT rows, BIT_XOR and SUM of the row hash for one table (the LIMIT keeps the derived
    table from being merged into the outer query, which would compute the hash twice)."""
    return (f"SELECT COUNT(*), COALESCE(BIT_XOR(h), 0), COALESCE(SUM(h), 0) FROM "
            f"(SELECT {row_hash_sql(columns)} AS h FROM {quote(database)}.{quote(table)} "
            f"LIMIT 18446744073709551615) hashed")


def base_tables(cursor: Any, database: str) -> list[str]:
    cursor.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
                   " AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (database,))
    return [str(row[0]) for row in cursor.fetchall()]


def table_columns(cursor: Any, database: str, table: str) -> list[str]:
    cursor.execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s"
                   " AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (database, table))
    return [str(row[0]) for row in cursor.fetchall()]


def table_checksum(cursor: Any, database: str, table: str) -> TableChecksum:
    cursor.execute(checksum_sql(database, table, table_columns(cursor, database, table)))
    count, xor, total = cursor.fetchone()
    return TableChecksum(int(count), int(xor), int(total))


def table_checksums(connection: Any, database: str, tables: Iterable[str] | None = None) -> dict[str, TableChecksum]:
    """table -> checksum for every base table of `database` (or the given ones)."""
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION time_zone = '+00:00'")
        names = list(tables) if tables is not None else base_tables(cursor, database)
        return {name: table_checksum(cursor, database, name) for name in names}


def differences(before: dict[str, TableChecksum], after: dict[str, TableChecksum]) -> list[str]:
    """What differs between two sets of checksums, one line per table."""
    found = []
    for name, change in keyed.changes(before, after):
        if change == "gone":
            found.append(f"table {name} ({before[name].rows} rows) is missing after the restore")
        elif change == "new":
            found.append(f"table {name} appeared after the restore ({after[name].rows} rows)")
        else:
            was, now = before[name], after[name]
            what = (f"{was.rows} rows -> {now.rows} rows" if was.rows != now.rows
                    else f"same {now.rows} rows, different content")
            found.append(f"table {name}: {what}")
    return found


def as_evidence(sums: dict[str, TableChecksum]) -> dict[str, dict[str, Any]]:
    return {name: {"rows": s.rows, "xor": f"{s.xor:016x}", "sum": str(s.sum)} for name, s in sums.items()}
