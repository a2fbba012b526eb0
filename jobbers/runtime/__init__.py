"""The process loops: the worker (and its entry point), the scheduler, the cleaner, and
what every jobbers process shares (logging, signals, threads, metrics)."""
