"""The Chroma persistent collection under vector_db/, owned by one process.

Chroma's PersistentClient is not safe across processes (a second process sees a stale or
missing HNSW segment), so the supervisor process (app.serve) owns the only client and
serves it to the uvicorn workers through a multiprocessing manager on a Unix socket.
"""

from __future__ import annotations

import os
from multiprocessing.managers import BaseManager
from typing import Any

from app.embeddings import embed
from app.settings import settings

COLLECTION = "documents"
_AUTHKEY = b"vector-store-local-socket"


class VectorStore:
    """Runs inside the owning process only."""

    def __init__(self, path: str) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        os.makedirs(path, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=path, settings=ChromaSettings(anonymized_telemetry=False)
        )
        self._collection = self._client.get_or_create_collection(
            COLLECTION, embedding_function=None
        )

    def add(self, doc_id: str, text: str, metadata: dict[str, Any]) -> None:
        self._collection.upsert(
            ids=[doc_id], embeddings=[embed(text)], documents=[text], metadatas=[metadata]
        )

    def query(self, text: str, k: int) -> dict[str, list[Any]]:
        count = self._collection.count()
        if count == 0:
            return {"ids": [], "distances": []}
        found = self._collection.query(query_embeddings=[embed(text)], n_results=min(k, count))
        return {"ids": found["ids"][0], "distances": found["distances"][0]}  # type: ignore[index]

    def heartbeat(self) -> int:
        self._client.heartbeat()
        return self._collection.count()


class _Manager(BaseManager):
    pass


_store: VectorStore | None = None


def _get_store() -> VectorStore:
    assert _store is not None
    return _store


def serve_vector_store(path: str, socket_path: str) -> _Manager:
    """Start the manager server in a background thread of the calling process."""
    import threading

    global _store
    _store = VectorStore(path)
    _Manager.register("store", callable=_get_store)
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    manager = _Manager(address=socket_path, authkey=_AUTHKEY)
    server = manager.get_server()
    threading.Thread(target=server.serve_forever, name="vector-store", daemon=True).start()
    return manager


class VectorStoreClient:
    """Worker-side proxy; reconnects when the owning process restarted."""

    def __init__(self, socket_path: str) -> None:
        self._socket_path = socket_path
        self._proxy: Any = None

    def _store(self) -> Any:
        if self._proxy is None:
            _Manager.register("store")
            manager = _Manager(address=self._socket_path, authkey=_AUTHKEY)
            manager.connect()
            self._proxy = manager.store()  # type: ignore[attr-defined]
        return self._proxy

    def call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._store(), method)(*args)
        except (OSError, EOFError, ConnectionError):
            self._proxy = None
            raise


vector_client = VectorStoreClient(settings.vector_socket)
