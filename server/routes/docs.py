"""The OpenAPI document and Swagger UI, behind the same token as the API they describe."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from ..deps import require_token

router = APIRouter(dependencies=[Depends(require_token)], include_in_schema=False)


@router.get("/openapi.json")
async def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI document of this app."""
    return request.app.openapi()  # type: ignore[no-any-return]


@router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{request.app.title} docs")
