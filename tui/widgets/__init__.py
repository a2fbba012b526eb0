"""Plain renderers of a frame: each is fed by ``update(snapshot)`` and never calls the client."""
