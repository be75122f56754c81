"""`/v1/models`: the upstream chat-completions endpoint's models, listed through us."""

import httpx
from fastapi import APIRouter

from runtime.api.deps import SettingsDep
from runtime.errors import UpstreamError, not_found

router = APIRouter(prefix="/models", tags=["models"])


async def upstream_models(settings) -> list[dict]:
    headers = {"Authorization": f"Bearer {settings.model_api_key}"} if settings.model_api_key else {}
    url = settings.model_base_url.rstrip("/") + "/models"
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.get(url, headers=headers)
            response.raise_for_status()
            data = response.json().get("data", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise UpstreamError(
            f"Could not list models from the model endpoint {url} (ASSISTD_MODEL_BASE_URL): {exc}",
            code="upstream_unavailable",
        ) from exc
    return [
        {
            "id": m.get("id"),
            "object": "model",
            "created": m.get("created", 0),
            "owned_by": m.get("owned_by", "upstream"),
        }
        for m in data
        if isinstance(m, dict) and m.get("id")
    ]


@router.get("")
async def list_models(settings: SettingsDep) -> dict:
    return {"object": "list", "data": await upstream_models(settings)}


@router.get("/{model_id:path}")
async def retrieve_model(model_id: str, settings: SettingsDep) -> dict:
    for model in await upstream_models(settings):
        if model["id"] == model_id:
            return model
    raise not_found("model", model_id)
