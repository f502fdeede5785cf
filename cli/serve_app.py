"""The HTTP app of `conflictclf serve`: a thin interface over `ClassifierService`, like a command.

`create_app(classifier)` builds it, so tests and other programs can also run it in-process
(`fastapi.testclient.TestClient(create_app(clf))`). Needs the `serve` extra (FastAPI).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

from conflictclf.cli.serve_config import ServeConfig
from conflictclf.data.errors import ConflictClfError, InputError
from conflictclf.data.records import surrogate_problem
from conflictclf.model.articles import add_roles
from conflictclf.model.classifier import EventClassifier, package_version
from conflictclf.model.engines.common import weights_hash
from conflictclf.model.serving import ClassifierService


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: StrictStr | StrictInt = Field(description="Names the article: records carry it as `source` (a string).")
    text: StrictStr


class ClassifyIn(BaseModel):
    """Exactly one of `text`, `texts` or `articles`. Every text is split into sentences as
    `classify` splits an article; `text` gives records with source "text" (as `classify --text`),
    `texts` with source "0", "1", ... (the text's position), `articles` with source = the article's id."""

    model_config = ConfigDict(extra="forbid")
    text: StrictStr | None = None
    texts: list[StrictStr] | None = None
    articles: list[ArticleIn] | None = None
    explain: StrictBool = Field(False, description="Add `rationales`, as `classify --explain` does.")
    roles: StrictBool = Field(False, description="Add `roles` (who did what to whom, where, when, how many), "
                                                 "as `classify --roles` does.")
    date: StrictStr | None = Field(None, description="With roles: the articles' publication date (YYYY-MM-DD), "
                                                     "to resolve 'on Tuesday'; default: each text's dateline.")

    @model_validator(mode="after")
    def _one_input(self) -> ClassifyIn:
        given = [k for k in ("text", "texts", "articles") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of text, texts or articles (got {', '.join(given) or 'none'})")
        return self


# RationaleOut and RecordOut only document the response in /docs: records are written by
# SentenceResult.to_dict, as classify writes them (tests/test_serve.py checks the fields agree).
class RationaleOut(BaseModel):
    start: int
    end: int
    text: str
    weight: float


class RoleOut(BaseModel):
    role: str
    start: int
    end: int
    text: str
    value: dict[str, Any] | None = Field(None, description="time, place, killed, injured: the normalised value.")


class RecordOut(BaseModel):
    """One sentence, exactly as `classify --format json` writes it."""

    source: str
    index: int
    start: int
    end: int
    text: str
    labels: list[str]
    scores: dict[str, float]
    rationales: dict[str, list[RationaleOut]] | None = Field(None, description="Only with explain=true.")
    roles: list[RoleOut] | None = Field(None, description="Only with roles=true.")


def roles_for(body: ClassifyIn, pairs: list[tuple[str, str]], clf: EventClassifier):
    """(the model's role tagger, each source's date) when the request asks for roles, else (None, {})."""
    if not body.roles:
        if body.date is not None:
            raise InputError("date is used to resolve times in roles: add \"roles\": true")
        return None, {}
    from conflictclf.model.articles import article_date
    from conflictclf.model.events.dates import parse_article_date
    from conflictclf.model.events.tagger import cached_tagger

    tagger = cached_tagger(clf.path)
    day = parse_article_date(body.date) if body.date is not None else None
    return tagger, {src: day or article_date(text) for src, text in pairs}


def pairs_of(body: ClassifyIn) -> tuple[list[tuple[str, str]], str]:
    """The request as (source, text) pairs, as `classify_texts` takes them, and which field held them."""
    if body.text is not None:
        return [("text", body.text)], "text"  # the source `classify --text` gives
    if body.texts is not None:
        return [(str(i), t) for i, t in enumerate(body.texts)], "texts"
    return [(str(a.id), a.text) for a in body.articles or []], "articles"


def check_pairs(pairs: list[tuple[str, str]], what: str) -> None:
    """Nothing to classify, a blank text or an article id given twice is the client's error."""
    if not pairs:
        raise InputError(f"{what} is empty: nothing to classify")
    for k, (src, text) in enumerate(pairs):
        where = "text" if what == "text" else f"{what}[{k}]"
        if not text.strip():
            raise InputError(f"{where}: text is empty" if what != "text" else "text is empty")
        for value in (src, text):
            bad = surrogate_problem(value)
            if bad:
                raise InputError(f"{where}: {bad}")
    seen: set[str] = set()
    for src, _ in pairs if what == "articles" else ():
        if src in seen:
            raise InputError(f"article id {src!r} is given twice: records name their article by id")
        seen.add(src)


def model_info(clf: EventClassifier) -> dict[str, Any]:
    return {"labels": clf.labels, "thresholds": dict(zip(clf.labels, map(float, clf.thresholds))),
            "model_sha256": weights_hash(clf.path) if clf.path else None, "backend": clf.backend.name,
            "calibrated": clf.calibration is not None, "max_length": clf.max_length,
            "base_model": clf.meta.get("config", {}).get("base_model"), "version": package_version()}


def create_app(classifier: EventClassifier, config: ServeConfig | None = None) -> FastAPI:
    """The service's app over an already loaded classifier (loaded once, shared by every request)."""
    cfg = config or ServeConfig()
    service = ClassifierService(classifier, cfg.batch_wait_ms)
    info = model_info(classifier)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()  # requests already taken are answered before the worker stops

    app = FastAPI(title="conflictclf", version=info["version"], lifespan=lifespan,
                  description="Sentence labels (attack, retaliation, claim, threat, ...) for conflict news.")
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes)  # type: ignore[arg-type]

    @app.post("/classify", responses={200: {"model": list[RecordOut]}, 400: {}, 413: {}})
    async def classify(body: ClassifyIn) -> JSONResponse:
        """Split the text(s) into sentences and label each one; the records of `classify --format json`."""
        pairs, what = pairs_of(body)
        if len(pairs) > cfg.max_texts:  # refused whole, before any text is looked at
            return _error(413, f"{len(pairs)} {what} in one request; this server takes at most "
                               f"{cfg.max_texts} (--max-texts)")
        check_pairs(pairs, what)
        tagger, dates = roles_for(body, pairs, classifier)  # a model without a tagger or a bad date: 400 now
        result = await asyncio.wrap_future(service.submit(pairs, body.explain))
        if tagger is not None:
            result = await asyncio.to_thread(add_roles, result, tagger, dates)
        left_out = result.left_out()  # markup or page furniture, said as classify says it on stderr
        return JSONResponse([r.to_dict() for r in result.records],
                            headers={"Conflictclf-Left-Out": left_out} if left_out else None)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Up, and what the service has done: `batches` below `requests` means requests shared passes."""
        return {"status": "ok", **vars(service.stats)}

    @app.get("/model")
    async def model() -> dict[str, Any]:
        """Labels, thresholds, weights hash, backend and package version of the model served."""
        return info

    return app


def _error(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    async def domain(_req: Request, exc: Exception) -> JSONResponse:
        return _error(400, str(exc))

    async def unexpected(_req: Request, exc: Exception) -> JSONResponse:
        # a bug: the client gets one line, the server's log the traceback (uvicorn logs it)
        return _error(500, f"unexpected {exc.__class__.__name__} (a bug: the server log has the details)")

    app.add_exception_handler(ConflictClfError, domain)
    app.add_exception_handler(Exception, unexpected)


class BodyLimit:
    """ASGI middleware: a body over `max_bytes` gets 413 before the app sees it.

    Content-Length is checked first, but a chunked body has none, so the bytes read are
    counted too; the body is then handed on whole (it is at most `max_bytes`)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send, f"{int(declared)} bytes")
        chunks, total, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; nobody to answer
            chunks.append(message.get("body", b""))
            total += len(chunks[-1])
            if total > self.max_bytes:
                return await self._refuse(send, f"more than {self.max_bytes} bytes")
            more = message.get("more_body", False)
        body, handed = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal handed
            if not handed:
                handed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, size: str) -> None:
        payload = json.dumps({"detail": f"request body of {size} is over this server's limit of "
                                        f"{self.max_bytes} bytes (--max-body-bytes)"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
