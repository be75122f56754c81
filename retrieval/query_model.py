"""The query path's model and tokenizer: word pieces to unit vectors as one module, for tracing, and
texts to word pieces straight from the Rust tokenizer.

`SentenceTransformer` runs its modules (transformer, pooling, normalisation...) one by one in Python,
passing a dict of features along. For a short query that Python costs about as much as a layer of
the transformer. `QueryModel` calls the same modules from one `forward(input_ids, attention_mask)`,
so that a TorchScript trace of it holds the whole computation as one graph: measured on one core of
a Xeon with AMX, a dozen word pieces took 3.25 ms through the traced transformer plus the modules in
Python, 3.09 ms through one trace of everything.

`BertQueryModel` is the same computation written out for BERT encoders (all-MiniLM-L6-v2 is one),
with the query, key and value projections of each layer as one product: one weight read and one
call instead of three. Same measure: 2.7 -> 2.35 ms; after a pause, as a server meets a query,
4.7 -> 4.2 ms. Where it does not apply (another architecture or pooling), `QueryModel` is traced.

`QueryTokenizer` turns a few texts into the same word pieces without `SentenceTransformer.preprocess`,
whose Python (per-call settings for every modality, a `BatchEncoding`) takes three times as long as
the Rust tokenizer itself: a query after a pause, as a server meets it, 0.53 against 0.27 ms.
"""

import torch
import torch.nn.functional as F

from retrieval.packed_linear import PackedLinear


class QueryModel(torch.nn.Module):
    """`forward(input_ids, attention_mask)` -> L2-normalised float32 sentence embeddings."""

    def __init__(self, model):
        super().__init__()
        self.transformer = model[0].auto_model
        self.rest = torch.nn.ModuleList(list(model)[1:])  # pooling, normalisation...

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.transformer(input_ids=input_ids, attention_mask=attention_mask)
        features = {"input_ids": input_ids, "attention_mask": attention_mask, "token_embeddings": out[0]}
        for module in self.rest:
            features = module(features)
        return F.normalize(features["sentence_embedding"].float(), dim=-1)


class BertQueryModel(torch.nn.Module):
    """`QueryModel`'s computation for a BERT encoder (absolute positions, GELU) and mean or CLS pooling.

    `originals` maps each layer `retrieval.packed_linear.pack` swapped in to the `nn.Linear` it
    replaced: the fused projections are made from those weights, and packed too. Raises
    NotImplementedError for a model it does not cover."""

    def __init__(self, model, originals: dict):
        super().__init__()
        bert, rest = model[0].auto_model, list(model)[1:]
        config = bert.config
        kinds = [type(module).__name__ for module in rest]
        if (
            config.model_type != "bert"
            or config.hidden_act != "gelu"
            or getattr(config, "position_embedding_type", "absolute") != "absolute"
            or kinds not in (["Pooling"], ["Pooling", "Normalize"])
            or getattr(rest[0], "pooling_mode", None) not in ("mean", "cls")
        ):
            raise NotImplementedError(f"no BERT query model for {config.model_type} with {kinds}")
        embeddings = bert.embeddings
        self.words, self.positions = embeddings.word_embeddings, embeddings.position_embeddings
        self.token_type = embeddings.token_type_embeddings.weight[0].detach()
        self.norm, self.mean = embeddings.LayerNorm, rest[0].pooling_mode == "mean"
        heads = config.num_attention_heads
        self.layers = torch.nn.ModuleList(_BertLayer(layer, heads, originals) for layer in bert.encoder.layer)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.words(input_ids) + self.positions.weight[: input_ids.shape[1]] + self.token_type
        x = self.norm(x)
        keep = attention_mask[:, None, None, :].bool()
        for layer in self.layers:
            x = layer(x, keep)
        if self.mean:
            weights = attention_mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        else:
            pooled = x[:, 0]
        return F.normalize(pooled.float(), dim=-1)


class _BertLayer(torch.nn.Module):
    """One encoder layer, with its query, key and value projections fused; the others are the model's."""

    def __init__(self, layer, heads: int, originals: dict):
        super().__init__()
        attention = layer.attention.self
        parts = [originals.get(m, m) for m in (attention.query, attention.key, attention.value)]
        weight, bias = torch.cat([p.weight for p in parts]), torch.cat([p.bias for p in parts])
        if attention.query in originals:
            self.projection = torch.jit.script(PackedLinear(weight, bias))
        else:
            self.projection = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=weight.dtype)
            self.projection.load_state_dict({"weight": weight, "bias": bias})
        self.heads = heads
        self.attention_out, self.attention_norm = (
            layer.attention.output.dense,
            layer.attention.output.LayerNorm,
        )
        self.intermediate, self.out, self.norm = (
            layer.intermediate.dense,
            layer.output.dense,
            layer.output.LayerNorm,
        )

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        shape = (batch, length, 3, self.heads, width // self.heads)
        query, key, value = self.projection(x).view(shape).permute(2, 0, 3, 1, 4).unbind(0)
        attended = F.scaled_dot_product_attention(query, key, value, attn_mask=keep)
        attended = attended.transpose(1, 2).reshape(batch, length, width)
        x = self.attention_norm(self.attention_out(attended) + x)
        return self.norm(self.out(F.gelu(self.intermediate(x))) + x)


class QueryTokenizer:
    """`tokenizer(texts)` -> (input_ids, attention_mask), padded to the longest and truncated to the
    model's `max_seq_length`, from a copy of the model's fast tokenizer (the model's own one changes
    its settings at each call). Callers check it against `preprocess` (`matches`) before using it."""

    def __init__(self, model):
        module = model[0]
        tokenizer = module.tokenizer
        self._rust = type(tokenizer.backend_tokenizer).from_str(tokenizer.backend_tokenizer.to_str())
        self._rust.enable_truncation(module.max_seq_length)
        self._rust.enable_padding(pad_id=tokenizer.pad_token_id, pad_token=tokenizer.pad_token)

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        encodings = self._rust.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings])
        return ids, torch.tensor([e.attention_mask for e in encodings])

    def matches(self, model, texts: list[str]) -> bool:
        """Whether it gives the word pieces `model.preprocess` gives for `texts`."""
        ids, mask = self(texts)
        want = model.preprocess(texts)
        return torch.equal(ids, want["input_ids"]) and torch.equal(mask, want["attention_mask"])
