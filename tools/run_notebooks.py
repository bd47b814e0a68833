"""Execute the book's chapters in place, refreshing their stored outputs (``make outputs``).

The book's policy: chapters are committed *with* their outputs, executed top to bottom by this script on the
``python3`` kernel. CI re-executes them with ``pytest --nbval book/`` and fails if a text output differs from the
stored one, and ``tests/test_notebooks.py`` checks the stored outputs are complete (every cell executed in order,
no error, no stderr, widget state saved). Run this after changing a chapter or the library it shows, review the
diff, and commit the notebooks.

Usage::

    python tools/run_notebooks.py                 # every chapter listed in _toc.yml
    python tools/run_notebooks.py book/02_*.ipynb  # some chapters
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
TIMEOUT = 600


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The ``.ipynb`` chapters listed in ``_toc.yml``, in book order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    entries = [toc["root"]]

    def walk(node) -> None:
        if isinstance(node, dict):
            if "file" in node:
                entries.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    return [root / f"{entry}.ipynb" for entry in entries if (root / f"{entry}.ipynb").exists()]


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def widget_id(name: str, index: int) -> str:
    """The stored id of the ``index``-th widget a chapter creates."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"ffld-book/{name}/{index}").hex


def stable_widget_ids(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Replace the random widget model ids by ids derived from the chapter's name and their creation order.

    Chapters create their widgets in the same order on every run, so re-executing an unchanged chapter leaves its
    file unchanged and ``git diff`` shows only real changes.
    """
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    text = nbformat.writes(notebook)
    for index, old in enumerate(list(state)):
        text = text.replace(old, widget_id(name, index))
    return nbformat.reads(text, as_version=4)


def execute(path: Path) -> float:
    """Execute one notebook in place (cwd = its folder); return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT,
        kernel_name=KERNELSPEC["name"],
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=True,
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    notebook.metadata["language_info"] = {"name": "python"}  # no interpreter version: keep diffs to real changes
    notebook = stable_widget_ids(notebook, path.stem)
    nbformat.validate(notebook)
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapters to run (default: all in _toc.yml)")
    args = parser.parse_args(argv)
    paths = [path.resolve() for path in args.notebooks] or toc_notebooks()
    total = 0.0
    for path in paths:
        seconds = execute(path)
        total += seconds
        print(f"{path.relative_to(ROOT)}: {seconds:.1f} s", flush=True)
    print(f"total: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
