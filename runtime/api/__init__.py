"""The `/v1` HTTP API: one router per resource (runs come before threads: `/threads/runs` is no thread id)."""

from fastapi import APIRouter

from runtime.api import assistants, files, messages, models, runs, threads, vector_store_files, vector_stores


def v1_router() -> APIRouter:
    router = APIRouter(prefix="/v1")
    for module in (assistants, runs, threads, messages, files, models, vector_stores, vector_store_files):
        router.include_router(module.router)
    return router
