"""Which Chromium to drive, and how to start it here: the browser tests and the screenshots of
the presenter's guide use the same one, the same way."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

DEBIAN_CHROMIUM = "/usr/bin/chromium"
# Measured on this machine: what headless Debian Chromium needs to start fast, offline,
# as root, without a GPU.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_BROWSER = (
    "No Chromium to drive. Install Debian's: `sudo apt-get install -y chromium` "
    "(or set CHROMIUM_EXECUTABLE to a Chromium binary), or Playwright's own where the "
    "internet is reachable: `.venv/bin/playwright install chromium`."
)


def find_chromium(playwright_chromium: Callable[[], str]) -> str | None:
    """CHROMIUM_EXECUTABLE, else Debian's Chromium, else the one Playwright installs (where
    `playwright_chromium()` says it would be), else one on PATH; None if there is none."""
    chosen = os.environ.get("CHROMIUM_EXECUTABLE")
    if chosen:
        return chosen
    if Path(DEBIAN_CHROMIUM).exists():
        return DEBIAN_CHROMIUM
    bundled = playwright_chromium()
    return bundled if Path(bundled).exists() else shutil.which("chromium")
