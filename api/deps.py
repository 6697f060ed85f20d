"""What routes depend on, as ``Annotated[..., Depends()]`` aliases: the runtime, the loaded service, its
corpus and retriever, the LLM worker, and the optional API key check."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, cast

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api import heap
from api.errors import ApiError, public_text
from api.metrics import Metrics
from api.security import key_from_headers, key_matches
from api.worker import LLMWorker
from embeddings.protocol import Encoder, release_passage_model
from rag.answering.protocol import AnswerServiceProtocol
from rag.config import Settings
from rag.corpus import Corpus
from rag.errors import RagError
from rag.library import ChangeSummary, Library, LibraryBusy, live_version
from rag.retrieval.index import SearchIndex
from rag.retrieval.retriever import Retriever

log = logging.getLogger("api")

# (service in use, new corpus, its index) -> the service over the new corpus; see rag.app.replace_corpus
ServiceFactory = Callable[[AnswerServiceProtocol, Corpus, SearchIndex], AnswerServiceProtocol]


@dataclass
class Runtime:
    """Everything the app holds for its lifetime (``app.state.runtime``)."""

    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    worker: LLMWorker | None = None
    service: AnswerServiceProtocol | None = None
    load_error: BaseException | None = None
    rebuild_service: ServiceFactory | None = None
    version: str | None = None  # the library version the service was loaded from (None: data_dir)
    swap_lock: threading.Lock = field(default_factory=threading.Lock)
    search_slots: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        # GET /v1/search embeds the query and scores every chunk: bounded like the LLM queue.
        self.search_slots = threading.BoundedSemaphore(self.settings.search_concurrency)

    @property
    def ready(self) -> bool:
        return self.service is not None and self.worker is not None

    # -- corpus versions ------------------------------------------------------------------------------
    # Requests take ``self.service`` once (a dependency) and keep that object to the end, so a request in
    # flight finishes on the corpus and index it started with. A change builds the new service aside and
    # replaces the reference in one assignment; the old one is dropped when its last request ends.

    def _swap(self, corpus: Corpus, index: SearchIndex, version: str | None) -> None:
        assert self.service is not None
        factory = self.rebuild_service
        if factory is None:
            from rag.app import replace_corpus

            # Without a rebuild_service the app loaded the service itself (api.app._load_service): the real
            # AnswerService, the one replace_corpus takes (a fake service comes with its own factory).
            factory = cast("ServiceFactory", replace_corpus)
        self.service = factory(self.service, corpus, index)
        self.version = version
        heap.settle()  # the old version is dropped by now; one a request still holds goes at the next settle
        log.info("now serving corpus version %s (%d reports)", version, len(corpus.reports))

    def change_library(self, op: Callable[[Library], ChangeSummary],
                       on_step: Callable[[str], None] | None = None) -> ChangeSummary:
        """Run an ingest or remove with the loaded encoder, then serve the version it committed.

        Writers queue here (one per server) and then on the library's file lock (one per machine); the
        two waits together last at most ``write_wait_s``, then LibraryBusy (409 with Retry-After).
        ``on_step`` is the Library's step callback (rag.library.store.Step), called in this thread."""
        service = self.service
        assert service is not None
        encoder: Encoder = service.retriever.encoder
        deadline = time.monotonic() + self.settings.write_wait_s
        if not self.swap_lock.acquire(timeout=self.settings.write_wait_s):
            raise LibraryBusy(f"another upload or delete has been running for over "
                              f"{self.settings.write_wait_s:g} s; retry when it is done")
        try:
            library = Library(self.settings, encoder_factory=lambda: encoder, on_step=on_step, progress=False,
                              wait_s=max(0.0, deadline - time.monotonic()))
            summary = op(library)
            if summary.changed and library.last is not None:
                assert library.last_index is not None  # the commit sets both (Library._commit)
                self._swap(library.last.corpus, library.last_index, library.last.name)
        finally:
            self.swap_lock.release()
            release_passage_model(encoder)  # reloaded for this upload's passages; questions need none
        return summary

    def reload_if_changed(self) -> bool:
        """Swap to the live library version if another process (`rag ingest`) committed a newer one."""
        live = live_version(self.settings)
        if self.service is None or live is None or live == self.version:
            return False
        from rag.app import open_version

        with self.swap_lock:
            if live_version(self.settings) == self.version:
                return False
            encoder: Encoder = self.service.retriever.encoder
            version, index = open_version(self.settings, encoder=encoder, progress=False)
            self._swap(version.corpus, index, version.name)
        return True


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_bearer = HTTPBearer(auto_error=False, description="The API key as a bearer token (OpenAI clients).")
_header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key.")


def require_api_key(
    request: Request,
    runtime: RuntimeDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header_key: Annotated[str | None, Security(_header_key)],
) -> None:
    """Declares the two key headers in the OpenAPI document. The check itself runs first, in
    ``api.security.GuardMiddleware`` (before the body is read); this repeats it for routes mounted
    without the middleware, with the same precedence: Authorization when sent, else X-API-Key."""
    expected = runtime.settings.api_key
    if expected and not key_matches(key_from_headers(dict(request.scope.get("headers") or [])), expected):
        raise ApiError(401, "unauthorized", "missing or wrong API key: send `Authorization: Bearer <key>` "
                       "(or `X-API-Key: <key>` without an Authorization header)",
                       headers={"WWW-Authenticate": "Bearer"})


def get_service(runtime: RuntimeDep) -> AnswerServiceProtocol:
    if runtime.service is not None:
        return runtime.service
    if runtime.load_error is not None:
        err = runtime.load_error
        detail = public_text(str(err) if isinstance(err, RagError) else f"{type(err).__name__}: {err}")
        raise ApiError(503, "not_ready", f"the service failed to load: {detail}")
    raise ApiError(503, "not_ready", "the service is still loading models and the index; retry shortly",
                   headers={"Retry-After": "5"})


ServiceDep = Annotated[AnswerServiceProtocol, Depends(get_service)]


def get_worker(runtime: RuntimeDep, service: ServiceDep) -> LLMWorker:
    assert runtime.worker is not None  # set together with the service
    return runtime.worker


def get_corpus(service: ServiceDep) -> Corpus:
    return service.corpus


def get_retriever(service: ServiceDep) -> Retriever:
    return service.retriever


WorkerDep = Annotated[LLMWorker, Depends(get_worker)]
CorpusDep = Annotated[Corpus, Depends(get_corpus)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]


def get_metrics(runtime: RuntimeDep) -> Metrics:
    return runtime.metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]
