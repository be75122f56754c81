"""`/v1/containers`: create (with files copied in, an idle expiry and a memory limit), list (paged,
filtered by name), retrieve, delete. A container has no network: a `network_policy` other than
`disabled` is a 400, as is a memory limit the host cannot give (runtime/containers.py)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import Field

from runtime.api.pagination import Paging, page
from runtime.api.schemas import Body, Integer
from runtime.containers import CONTAINER, container_out
from runtime.errors import InvalidRequest

router = APIRouter(prefix="/containers", tags=["containers"])

MemoryLimit = Literal["1g", "4g", "16g", "64g"]


class ExpiresAfter(Body):
    anchor: Literal["last_active_at"]
    minutes: Annotated[Integer, Field(ge=1, le=1440)]


class NetworkPolicy(Body):
    type: Literal["disabled", "allowlist"]
    allowed_domains: list[str] | None = None


def check_network_policy(policy: NetworkPolicy | None, param: str) -> None:
    if policy is not None and policy.type != "disabled":
        raise InvalidRequest(
            "Containers here have no network access: network_policy must be {'type': 'disabled'}.",
            param=param,
        )


class ContainerCreate(Body):
    name: Annotated[str, Field(max_length=256)]
    file_ids: Annotated[list[str], Field(max_length=50)] = []
    expires_after: ExpiresAfter | None = None
    memory_limit: MemoryLimit | None = None
    network_policy: NetworkPolicy | None = None
    skills: Annotated[list[dict], Field(max_length=0)] | None = None


def containers(request: Request):
    return request.app.state.containers


@router.post("")
async def create_container(body: ContainerCreate, request: Request) -> dict:
    check_network_policy(body.network_policy, "network_policy")
    minutes = body.expires_after.minutes if body.expires_after else None
    return await containers(request).create(body.name, body.file_ids, body.memory_limit, minutes)


@router.get("")
def list_containers(request: Request, params: Paging, name: str | None = None) -> dict:
    with containers(request).store.read() as tx:
        found = page(tx, CONTAINER, "", params, where={"name": name} if name is not None else None)
    found["data"] = [container_out(row) for row in found["data"]]
    return found


@router.get("/{container_id}")
def retrieve_container(container_id: str, request: Request) -> dict:
    return container_out(containers(request).get(container_id))


@router.delete("/{container_id}")
async def delete_container(container_id: str, request: Request) -> dict:
    return await containers(request).delete(container_id)
