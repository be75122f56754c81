"""The application factory: builds the FastAPI app and its services from a `Settings`."""

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from runtime.api import v1_router
from runtime.auth import APIKeyMiddleware
from runtime.errors import install_handlers
from runtime.settings import Settings
from runtime.store import Store

log = logging.getLogger("assistd")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.files_dir.mkdir(parents=True, exist_ok=True)
        app.state.store = Store(settings.db_url)
        log.info("assistd data in %s, database %s", settings.data_dir, settings.db_url.split("@")[-1])
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(title="assistd", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.vector_store_factory = None
    app.state.on_thread_deleted = []
    install_handlers(app)
    app.include_router(v1_router())

    @app.get("/health", include_in_schema=False)
    def health() -> dict:
        return {"status": "ok"}

    app.add_middleware(APIKeyMiddleware, api_key=settings.api_key)
    return app
