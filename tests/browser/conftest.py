"""Harness for tests that drive JupyterLab in a real (headless) browser.

Fixtures
--------
``chromium_executable``  path of Debian's ``/usr/bin/chromium``; the tests are skipped when
                         it is missing, unless the environment variable ``CI`` is set (then
                         they fail: CI must have the browser).
``lab_server``           a ``jupyter lab`` started for the whole session (random token, free
                         localhost port, root = the repository, ``ZIFVIZ_DATA_MIRROR`` set,
                         private settings: no autosave, no news or update checks).
``browser``              Playwright's Chromium on ``chromium_executable`` (never downloads one).
``open_notebook``        factory: ``nb = open_notebook("notebooks/01_....ipynb")`` opens a
                         notebook in a fresh page, accepts the kernel dialog, closes toasts and
                         returns a :class:`NotebookPage` (run all cells, find widgets, take
                         screenshots, measure redraws).

Screenshots and the server and browser-console logs go to ``test-artifacts/browser/``.
A new widget test only needs ``open_notebook`` and the helpers on :class:`NotebookPage`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("ZIFVIZ_CHROMIUM", "/usr/bin/chromium"))
# Verified to give working WebGL (SwiftShader) for nglview in headless Debian chromium.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader", "--ignore-gpu-blocklist",
]
DATA_MIRROR = os.environ.get("ZIFVIZ_DATA_MIRROR", "/work/shared/data")
# Console messages of JupyterLab itself that are not errors of the widgets under test.
BENIGN_CONSOLE = [
    r"Failed to load resource: the server responded with a status of 404",
    r"favicon",
]
NOTEBOOKS = ARTIFACTS / "notebooks"  # generated test notebooks (served: inside the root)

# Settings for the test server's private JupyterLab settings directory.
LAB_SETTINGS = {
    # no "get notified about news?" toast, no update check (offline, deterministic)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    # never write executed notebooks back into the repository
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # render every cell (no virtual scrolling), so prompts and widgets of all cells are in the DOM
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


# ---------------------------------------------------------------- pixel helpers
def load_png(png: bytes) -> np.ndarray:
    """PNG bytes -> (h, w, 3) uint8 array."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def image_stats(png: bytes) -> dict:
    """How much is drawn: distinct colours, the background (most common colour) and the
    fraction of pixels that differ from it."""
    img = load_png(png)
    flat = img.reshape(-1, 3)
    colors, counts = np.unique(flat, axis=0, return_counts=True)
    background = colors[np.argmax(counts)]
    ink = np.any(np.abs(img.astype(int) - background) > 8, axis=2)
    return {"width": img.shape[1], "height": img.shape[0], "distinct_colors": len(colors),
            "background": tuple(int(c) for c in background), "drawn_fraction": float(ink.mean()),
            "drawn_extent": drawn_extent(ink)}


def drawn_extent(ink: np.ndarray) -> float:
    """How far the drawing reaches across the picture: the larger of the widths and heights
    spanned by the 1st to 99th percentile of its drawn pixels, as a fraction of the picture's
    (a resize handle in a corner does not count). Unlike the drawn fraction it does not
    depend on how thick the renderer draws spheres and bonds."""
    ys, xs = np.nonzero(ink)
    if len(xs) < 2:
        return 0.0
    span = [(np.percentile(v, 99) - np.percentile(v, 1)) / n
            for v, n in ((xs, ink.shape[1]), (ys, ink.shape[0]))]
    return float(max(span))


def image_difference(a: bytes, b: bytes, tolerance: int = 8) -> float:
    """Fraction of pixels whose colour differs by more than ``tolerance`` between two
    screenshots of the same element (1.0 when the sizes differ)."""
    x, y = load_png(a).astype(int), load_png(b).astype(int)
    if x.shape != y.shape:
        return 1.0
    return float(np.any(np.abs(x - y) > tolerance, axis=2).mean())


def _hex_rgb(color: str) -> np.ndarray:
    return np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)])


def color_fractions(png: bytes, colors, tolerance: int = 40) -> dict[str, float]:
    """For each ``'#rrggbb'``, the fraction of pixels within ``tolerance`` (max over the
    channels) of it: are the legend colours on the canvas? (Lit spheres are shaded, so the
    tolerance must allow for that.)"""
    flat = load_png(png).reshape(-1, 3).astype(int)
    return {c: float((np.abs(flat - _hex_rgb(c)).max(axis=1) <= tolerance).mean())
            for c in colors}


