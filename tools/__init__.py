"""Command-line tools of the demo: the soak test."""
