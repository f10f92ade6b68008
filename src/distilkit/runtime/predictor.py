"""`Predictor`: a bundle behind one call, texts in, plain Python results out (ready for `json.dumps`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Encoding, Tokenizer

from distilkit.core.errors import DistilkitError
from distilkit.core.long_text import LongTextReport, long_text_report
from distilkit.runtime.bundle import Bundle, load_bundle
from distilkit.runtime.encoding import Documents, TextEncoder, untruncated
from distilkit.runtime.probabilities import label_scores, softmax
from distilkit.runtime.tagging import WordTagger


class Predictor:
    """Run a bundle on raw texts.

    - sequence classification: ``{"label", "score", "scores": {label: probability}}`` per text
    - token classification: ``{"tokens": [{"token", "tag", "score", "start", "end"}, ...]}`` per text, one entry per
      sub-word token (special tokens left out; ``start``/``end`` are character offsets into the text)
    - embedding: ``{"embedding": [floats]}`` per text (`embed` gives the matrix)

    Token-classification bundles also give whole words and entities of raw text of any length (`tag_words`,
    `entities`, both at once with `words_and_entities`; see `distilkit.runtime.tagging`), with character offsets
    into the text. `predict_with_truncation` and `embed_with_truncation` also say which texts were cut to
    ``max_length`` tokens; `predict_with_lengths` gives each text's whole token count instead, which `report` turns
    into the long-text summary the CLI prints.

    A sequence-classification bundle exported with ``--long-text head-tail`` or ``windows`` reads a long text the
    way its model was trained (bundle.json ``long_text``): one head+tail input, or windows whose logits are averaged
    into the text's (`distilkit.core.long_text.pool_mean`); scores are the softmax of those pooled logits.

    `threads` caps ONNX Runtime's intra-op threads (default: one per physical core); `batch_size` bounds both the
    batch and the reused input buffers; `spin=False` keeps idle threads from busy-waiting (see `session_options`).
    """

    def __init__(self, bundle_dir: str | Path, batch_size: int = 32, threads: int | None = None, spin: bool = True):
        self.bundle: Bundle = load_bundle(bundle_dir, threads, spin)
        self.encoder = TextEncoder(
            self.bundle.tokenizer,
            self.bundle.inputs,
            self.bundle.max_length,
            self.bundle.pad_token_id,
            batch_size,
            long_text=self.bundle.long_text,
        )

    @property
    def task(self) -> str:
        return self.bundle.task

    @property
    def labels(self) -> list[str]:
        return self.bundle.labels

    def outputs(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The raw model output of each text, in order: logits (per text, or per token) or an embedding; a windowed
        text's logits are the mean of its windows'."""
        return self._run(texts)[0]

    def _run(self, texts: Sequence[str]) -> tuple[list[np.ndarray], Documents]:
        """Outputs of `texts` in order, and the documents they came from; per-token outputs are cut to the text's own
        length, the rows of a windowed text pooled into one."""
        documents = self.encoder.documents(texts)
        rows: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(documents.rows)
        session, name = self.bundle.session, self.bundle.output
        for batch in self.encoder.batches_of(documents.rows):
            (values,) = session.run([name], batch.feeds)
            for row, (index, encoding) in enumerate(zip(batch.indices, batch.encodings, strict=True)):
                rows[int(index)] = values[row, : len(encoding.ids)] if values.ndim == 3 else values[row]
        return documents.pool(rows), documents

    def embed(self, texts: str | Sequence[str]) -> np.ndarray:
        """Embeddings as a (texts, dimensions) float32 matrix (embedding bundles only)."""
        return self.embed_with_truncation(texts)[0]

    def embed_with_truncation(self, texts: str | Sequence[str]) -> tuple[np.ndarray, list[bool]]:
        """`embed`, and per text whether it was cut to ``max_length`` tokens.

        The flags come from the encodings the embeddings were computed from, so a caller that reports truncation
        (the server) does not tokenize every text a second time to find out.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        self._require("embedding", "embed")
        if not texts:
            return np.zeros((0, self.bundle.output_width), dtype=np.float32), []
        raw, documents = self._run(texts)
        return np.stack(raw).astype(np.float32, copy=False), documents.cut

    def predict(self, texts: str | Sequence[str]) -> list[dict[str, Any]]:
        """One result per text (see the class docstring for its shape)."""
        return self.predict_with_truncation(texts)[0]

    def predict_with_truncation(self, texts: str | Sequence[str]) -> tuple[list[dict[str, Any]], list[bool]]:
        """`predict`, and per text whether some of its tokens were not read (cut at ``max_length`` tokens, or the
        middle of a head-tail text; a windowed text is read whole), from the same encodings, see
        `embed_with_truncation`."""
        results, documents = self._predict(texts)
        return results, documents.cut

    def predict_with_lengths(self, texts: str | Sequence[str]) -> tuple[list[dict[str, Any]], list[int]]:
        """`predict`, and per text its whole token count, special tokens included (what `report` summarises), from
        the same tokenization."""
        results, documents = self._predict(texts)
        return results, documents.lengths

    def report(self, lengths: Sequence[int]) -> LongTextReport:
        """How many of the texts whose token counts are `lengths` exceed the bundle's ``max_length``, and what its
        long-text strategy does with them."""
        return long_text_report(lengths, self.bundle.max_length, self.encoder.specials, self.bundle.long_text)

    def _predict(self, texts: str | Sequence[str]) -> tuple[list[dict[str, Any]], Documents]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return [], Documents([], np.zeros(0, dtype=np.int64), [], [])
        raw, documents = self._run(texts)
        if self.task == "embedding":
            results = [{"embedding": [float(x) for x in vector]} for vector in raw]
        elif self.task == "sequence-classification":
            probs = softmax(np.stack(raw).astype(np.float64))
            results = [label_scores(p, self.labels) for p in probs]
        else:  # token classification always truncates: its rows are the tokenizer's encodings, one per text
            encodings: list[Encoding] = documents.rows  # type: ignore[assignment]
            results = [self._tags(logits, encoding) for logits, encoding in zip(raw, encodings, strict=True)]
        return results, documents

    def _tags(self, logits: np.ndarray, encoding: Encoding) -> dict[str, Any]:
        probs = softmax(logits.astype(np.float64))
        tokens = []
        for i, (token, special, (start, end)) in enumerate(
            zip(encoding.tokens, encoding.special_tokens_mask, encoding.offsets, strict=True)
        ):
            if special:
                continue
            best = int(probs[i].argmax())
            tokens.append(
                {"token": token, "tag": self.labels[best], "score": float(probs[i, best]), "start": start, "end": end}
            )
        return {"tokens": tokens}

    def tag_words(self, texts: str | Sequence[str], stride: int | None = None) -> list[list[dict[str, Any]]]:
        """Per text, one ``{"word", "tag", "score", "start", "end"}`` per word (e.g. POS tags)."""
        return self._tagger(stride).tag_words([texts] if isinstance(texts, str) else list(texts))

    def tag_sentences(self, sentences: Sequence[Sequence[str]], stride: int | None = None) -> list[list[str]]:
        """Per sentence given as a list of words, one tag per word (for scoring against a CoNLL file)."""
        return self._tagger(stride).tag_sentences(sentences)

    def entities(self, texts: str | Sequence[str], stride: int | None = None) -> list[list[dict[str, Any]]]:
        """Per text, its entities ``{"type", "start", "end", "text", "score"}`` (NER bundles: IOB2 tags)."""
        return self._tagger(stride).entities([texts] if isinstance(texts, str) else list(texts))

    def words_and_entities(self, texts: str | Sequence[str], stride: int | None = None) -> list[dict[str, Any]]:
        """Per text, ``{"words": <tag_words>, "entities": <entities, or None for tags that are not IOB2>}`` from
        one pass: what `tag_words` and `entities` give, without running the model twice."""
        return self._tagger(stride).words_and_entities([texts] if isinstance(texts, str) else list(texts))

    @cached_property
    def word_tokenizer(self) -> Tokenizer:
        """The bundle's tokenizer without truncation, which word tagging counts sub-words with; made once, since
        copying a tokenizer goes through its JSON and every `tag_words`/`entities` call needs one."""
        return untruncated(self.encoder.tokenizer)

    def _tagger(self, stride: int | None) -> WordTagger:
        self._require("token-classification", "tagging words")
        return WordTagger(
            self.encoder, self.bundle.session, self.bundle.output, self.labels, stride, tokenizer=self.word_tokenizer
        )

    def _require(self, task: str, what: str) -> None:
        if self.task != task:
            raise DistilkitError(f"{self.bundle.path}: {what} needs a {task} bundle, this one is {self.task}")