def blob_centre(png: bytes, color: str, tolerance: int = 40) -> tuple[int, int] | None:
    """Pixel (x, y) deepest inside the largest patch of ``color`` (where to click a sphere)."""
    from scipy import ndimage

    img = load_png(png).astype(int)
    mask = np.abs(img - _hex_rgb(color)).max(axis=2) <= tolerance
    if not mask.any():
        return None
    depth = ndimage.distance_transform_edt(mask)
    y, x = np.unravel_index(np.argmax(depth), depth.shape)
    return int(x), int(y)


def saturated_fraction(png: bytes, min_saturation: float = 0.35) -> float:
    """Fraction of pixels with a clear colour (not white, grey or black)."""
    img = load_png(png).astype(float) / 255
    mx, mn = img.max(axis=2), img.min(axis=2)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0)
    return float(((sat > min_saturation) & (mx > 0.15)).mean())


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: the browser tests must run in CI "
                        "(install Debian's chromium package)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); "
                    "browser tests skipped outside CI")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("the playwright Python package is missing")
        pytest.skip("the playwright Python package is not installed")
    return str(CHROMIUM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    def __init__(self, base_url: str, token: str, root: Path, process, log_path: Path):
        self.base_url, self.token, self.root = base_url, token, root
        self.process, self.log_path = process, log_path

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str):
        with urllib.request.urlopen(self.url(f"api/{path}"), timeout=5) as r:
            return json.loads(r.read())


@pytest.fixture(scope="session")
def lab_server(chromium_executable, artifacts_dir):
    """A headless ``jupyter lab`` serving the repository, for the whole session."""
    with running_lab(artifacts_dir) as server:
        yield server


@contextlib.contextmanager
def running_lab(artifacts_dir: Path):
    """Start ``jupyter lab`` (private settings, random token and port); stop it on exit.
    Also used outside pytest (benchmarks/bench_viewer.py)."""
    token = secrets.token_hex(16)
    port = _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="zifviz-lab-"))
    settings = tmp / "settings"
    for rel, value in LAB_SETTINGS.items():
        f = settings / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    env = dict(os.environ)
    env.update({
        "ZIFVIZ_DATA_MIRROR": DATA_MIRROR,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
    })
    log_path = artifacts_dir / "jupyter-lab.log"
    log = open(log_path, "w")
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
           f"--IdentityProvider.token={token}", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--ServerApp.port_retries=0", f"--ServerApp.root_dir={REPO}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers often run as root
    process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=REPO, start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", token, REPO, process, log_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {process.returncode}; see "
                                   f"{log_path}:\n" + log_path.read_text()[-3000:])
            try:
                server.api("status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer /api/status in 90 s; "
                                       f"see {log_path}")
                time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def browser(chromium_executable):
    """Playwright Chromium from ``chromium_executable`` (Playwright never downloads one)."""
    with running_browser(chromium_executable) as b:
        yield b


