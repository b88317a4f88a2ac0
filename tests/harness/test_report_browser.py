"""report.html opened as a reader opens it: in a real headless Chromium (Debian's, driven by
Playwright's Python package with the system executable; no browser is downloaded).

Every image must load, the console must stay free of errors, nothing may be fetched but the
file itself, and the first screen (1280 x 900) must hold the two answers (a headline per
candidate, the target-load lines) and a verdict card per candidate without scrolling; the
claims follow the cards, the criteria matrix is there below. Without a Chromium the tests
are skipped with the reason, unless ``HARNESS_REQUIRE_BROWSER=1`` (``.ci/run`` sets it after
installing one): then a missing browser fails them, so CI never skips them.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.report import write_report
from harness.report.screenshot import FIRST_SCREEN, chromium_args, find_chromium, why_no_chromium

REQUIRE_VARIABLE = "HARNESS_REQUIRE_BROWSER"


def browser_or_skip() -> Path:
    """The Chromium to drive; skips (or, when CI requires the browser, fails) without one."""
    required = os.environ.get(REQUIRE_VARIABLE, "").strip() not in ("", "0")
    browser = find_chromium()
    reason = None
    if browser is None:
        reason = why_no_chromium()
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "Playwright's Python package is not installed (pip install -e '.[dev]')"
    if reason is not None:
        if required:
            pytest.fail(f"{REQUIRE_VARIABLE} is set, but: {reason}")
        pytest.skip(reason)
    return browser


@dataclass
class PageCheck:
    """What the browser saw of a report."""

    images: int
    broken_images: list[str]
    console_errors: list[str]
    page_errors: list[str]
    fetched: list[str]  # every request but the report itself and its embedded images
    cards: list[dict]  # candidate, verdict, top, bottom of each verdict card
    headlines: list[dict]  # candidate, verdict, bottom of each headline line
    targets_bottom: float | None  # the target-load lines
    claims_top: float | None
    matrix_rows: int
    height: float
    problems: list[str] = field(default_factory=list)


_INSPECT = """() => {
  const box = (el) => el.getBoundingClientRect();
  const claims = document.querySelector('#claims');
  return {
    images: document.images.length,
    broken: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    cards: Array.from(document.querySelectorAll('.verdict-card')).map(c => ({
      candidate: c.dataset.candidate, verdict: c.dataset.verdict,
      badge: c.querySelector('.verdict').textContent.trim(), top: box(c).top, bottom: box(c).bottom})),
    headlines: Array.from(document.querySelectorAll('.answers .headline[data-candidate]')).map(h => ({
      candidate: h.dataset.candidate, verdict: h.dataset.verdict, bottom: box(h).bottom})),
    targets_bottom: document.querySelector('#target-load') ? box(document.querySelector('#target-load')).bottom : null,
    claims_top: claims ? box(claims).top : null,
    matrix_rows: document.querySelectorAll('table.criteria-matrix tbody tr').length,
    height: document.documentElement.scrollHeight,
  };
}"""


def open_report(html: Path, browser: Path) -> PageCheck:
    """Open ``html`` in ``browser`` at the first screen's size and inspect it."""
    from playwright.sync_api import sync_playwright

    console_errors: list[str] = []
    page_errors: list[str] = []
    fetched: list[str] = []
    own = html.resolve().as_uri()
    width, height = FIRST_SCREEN
    with tempfile.TemporaryDirectory(prefix="harness-browser-test-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(browser),
            headless=True,
            args=chromium_args(),
            viewport={"width": width, "height": height},
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.on(
                "request",
                lambda r: fetched.append(r.url) if r.url != own and not r.url.startswith("data:") else None,
            )
            page.goto(own, wait_until="load")
            seen = page.evaluate(_INSPECT)
        finally:
            context.close()
    return PageCheck(
        images=seen["images"],
        broken_images=seen["broken"],
        console_errors=console_errors,
        page_errors=page_errors,
        fetched=fetched,
        cards=seen["cards"],
        headlines=seen["headlines"],
        targets_bottom=seen["targets_bottom"],
        claims_top=seen["claims_top"],
        matrix_rows=seen["matrix_rows"],
        height=seen["height"],
    )


def assert_report_reads_in_a_browser(run_dir: Path, results, browser: Path) -> PageCheck:
    """The checks every report passes, constructed or measured."""
    check = open_report(run_dir / "report.html", browser)
    assert check.images > 0 and check.broken_images == []
    assert check.console_errors == [] and check.page_errors == []
    assert check.fetched == []  # one self-contained file
    assert [(c["candidate"], c["verdict"]) for c in check.cards] == [
        (d.candidate, str(d.verdict)) for d in results.decisions
    ]
    assert all(c["badge"] == c["verdict"] for c in check.cards)
    # The headlines say what the cards say, one per candidate.
    assert [(h["candidate"], h["verdict"]) for h in check.headlines] == [
        (c["candidate"], c["verdict"]) for c in check.cards
    ]
    assert check.matrix_rows == len({r.criterion for r in results.criteria}) > 0
    # The first screen answers without scrolling: the headlines, the target load and every card.
    assert all(h["bottom"] <= FIRST_SCREEN[1] for h in check.headlines), check.headlines
    if results.targets:
        assert check.targets_bottom is not None and check.targets_bottom <= FIRST_SCREEN[1]
    assert all(c["bottom"] <= FIRST_SCREEN[1] for c in check.cards), check.cards
    return check


@pytest.fixture(scope="module")
def browser():
    return browser_or_skip()


@pytest.fixture(scope="module")
def constructed(tmp_path_factory):
    from tests.harness.test_report import rich_run

    results, records = rich_run()
    out = tmp_path_factory.mktemp("browser")
    write_report(results, out, records)
    return out, results


def test_the_report_reads_in_a_real_browser(browser, constructed):
    out, results = constructed
    check = assert_report_reads_in_a_browser(out, results, browser)
    assert check.claims_top is not None and check.claims_top >= max(c["bottom"] for c in check.cards)  # then claims
    assert check.height > FIRST_SCREEN[1]  # the plots and tables follow below


def test_the_first_screen_is_saved_beside_the_report(browser, constructed):
    from PIL import Image

    out, _ = constructed
    with Image.open(out / "report.png") as image:
        assert image.size == FIRST_SCREEN
        assert sum(1 for n in image.convert("L").histogram() if n) > 16  # a rendered page, not a blank one
