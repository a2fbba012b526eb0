"""The HTTP submit's yardstick: a bare FastAPI endpoint that parses the same body.

``POST /submit-task`` here validates the request into the manager's own
``SubmitTaskRequest`` (the same pydantic model, so the same parameter checks) and answers
201 with a small JSON body, storing nothing. Served by uvicorn exactly as the manager is,
it is what the manager's per-request cost is compared with (``bench/http_submit.py``).
"""

from __future__ import annotations

from fastapi import FastAPI

from jobbers.api.schemas import SubmitTaskRequest

app = FastAPI()


@app.post("/submit-task", status_code=201)
async def submit_task(body: SubmitTaskRequest) -> dict[str, str]:
    """Parse and validate the body; answer its name."""
    return {"message": "parsed", "name": body.name}


@app.get("/health")
async def health() -> dict[str, str]:
    """Up, for the driver's start-up poll."""
    return {"status": "ok"}
