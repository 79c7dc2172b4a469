"""A command line refused: what a script's `parse_args` printed when it stopped with exit
status 2, as argparse stops on a bad option or variable."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def refusal(
    parse_args: Callable[[list[str]], object],
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
) -> str:
    """What `parse_args(argv)` wrote to stderr; it must have refused `argv` (exit status 2)."""
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err
