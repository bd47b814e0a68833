"""Files written atomically (into a temporary file beside the target, flushed to disk, then renamed over it, so
that a kill leaves the old file or the new one, never part of one), and named by their content (SHA-256)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path`` (its folder is created), then rename it over ``path``.

    The file gets the permissions of any new file (the umask's), and no temporary file is left behind on failure.
    Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_csv(path: str | os.PathLike, rows: Sequence[dict[str, object]]) -> Path:
    """Write ``rows`` as a CSV table atomically (:func:`write_atomically`), UTF-8; returns the path.

    The columns are every key of the rows, in order of first appearance; a row without a column leaves it empty.
    """
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return write_atomically(path, lambda handle: handle.write(table.getvalue().encode("utf-8")))


def dump_json(path: str | os.PathLike, content: dict[str, Any]) -> Path:
    """Write ``content`` as indented UTF-8 JSON atomically (:func:`write_atomically`); returns the path."""
    text = json.dumps(content, indent=2) + "\n"
    return write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 hexadecimal digits (what ``sha256sum`` prints)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["dump_json", "sha256_of", "write_atomically", "write_csv"]
