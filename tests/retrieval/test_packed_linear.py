"""bfloat16 linear layers packed for oneDNN: the plain layers' results; float32 layers left alone."""

import numpy as np
import torch

from retrieval.packed_linear import PackedLinear, pack, unpack

NATIVE = torch.ops.mkldnn._is_mkldnn_bf16_supported()


def small_model() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(384, 1536).to(torch.bfloat16),
        torch.nn.GELU(),
        torch.nn.Linear(1536, 384, bias=False).to(torch.bfloat16),
        torch.nn.Sequential(torch.nn.Linear(384, 8)),  # float32: left alone
    )


def test_packed_layers_give_the_plain_layers_results_and_unpack_restores_them():
    model = small_model()
    plain = list(model.modules())
    x = torch.randn(14, 384).to(torch.bfloat16)
    with torch.inference_mode():
        want = model[:3](x)
        try:
            swaps = pack(model)
        except RuntimeError:  # no oneDNN bfloat16 linear on this CPU: nothing may have been swapped
            assert not NATIVE, "oneDNN computes bfloat16 natively here, packing must work"
            assert list(model.modules()) == plain
            return
        got = model[:3](x)
    assert [name for _, name, _ in swaps] == ["0", "2"]
    assert [getattr(m, "original_name", type(m).__name__) for m in model] == [
        "PackedLinear",
        "GELU",
        "PackedLinear",
        "Sequential",
    ]
    assert isinstance(model[3][0], torch.nn.Linear)
    assert torch.allclose(got.float(), want.float(), atol=1e-2, rtol=1e-2)
    assert (got.float() - want.float()).abs().mean() < 1e-3
    unpack(swaps)
    assert list(model.modules()) == plain


def linear_layers(model, kind) -> int:
    """How many layers of `kind` (a class, or the class a TorchScript module was made from)."""
    return sum(getattr(m, "original_name", type(m).__name__) == kind.__name__ for m in model.modules())


def test_a_bfloat16_embedder_packs_its_layers_and_embeds_as_the_plain_model_does():
    from sentence_transformers import SentenceTransformer

    from retrieval.embed import Embedder, default_model_path

    reference = SentenceTransformer(default_model_path(), device="cpu", local_files_only=True)
    reference = reference.to(torch.bfloat16).eval()
    texts = ["what is the warranty of the HX-440 loggers", "short", "How is drinking water made safe?"]
    long = ["pumps valves and filters " * 200, "a chunk about turbines and their blades " * 60] * 3
    with torch.inference_mode():
        want = reference.encode(texts + long, normalize_embeddings=True, convert_to_numpy=True)
    fresh = Embedder(dtype="bfloat16")
    try:
        queries = np.stack([fresh.encode([t])[0] for t in texts])  # the traced query path
        batch = fresh.encode(long)  # the batch path
        packed = linear_layers(fresh.model, PackedLinear)
    finally:
        fresh.close()
    assert np.min(np.sum(queries * want[: len(texts)], axis=1)) > 0.999
    assert np.min(np.sum(batch * want[len(texts) :], axis=1)) > 0.99  # bfloat16, other batch shapes
    if NATIVE:
        assert packed == linear_layers(reference, torch.nn.Linear) > 30
    assert fresh._traced.original_name == "BertQueryModel"  # the query path runs the traced model


def test_a_float32_embedder_keeps_its_plain_layers():
    from retrieval.embed import Embedder

    fresh = Embedder(dtype="float32")
    try:
        assert linear_layers(fresh.model, PackedLinear) == 0
        assert linear_layers(fresh.model, torch.nn.Linear) > 30
    finally:
        fresh.close()
