"""``report.png``: the report's first screen, taken by a headless Chromium, for a PR comment.

The browser is found in ``$HARNESS_CHROMIUM``, at ``/usr/bin/chromium`` or as ``chromium`` (or
``chromium-browser``, ``google-chrome``) on the PATH; ``HARNESS_CHROMIUM=none`` turns the
screenshot off. Without a browser the report is still complete: :func:`save_screenshot` says how
to get one instead of failing. The browser runs with a fresh profile, no network of its own and
no GPU, and is stopped by its process group when it outlives :data:`TIMEOUT_S`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

__all__ = [
    "CHROMIUM_VARIABLE",
    "FIRST_SCREEN",
    "SCREENSHOT_FILE",
    "TIMEOUT_S",
    "chromium_args",
    "find_chromium",
    "no_chromium_hint",
    "save_screenshot",
    "why_no_chromium",
]

SCREENSHOT_FILE = "report.png"
CHROMIUM_VARIABLE = "HARNESS_CHROMIUM"
FIRST_SCREEN = (1280, 900)  # a laptop's browser window: what a reader sees before scrolling
TIMEOUT_S = 60.0
_OFF = {"none", "off", "no", "0"}
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless, no sandbox (containers and CI runners seldom allow one), nothing fetched or synced.
_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_args() -> list[str]:
    """The flags every launch uses (the screenshot here, the browser test through Playwright)."""
    return list(_ARGS)


def find_chromium() -> Path | None:
    """The Chromium to use, or None (none installed, or ``HARNESS_CHROMIUM=none``)."""
    chosen = os.environ.get(CHROMIUM_VARIABLE, "").strip()
    if chosen:
        if chosen.lower() in _OFF:
            return None
        path = Path(chosen).expanduser()
        found = path if path.is_file() and os.access(path, os.X_OK) else shutil.which(chosen)
        return Path(found) if found else None
    debian = Path("/usr/bin/chromium")
    if debian.is_file() and os.access(debian, os.X_OK):
        return debian
    found = next((hit for name in _NAMES if (hit := shutil.which(name))), None)
    return Path(found) if found else None


def why_no_chromium() -> str:
    """Why :func:`find_chromium` found none, and how to get one."""
    chosen = os.environ.get(CHROMIUM_VARIABLE, "").strip()
    if chosen.lower() in _OFF and chosen:
        return f"{CHROMIUM_VARIABLE}={chosen} turns the browser off"
    if chosen:
        return f"{CHROMIUM_VARIABLE}={chosen} is not an executable browser"
    return (
        "no Chromium found: install one (Debian/Ubuntu: sudo apt-get install -y chromium) or point "
        f"{CHROMIUM_VARIABLE} at a Chrome or Chromium executable"
    )


def no_chromium_hint() -> str:
    """Why there is no report.png, and how to get one."""
    chosen = os.environ.get(CHROMIUM_VARIABLE, "").strip().lower()
    again = "" if chosen in _OFF and chosen else "; then run `harness report DIR` again"
    return f"{SCREENSHOT_FILE} not saved: {why_no_chromium()}{again}"


def save_screenshot(html: Path, png: Path, browser: Path | None = None) -> tuple[Path | None, str | None]:
    """Screenshot the first screen of ``html`` into ``png``: (the file, None), or (None, why not)."""
    browser = browser or find_chromium()
    if browser is None:
        return None, no_chromium_hint()
    width, height = FIRST_SCREEN
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="harness-chromium-") as profile:
        command = [
            str(browser),
            *_ARGS,
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}",
            html.resolve().as_uri(),
        ]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group: stopped whole if it hangs
            )
        except OSError as error:
            return None, f"{SCREENSHOT_FILE} not saved: {browser} did not start ({error})"
        try:
            _, stderr = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return None, f"{SCREENSHOT_FILE} not saved: {browser} took longer than {TIMEOUT_S:g} s"
    if process.returncode != 0 or not png.is_file() or png.stat().st_size == 0:
        last = (stderr or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return None, f"{SCREENSHOT_FILE} not saved: {browser} exited {process.returncode} ({last[0]})"
    return png, None
