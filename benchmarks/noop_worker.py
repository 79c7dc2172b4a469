"""The benchmark's no-op worker: `run_worker.py`'s command line and tuning, no-op work.

python3 benchmarks/noop_worker.py [run_worker.py's options]
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from noop_workflow import NOOP_TASK_QUEUE, NoopWorkflow, noop_step
from temporalio.client import Client
from temporalio.worker import Worker

import run_worker


def noop_worker(client: Client, args: argparse.Namespace) -> Worker:
    return Worker(
        client,
        task_queue=NOOP_TASK_QUEUE,
        workflows=[NoopWorkflow],
        activities=[noop_step],
        graceful_shutdown_timeout=timedelta(seconds=5),
        **run_worker.tuning_from_args(args).worker_options(),
    )


if __name__ == "__main__":
    sys.exit(run_worker.main(make_worker=noop_worker))
