"""Fixtures: one real embedding model for the whole session, retrievers on either backend."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

BACKENDS = ["edge", "qdrant-client"]


@pytest.fixture(scope="session")
def embedder():
    from retrieval.embed import Embedder

    e = Embedder()
    e.encode(["warm up"])
    return e


@pytest.fixture
def make_retriever(embedder, tmp_path):
    """make_retriever(backend, data_dir=None) -> Retriever; closed at teardown."""
    from retrieval import RetrievalConfig, Retriever

    made = []

    def make(backend: str, data_dir=None):
        data_dir = data_dir or tmp_path / f"vectors-{backend}"
        url = None if backend == "edge" else f"file://{data_dir}/local-qdrant"
        r = Retriever(RetrievalConfig(data_dir=data_dir, qdrant_url=url), embedder=embedder)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
