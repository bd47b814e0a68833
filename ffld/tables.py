"""Markdown tables, the form in which the library's tables (Tables 1–7 on SynthFace, the recipe, the library map)
reach the book through ``IPython.display.Markdown`` and the result files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def _line(cells: Sequence[object]) -> str:
    """One table line, ``| a | b |``; an empty cell is written ``| |``."""
    return "|" + "|".join(f" {cell} " if str(cell) else " " for cell in cells) + "|"


def markdown(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table: the ``header`` line, the ``|---|`` rule, then one line per row.

    Cells are written with ``str``.

    Raises:
        ValueError: a row has more or fewer cells than the header.
    """
    lines = [_line(header), "|---" * len(header) + "|"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a table row has {len(row)} cells where its header has {len(header)}: {list(row)}")
        lines.append(_line(row))
    return "\n".join(lines)


__all__ = ["markdown"]
