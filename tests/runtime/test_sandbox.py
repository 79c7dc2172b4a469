"""The worker compiles a workflow's module once, and the sandbox still runs it afresh per run."""

import importlib
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from runtime.sandbox import compile_sandboxed_modules_once

# Reports, for each run, how many runs this copy of the module has seen (1: a fresh module)
# and whether the sandbox refused a non-deterministic call.
PROBE_WORKFLOW = """
import time

from temporalio import workflow
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError

runs_seen_by_this_module = []


@workflow.defn(name="ModuleProbe")
class ModuleProbe:
    @workflow.run
    async def run(self) -> tuple[int, bool]:
        runs_seen_by_this_module.append(workflow.info().workflow_id)
        try:
            time.time()
        except RestrictedWorkflowAccessError:
            return len(runs_seen_by_this_module), True
        return len(runs_seen_by_this_module), False
"""

_watched_files: set[str] = set()
_compiles: Counter[str] = Counter()


def _count_compiles(event: str, args: tuple[object, ...]) -> None:
    if event == "compile" and isinstance(args[1], str) and args[1] in _watched_files:
        _compiles[args[1]] += 1


sys.addaudithook(_count_compiles)  # an audit hook stays for the process: it counts watched files


@pytest.fixture
def probe_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A workflow module without bytecode cache, as on machines with PYTHONDONTWRITEBYTECODE."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    name = f"module_probe_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(PROBE_WORKFLOW)
    _watched_files.add(str(path))
    monkeypatch.syspath_prepend(str(tmp_path))
    # The finder compile_sandboxed_modules_once installs goes when the test ends.
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    yield path
    _watched_files.discard(str(path))
    sys.modules.pop(name, None)


async def test_a_workflow_module_is_compiled_once_and_still_run_afresh_in_the_sandbox(
    client: Client, task_queue: str, probe_module: Path
) -> None:
    compile_sandboxed_modules_once()
    probe = importlib.import_module(probe_module.stem).ModuleProbe
    async with Worker(client, task_queue=task_queue, workflows=[probe]):
        compiles_before = _compiles[str(probe_module)]
        results = [
            await client.execute_workflow(
                "ModuleProbe", id=f"probe-{uuid.uuid4().hex}", task_queue=task_queue
            )
            for _ in range(3)
        ]
        compiles_during_runs = _compiles[str(probe_module)] - compiles_before

    assert compiles_during_runs == 0
    # Each run has a module of its own, and the sandbox's restrictions hold.
    assert results == [[1, True]] * 3
