"""Mutation testing of the saga core with mutmut, on the fast time-skipping tests.

    make mutation                    # or: .venv/bin/python tools/mutation.py
    make mutation ARGS="--fresh"     # forget earlier results and test every mutant again
    make mutation ARGS="--report"    # only print the score and the survivors of the last run

What is mutated, which tests run and mutmut's own settings live in `[tool.mutmut]` in
pyproject.toml (`source_paths` is the list of files). The workflow sandbox stays on:
tools/mutmut_sandbox.py passes only mutmut itself through it (see there why).

Mutants run one at a time (`--max-children 1`), each in a process forked from a warmed-up fork
server, against only the tests that reach the mutated function. A test that hangs fails after
pytest-timeout's limit and the mutant counts as a timeout (detected). Mutants that mypy
rejects are not run at all ("caught by type check", detected). Results are kept in
mutants/*.meta: a second run only tests mutants that are new or whose code or tests changed.

At the end it prints the score, detected / (all mutants - equivalent ones), and every survivor
with its file, line and change. Survivors judged equivalent are listed, with why, in
docs/mutation-testing.md (the table under "Equivalent mutants"); they leave the score. Exit
status: 0 when the score reaches --goal, 1 when not, 2 when the run itself failed.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import ctypes
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS_DOC = ROOT / "docs" / "mutation-testing.md"
LOG = ROOT / "test-artifacts" / "mutation.log"
PR_SET_CHILD_SUBREAPER = 36

# mutmut's statuses (mutmut.stats.status_by_exit_code), grouped for the score.
DETECTED = {"killed", "timeout", "caught by type check"}
UNDETECTED = {"survived", "no tests"}


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    status: str


def mutmut_settings() -> dict[str, object]:
    settings: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "mutmut"
    ]
    return settings


def source_files(source_paths: list[str]) -> list[str]:
    """The Python files `source_paths` names, folders expanded (mutmut keeps results per file)."""
    files = []
    for path in source_paths:
        if (ROOT / path).is_dir():
            files += sorted(str(f.relative_to(ROOT)) for f in (ROOT / path).rglob("*.py"))
        else:
            files.append(path)
    return files


def become_subreaper() -> None:
    """Orphans of our descendants (a test server whose test process was killed) become our
    children instead of init's, so `stop_orphans` can end them by their process id."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("note: no subreaper (prctl failed); a killed test may orphan its test server")


def stop_orphans(mutmut_pid: int) -> None:
    for child in psutil.Process().children():
        if child.pid != mutmut_pid:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
    try:
        while os.waitpid(-1, os.WNOHANG)[0] not in (0, mutmut_pid):
            pass
    except ChildProcessError:
        pass


def progress(log_text: str) -> str:
    found = re.findall(r"\d+/\d+ +🎉 \d+ 🫥 \d+ +⏰ \d+ +🤔 \d+ +🙁 \d+ +🔇 \d+ +🧙 \d+", log_text)
    return found[-1] if found else ""


def run_mutmut(mutants: list[str], max_children: int, test_timeout: float | None = None) -> int:
    """Run `mutmut run`; its output goes to the log, a progress line to us every 30 s."""
    LOG.parent.mkdir(exist_ok=True)
    # mutmut runs `type_check_command` (mypy) from PATH.
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    if test_timeout is not None:
        environment["PYTEST_TIMEOUT"] = str(test_timeout)
    # `mutmut run`, also mutating Temporal's decorated entry points (see mutmut_temporal.py).
    command = [
        sys.executable,
        "-m",
        "tools.mutmut_temporal",
        "run",
        "--max-children",
        str(max_children),
        *mutants,
    ]
    started = time.monotonic()
    with LOG.open("a") as log:
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment
        )
        last_report = started
        try:
            while process.poll() is None:
                time.sleep(1)
                stop_orphans(process.pid)
                if time.monotonic() - last_report >= 30:
                    last_report = time.monotonic()
                    line = progress(LOG.read_text(errors="replace"))
                    print(f"{last_report - started:6.0f} s  {line}", flush=True)
        except KeyboardInterrupt:
            process.terminate()
            process.wait()
        # A test server orphaned by the last kill reaches us a moment after mutmut has ended.
        for _ in range(5):
            stop_orphans(process.pid)
            time.sleep(1)
    wall = time.monotonic() - started
    log_name = LOG.relative_to(ROOT)
    print(f"mutmut run: exit {process.returncode}, {wall:.0f} s wall time (log: {log_name})")
    if process.returncode != 0:
        print(LOG.read_text(errors="replace")[-3000:])
    return process.returncode


