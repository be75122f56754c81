"""Checks and normalises `tool_resources` (files for code interpreter, vector stores for file search)."""

from runtime.api.schemas import ToolResources
from runtime.errors import InvalidRequest
from runtime.store import Tx


def check_files(tx: Tx, file_ids: list[str], param: str) -> None:
    for file_id in file_ids:
        if tx.get("file", file_id) is None:
            raise InvalidRequest(f"No file found with id '{file_id}'.", param=param, code="file_not_found")


def tool_resources_out(tx: Tx, resources: ToolResources | None, create_vector_store=None) -> dict:
    """Validate referenced ids and return the stored shape.

    `create_vector_store(tx, new_store) -> id` builds a store for the `vector_stores` helper.
    """
    out: dict = {}
    if resources is None:
        return out
    if resources.code_interpreter is not None:
        ids = resources.code_interpreter.file_ids
        check_files(tx, ids, "tool_resources.code_interpreter.file_ids")
        out["code_interpreter"] = {"file_ids": ids}
    if resources.file_search is not None:
        search = resources.file_search
        if search.vector_store_ids and search.vector_stores:
            raise InvalidRequest(
                "Provide either 'vector_store_ids' or 'vector_stores', not both.",
                param="tool_resources.file_search",
            )
        ids = list(search.vector_store_ids)
        for store_id in ids:
            if tx.get("vector_store", store_id) is None:
                raise InvalidRequest(
                    f"No vector store found with id '{store_id}'.",
                    param="tool_resources.file_search.vector_store_ids",
                )
        for new_store in search.vector_stores:
            check_files(tx, new_store.file_ids, "tool_resources.file_search.vector_stores.file_ids")
            if create_vector_store is None:
                raise InvalidRequest(
                    "Creating vector stores inline is not available.", param="tool_resources.file_search"
                )
            ids.append(create_vector_store(tx, new_store))
        out["file_search"] = {"vector_store_ids": ids}
    return out
