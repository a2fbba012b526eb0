"""The benchmark suite (issue #8): ``python -m bench``; not part of the test suite."""