@contextlib.contextmanager
def running_browser(executable: str = str(CHROMIUM)):
    """Playwright's Chromium on ``executable`` (headless, SwiftShader WebGL)."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


# ---------------------------------------------------------------- notebook page
class NotebookPage:
    """An open notebook in JupyterLab, with helpers for widget tests."""

    image_stats = staticmethod(image_stats)
    image_difference = staticmethod(image_difference)
    color_fractions = staticmethod(color_fractions)
    blob_centre = staticmethod(blob_centre)
    saturated_fraction = staticmethod(saturated_fraction)

    def __init__(self, page, server: LabServer, path: str, artifacts: Path, name: str):
        self.page, self.server, self.path = page, server, path
        self.artifacts, self.name = artifacts, name
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))

    # -- opening
    def open(self, timeout: float = 60):
        page = self.page
        # a workspace of its own: JupyterLab would otherwise reopen the notebooks of earlier
        # tests (same server) next to this one
        workspace = re.sub(r"[^A-Za-z0-9_-]+", "-", self.name) + "-" + secrets.token_hex(3)
        page.goto(self.server.url(f"lab/workspaces/{workspace}/tree/{self.path}"),
                  timeout=timeout * 1000)
        page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for(timeout=timeout * 1000)
        self.accept_kernel_dialog()
        self.wait_kernel_idle(timeout)
        self.close_toasts()
        return self

    def accept_kernel_dialog(self, timeout: float = 8):
        """Accept JupyterLab's "Select Kernel" dialog (Enter) if it shows up."""
        dialog = self.page.locator(".jp-Dialog")
        try:
            dialog.first.wait_for(timeout=timeout * 1000)
        except Exception:
            return False
        self.page.keyboard.press("Enter")
        dialog.first.wait_for(state="detached", timeout=10_000)
        return True

    def close_toasts(self):
        """Close notification toasts (e.g. the news question)."""
        for button in self.page.locator(
                ".Toastify__toast button.jp-Notification-Toast-Close, "
                ".Toastify__close-button").all():
            try:
                button.click(timeout=1000)
            except Exception:
                pass

    def wait_kernel_idle(self, timeout: float = 60):
        # attached, not visible: a narrow toolbar may hide the indicator
        self.page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']")\
            .first.wait_for(state="attached", timeout=timeout * 1000)

    # -- running
    def run_all(self, timeout: float = 120) -> float:
        """Run all cells from the Run menu and wait until every code cell has executed.
        Returns the seconds it took; fails on an error output."""
        page = self.page
        t0 = time.monotonic()

        def click_run_all():
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).first.click()
            page.locator(".lm-Menu-item[data-command='runmenu:run-all'], "
                         ".lm-Menu-item[data-command='notebook:run-all-cells']").first.click()

        click_run_all()
        prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt")
        deadline = t0 + timeout
        retried = False
        while True:
            texts = [t.strip() for t in prompts.all_inner_texts()]
            if texts and all(re.fullmatch(r"\[\d+\]:", t) for t in texts):
                break
            if not retried and time.monotonic() - t0 > 15 and all(t == "[ ]:" for t in texts):
                # the click came before the notebook was ready (nothing queued): once more
                self.screenshot_page("run-all-not-started")
                self.close_toasts()
                page.keyboard.press("Escape")
                click_run_all()
                retried = True
            if "[*]:" not in texts and self.error_outputs():
                break  # a cell failed: the others will not run
            if os.environ.get("ZIFVIZ_BROWSER_DEBUG") and int(time.monotonic() - t0) % 20 == 0:
                print("run_all prompts:", texts, flush=True)
                self.screenshot_page("run-all-progress")
            if time.monotonic() > deadline:
                self.screenshot_page("run-all-timeout")
                raise AssertionError(f"cells did not finish in {timeout} s: prompts {texts}")
            time.sleep(0.25)
        self.wait_kernel_idle(timeout)
        errors = self.error_outputs()
        assert not errors, "cells raised errors:\n" + "\n\n".join(errors)
        return time.monotonic() - t0

    def error_outputs(self) -> list[str]:
        outs = self.page.locator(
            ".jp-NotebookPanel .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        return [t for t in outs.all_inner_texts()
                if "Traceback" in t or ("Error:" in t and "Warning" not in t)]

    # -- finding widgets
    def widget(self, css: str, index: int = 0):
        """The ``index``-th element matching ``css`` in the notebook (e.g. a widget's
        ``add_class`` name: ``.zifviz-structure-viewer``)."""
        return self.page.locator(f".jp-NotebookPanel {css}").nth(index)

    # -- screenshots
    def screenshot(self, locator, name: str) -> bytes:
        """PNG of one element, also saved as ``test-artifacts/browser/<test>-<name>.png``."""
        locator.scroll_into_view_if_needed()
        png = locator.screenshot(animations="disabled")
        (self.artifacts / f"{self.name}-{name}.png").write_bytes(png)
        return png

    def screenshot_page(self, name: str) -> bytes:
        png = self.page.screenshot(full_page=False)
        (self.artifacts / f"{self.name}-{name}.png").write_bytes(png)
        return png

    def wait_drawn(self, locator, name: str, timeout: float = 60,
                   min_fraction: float = 0.01, min_colors: int = 8) -> tuple[bytes, dict]:
        """Wait until ``locator`` (e.g. a canvas) shows something (not one colour) and the
        picture has stopped changing; returns its PNG and :func:`image_stats`."""
        deadline = time.monotonic() + timeout
        previous = None
        while True:
            png = locator.screenshot(animations="disabled")
            stats = image_stats(png)
            drawn = stats["drawn_fraction"] >= min_fraction and stats["distinct_colors"] >= min_colors
            if drawn and previous is not None and image_difference(png, previous) < 0.002:
                break
            if time.monotonic() > deadline:
                self.screenshot(locator, f"{name}-not-drawn")
                raise AssertionError(f"{name}: nothing (stable) drawn after {timeout} s: {stats}")
            previous = png
            time.sleep(0.3)
        (self.artifacts / f"{self.name}-{name}.png").write_bytes(png)
        return png, stats

    def click_and_time_redraw(self, button, canvas, marker=None, timeout: float = 10,
                              settle: float = 1.0, key: str | None = None) -> dict:
        """Click ``button`` and time, inside the page, what happens to ``canvas`` (seconds
        after the click, from ``requestAnimationFrame`` and a small copy of the canvas):

        ``complete``      the first canvas change that shows the whole new scene: with a
                          ``marker`` (element whose ``data-zifviz-drawn`` serial changes when
                          the widget has built the new scene, e.g. the StructureViewer's
                          ``.zifviz-ngl``), the first change after that; without, the first
                          change;
        ``first_change``, ``last_change``  (NGL re-renders anti-aliased ~0.5 s after the
                          scene changed; ``last_change`` includes that refinement);
        ``received``, ``built``  when the widget got the new scene and had built it (marker).

        With ``key`` (e.g. ``"ArrowRight"``), ``button`` gets that key press (keydown) instead
        of a click (e.g. the handle of a slider).
        """
        button.scroll_into_view_if_needed()
        canvas.scroll_into_view_if_needed()
        return self.page.evaluate(
            """async ([button, canvas, marker, timeout, settle, key]) => {
                const w = 96, h = Math.max(1, Math.round(96 * canvas.height / canvas.width));
                const copy = document.createElement('canvas');
                copy.width = w; copy.height = h;
                const ctx = copy.getContext('2d', {willReadFrequently: true});
                const snap = () => {
                    ctx.clearRect(0, 0, w, h);
                    ctx.drawImage(canvas, 0, 0, w, h);
                    const d = ctx.getImageData(0, 0, w, h).data;
                    let s = 0;
                    for (let i = 0; i < d.length; i += 1) { s = (s * 31 + d[i]) >>> 0; }
                    return s;
                };
                const frame = () => new Promise(r => requestAnimationFrame(r));
                await frame();
                const serial0 = marker ? marker.dataset.zifvizDrawn : null;
                let cur = snap();
                const t0 = performance.now();
                if (key) {
                    button.focus();
                    button.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));
                } else {
                    button.click();
                }
                let first = null, last = null, complete = null, builtSeen = !marker;
                while (performance.now() - t0 < timeout * 1000) {
                    await frame();
                    // the marker is set before the scene is rendered, so a canvas change
                    // seen in the same animation frame already shows the new scene
                    builtSeen = builtSeen || !marker || marker.dataset.zifvizDrawn !== serial0;
                    const s = snap();
                    const now = performance.now() - t0;
                    if (s !== cur) {
                        cur = s; last = now;
                        if (first === null) first = now;
                        if (complete === null && builtSeen) complete = now;
                    }
                    if (complete !== null && now - last > settle * 1000) break;
                }
                const rel = (k) => (marker && marker.dataset[k] && marker.dataset.zifvizDrawn !== serial0)
                    ? (parseFloat(marker.dataset[k]) - t0) / 1000 : null;
                return {complete: complete === null ? null : complete / 1000,
                        first_change: first === null ? null : first / 1000,
                        last_change: last === null ? null : last / 1000,
                        received: rel('zifvizReceivedAt'), built: rel('zifvizDrawnAt'),
                        changed: first !== null};
            }""",
            [button.element_handle(), canvas.element_handle(),
             marker.element_handle() if marker is not None else None, timeout, settle, key])

    def save_console(self):
        (self.artifacts / f"{self.name}-console.log").write_text("\n".join(self.console))

    def save_json(self, name: str, data) -> None:
        """Write ``data`` to ``test-artifacts/browser/<test>-<name>.json``."""
        (self.artifacts / f"{self.name}-{name}.json").write_text(
            json.dumps(data, indent=1, default=str))

    def console_errors(self) -> list[str]:
        """JavaScript errors (``console.error`` and uncaught exceptions) of this page, except
        the known harmless ones of JupyterLab itself (see ``BENIGN_CONSOLE``)."""
        return [m for m in self.console
                if (m.startswith("[error]") or m.startswith("[pageerror]"))
                and not any(re.search(p, m) for p in BENIGN_CONSOLE)]

    def assert_no_console_errors(self):
        errors = self.console_errors()
        assert not errors, "JavaScript errors in the page:\n" + "\n".join(errors)

    # -- the StructureViewer
    def viewer(self, index: int = 0):
        return self.widget(".zifviz-structure-viewer", index)

    def wait_viewer_ready(self, viewer, timeout: float = 60):
        """Wait until the viewer's browser code has shown a level (``data-zifviz-scene``)."""
        ngl = viewer.locator(".zifviz-ngl").first
        try:
            ngl.wait_for(state="attached", timeout=timeout * 1000)
            self.page.wait_for_function(
                "(el) => el && el.dataset.zifvizScene !== undefined",
                arg=ngl.element_handle(), timeout=timeout * 1000)
        except Exception:
            self.screenshot_page("viewer-not-ready")
            (self.artifacts / f"{self.name}-viewer-not-ready.html").write_text(
                viewer.evaluate("(e) => e.outerHTML")[:20000])
            raise
        return ngl

    def press_and_time_frame(self, viewer, key: str, handle, frame: int,
                             timeout: float = 30) -> float:
        """Press ``key`` on the frame slider ``handle`` and return the seconds until the
        viewer's browser side has drawn ``frame`` (``data-zifviz-frame``)."""
        ngl = viewer.locator(".zifviz-ngl").first.element_handle()
        handle.focus()
        t0 = self.page.evaluate("() => performance.now()")
        handle.press(key)
        self.page.wait_for_function(
            "([el, f]) => el.dataset.zifvizFrame === String(f)", arg=[ngl, frame],
            timeout=timeout * 1000)
        drawn = float(ngl.evaluate("(el) => el.dataset.zifvizDrawnAt"))
        return (drawn - t0) / 1000

    def viewer_state(self, viewer) -> dict:
        """What the viewer's browser side shows: level, frame, serial, highlighted, ..."""
        return viewer.locator(".zifviz-ngl").first.evaluate("(el) => ({...el.dataset})")



