"""The website: it builds with Sphinx warnings as errors, every internal link resolves, and every
page works in a real browser, offline.

The browser tests drive Debian's Chromium (/usr/bin/chromium) with Playwright; no browser is
downloaded. They load every page from a local server and fail on a console error, a failed or
off-site request, an equation MathJax did not typeset, an image that did not load, or a page
without outputs whose notebook has some. A screenshot of each page is saved under
``artifacts/screenshots/``. Without Chromium they are skipped, and say so.
"""

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


PAGES = _toc_files()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(out),
         "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, (
        "jupyter-book build failed (warnings are errors):\n" + result.stdout[-6000:] + result.stderr[-6000:]
    )
    return out / "_build" / "html"


# -- the build ------------------------------------------------------------------------------

def test_every_toc_entry_is_a_page(site):
    for name in PAGES:
        assert (site / f"{name}.html").exists(), f"{name} has no page"


def test_every_notebook_is_in_the_toc():
    for folder in ("chapters", "exercises", "solutions"):
        for path in (ROOT / folder).glob("*.ipynb"):
            assert f"{folder}/{path.stem}" in PAGES, f"{folder}/{path.name} is not in _toc.yml"


def _notebook_outputs(name):
    path = ROOT / f"{name}.ipynb"
    if not path.exists():
        return []
    nb = nbformat.read(path, as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


@pytest.mark.parametrize("name", [p for p in PAGES if "/" in p])
def test_pages_show_outputs_figures_and_glued_numbers(site, name):
    page = (site / f"{name}.html").read_text()
    outputs = _notebook_outputs(name)
    if outputs:
        assert "cell_output" in page, f"{name}: the page shows none of the notebook's outputs"
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    assert page.count("<img") >= images, f"{name}: {images} figures in the notebook, fewer on the page"
    assert not re.search(r"\{glue:?\w*\}", page), f"{name}: an unresolved glue role is on the page"


def test_figures_have_alt_text(site):
    missing = []
    for name in PAGES:
        page = (site / f"{name}.html").read_text()
        for tag in re.findall(r"<img\b[^>]*>", page):
            if "/_static/" in tag and "logo" in tag:
                continue
            alt = re.search(r'\balt="([^"]*)"', tag)
            if not alt or not alt.group(1).strip():
                missing.append((name, tag[:120]))
    assert not missing, f"images without alt text: {missing}"


def test_mathjax_is_served_by_the_site(site):
    page = (site / f"{PAGES[1]}.html").read_text()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', page)
    assert any("_static/mathjax/" in s for s in scripts), scripts
    assert not [s for s in scripts if urlparse(s).scheme in ("http", "https")], scripts


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and attrs.get("rel") in ("canonical",)):
                self.links.append(attrs[key])


@functools.lru_cache(maxsize=None)
def _parse(path):
    parser = _Links()
    parser.feed(Path(path).read_text(errors="replace"))
    return parser


def test_every_internal_link_resolves(site):
    broken = []
    for page in sorted(site.rglob("*.html")):
        if "_static" in page.parts:
            continue
        for link in _parse(str(page)).links:
            url = urlparse(link)
            if url.scheme or link.startswith(("//", "mailto:", "javascript:", "data:")):
                continue
            target = page if not url.path else (page.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)} -> {link}")
            elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in _parse(str(target)).ids:
                broken.append(f"{page.relative_to(site)} -> {link} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:50])


# -- in a real browser ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests SKIPPED: Chromium not found at {CHROMIUM} "
                    "(install it with `apt-get install chromium`; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def screenshots():
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.mark.parametrize("name", PAGES)
def test_page_in_a_browser(browser, server, screenshots, name):
    origin = urlparse(server).netloc
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    offsite = []

    def route(route):
        if urlparse(route.request.url).netloc == origin or route.request.url.startswith("data:"):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url} ({req.failure})")
            if urlparse(req.url).netloc == origin else None)
    page.on("response", lambda res: problems.append(f"HTTP {res.status}: {res.url}") if res.status >= 400 else None)

    page.goto(urljoin(server, f"{name}.html"), wait_until="networkidle")
    math = page.evaluate(
        """async () => {
            if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
            const blocks = [...document.querySelectorAll('.math')];
            return {
                total: blocks.length,
                untypeset: blocks.filter(b => !b.querySelector('mjx-container')).map(b => b.textContent.slice(0, 80)),
                errors: [...document.querySelectorAll('mjx-merror, merror')].map(e => e.textContent.slice(0, 80)),
            };
        }"""
    )
    images = page.evaluate(
        """() => [...document.querySelectorAll('img')]
              .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)"""
    )
    outputs = page.locator(".cell_output").count()
    # Messages printed by cells tagged wrap-output wrap (_static/outputs.css) instead of scrolling.
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('.cell.tag_wrap-output .cell_output pre')]
              .filter(pre => pre.scrollWidth > pre.clientWidth + 1).map(pre => pre.textContent.slice(0, 80))"""
    )
    page.screenshot(path=str(screenshots / f"{name.replace('/', '__')}.png"), full_page=True)
    context.close()

    assert not offsite, f"{name}: requests to other hosts: {offsite}"
    assert not problems, f"{name}: " + "; ".join(problems)
    assert not math["untypeset"] and not math["errors"], f"{name}: MathJax failed on {math}"
    assert not images, f"{name}: images that did not load: {images}"
    assert not overflowing, f"{name}: messages that scroll sideways instead of wrapping: {overflowing}"
    if _notebook_outputs(name):
        assert outputs > 0, f"{name}: the notebook has outputs, the page shows none"
