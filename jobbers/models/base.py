"""The base of every jobbers model: built at its first use, not when its module is imported.

Pydantic builds a model's validator and serializer when its class is defined unless
``defer_build`` is set; the API schemas and the models hold about sixty classes, so a
``jobbers`` command that reads one answer would build them all (about 30 ms) at import.
Deferred, each model is built once, the first time it validates, serializes or gives its
JSON schema, and is kept built for the life of the process: the manager pays each build once
(at its first request, or when FastAPI draws the OpenAPI document), never per request.
"""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A pydantic model built at first use (``defer_build``); subclasses add their config."""

    model_config = ConfigDict(defer_build=True)
