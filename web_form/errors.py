"""Every error is a page with one clear sentence, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from runtime.connection import TemporalUnavailable
from web_form.form import render_form, submitted_values

log = logging.getLogger("booking.web")

MESSAGES = {
    404: "There is no such page.",
    413: "The request is too large for a booking form.",
}


def register_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def form_expired(error: CSRFError) -> tuple[str, int]:
        problem = (
            "This form has expired (the web app restarted, or the page is from another "
            "session). Your input is kept: submit it again."
        )
        if request.endpoint == "form.book":
            return render_form(submitted_values(), problem=problem, status=400)
        return error_page(400, "Request refused", problem)

    @app.errorhandler(TemporalUnavailable)
    def temporal_unavailable(error: TemporalUnavailable) -> tuple[str, int]:
        return error_page(503, "Temporal is not answering", str(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        status = error.code or 500
        message = MESSAGES.get(status, error.description or "")
        if status == 404 and error.description and "workflow id" in error.description:
            message = error.description
        return error_page(status, error.name, message)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[str, int]:
        log.exception("Unexpected error on %s %s", request.method, request.path)
        return error_page(500, "Something went wrong", "The details are in the web app's log.")


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("error.html", status=status, title=title, message=message), status
