"""The documentation: every Python block of the pages and the README runs, the site
builds with ``mkdocs build --strict``, and a browser finds the API reference complete and
the getting-started page drawn.

Each page's ```` ```python ```` blocks run in order in one namespace, in a fresh working
directory, as a reader would run them. A block that cannot run is marked on the line
before its fence, with a reason: ``<!-- docs-test: skip REASON -->``; a block that needs
an optional package names it: ``<!-- docs-test: requires MODULE -->`` (skipped without
it). The browser tests need Debian's ``chromium``: without it they skip, except under CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import polars_gumbel
from polars_gumbel import Codec

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]
ON_CI = os.environ.get("CI", "").lower() == "true"
#: Where the browser test leaves its screenshot of the getting-started page.
SCREENSHOT = ROOT / "target" / "docs" / "getting-started.png"

FENCE = re.compile(
    r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)``` *$", re.M | re.S
)
MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<kind>skip|requires)\s+(?P<what>[^>]*?)\s*-->$", re.M)


@dataclass(frozen=True)
class Block:
    """One fenced Python block of a page."""

    page: Path
    line: int
    code: str
    skip: str | None
    requires: tuple[str, ...]


def python_blocks(page: Path) -> list[Block]:
    """The page's Python blocks, in order, with their markers."""
    text = page.read_text(encoding="utf-8")
    found = []
    for fence in FENCE.finditer(text):
        language = fence["info"].strip().split(" ")[0] if fence["info"].strip() else ""
        if language != "python":
            continue
        line = text.count("\n", 0, fence.start()) + 1
        previous = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        marker = MARKER.fullmatch(previous)
        skip = marker["what"] if marker and marker["kind"] == "skip" else None
        requires = tuple(marker["what"].split()) if marker and marker["kind"] == "requires" else ()
        found.append(Block(page, line, textwrap.dedent(fence["body"]), skip, requires))
    return found


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=page_id)
def test_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Python block of the page runs, in order, in one namespace."""
    blocks = python_blocks(page)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs:{page_id(page)}"}
    ran = 0
    for block in blocks:
        if block.skip is not None:
            continue
        if any(importlib.util.find_spec(module) is None for module in block.requires):
            continue
        # Leading newlines put tracebacks on the page's own line numbers.
        source = "\n" * block.line + block.code
        exec(compile(source, page_id(page), "exec"), namespace)
        ran += 1
    if ran == 0:
        pytest.skip(f"every block needs what is not installed: {blocks[0].requires}")


def test_blocks_are_marked_sparingly() -> None:
    """Few blocks are left out, each with a reason; no Python block hides under another
    fence name, and no marker stands before anything but a Python block."""
    blocks = [block for page in PAGES for block in python_blocks(page)]
    skipped = [block for block in blocks if block.skip is not None]
    assert all(block.skip for block in skipped), "a skip marker without a reason"
    assert len(blocks) >= 20
    assert len(skipped) * 10 <= len(blocks), [f"{b.page.name}:{b.line}" for b in skipped]
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"^ *```(py|python3|pycon)\b", text, re.M), page_id(page)
        for marker in MARKER.finditer(text):
            following = text[marker.end() :].lstrip("\n")
            assert following.startswith("```python"), f"{page_id(page)}: {marker[0]}"


def test_nav_lists_the_reference_pages() -> None:
    """Every page of the site's navigation exists."""
    nav = re.findall(r"^\s*- [^:]+: (\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert "api.md" in nav
    assert "getting-started.md" in nav
    assert [name for name in nav if not (DOCS / name).is_file()] == []


# The built site, in a browser.


def public_names() -> list[str]:
    """The identifiers of every public function of the package and every public member
    of `Codec`, as the API reference anchors them."""
    names = []
    for name in polars_gumbel.__all__:
        value = getattr(polars_gumbel, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            names.append(f"polars_gumbel.{name}")
    for name, _ in inspect.getmembers(Codec):
        if not name.startswith("_") and name in vars(Codec):
            names.append(f"polars_gumbel.Codec.{name}")
    return names


def test_public_names_cover_the_api() -> None:
    names = public_names()
    for expected in ("one_hot", "decode", "Codec", "Codec.fit", "Codec.gumbel_softmax"):
        assert f"polars_gumbel.{expected}" in names


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if ON_CI:
            pytest.fail("chromium is not installed: .ci/run installs Debian's package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built with ``--strict`` (a warning is an error)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def run_chromium(chromium: str, profile: Path, *args: str) -> str:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    """A browser profile of the test's own."""
    path = tmp_path / "profile"
    path.mkdir()
    return path


def test_api_page_lists_every_public_name(chromium: str, site: Path, profile: Path) -> None:
    """The API reference, as the browser renders it, has an entry for every public
    function and every public `Codec` method and property."""
    page = site / "api.html"
    dom = run_chromium(chromium, profile, "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    anchors = set(re.findall(r'\bid="([^"]+)"', dom))
    missing = [name for name in public_names() if name not in anchors]
    assert missing == []
    # The docstrings' Sphinx roles are links (docs/hooks.py), not literal text.
    assert re.findall(r":(?:func|class|meth|attr|mod):<code>[^<]*", dom) == []
    assert '<a href="#polars_gumbel.gumbel_softmax"><code>' in dom
    # Rendered entries, not just anchors: each has its signature on the page.
    for name in ("one_hot", "gumbel_softmax", "fit", "encode", "decode"):
        assert re.search(rf">\s*{name}\s*<", dom), name


def test_getting_started_page_is_drawn(chromium: str, site: Path, profile: Path) -> None:
    """A screenshot of the getting-started page is not blank."""
    from PIL import Image

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    page = site / "getting-started.html"
    run_chromium(
        chromium,
        profile,
        "--hide-scrollbars",
        "--window-size=1280,1600",
        "--virtual-time-budget=5000",
        f"--screenshot={SCREENSHOT}",
        page.as_uri(),
    )
    with Image.open(SCREENSHOT) as image:
        assert image.size == (1280, 1600)
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    # A blank page is one colour (variance 0); text, code and the header bar are not.
    assert pixels.var() > 200.0, pixels.var()
    background = np.median(pixels)
    assert np.mean(np.abs(pixels - background) > 64) > 0.02
