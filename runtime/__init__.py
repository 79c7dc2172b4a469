"""What the entry points share around the Temporal lesson: where the server is, the worker's
options, and stopping cleanly on Ctrl-C."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The checkout: where the entry points, templates/, static/ and data/ are."""
