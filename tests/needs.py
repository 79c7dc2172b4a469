"""Tools a test needs: found, or the test is skipped with how to install them; under CI
(`CI=true`, which `.ci/run` exports) it fails instead, naming the tool."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_tool(tool: str, found: str | None, install: str) -> str:
    """`found` (the tool's path), else skip the test, or fail it under CI, naming `tool`."""
    if found:
        return found
    message = f"{tool} is not installed: {install}"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)
