"""ffld.tables: the Markdown tables of the library and the book."""

import pytest

from ffld.tables import markdown


def test_markdown_writes_header_rule_and_rows():
    text = markdown(["a", "", 3], [[1, "x", 2.5], ["", "–", None]])
    assert text.splitlines() == ["| a | | 3 |", "|---|---|---|", "| 1 | x | 2.5 |", "| | – | None |"]


def test_markdown_of_no_rows_is_the_header_and_rule():
    assert markdown(["only"], []) == "| only |\n|---|"


def test_markdown_refuses_a_row_of_another_length():
    with pytest.raises(ValueError, match=r"a table row has 2 cells where its header has 3: \['p', 'q'\]"):
        markdown(["a", "b", "c"], [["p", "q"]])
