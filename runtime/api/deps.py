"""Dependencies shared by the routers: the app's services, reached from the request.

They are `async` because they only read `app.state`: FastAPI runs plain functions in its thread pool,
a hop that costs more than the lookup.
"""

from typing import Annotated

from fastapi import Depends, Request

from runtime.settings import Settings
from runtime.store import Store


async def _store(request: Request) -> Store:
    return request.app.state.store


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[Store, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
