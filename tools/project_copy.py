"""A copy of the project to edit as a developer would, for the bug fixed live: a test and a
benchmark delete the line marked `# BUG` there, never in the project itself."""

from __future__ import annotations

import shutil
from pathlib import Path

from runtime import PROJECT_DIR

BUG_MARKER = "# BUG"
# What a run or a tool leaves behind is not part of the project.
_NOT_THE_PROJECT = shutil.ignore_patterns(
    ".git", ".venv", "data", "test-artifacts", "__pycache__", "*_cache", ".hypothesis", "*.egg-info"
)


def copy_project(destination: Path) -> Path:
    """The project's files in `destination`; its `run_worker.py` runs the copy's code."""
    shutil.copytree(PROJECT_DIR, destination, ignore=_NOT_THE_PROJECT)
    return destination


def delete_the_bug(project: Path) -> None:
    """The developer's fix: delete the one line of activities.py marked `# BUG`."""
    activities = project / "activities.py"
    lines = activities.read_text().splitlines(keepends=True)
    fixed = [line for line in lines if BUG_MARKER not in line]
    if len(lines) - len(fixed) != 1:
        raise ValueError(f"{activities}: {len(lines) - len(fixed)} lines marked {BUG_MARKER}")
    activities.write_text("".join(fixed))
