"""Checks and normalises `tool_resources` (files for code interpreter, vector stores for file search).

Every id a request names must exist; a missing one is a 400 whose `param` is its indexed path in the
request (`tool_resources.code_interpreter.file_ids[1]`, `messages[0].attachments[2].file_id`).
"""

from runtime.api.schemas import ToolResources
from runtime.errors import InvalidRequest
from runtime.store import Tx


def check_file(tx: Tx, file_id: str, param: str) -> None:
    if tx.get("file", file_id) is None:
        raise InvalidRequest(f"No file found with id '{file_id}'.", param=param, code="file_not_found")


def check_files(tx: Tx, file_ids: list[str], param: str) -> None:
    for index, file_id in enumerate(file_ids):
        check_file(tx, file_id, f"{param}[{index}]")


def tool_resources_out(
    tx: Tx, resources: ToolResources | None, create_vector_store=None, param: str = "tool_resources"
) -> dict:
    """Validate referenced ids and return the stored shape; `param` is where the resources sit in
    the request.

    `create_vector_store(tx, new_store) -> id` builds a store for the `vector_stores` helper.
    """
    out: dict = {}
    if resources is None:
        return out
    if resources.code_interpreter is not None:
        ids = resources.code_interpreter.file_ids
        check_files(tx, ids, f"{param}.code_interpreter.file_ids")
        out["code_interpreter"] = {"file_ids": ids}
    if resources.file_search is not None:
        search = resources.file_search
        if search.vector_store_ids and search.vector_stores:
            raise InvalidRequest(
                "Provide either 'vector_store_ids' or 'vector_stores', not both.",
                param=f"{param}.file_search",
            )
        ids = list(search.vector_store_ids)
        for index, store_id in enumerate(ids):
            if tx.get("vector_store", store_id) is None:
                raise InvalidRequest(
                    f"No vector store found with id '{store_id}'.",
                    param=f"{param}.file_search.vector_store_ids[{index}]",
                )
        for index, new_store in enumerate(search.vector_stores):
            check_files(tx, new_store.file_ids, f"{param}.file_search.vector_stores[{index}].file_ids")
            if create_vector_store is None:
                raise InvalidRequest(
                    "Creating vector stores inline is not available.", param=f"{param}.file_search"
                )
            ids.append(create_vector_store(tx, new_store))
        out["file_search"] = {"vector_store_ids": ids}
    return out
