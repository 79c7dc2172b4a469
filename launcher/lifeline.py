"""A managed process's lifeline to the program that started it: when that program dies, even by
SIGKILL, the process and its whole group stop.

    python -I -S lifeline.py FD PROGRAM [ARGUMENT ...]

`ManagedProcess.start` runs this in a new process group instead of PROGRAM. It forks a small
watcher, then becomes PROGRAM (exec: same pid, so signals, exit codes and a worker's
`pid@host` identity all belong to PROGRAM itself). FD is the read end of a pipe whose only
write end the starting program holds and never writes to. However that program ends, the
operating system closes its end; the watcher then reads end-of-file and stops the group:
SIGTERM, and SIGKILL for whatever is left after `GRACE_SECONDS`. Linux's parent-death signal
would cover only a direct child and macOS has none; a pipe works on both, for any program
(the `temporal` binary included), without changing it.

Standard library only, so that it starts in milliseconds with `-I -S`.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

GRACE_SECONDS = 2.0
"""How long the group gets to stop on SIGTERM: all of it is gone within about 2.5 s."""
CHECK_SECONDS = 0.5


def main(argv: list[str]) -> None:
    lifeline, command = int(argv[1]), argv[2:]
    program = os.getpid()
    if os.fork() == 0:
        try:
            _watch(lifeline, program)
        finally:
            os._exit(0)
    os.close(lifeline)  # the watcher has its own copy; the program has no use for it
    try:
        os.execvp(command[0], command)
    except OSError as error:
        print(f"Cannot start {command[0]}: {error.strerror}", file=sys.stderr)
        os._exit(127)


def _watch(lifeline: int, program: int) -> None:
    # Let go of the program's output, so that whoever reads it sees its end when it ends.
    quiet = os.open(os.devnull, os.O_RDWR)
    for standard in (0, 1, 2):
        os.dup2(quiet, standard)
    # While the program runs, this watcher is its child; once it has ended, the watcher has
    # another parent and nothing left to guard.
    while os.getppid() == program:
        readable, _, _ = select.select([lifeline], [], [], CHECK_SECONDS)
        if readable and not os.read(lifeline, 1):
            _stop_group(program)
            return


def _stop_group(program: int) -> None:
    """The starter is gone: stop every process of this group, this watcher last."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    group = os.getpgrp()
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while os.getppid() == program and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(group, signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv)
