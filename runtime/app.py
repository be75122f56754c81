"""The application factory: builds the FastAPI app and its services from a `Settings`."""

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from runtime.api import include_v1
from runtime.api.json_body import JSONBodyMiddleware
from runtime.auth import APIKeyMiddleware
from runtime.code_sandbox import CodeSandbox
from runtime.containers import Containers
from runtime.errors import install_handlers
from runtime.model_client import ModelClient
from runtime.playground import mount_playground
from runtime.responses import Responses
from runtime.runs.engine import RunEngine, new_worker_id
from runtime.settings import Settings
from runtime.store import Store
from runtime.vector_stores import VectorStores

log = logging.getLogger("assistd")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.files_dir.mkdir(parents=True, exist_ok=True)
        app.state.store = Store(settings.db_url)
        log.info("assistd data in %s, database %s", settings.data_dir, settings.db_url.split("@")[-1])
        vector_stores = app.state.vector_stores = VectorStores.open(settings, app.state.store)
        app.state.vector_store_factory = vector_stores.tool_resources_factory
        app.state.on_file_deleted.append(vector_stores.forget_file)
        worker_id = new_worker_id()
        sandbox = app.state.sandbox = CodeSandbox(settings, worker_id)
        if settings.sandbox_prewarm:
            sandbox.warm_up()
        model = ModelClient(settings.model_base_url, settings.model_api_key, timeout=settings.model_timeout)
        engine = app.state.engine = RunEngine(
            settings, app.state.store, model, vector_stores, sandbox, worker_id
        )
        engine.on_worker_dead.append(sandbox.reap_stopped)
        vector_stores.worker.work = engine.work
        sandbox.work = engine.work
        app.state.on_thread_deleted.append(engine.thread_deleted)
        containers = app.state.containers = Containers(settings, app.state.store, sandbox)
        await containers.start(engine.work.id)
        engine.on_worker_dead.append(containers.settle)
        responses = app.state.responses = Responses(engine, containers)
        await responses.start()
        await engine.start()  # settles what stopped processes left, with the hooks above
        if engine.work.shared:  # other processes may use the sessions this one holds
            await sandbox.serve()
        if settings.worker:  # an API-only process leaves ingestion to the workers
            await vector_stores.start()
        try:
            yield
        finally:
            await responses.close()
            await containers.close()
            await engine.close()
            await sandbox.close()
            await model.aclose()
            await vector_stores.close()
            app.state.store.close()

    app = FastAPI(title="assistd", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.vector_store_factory = None
    app.state.on_thread_deleted = []
    app.state.on_file_deleted = []
    install_handlers(app)
    include_v1(app)
    mount_playground(app)

    @app.get("/health", include_in_schema=False)
    def health() -> dict:
        return {"status": "ok"}

    app.add_middleware(JSONBodyMiddleware)
    app.add_middleware(APIKeyMiddleware, api_key=settings.api_key)  # the outer one: keys first
    return app
