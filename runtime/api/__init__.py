"""The `/v1` HTTP API: one router per resource."""

from fastapi import APIRouter

from runtime.api import assistants, files, messages, models, threads


def v1_router() -> APIRouter:
    router = APIRouter(prefix="/v1")
    for module in (assistants, threads, messages, files, models):
        router.include_router(module.router)
    return router
