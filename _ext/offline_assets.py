"""Sphinx extension: serve the widget and MathJax JavaScript from the book itself, so the HTML works offline.

myst-nb loads RequireJS and ``@jupyter-widgets/html-manager`` from CDNs, and Sphinx loads MathJax from one. This
extension fetches pinned versions of those npm packages once with ``npm pack`` (integrity checked against the
hashes below), keeps them in ``.cache/offline-assets/static/`` beside ``_config.yml``, and adds that folder to
``html_static_path``; ``_config.yml`` points ``nb_ipywidgets_js`` and ``mathjax_path`` at the copies:

=================================  ==========================================================
``_static/widgets/require.js``     requirejs (MIT)
``_static/widgets/embed-amd.js``   @jupyter-widgets/html-manager (BSD-3-Clause), and its fonts
``_static/mathjax/tex-chtml.js``   mathjax (Apache-2.0), with its CHTML fonts and extensions
=================================  ==========================================================

The first build needs ``npm`` and the npm registry; later builds are offline. Delete ``.cache/offline-assets`` to
fetch again, e.g. after changing a pin.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

# package spec -> (npm integrity, files to keep: (path inside the package, destination inside the static folder))
PACKAGES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "requirejs@2.3.8": (
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        [("require.js", "widgets/require.js")],
    ),
    "@jupyter-widgets/html-manager@1.0.15": (
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        [("dist/embed-amd.js", "widgets/embed-amd.js"), ("dist/*.woff2", "widgets/"), ("dist/*.woff", "widgets/")],
    ),
    "mathjax@3.2.2": (
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        [
            ("es5/tex-chtml.js", "mathjax/tex-chtml.js"),
            ("es5/output/chtml/fonts/woff-v2/*", "mathjax/output/chtml/fonts/woff-v2/"),
            ("es5/input/tex/extensions/*", "mathjax/input/tex/extensions/"),
            ("es5/ui/*", "mathjax/ui/"),
        ],
    ),
}

CACHE = Path(".cache", "offline-assets")
"""Where the assets are kept, relative to the folder of ``_config.yml`` (the Sphinx source folder)."""


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _fetch(spec: str, integrity: str, files: list[tuple[str, str]], static: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ExtensionError(
            f"offline_assets: {spec} is not in {static} and npm is not installed to fetch it "
            "(install Node.js/npm, e.g. `apt-get install -y npm`, and build again)"
        )
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            [npm, "pack", spec, "--json", "--pack-destination", folder], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise ExtensionError(f"offline_assets: `npm pack {spec}` failed:\n{result.stderr}")
        tarball = Path(folder, json.loads(result.stdout)[0]["filename"])
        if _integrity(tarball) != integrity:
            raise ExtensionError(f"offline_assets: {spec} does not match its pinned integrity hash")
        with tarfile.open(tarball) as archive:
            archive.extractall(folder, filter="data")
        package = Path(folder, "package")
        for pattern, destination in files:
            matches = sorted(package.glob(pattern))
            if not matches:
                raise ExtensionError(f"offline_assets: {spec} has no {pattern}")
            for source in matches:
                if source.is_dir():
                    target = static / destination / source.name
                    shutil.copytree(source, target, dirs_exist_ok=True)
                else:
                    target = static / destination / source.name if destination.endswith("/") else static / destination
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
    logger.info(f"offline_assets: fetched {spec}")


def ensure_assets(root: Path) -> Path:
    """Fetch what is missing into ``root / CACHE / "static"`` and return that folder."""
    static = root / CACHE / "static"
    for spec, (integrity, files) in PACKAGES.items():
        stamp = root / CACHE / "stamps" / (spec.replace("/", "__") + ".json")
        if stamp.exists() and json.loads(stamp.read_text()).get("integrity") == integrity:
            continue
        _fetch(spec, integrity, files, static)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"spec": spec, "integrity": integrity}))
    return static


def _config_inited(app: Sphinx, config) -> None:
    static = ensure_assets(Path(app.srcdir))
    config.html_static_path = [*config.html_static_path, str(static)]


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _config_inited)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
