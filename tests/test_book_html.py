"""The book builds strictly from its stored outputs and renders, offline, in headless Chromium.

The build uses ``_config.yml`` with execution switched off (the outputs are the stored ones, which
``pytest --nbval book/`` checks) and ``-W -n``, into a temporary folder. Each chapter is then opened in Debian's
Chromium with every host name unresolvable, so that anything loaded from the network fails, and the rendered DOM
is checked for the chapter's title, figures, captions, equations and widgets.

Chromium comes from ``apt-get install -y chromium`` (``.ci/run`` installs it); without it the Chromium checks are
skipped with that reason and the build checks still run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from tests.test_notebooks import CHAPTERS, WIDGET_VIEW, code_cells

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: CDN scripts would fail to load
    "--virtual-time-budget=20000",
]

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    """Build the book from the stored outputs; return the HTML folder."""
    folder = tmp_path_factory.mktemp("book")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    extensions = config["sphinx"].get("local_extensions", {})
    config["sphinx"]["local_extensions"] = {name: str(ROOT / path) for name, path in extensions.items()}
    config_path = folder / "_config.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))  # keep the script order
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", "--all", "-W", "-n", "--keep-going"]
    command += ["--config", str(config_path), "--path-output", str(folder), str(ROOT)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"strict build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return folder / "_build" / "html"


def page(html: Path, chapter: Path) -> Path:
    return html / chapter.relative_to(ROOT).with_suffix(".html")


def test_every_chapter_is_built_and_the_index_points_to_the_first(html):
    for chapter in CHAPTERS:
        assert page(html, chapter).is_file(), chapter
    assert CHAPTERS[0].stem in (html / "index.html").read_text()


def test_scripts_are_served_by_the_book(html):
    for chapter in CHAPTERS:
        text = page(html, chapter).read_text()
        remote = re.findall(r'<script[^>]*\bsrc="(?:https?:)?//[^"]*"', text)
        assert not remote, f"{chapter.name} loads scripts from the network: {remote}"
    for asset in ("widgets/require.js", "widgets/embed-amd.js", "mathjax/tex-chtml.js"):
        assert (html / "_static" / asset).is_file(), asset


@pytest.fixture(scope="module")
def dom(html, tmp_path_factory):
    """Chapter -> its DOM after Chromium ran the page's scripts (offline)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (`apt-get install -y chromium`; .ci/run installs it)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    doms = {}
    for chapter in CHAPTERS:
        command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page(html, chapter).as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        assert result.returncode == 0 and "</html>" in result.stdout, f"Chromium failed: {result.stderr[-2000:]}"
        doms[chapter] = result.stdout
    return doms


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_title_figures_and_captions_render(chapter, html, dom):
    notebook = nbformat.read(chapter, as_version=4)
    rendered = dom[chapter]
    title = notebook.cells[0].source.splitlines()[0].removeprefix("# ").strip()
    assert re.search(r"<h1[^>]*>\s*" + re.escape(title), rendered), f"title {title!r} missing"
    figures = [cell for cell in code_cells(notebook) if any("image/png" in o.get("data", {}) for o in cell.outputs)]
    images = re.findall(r'<img[^>]*src="([^"]*_images/[^"]*\.png)"', rendered)
    assert len(images) == len(figures), f"{len(figures)} figures stored, {len(images)} rendered"
    for source in images:
        assert (page(html, chapter).parent / source).resolve().is_file(), source
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", rendered, flags=re.DOTALL)
    assert len(captions) == len(figures)
    assert all("of the paper" in re.sub(r"<[^>]+>", "", caption) for caption in captions)
    assert "caption-number" not in rendered, "book figures are unnumbered: 'Fig. N' always means the paper's"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_equations_are_typeset_offline(chapter, dom):
    rendered = dom[chapter]
    maths = len(re.findall(r'class="math notranslate nohighlight"', rendered))
    if maths:
        assert rendered.count("<mjx-container") >= maths, "MathJax did not typeset every equation"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_widgets_render_with_their_figure(chapter, dom):
    notebook = nbformat.read(chapter, as_version=4)
    views = sum(WIDGET_VIEW in output.get("data", {}) for cell in code_cells(notebook) for output in cell.outputs)
    rendered = dom[chapter]
    interacts = re.findall(r'class="[^"]*\bwidget-interact\b[^"]*"', rendered)
    assert len(interacts) == views, f"{views} widgets stored, {len(interacts)} rendered"
    if views:
        assert re.search(r'class="[^"]*\bwidget-(hslider|checkbox)\b', rendered), "no control rendered"
        outputs = rendered.split("widget-output")[1:]
        assert any('src="data:image/png' in part[:200_000] for part in outputs), "the widget shows no figure"
