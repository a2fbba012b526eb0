"""``python -m jobbers.cli``: the same as the ``jobbers`` command."""

from .app import main

main()
