"""The benchmark's no-op worker: `run_worker.py`'s command line and tuning, no-op work.

python3 benchmarks/noop_worker.py [run_worker.py's options]
"""

from __future__ import annotations

import argparse

from temporalio.client import Client
from temporalio.worker import Worker

from benchmarks.noop_workflow import NOOP_TASK_QUEUE, NoopWorkflow, noop_step
from runtime.worker import run_until_stopped, worker_options


def noop_worker(client: Client, args: argparse.Namespace) -> Worker:
    return Worker(
        client,
        task_queue=NOOP_TASK_QUEUE,
        workflows=[NoopWorkflow],
        activities=[noop_step],
        **worker_options(args),
    )


if __name__ == "__main__":
    run_until_stopped(noop_worker, description=__doc__)
