"""What the entry points share around the Temporal lesson: where the server is, the worker's
options, and stopping cleanly on Ctrl-C."""
