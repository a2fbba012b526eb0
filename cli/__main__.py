"""``python -m jobbers.cli``: the same as the ``jobbers`` command."""

from .main import main

main()