def load_mutants(source_paths: list[str]) -> list[Mutant]:
    from mutmut.stats import status_by_exit_code

    mutants = []
    for path in source_paths:
        meta = ROOT / "mutants" / f"{path}.meta"
        if not meta.exists():
            continue
        for name, exit_code in json.loads(meta.read_text())["exit_code_by_key"].items():
            mutants.append(Mutant(name, path, status_by_exit_code[exit_code]))
    return mutants


def equivalent_names() -> dict[str, str]:
    """Mutant names in the "Equivalent mutants" table of the doc, with the reason given."""
    if not EQUIVALENTS_DOC.exists():
        return {}
    section = EQUIVALENTS_DOC.read_text().split("## Equivalent mutants", 1)[-1].split("\n## ", 1)[0]
    names = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        found = re.fullmatch(r"`([^`\s]+__mutmut_\d+)`", cells[0]) if cells else None
        if found:
            names[found.group(1)] = cells[-1]
    return names


def function_start(path: str, qualified: str) -> int:
    """Line of the function (its first decorator) named `Class.method` or `function`."""
    tree = ast.parse((ROOT / path).read_text())
    parts = qualified.split(".")
    body: list[ast.stmt] = tree.body
    for part in parts:
        node = next(
            n
            for n in body
            if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and n.name == part
        )
        body = node.body
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def describe(mutant: Mutant) -> tuple[int, str]:
    """(line in the source file, the change as `- old` / `+ new` lines)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(mutant.name, path=Path(mutant.path)).splitlines()
    _, _, mangled = mutant.name.partition(".")
    mangled = mangled.rsplit("__mutmut_", 1)[0]
    qualified = mangled[2:] if mangled.startswith("x_") else ".".join(mangled.split("ǁ")[1:])
    start = function_start(mutant.path, qualified)
    hunk = [line for line in diff[3:] if line[:1] in " -+"]  # after ---, +++ and @@
    removed = [line[1:] for line in hunk if line.startswith("-")]
    added = [line[1:] for line in hunk if line.startswith("+")]
    # The diff is of the function's text: find its old lines (context and removed) in the file.
    old_lines = [line for line in hunk if line[:1] in " -"]
    block = [line[1:].strip() for line in old_lines]
    if removed:
        changed_at = next(i for i, line in enumerate(old_lines) if line[:1] == "-")
    else:  # only added lines: they follow the context lines before the first of them
        first_added = next(i for i, line in enumerate(hunk) if line[:1] == "+")
        changed_at = sum(1 for line in hunk[:first_added] if line[:1] == " ")
    source = [line.strip() for line in (ROOT / mutant.path).read_text().splitlines()]
    found = next(
        (
            n
            for n in range(max(start - 5, 0), len(source) - len(block) + 1)
            if source[n : n + len(block)] == block
        ),
        start - 1,
    )
    change = "\n".join(
        [*(f"      - {r.strip()}" for r in removed), *(f"      + {a.strip()}" for a in added)]
    )
    return found + 1 + changed_at, change


def report(source_paths: list[str], goal: float) -> int:
    mutants = load_mutants(source_paths)
    if not mutants:
        print("No results: run without --report first.")
        return 2
    equivalents = equivalent_names()
    by_name = {m.name: m for m in mutants}

    columns = ["killed", "timeout", "caught by type check", "survived", "no tests"]
    print()
    print(f"{'file':24} {'mutants':>7}", *(f"{c.split()[-1]:>8}" for c in columns), "   other")

    def row(label: str, counts: Counter[str]) -> None:
        other = sum(n for status, n in counts.items() if status not in columns)
        print(f"{label:24} {counts.total():7}", *(f"{counts[c]:8}" for c in columns), f"{other:8}")

    totals: Counter[str] = Counter()
    for path in source_paths:
        counts = Counter(m.status for m in mutants if m.path == path)
        totals.update(counts)
        row(path, counts)
    row("total", totals)
    total = totals.total()
    detected = sum(totals[s] for s in DETECTED)
    equivalent = [
        by_name[n] for n in equivalents if n in by_name and by_name[n].status in UNDETECTED
    ]
    stale = sorted(
        n for n in equivalents if n not in by_name or by_name[n].status not in UNDETECTED
    )
    other = [m for m in mutants if m.status not in DETECTED | UNDETECTED]
    counted = total - len(equivalent)
    score = detected / counted if counted else 1.0
    print()
    print(
        f"Score: {detected} detected of {counted} non-equivalent mutants = {score:.1%} "
        f"(goal {goal:.0%}; {len(equivalent)} survivors judged equivalent in "
        f"{EQUIVALENTS_DOC.relative_to(ROOT)})"
    )
    tested = counted - totals["caught by type check"]
    by_tests = totals["killed"] + totals["timeout"]
    print(
        f"Tests alone: {by_tests} of the {tested} mutants mypy lets through = "
        f"{by_tests / tested if tested else 1.0:.1%}"
    )
    if other:
        print("Not classified (crashed or suspicious; rerun them by name):")
        for m in other:
            print(f"  {m.status}: {m.name}")
    if stale:
        print("Listed as equivalent but now detected or gone (update the doc):")
        for name in stale:
            print(f"  {name}")

    survivors = [m for m in mutants if m.status in UNDETECTED and m.name not in equivalents]
    if survivors:
        print()
        print(
            f"{len(survivors)} surviving mutants (`.venv/bin/mutmut show NAME` shows one in full):"
        )
    for mutant in survivors:
        line, change = describe(mutant)
        print(f"  {mutant.path}:{line}  {mutant.status}  {mutant.name}")
        print(change)
    return 0 if score >= goal else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "mutants", nargs="*", help="only these mutants (names or globs), tested again"
    )
    parser.add_argument("--fresh", action="store_true", help="forget earlier results first")
    parser.add_argument("--report", action="store_true", help="only report the last run's results")
    parser.add_argument(
        "--max-children", type=int, default=1, help="mutants tested at once (default 1)"
    )
    parser.add_argument(
        "--recheck-timeouts",
        type=float,
        metavar="SECONDS",
        help="then test the mutants that timed out again, with this limit per test",
    )
    parser.add_argument("--goal", type=float, default=0.90, help="score to reach (default 0.90)")
    args = parser.parse_args()

    os.chdir(ROOT)
    source_paths = source_files(
        [str(p) for p in mutmut_settings()["source_paths"]]  # type: ignore[attr-defined]
    )
    if not args.report:
        if args.fresh and (ROOT / "mutants").exists():
            shutil.rmtree(ROOT / "mutants")
        LOG.unlink(missing_ok=True)
        become_subreaper()
        started = time.monotonic()
        if run_mutmut(args.mutants, args.max_children) != 0:
            return 2
        timed_out = [m.name for m in load_mutants(source_paths) if m.status == "timeout"]
        if args.recheck_timeouts and timed_out:
            print(
                f"Testing the {len(timed_out)} timeouts again, {args.recheck_timeouts:g} s a test"
            )
            if run_mutmut(timed_out, args.max_children, args.recheck_timeouts) != 0:
                return 2
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(
            f"Wall time in all: {time.monotonic() - started:.0f} s "
            f"(CPU time of the processes it ran: {usage.ru_utime + usage.ru_stime:.0f} s)"
        )
    return report(source_paths, args.goal)


if __name__ == "__main__":
    sys.exit(main())
