"""File Search for assistd: parse, chunk, embed and index files; hybrid search over vector stores.

    from retrieval import Retriever, RetrievalConfig
    retriever = Retriever(RetrievalConfig(data_dir="data/vectors"))
    retriever.ingest_file("vs_1", "file_1", "/path/report.pdf", "report.pdf")
    hits = retriever.search(["vs_1"], "what was the revenue?", max_num_results=5)

Modules, one job each: `parse` (files -> text), `chunk` (cl100k windows, strategy rules), `embed`
(sentence-transformers), `keyword` (BM25 sparse vectors), `filters` (OpenAI attribute filters),
`index/` (the Qdrant interface: `edge` embedded, `server` qdrant-client), `search` (fusion of the
dense and keyword lists), `literal` (a query's names, ranked first), `retriever` (the facade).
This package never imports `runtime` or `sandbox`.
"""

from retrieval.chunk import count_tokens, validate_chunking
from retrieval.config import RetrievalConfig
from retrieval.errors import ChunkingError, FilterError, ParseError, RetrievalError
from retrieval.retriever import Hit, IngestResult, Retriever

__all__ = [
    "ChunkingError",
    "FilterError",
    "Hit",
    "IngestResult",
    "ParseError",
    "RetrievalConfig",
    "RetrievalError",
    "Retriever",
    "count_tokens",
    "validate_chunking",
]
