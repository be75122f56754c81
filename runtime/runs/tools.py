"""The built-in tools as the run loop uses them, for any job: code in a sandbox session, searches
in vector stores, files the code wrote exported as stored files. Results come back as plain values
(`CodeResult`, `SearchResult`) that each API surface shapes its own way, with the text the model
reads."""

import posixpath
from dataclasses import dataclass, field

from runtime.code_sandbox import CodeSandboxError
from runtime.files import OUTPUT_PURPOSE, file_path, save_file
from runtime.runs.annotations import source_marker


class ToolError(Exception):
    """The tool's machinery failed (not the user's code): the job fails with this message."""


@dataclass
class CodeResult:
    """One execution: its logs (stdout, stderr, the error), the images it showed (stored files) and
    what the model reads of it."""

    code: str = ""
    logs: str = ""
    image_file_ids: list[str] = field(default_factory=list)
    model_text: str = ""


@dataclass
class SearchResult:
    """One search: its query, how it ranked, and its hits `{file_id, filename, score, text,
    attributes}`, best first."""

    query: str
    ranking_options: dict
    hits: list[dict]


def _logs(execution) -> str:
    parts = []
    if execution.stdout:
        parts.append(execution.stdout)
    if execution.stderr:
        parts.append(f"[stderr]\n{execution.stderr}")
    if execution.error is not None:
        parts.append(
            "\n".join(execution.error.traceback)
            if execution.error.traceback
            else f"{execution.error.name}: {execution.error.value}"
        )
    return "\n".join(parts)


class ToolRunner:
    def __init__(self, engine):
        self.engine = engine

    async def run_code(self, session: str, files: list[dict], code: str) -> CodeResult:
        """Run `code` in the sandbox `session`, with `files` placed in /mnt/data first."""
        engine = self.engine
        try:
            for found in files:
                path = file_path(engine.settings, found["id"])
                if path.exists():
                    await engine.sandbox.place(session, found["id"], found["filename"], path)
            execution = await engine.sandbox.execute(session, code)
        except CodeSandboxError as exc:
            raise ToolError(f"The code interpreter is unavailable: {exc}") from exc
        result = CodeResult(code=code, logs=_logs(execution))
        for number, png in enumerate(execution.images):
            saved = save_file(engine.settings, engine.store, f"image-{number}.png", png, OUTPUT_PURPOSE)
            result.image_file_ids.append(saved["id"])
        notes = []
        if execution.images:
            notes.append(f"[{len(execution.images)} image(s) displayed to the user]")
        if execution.files:
            notes.append("[files in /mnt/data changed: " + ", ".join(str(f) for f in execution.files) + "]")
        result.model_text = "\n".join([result.logs, *notes]).strip() or "[no output]"
        return result

    async def export_file(self, session: str, path: str, exports: dict) -> str | None:
        """Turn a file the code wrote under /mnt/data into a stored file (once per path in `exports`)."""
        if path in exports:
            return exports[path]
        data = await self.engine.sandbox.read(session, path)
        if data is None:
            return None
        saved = save_file(
            self.engine.settings, self.engine.store, posixpath.basename(path), data, OUTPUT_PURPOSE
        )
        exports[path] = saved["id"]
        return saved["id"]

    async def search(self, settings, query: str) -> SearchResult:
        """Search the vector stores of `settings` (a `SearchSettings`)."""
        hits = []
        if settings.vector_store_ids and query:
            ranking = settings.ranking_options
            hybrid = ranking.get("hybrid_search") or {}
            hits = await self.engine.vector_stores.search(
                settings.vector_store_ids,
                query,
                max_num_results=settings.max_num_results,
                score_threshold=settings.score_threshold,
                filters=settings.filters,
                rescore=ranking.get("ranker") != "none",
                weights=(hybrid.get("embedding_weight", 1.0), hybrid.get("text_weight", 1.0)),
            )
        return SearchResult(query, settings.ranking_options, hits)

    @staticmethod
    def search_text(result: SearchResult, call_index: int) -> str:
        if not result.hits:
            return f"No results found for {result.query!r}."
        blocks = [f"Results for {result.query!r}. Cite a passage by copying its marker."]
        for index, hit in enumerate(result.hits):
            blocks.append(f"{source_marker(call_index, index, hit['filename'])}\n{hit['text']}")
        return "\n\n".join(blocks)
