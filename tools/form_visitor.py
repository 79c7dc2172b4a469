"""The web form as a browser uses it, over HTTP: fill in and submit the form, open a booking's
page and poll its live view as the page's script does. For the tools that drive the real form
process (the demo day, the soak) and for tests that do."""

from __future__ import annotations

import html
import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict
from typing import Any

from shared import BookingInput

POLL_SECONDS = 0.4
"""As often as the live page's script (static/booking.js) asks."""
AGAIN_AFTER_503_SECONDS = 2.0
"""After a 503 (Temporal did not answer in time), the page's script asks again this much later."""
TRIES_AFTER_503 = 5
REQUEST_TIMEOUT_SECONDS = 10.0

Answer = tuple[int, str, str]
"""A page's status, body and Location header."""


class FormVisitor:
    """The presenter's browser: one cookie jar (one session), pages fetched as a browser does,
    redirects not followed so that POST /book's answer can be read."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self._jar), _NoRedirect()
        )
        self._lock = threading.Lock()
        self.requests = 0
        self.unavailable = 0
        """Answers 503: Temporal did not answer the form in time (asked again, as a browser
        does)."""

    def fetch(self, path: str, form: dict[str, str] | None = None) -> Answer:
        """(status, body, Location header) of GET `path`, or of POST `form` to it."""
        with self._lock:
            self.requests += 1
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self._opener.open(self.url + path, data, REQUEST_TIMEOUT_SECONDS) as answer:
                return answer.status, answer.read().decode(), answer.headers.get("Location", "")
        except urllib.error.HTTPError as answer:  # 3xx (not followed), 4xx and 5xx
            with answer:
                return answer.code, answer.read().decode(), answer.headers.get("Location", "")

    def fetch_patiently(
        self, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        """`fetch`, but a 503 is asked again 2 s later, a few times: what the live page's script
        does, and what a presenter does with a form that says Temporal is not answering (the
        same form submitted again reaches the same booking)."""
        for _ in range(TRIES_AFTER_503 - 1):
            answer = self.fetch(path, form)
            if answer[0] != 503:
                return answer
            with self._lock:
                self.unavailable += 1
            time.sleep(AGAIN_AFTER_503_SECONDS)
        return self.fetch(path, form)

    def book(self, booking: BookingInput) -> str:
        """Fill in the form and submit it; the new booking's workflow id."""
        status, page, _ = self.fetch("/")
        if status != 200:
            raise RuntimeError(f"GET / answered {status}")
        tokens = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
        status, page, location = self.fetch_patiently("/book", {**tokens, **form_fields(booking)})
        found = re.fullmatch(r"/bookings/([^/]+)", location)
        if status != 303 or found is None:
            raise RuntimeError(f"POST /book answered {status}: {first_words(page)}")
        return urllib.parse.unquote(found.group(1))

    def watch(self, workflow_id: str, deadline_seconds: float) -> str | None:
        """Open the booking's page, then poll its live view until the run has finished; the
        outcome ("booked", "rolled_back", or the execution status), or None at the deadline."""
        path = f"/bookings/{urllib.parse.quote(workflow_id)}"
        status, page, _ = self.fetch_patiently(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {first_words(page)}")
        give_up = time.monotonic() + deadline_seconds
        while time.monotonic() < give_up:
            asked = time.monotonic()
            status, body, _ = self.fetch_patiently(f"{path}/status")
            if status != 200:
                raise RuntimeError(f"GET {path}/status answered {status}: {first_words(body)}")
            view: dict[str, Any] = json.loads(body)
            if view["finished"] and view["answered"]:
                return str(view["outcome"] or view["execution"])
            time.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - asked)))
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def form_fields(booking: BookingInput) -> dict[str, str]:
    """A booking as the form posts it: text values, a ticked box as "true", an unticked one
    left out."""
    fields: dict[str, str] = {}
    for name, value in asdict(booking).items():
        if isinstance(value, bool):
            if value:
                fields[name] = "true"
        else:
            fields[name] = str(value)
    return fields


def first_words(page: str) -> str:
    """What a page says is wrong (its problem box), else its first words, as one short line."""
    found = re.search(r'class="problem[^"]*"[^>]*>(.*?)</(?:section|div)>', page, re.DOTALL)
    text = html.unescape(re.sub(r"<[^>]+>", " ", found.group(1) if found else page))
    return " ".join(text.split())[:300]
