"""The built-in tools as a run uses them: code in the thread's sandbox session, searches in the
vector stores of the assistant and the thread. Results come back in two forms: OpenAI step details
for the API, and text for the model."""

from dataclasses import dataclass, field

from runtime.code_sandbox import CodeSandboxError
from runtime.files import OUTPUT_PURPOSE, save_file
from runtime.runs.annotations import source_marker


class ToolError(Exception):
    """The tool's machinery failed (not the user's code): the run fails with this message."""


@dataclass
class CodeResult:
    outputs: list[dict] = field(default_factory=list)
    image_file_ids: list[str] = field(default_factory=list)
    model_text: str = ""


def _model_text(execution) -> str:
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

    async def run_code(self, run: dict, code: str) -> CodeResult:
        engine = self.engine
        try:
            await engine.place_files(run)
            execution = await engine.sandbox.execute(run["thread_id"], code)
        except CodeSandboxError as exc:
            raise ToolError(f"The code interpreter is unavailable: {exc}") from exc
        result = CodeResult(model_text=_model_text(execution))
        logs = result.model_text
        if logs:
            result.outputs.append({"type": "logs", "logs": logs})
        for number, png in enumerate(execution.images):
            saved = save_file(engine.settings, engine.store, f"image-{number}.png", png, OUTPUT_PURPOSE)
            result.image_file_ids.append(saved["id"])
            result.outputs.append({"type": "image", "image": {"file_id": saved["id"]}})
        notes = []
        if execution.images:
            notes.append(f"[{len(execution.images)} image(s) displayed to the user]")
        if execution.files:
            notes.append("[files in /mnt/data changed: " + ", ".join(str(f) for f in execution.files) + "]")
        result.model_text = "\n".join([result.model_text, *notes]).strip() or "[no output]"
        return result

    async def search(self, run: dict, query: str, score_threshold: float) -> list[dict]:
        engine = self.engine
        store_ids = engine.vector_store_ids(run)
        if not store_ids or not query:
            return []
        hits = await engine.vector_stores.search(
            store_ids, query, max_num_results=engine.max_num_results(run), score_threshold=score_threshold
        )
        return [
            {
                "file_id": hit["file_id"],
                "file_name": hit["filename"],
                "score": hit["score"],
                "content": [{"type": "text", "text": hit["text"]}],
            }
            for hit in hits
        ]

    @staticmethod
    def search_text(query: str, call_index: int, results: list[dict]) -> str:
        if not results:
            return f"No results found for {query!r}."
        blocks = [f"Results for {query!r}. Cite a passage by copying its marker."]
        for index, result in enumerate(results):
            marker = source_marker(call_index, index, result["file_name"])
            blocks.append(f"{marker}\n{result['content'][0]['text']}")
        return "\n\n".join(blocks)
