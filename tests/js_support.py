"""The npm side of the real-client tests: tests/js's packages, the esbuild bundle and the page server."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from tests.browser_support import missing
from tests.loopback import serving

JS = Path(__file__).resolve().parent / "js"
NODE_MODULES = JS / "node_modules"
PAGE = JS / "browser" / "index.html"
BUILD_TIMEOUT = 60


def find_node() -> str:
    """The node executable, or skip/fail saying why."""
    node = shutil.which("node")
    if node is None:
        missing("Node.js not found: install Node 20 or newer")
        raise AssertionError("unreachable")
    return node


def require_node_modules(*packages: str) -> None:
    """Skip/fail unless `npm ci --prefix tests/js` has installed these packages."""
    absent = [name for name in packages if not (NODE_MODULES / name / "package.json").is_file()]
    if absent:
        missing(f"{', '.join(absent)} not installed: run npm ci --prefix tests/js")


def build_bundle(out_dir: Path) -> Path:
    """tests/js/browser/main.js and the trackers it imports, bundled by esbuild into one script."""
    require_node_modules("@snowplow/browser-tracker", "@snowplow/browser-plugin-link-click-tracking",
                         "esbuild")
    bundle = out_dir / "bundle.js"
    esbuild = NODE_MODULES / ".bin" / "esbuild"
    done = subprocess.run(
        [str(esbuild), "browser/main.js", "--bundle", "--format=iife", "--target=chrome100",
         f"--outfile={bundle}", "--log-level=warning"],
        cwd=JS, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    assert done.returncode == 0, f"esbuild failed:\n{done.stdout}\n{done.stderr}"
    return bundle


@contextlib.asynccontextmanager
async def page_server(bundle: Path) -> AsyncIterator[str]:
    """The test page and its bundle on 127.0.0.1 with a port of its own: a different origin from the
    collector, so the browser applies CORS to every tracker request. Yields the page's URL."""
    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE, headers={"Cache-Control": "no-store"})

    async def script(request: web.Request) -> web.FileResponse:
        return web.FileResponse(bundle, headers={"Cache-Control": "no-store",
                                                 "Content-Type": "text/javascript"})

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/bundle.js", script)
    async with serving(app, handle_signals=False) as url:
        yield url + "/"
