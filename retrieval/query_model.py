"""The query path's model and tokenizer: word pieces to unit vectors as one module, for tracing, and
texts to word pieces straight from the Rust tokenizer.

`SentenceTransformer` runs its modules (transformer, pooling, normalisation...) one by one in Python,
passing a dict of features along. For a short query that Python costs about as much as a layer of
the transformer. `QueryModel` calls the same modules from one `forward(input_ids, attention_mask)`,
so that a TorchScript trace of it holds the whole computation as one graph: measured on one core of
a Xeon with AMX, a dozen word pieces took 3.25 ms through the traced transformer plus the modules in
Python, 3.09 ms through one trace of everything.

`QueryTokenizer` turns a few texts into the same word pieces without `SentenceTransformer.preprocess`,
whose Python (per-call settings for every modality, a `BatchEncoding`) takes three times as long as
the Rust tokenizer itself: a query after a pause, as a server meets it, 0.53 against 0.27 ms.
"""

import torch


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
        return torch.nn.functional.normalize(features["sentence_embedding"].float(), dim=-1)


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
