"""The commands we tell the presenter to run when a part of the demo is missing."""

START_DEV_SERVER = "temporal server start-dev --ui-port 8080"
START_WORKER = "python3 run_worker.py"
