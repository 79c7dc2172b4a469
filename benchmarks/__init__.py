"""Scripts that measure the demo: they print figures, and assert nothing."""
