"""The whole demo in one command: the Temporal dev server with its Web UI, the worker, the web form.

python3 run_demo.py [--only server worker form] [--db-filename [FILE]] [--reset-ledger] ...

Starts each part, waits until each one really answers, then prints where to go. Every line a
part prints shows behind its coloured name. Ctrl-C stops all of them. While it runs, type
`kill worker` and later `start worker` (or server, or form) to crash a part and bring it back.
The launcher itself lives in the `launcher` package.
"""

from __future__ import annotations

import asyncio

import launcher
from launcher.options import parse_args
from runtime.process import exit_without_finalizing

if __name__ == "__main__":
    exit_without_finalizing(asyncio.run(launcher.run(parse_args(description=__doc__))))
