"""The package's error hierarchy, and that it stands alone (never loads runtime or sandbox)."""

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


def test_config_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTD_EMBEDDING_MODEL", str(tmp_path))
    monkeypatch.setenv("ASSISTD_EMBEDDING_DTYPE", "float32")
    config = retrieval.RetrievalConfig(data_dir=tmp_path)
    assert config.embedding_model == str(tmp_path) and config.embedding_dtype == "float32"
    assert retrieval.RetrievalConfig(data_dir=tmp_path, embedding_model="/m").embedding_model == "/m"


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
    assert abs(small - batched).max() < 1e-2  # bfloat16, different batch shapes