def write_notebook(name: str, cells: list[str]) -> str:
    """Write a notebook of code ``cells`` under ``test-artifacts/browser/notebooks/``;
    returns its path relative to the repository (what :func:`open_notebook` takes)."""
    NOTEBOOKS.mkdir(parents=True, exist_ok=True)
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{k}",
                     "metadata": {}, "outputs": [], "source": src}
                    for k, src in enumerate(cells)],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                      "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    path = NOTEBOOKS / f"{name}.ipynb"
    path.write_text(json.dumps(nb, indent=1))
    return str(path.relative_to(REPO))


class Latencies:
    """Latencies measured by the browser tests, written to ``latencies.json`` (merged with
    what earlier tests of other runs wrote)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.data = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def record(self, test: str, **values):
        self.data.setdefault(test, {}).update(values)
        self.data[test]["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.path.write_text(json.dumps(self.data, indent=1, default=str))


@pytest.fixture(scope="session")
def latencies(artifacts_dir) -> Latencies:
    return Latencies(artifacts_dir / "latencies.json")


@pytest.fixture
def open_notebook(browser, lab_server, artifacts_dir, request):
    """Factory: ``open_notebook(path)`` -> :class:`NotebookPage` in a fresh browser page."""
    contexts = []
    pages: list[NotebookPage] = []
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def _open(path: str, viewport=(1280, 1000)) -> NotebookPage:
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        nb = NotebookPage(page, lab_server, path, artifacts_dir,
                          test_name if not pages else f"{test_name}-{len(pages)}")
        pages.append(nb)
        return nb.open()

    yield _open
    for nb in pages:
        nb.save_console()
    errors = [e for nb in pages for e in nb.console_errors()]
    for context in contexts:
        context.close()
    # shut the kernels the test started, so the next test starts clean
    try:
        for session in lab_server.api("sessions"):
            req = urllib.request.Request(lab_server.url(f"api/sessions/{session['id']}"),
                                         method="DELETE")
            urllib.request.urlopen(req, timeout=10).close()
    except OSError:
        pass
    if errors:
        pytest.fail("JavaScript errors in the page:\n" + "\n".join(errors))
