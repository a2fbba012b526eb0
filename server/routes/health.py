"""Liveness: the one endpoint open without a token, so probes need no secret."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

import jobbers
from jobbers.api.schemas import Health
from jobbers.errors import StoreUnavailable

from ..deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "Redis does not answer"}},
)
async def health(runtime: RuntimeDep) -> Health | JSONResponse:
    """200 when Redis answers a PING, 503 (same body shape) when it does not."""
    try:
        await runtime.state.ping()
    except StoreUnavailable:
        body = Health(status="unavailable", redis=False, version=jobbers.__version__)
        return JSONResponse(
            status_code=503,
            content=body.model_dump(),
            headers={"Retry-After": str(runtime.settings.retry_after_s)},
        )
    return Health(status="ok", redis=True, version=jobbers.__version__)
