"""Command-line options that default to environment variables (`BOOKING_*`), so that a value
refused by the option's `type` says where it came from: the command line or a variable."""

from __future__ import annotations

import argparse
import os


class EnvironmentText(str):
    """An option's default read from an environment variable: a refusal names the variable,
    since nothing was typed on the command line."""

    variable: str


def from_environment(variable: str, default: str | None = None) -> str | None:
    """The variable's text, or `default` where it is unset or empty (`VARIABLE= command`)."""
    text = os.environ.get(variable, "")
    if not text.strip():
        return default
    value = EnvironmentText(text)
    value.variable = variable
    return value


def refusal(text: str, reason: str) -> argparse.ArgumentTypeError:
    """The error an option's `type` raises for `text`, naming the variable it came from."""
    where = f" (from {text.variable})" if isinstance(text, EnvironmentText) else ""
    return argparse.ArgumentTypeError(f"{reason}, not {str(text)!r}{where}")
