"""The stored-output policy of the book's chapters (see tools/run_notebooks.py).

Chapters are committed with their outputs, produced by ``make outputs`` on the ``python3`` kernel. These tests
check that what is stored is complete and current in form; ``pytest --nbval book/`` (run by ``make test``)
re-executes each chapter and checks that its text outputs are the stored ones.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)

CHAPTERS = run_notebooks.toc_notebooks(ROOT)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MAX_CODE_LINES = 25


def load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def outputs(notebook):
    return [output for cell in code_cells(notebook) for output in cell.outputs]


def test_the_toc_lists_every_chapter():
    assert CHAPTERS, "no chapter found from _toc.yml"
    assert sorted(ROOT.glob("book/*.ipynb")) == sorted(CHAPTERS), "a notebook in book/ is missing from _toc.yml"


@pytest.fixture(params=CHAPTERS, ids=lambda path: path.stem)
def chapter(request):
    return request.param, load(request.param)


def test_valid_and_on_the_book_kernel(chapter):
    _, notebook = chapter
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"


def test_executed_top_to_bottom_once(chapter):
    _, notebook = chapter
    counts = [cell.execution_count for cell in code_cells(notebook)]
    assert counts == list(range(1, len(counts) + 1)), "re-run the chapter with `make outputs`"


def test_no_error_and_no_stderr(chapter):
    _, notebook = chapter
    for output in outputs(notebook):
        assert output.output_type != "error", f"stored error: {output.get('ename')}: {output.get('evalue')}"
        assert not (output.output_type == "stream" and output.name == "stderr"), f"stderr: {output.text[:200]}"


def test_title_setup_and_exercises(chapter):
    _, notebook = chapter
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    assert "setup()" in code_cells(notebook)[0].source, "the first code cell is the chapter's set-up call"
    last = notebook.cells[-1]
    assert last.cell_type == "markdown" and "## Exercises" in last.source, "a chapter ends with exercises"


def test_code_cells_are_short(chapter):
    _, notebook = chapter
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= MAX_CODE_LINES, f"cell {index}: move logic into ffld"


def test_figures_have_captions_naming_the_paper_figure(chapter):
    _, notebook = chapter
    for index, cell in enumerate(code_cells(notebook)):
        if any("image/png" in output.get("data", {}) for output in cell.outputs):
            caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption", "")
            assert "of the paper" in caption, f"code cell {index}: caption must say which paper figure it shows"


def test_ignored_outputs_are_still_checked(chapter):
    _, notebook = chapter
    for cell in code_cells(notebook):
        tags = cell.metadata.get("tags", [])
        assert "nbval-skip" not in tags and "NBVAL_SKIP" not in cell.source, "chapters are never skipped"
        if "nbval-ignore-output" in tags or "NBVAL_IGNORE_OUTPUT" in cell.source:
            # nbval cannot follow an Output widget's capture, so widget cells run uncompared; their stored state
            # is checked below and their rendering by tests/test_book_html.py.
            widget = any(WIDGET_VIEW in output.get("data", {}) for output in cell.outputs)
            assert widget or "assert " in cell.source, "a cell whose output is not compared must assert its claim"


def test_widgets_have_their_state_and_a_static_twin(chapter):
    _, notebook = chapter
    views = [
        output.data[WIDGET_VIEW]["model_id"] for output in outputs(notebook) if WIDGET_VIEW in output.get("data", {})
    ]
    if not views:
        return
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for model_id in views:
        assert model_id in state, "widget state missing: run `make outputs` (it stores widget state)"
    captured = [
        model for model in state.values() if model["model_name"] == "OutputModel" and model["state"].get("outputs")
    ]
    assert any("image/png" in output.get("data", {}) for model in captured for output in model["state"]["outputs"]), (
        "the widget's figure is not in its stored state"
    )
    static = [cell for cell in code_cells(notebook) if any("image/png" in o.get("data", {}) for o in cell.outputs)]
    assert static, "a widget chapter also shows its default figure as a plain figure"


def test_no_machine_specific_paths(chapter):
    _, notebook = chapter
    texts = [cell.source for cell in notebook.cells]
    for output in outputs(notebook):
        texts.append(output.get("text", ""))
        texts += [value for key, value in output.get("data", {}).items() if key.startswith("text/")]
    for text in texts:
        assert not re.search(r"/(work|home|root|tmp)/", text), f"a local path in: {text[:200]}"


def test_stored_by_make_outputs(chapter):
    """``make outputs`` writes stable widget ids and no interpreter version; a notebook saved by hand has neither."""
    path, notebook = chapter
    assert notebook.metadata.get("language_info") == {"name": "python"}, "run `make outputs`"
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    expected = {run_notebooks.widget_id(path.stem, index) for index in range(len(state))}
    assert set(state) == expected, "widget ids are not the stable ones: run `make outputs`"
