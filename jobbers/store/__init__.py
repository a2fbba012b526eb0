"""The store: every Redis key, script and verb jobbers uses, behind one facade.

A process builds one ``StateManager`` (``jobbers.store.facade``) and talks to Redis only
through it. ``keys`` names every key, ``scripts`` loads ``lua/``, ``codec`` reads and
writes the stored records, ``lane`` and ``coalesce`` batch commands, ``listings`` pages
the indexes, ``schedules`` and ``workflows`` hold the verbs of those features, ``runs``
those of the running system (workers, scheduler, cleaner). The facade owns its ``Runs`` and
``Schedules`` parts and offers their verbs under their own names; ``verbs`` maps a Redis
outage to ``StoreUnavailable`` in every verb alike.
"""
