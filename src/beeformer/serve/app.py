"""``beeformer serve``: the HTTP API over an index folder (FastAPI, run by uvicorn; no authentication).

``POST /recommend``, ``GET /similar/{item_id}``, ``POST /items``, ``GET /health``; the OpenAPI page is ``/docs``
(schema at ``/openapi.json``). Refused requests get a 4xx with ``{"detail": "<one line>"}``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from beeformer import contract
from beeformer.serve.build import load_encoder
from beeformer.serve.index import CatalogueIndex, DuplicateItems, UnknownItems
from beeformer.serve.service import Service
from beeformer.serve.settings import Limits

DEFAULT_K = 20


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecommendRequest(Strict):
    history: list[str] = Field(default_factory=list, description="ids of the items the user consumed")
    texts: list[str] = Field(default_factory=list, description="texts of consumed items that are not in the index")
    k: int = DEFAULT_K


class NewItem(Strict):
    item_id: str
    text: str


class AddRequest(Strict):
    items: list[NewItem]
    replace: bool = Field(False, description="replace items whose id is already in the index")


class ScoredItem(BaseModel):
    item_id: str
    score: float
    text: str


class Items(BaseModel):
    items: list[ScoredItem]


class Health(BaseModel):
    status: str
    items: int
    generation: int
    index: str
    model: str


def error(status: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail})


def create_app(service: Service) -> FastAPI:
    app = FastAPI(
        title="beeFormer recommendations",
        description="Content-based recommendations from a beeFormer index folder. No authentication.",
    )

    @app.middleware("http")
    async def bounded_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None:
                return error(411, "send a Content-Length header (chunked bodies are not accepted)")
            if int(length) > service.limits.max_request_bytes:
                return error(413, f"body of {length} bytes; at most {service.limits.max_request_bytes}")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = ["/".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors()]
        return error(422, "; ".join(problems))

    @app.exception_handler(UnknownItems)
    async def unknown(request: Request, exc: UnknownItems) -> JSONResponse:
        return error(404 if request.method == "GET" else 422, str(exc))

    @app.exception_handler(DuplicateItems)
    async def duplicate(_: Request, exc: DuplicateItems) -> JSONResponse:
        return error(409, str(exc))

    @app.exception_handler(contract.ContractError)
    async def refused(_: Request, exc: contract.ContractError) -> JSONResponse:
        return error(422, str(exc))

    @app.post("/recommend", response_model=Items, summary="the k best items for a history, history excluded")
    def recommend(request: RecommendRequest) -> dict:
        return {"items": service.recommend(request.history, request.texts, request.k)}

    @app.get("/similar/{item_id}", response_model=Items, summary="the k items most similar to an item")
    def similar(item_id: str, k: int = DEFAULT_K) -> dict:
        return {"items": service.similar(item_id, k)}

    @app.post("/items", response_model=Health, summary="embed and add items; answered once they are on disk")
    def add(request: AddRequest) -> dict:
        return service.add([(item.item_id, item.text) for item in request.items], request.replace)

    @app.get("/health", response_model=Health)
    def health() -> dict:
        return service.health()

    return app


def serve(
    index_dir: str | os.PathLike[str],
    model: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: Limits = Limits(),  # noqa: B008 (frozen)
) -> None:
    """Load the index folder and its model (refused if it is not the index's), then serve until stopped."""
    index = CatalogueIndex.load(index_dir)
    service = Service(index, load_encoder(index, model), limits)
    print(f"serving {len(index)} items of {index_dir} on http://{host}:{port} (API: /docs); no authentication")
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning")
