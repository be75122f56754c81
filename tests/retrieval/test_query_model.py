"""The traced query models: the BERT one where it applies, the generic one elsewhere, both giving
the eager model's vectors."""

import numpy as np
import pytest
import torch

TEXTS = ["what is the warranty of the HX-440 loggers", "short", "How is drinking water made safe? " * 40]


def eager(model, texts) -> np.ndarray:
    with torch.inference_mode():
        return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_queries_of_the_default_model_run_through_the_bert_query_model_and_give_its_vectors(dtype):
    from sentence_transformers import SentenceTransformer

    from retrieval.embed import Embedder, default_model_path

    reference = SentenceTransformer(default_model_path(), device="cpu", local_files_only=True)
    reference = reference.to(getattr(torch, dtype)).eval()
    fresh = Embedder(dtype=dtype)
    try:
        got = np.stack([fresh.encode([text])[0] for text in TEXTS])
        assert fresh._traced.original_name == "BertQueryModel"
    finally:
        fresh.close()
    assert np.min(np.sum(got * eager(reference, TEXTS), axis=1)) > 0.999


@pytest.mark.parametrize("pooling, traced_as", [("cls", "BertQueryModel"), ("max", "QueryModel")])
def test_the_bert_query_model_takes_the_poolings_it_covers_and_leaves_the_others_to_the_generic_one(
    pooling, traced_as
):
    from sentence_transformers import SentenceTransformer

    from retrieval.embed import _forward, _trace, default_model_path
    from retrieval.query_model import BertQueryModel

    model = SentenceTransformer(default_model_path(), device="cpu", local_files_only=True).eval()
    model[1].pooling_mode = pooling
    if traced_as == "QueryModel":
        with pytest.raises(NotImplementedError):
            BertQueryModel(model, {})
    traced = _trace(model, {})
    assert traced.original_name == traced_as
    assert np.min(np.sum(_forward(model, traced, TEXTS) * eager(model, TEXTS), axis=1)) > 0.999
