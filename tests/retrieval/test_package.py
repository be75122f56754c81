"""The package's error hierarchy, that it stands alone (never loads runtime or sandbox), and the embedder."""

import subprocess
import sys

import retrieval


def test_errors_share_one_base():
    assert issubclass(retrieval.ParseError, retrieval.RetrievalError)
    assert issubclass(retrieval.ChunkingError, retrieval.RetrievalError)
    assert issubclass(retrieval.FilterError, retrieval.RetrievalError)


def test_import_does_not_load_runtime_or_sandbox():
    code = (
        "import sys, retrieval, retrieval.retriever, retrieval.index.edge, retrieval.index.server;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('runtime', 'sandbox')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_retriever_loads_no_model_until_first_use(tmp_path):
    """The server makes its Retriever at start-up; PyTorch and the model wait for the first file or query."""
    code = (
        "import sys; from retrieval import RetrievalConfig, Retriever;"
        f"r = Retriever(RetrievalConfig(data_dir={str(tmp_path)!r}));"
        "assert r.embedder.dtype == 'auto' and 'torch' not in sys.modules, r.embedder.dtype;"
        "assert r.search_thread is None  # searches wait in the caller's pool until the model loads"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_config_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTD_EMBEDDING_MODEL", str(tmp_path))
    monkeypatch.setenv("ASSISTD_EMBEDDING_DTYPE", "float32")
    config = retrieval.RetrievalConfig(data_dir=tmp_path)
    assert config.embedding_model == str(tmp_path) and config.embedding_dtype == "float32"
    assert retrieval.RetrievalConfig(data_dir=tmp_path, embedding_model="/m").embedding_model == "/m"
    monkeypatch.delenv("ASSISTD_EMBEDDING_DTYPE")
    assert retrieval.RetrievalConfig(data_dir=tmp_path).embedding_dtype == "auto"
    import pytest

    with pytest.raises(ValueError, match="embedding_dtype"):
        retrieval.RetrievalConfig(data_dir=tmp_path, embedding_dtype="int8")


def test_auto_dtype_is_bfloat16_only_where_the_cpu_computes_it(embedder):
    """Emulated bfloat16 is several times slower than float32 (AVX2-only CPUs), so `auto` avoids it."""
    import torch

    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert embedder.dtype == ("bfloat16" if native else "float32")
    want = torch.bfloat16 if native else torch.float32
    assert next(embedder.model.parameters()).dtype == want


def test_missing_model_is_a_clear_error(tmp_path):
    import pytest

    from retrieval.embed import Embedder

    with pytest.raises(retrieval.RetrievalError, match="ASSISTD_EMBEDDING_MODEL"):
        Embedder(str(tmp_path / "nope")).encode(["x"])


def test_small_and_batched_encoding_agree(embedder):
    long = "alpha beta gamma delta " * 400  # far past the model's 256 word pieces
    texts = ["what is the capital of France", long]
    small = embedder.encode(texts)
    batched = embedder.encode(texts + ["x"] * 8)[:2]
    assert small.shape == (2, embedder.dimension)
    assert abs(small - batched).max() < 1e-2  # bfloat16 (where it is used), different batch shapes


def test_queries_are_tokenised_by_the_rust_tokenizer_only_where_it_gives_preprocess_word_pieces(embedder):
    import torch

    from retrieval.embed import TOKENIZER_PROBE
    from retrieval.query_model import QueryTokenizer

    model = embedder.model
    assert isinstance(embedder._tokenize, QueryTokenizer)  # the default model's tokenizer qualifies
    texts = ["What is the CAPITAL of France?", "  ünïcödé, tabs\tand  spaces ", "word " * 400]
    ids, mask = embedder._tokenize(texts)
    want = model.preprocess(texts)
    assert torch.equal(ids, want["input_ids"]) and torch.equal(mask, want["attention_mask"])
    assert ids.shape[1] == embedder.max_seq_length  # truncated as the model truncates
    other = QueryTokenizer(model)
    other._rust.enable_truncation(16)  # a tokenizer that cuts queries elsewhere is refused
    assert not other.matches(model, TOKENIZER_PROBE)


def test_queries_use_the_faster_of_one_or_two_threads_and_leave_the_others_alone(caplog):
    import logging
    import os
    import threading

    import torch

    from retrieval.embed import Embedder

    with caplog.at_level(logging.INFO, logger="assistd.retrieval"):
        fresh = Embedder()
        fresh.encode(["a query"])
    chosen = fresh._query_thread.submit(torch.get_num_threads).result()
    fresh.close()
    assert chosen in (1, 2) and f"query embedding uses {chosen} intra-op thread(s)" in caplog.text
    seen = []  # a thread started now still gets the process-wide count (ingestion batches use it)
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert seen == [torch.get_num_threads()]
    if os.cpu_count() > 1 and "OMP_NUM_THREADS" not in os.environ:
        assert seen[0] > 1


def test_batches_from_several_threads_get_the_vectors_they_would_get_alone(embedder):
    """The ingestion worker embeds files from two threads (one batch at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    batches = [[f"document {n} about topic {n * 7 % 5}, part {i}" * 20 for i in range(12)] for n in range(4)]
    alone = [embedder.encode(b) for b in batches]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(embedder.encode, batches))
    for a, t in zip(alone, together, strict=True):
        assert np.allclose(a, t, atol=1e-6)


def test_a_search_run_on_the_search_thread_embeds_its_query_there(make_retriever, tmp_path):
    """The server runs searches on that thread: the query must embed inline, not wait on its own thread."""
    retriever = make_retriever("edge")
    doc = tmp_path / "keeper.txt"
    doc.write_text("The lighthouse keeper writes the tide tables in the logbook every morning at six.")
    retriever.ingest_file("vs_thread", "file-keeper", doc)
    query = "who writes the tide tables"
    elsewhere = retriever.search("vs_thread", query)
    thread = retriever.search_thread
    assert thread is not None  # the model has loaded
    there = thread.submit(retriever.search, "vs_thread", query).result(timeout=60)
    assert there == elsewhere and there[0].file_id == "file-keeper"
