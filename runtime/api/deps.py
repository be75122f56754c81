"""Dependencies shared by the routers: the app's services, reached from the request."""

from typing import Annotated

from fastapi import Depends, Request

from runtime.settings import Settings
from runtime.store import Store


def _store(request: Request) -> Store:
    return request.app.state.store


def _settings(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[Store, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
