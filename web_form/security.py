"""The web app's security settings: secret key, headers, and limits in one place."""

from __future__ import annotations

import os
import secrets

from flask import Response

SECRET_KEY_ENV = "BOOKING_WEB_SECRET_KEY"
MAX_CONTENT_LENGTH = 64 * 1024
"""A booking form is well under 2 KiB; anything far larger is refused with 413."""
MAX_FORM_PARTS = 50

# Scripts, styles and everything else only from our own static files: no inline script,
# no CDN. The Temporal UI is opened by a plain link, which a content policy does not limit.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def secret_key() -> str:
    """From the environment, or random per start (forms then expire when the app restarts)."""
    return os.environ.get(SECRET_KEY_ENV) or secrets.token_hex(32)


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
