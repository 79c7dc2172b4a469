"""The launcher's terminal: every line behind the coloured name of the part that printed it."""

from __future__ import annotations

import threading
from typing import IO, ClassVar


class Console:
    """Writes lines behind a part's name; one lock, so lines of two parts never mix."""

    COLOURS: ClassVar[dict[str, str]] = {
        "server": "36",
        "worker": "33",
        "form": "32",
        "demo": "1;35",
    }

    def __init__(self, stream: IO[str], colour: bool) -> None:
        self.stream = stream
        self.colour = colour
        self._lock = threading.Lock()

    def say(self, name: str, text: str) -> None:
        label = f"{name:>6} |"
        if self.colour:
            label = f"\033[{self.COLOURS.get(name, '0')}m{label}\033[0m"
        with self._lock:
            for line in text.splitlines() or [""]:
                self.stream.write(f"{label} {line}\n")
            self.stream.flush()

    def copy_lines(self, name: str, output: IO[bytes]) -> None:
        """Copy a part's output line by line, in a thread of its own, until the part exits."""

        def copy() -> None:
            with output:
                for raw in iter(output.readline, b""):
                    self.say(name, raw.decode(errors="replace").rstrip("\r\n"))

        threading.Thread(target=copy, name=f"{name}-output", daemon=True).start()
