"""FastAPI application: the runbook's health endpoint and a small domain API that writes
to MySQL, Redis, Chroma and uploads/ for real."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import uuid
from typing import Any

import bcrypt
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from app import llm
from app.cache import cache
from app.db import Document, Session, Upload, User
from app.health import check_health
from app.logging_setup import configure_logging
from app.metrics import HTTP_DURATION, HTTP_REQUESTS, VECTOR_OPS, touch_families
from app.settings import settings
from app.vector_store import vector_client

configure_logging()
touch_families()
log = logging.getLogger("app")
access_log = logging.getLogger("app.access")

app = FastAPI(title="ai_assistant backend", debug=settings.debug)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@app.middleware("http")
async def observe(request: Request, call_next: Any) -> Response:
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
    started = time.perf_counter()
    status = 500
    try:
        response: Response = await call_next(request)
        status = response.status_code
        response.headers["x-request-id"] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(method=request.method, path=path, status=str(status)).inc()
        HTTP_DURATION.labels(method=request.method, path=path).observe(elapsed)
        access_log.info(
            "request id=%s method=%s path=%s status=%d duration_ms=%.1f",
            request_id, request.method, request.url.path, status, elapsed * 1000,
        )


@app.get("/api/v1/system/health")
async def health() -> JSONResponse:
    status, body = await check_health()
    if status != 200:
        log.warning("health degraded: %s", ", ".join(body["failing"]))
    return JSONResponse(body, status_code=status)


@app.get("/api/v1/system/ping")
async def ping() -> dict[str, str]:
    return {"pong": "ok"}


class DocumentIn(BaseModel):
    title: str = Field(min_length=1, max_length=255)
    content: str = Field(min_length=1)


def _document_json(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "title": doc.title,
        "content": doc.content,
        "content_sha256": doc.content_sha256,
        "created_at": doc.created_at.isoformat() if doc.created_at else None,
    }


@app.post("/api/v1/documents", status_code=201)
def create_document(payload: DocumentIn) -> dict[str, Any]:
    digest = hashlib.sha256(payload.content.encode("utf-8")).hexdigest()
    with Session.begin() as session:
        doc = Document(title=payload.title, content=payload.content, content_sha256=digest)
        session.add(doc)
        session.flush()
        session.refresh(doc)
        body = _document_json(doc)
    cache.set(f"doc:{body['id']}", json.dumps(body))
    try:
        vector_client.call("add", str(body["id"]), payload.content, {"title": payload.title})
        VECTOR_OPS.labels(operation="add", status="ok").inc()
    except Exception:
        VECTOR_OPS.labels(operation="add", status="error").inc()
        raise
    log.info("document stored id=%s sha256=%s", body["id"], digest[:12])
    return body


@app.get("/api/v1/documents/{doc_id}")
def get_document(doc_id: int) -> dict[str, Any]:
    cached = cache.get(f"doc:{doc_id}")
    if cached:
        return {**json.loads(cached), "source": "cache"}
    with Session() as session:
        doc = session.get(Document, doc_id)
        if doc is None:
            raise HTTPException(404, f"document {doc_id} not found")
        return {**_document_json(doc), "source": "database"}


class SearchIn(BaseModel):
    query: str = Field(min_length=1)
    k: int = Field(default=5, ge=1, le=50)


@app.post("/api/v1/documents/search")
def search(payload: SearchIn) -> dict[str, Any]:
    try:
        found = vector_client.call("query", payload.query, payload.k)
        VECTOR_OPS.labels(operation="query", status="ok").inc()
    except Exception:
        VECTOR_OPS.labels(operation="query", status="error").inc()
        raise
    return {"query": payload.query, **found}


@app.put("/api/v1/uploads/{filename}", status_code=201)
async def upload(filename: str, request: Request) -> dict[str, Any]:
    data = await request.body()
    digest = hashlib.sha256(data).hexdigest()
    safe = _SAFE_NAME.sub("_", filename)[:200] or "file"
    stored_as = f"{digest[:16]}-{safe}"
    os.makedirs(settings.uploads_dir, exist_ok=True)
    target = os.path.join(settings.uploads_dir, stored_as)
    with open(target + ".part", "wb") as handle:
        handle.write(data)
    os.replace(target + ".part", target)
    with Session.begin() as session:
        existing = session.scalar(select(Upload).where(Upload.stored_as == stored_as))
        if existing is None:
            session.add(Upload(filename=filename, stored_as=stored_as, size_bytes=len(data), sha256=digest))
    return {"stored_as": stored_as, "size_bytes": len(data), "sha256": digest}


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=8, max_length=72)


@app.post("/api/v1/users", status_code=201)
def register(payload: UserIn) -> dict[str, Any]:
    hashed = bcrypt.hashpw(payload.password.encode(), bcrypt.gensalt(settings.bcrypt_rounds))
    with Session.begin() as session:
        if session.scalar(select(User).where(User.username == payload.username)):
            raise HTTPException(409, "username taken")
        user = User(username=payload.username, password_hash=hashed.decode())
        session.add(user)
        session.flush()
        return {"id": user.id, "username": user.username}


class ChatIn(BaseModel):
    message: str = Field(min_length=1, max_length=4000)


@app.post("/api/v1/chat")
def chat(payload: ChatIn) -> dict[str, str]:
    return {"reply": llm.complete(payload.message)}
