"""jobbers.cli: the ``jobbers`` command, a thin face over ``jobbers.api.client``."""
