"""ffld.files: CSV tables written atomically, read back with the standard csv module; file digests."""

import csv
import hashlib

import pytest

from ffld.files import sha256_of, write_csv


def test_csv_columns_are_every_key_in_first_appearance_order_and_missing_cells_are_empty(tmp_path):
    """As metrics.csv is: a test-split column first appears at an evaluated epoch; the other rows leave it empty."""
    rows = [{"epoch": 1, "loss": 2.5}, {"epoch": 2, "loss": 1.25, "common_nme_S0": 0.0625}, {"epoch": 3, "loss": 1}]
    path = write_csv(tmp_path / "table" / "m.csv", rows)
    with open(path, newline="", encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == ["epoch", "loss", "common_nme_S0"]
    assert read == [
        {"epoch": "1", "loss": "2.5", "common_nme_S0": ""},
        {"epoch": "2", "loss": "1.25", "common_nme_S0": "0.0625"},
        {"epoch": "3", "loss": "1", "common_nme_S0": ""},
    ]

    class Unprintable:
        def __str__(self) -> str:
            raise ValueError("no text")

    with pytest.raises(ValueError, match="no text"):  # a failed write leaves the old table and no temporary file
        write_csv(path, [{"epoch": Unprintable()}])
    assert [p.name for p in path.parent.iterdir()] == ["m.csv"]
    with open(path, newline="", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == read


def test_sha256_of_is_what_hashlib_gives_for_the_whole_file(tmp_path):
    data = bytes(range(256)) * 10_000  # 2.5 MB: more than one 1 MiB block
    (tmp_path / "f").write_bytes(data)
    assert sha256_of(tmp_path / "f") == hashlib.sha256(data).hexdigest()
