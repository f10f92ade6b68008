"""Raw text → one tag per word, and entity spans with character offsets: the NER/POS pipeline over a bundle.

A token-classification model predicts per sub-word and reads at most ``max_length`` tokens; a user sends raw text
of any length and wants words, or entities as ``text[start:end]``. The steps mirror training exactly:

1. `words_with_offsets` splits the text into words the way BERT's pre-tokenizer does, keeping exact offsets
   (accents, runs of spaces and punctuation included), so offsets index the caller's string.
2. The words are tokenized pre-split and cut into overlapping windows of whole words (`word_windows`, the rule
   training used), each run through the model. A text that fits in one window is tokenized once; a longer one
   once whole (to count sub-words per word) and once per window.
3. `merge_windows` reads each word's scores at its first sub-word in the window where it has most context, so every
   word gets exactly one prediction, however long the text.
4. For NER, strict IOB2 decoding (`spans_from_bio`, the rule the metric scores) turns word tags into spans whose
   score is the mean probability of their words' tags.

Only numpy, tokenizers and the standard library are used, like the rest of the runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tokenizers import Encoding, Tokenizer

from distilkit.core.errors import DistilkitError
from distilkit.core.words import is_entity_tagset, merge_windows, spans_from_bio, word_windows, words_with_offsets
from distilkit.runtime.encoding import TextEncoder, untruncated
from distilkit.runtime.probabilities import softmax


@dataclass
class TagPlan:
    """What the model must read for some sentences: one encoding per window (`encodings`, in window order), and how
    each window maps back to its sentence's words (`windows`, as `merge_windows` reads them). `non_empty` are the
    sentences that have words (the others get no window); `words` the words and offsets of raw texts, when planned
    from them (`WordTagger.plan_texts`)."""

    sentences: int
    non_empty: list[int]
    windows: list[dict[str, Any]]
    encodings: list[Encoding]
    words: list[list[tuple[str, int, int]]] = field(default_factory=list)


class WordTagger:
    """Tag the words of raw texts with a token-classification bundle's session (see the module docstring).

    `stride` is how many sub-words consecutive windows of a long text share (default: a quarter of the window).
    """

    def __init__(
        self,
        encoder: TextEncoder,
        session: Any,
        output: str,
        labels: list[str],
        stride: int | None = None,
        tokenizer: Tokenizer | None = None,
    ):
        self.encoder = encoder
        self.session = session
        self.output = output
        self.labels = labels
        # The encoder's tokenizer truncates, and counting sub-words per word must not: a copy without truncation
        # (`untruncated`; a caller tagging many batches passes one it keeps, the JSON round trip is not free).
        self.tokenizer = untruncated(encoder.tokenizer) if tokenizer is None else tokenizer
        processor = self.tokenizer.post_processor
        specials = processor.num_special_tokens_to_add(False) if processor is not None else 0
        self.budget = encoder.max_length - specials
        self.stride = self.budget // 4 if stride is None else stride
        if self.budget < 1:
            raise DistilkitError(f"max_length {encoder.max_length} leaves no room for words after the special tokens")
        if not 0 <= self.stride < self.budget:
            raise DistilkitError(f"stride must be in [0, {self.budget}), got {self.stride}")
        self.unknown = getattr(self.tokenizer.model, "unk_token", None) or "?"

    def tag_words(self, texts: Sequence[str]) -> list[list[dict[str, Any]]]:
        """Per text, ``[{"word", "tag", "score", "start", "end"}, ...]`` with ``text[start:end] == word``."""
        plan = self.plan_texts(texts)
        probabilities = self._probabilities(plan, self._forward(plan.encodings))
        return [self._word_tags(sentence, probs) for sentence, probs in zip(plan.words, probabilities, strict=True)]

    def _word_tags(self, sentence: list[tuple[str, int, int]], probs: np.ndarray) -> list[dict[str, Any]]:
        """One ``{"word", "tag", "score", "start", "end"}`` per word, from its tag probabilities ``[words, tags]``."""
        best = probs.argmax(-1) if len(sentence) else np.zeros(0, dtype=int)
        return [
            {"word": w, "tag": self.labels[k], "score": float(probs[i, k]), "start": start, "end": end}
            for i, ((w, start, end), k) in enumerate(zip(sentence, best, strict=True))
        ]

    def tag_sentences(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """One tag per word of sentences already split into words (a CoNLL file's), for scoring against gold tags
        word for word: splitting their joined text again could cut words differently."""
        probabilities = self._word_probabilities([list(words) for words in sentences])
        return [[self.labels[k] for k in probs.argmax(-1)] for probs in probabilities]

    def entities(self, texts: Sequence[str]) -> list[list[dict[str, Any]]]:
        """Per text, ``[{"type", "start", "end", "text", "score"}, ...]`` with ``text[start:end]`` the surface."""
        if not is_entity_tagset(self.labels):
            raise DistilkitError(f"entities need IOB2 entity tags (O, B-X, I-X); this model's tags are {self.labels}")
        return [result["entities"] for result in self.words_and_entities(texts)]

    def words_and_entities(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Per text, ``{"words": <tag_words>, "entities": <entities>}`` from one pass over the model.

        A server answers both without tagging twice. ``entities`` is None when the tags are not IOB2 entity tags
        (a POS tagger): such tags have no spans under the metric's rule, and inventing a looser one would report
        entities the metric never counts.
        """
        plan = self.plan_texts(texts)
        return self.words_and_entities_from(texts, plan, self._forward(plan.encodings))

    def plan_texts(self, texts: Sequence[str]) -> TagPlan:
        """The model inputs of raw texts (`TagPlan.encodings`, one per window), for a caller that runs the model
        itself (a serving engine's model, see `distilkit.runtime.front_end`) and hands the outputs to
        `words_and_entities_from`."""
        offsets = [words_with_offsets(text) for text in texts]
        return self._plan([[w for w, _, _ in sentence] for sentence in offsets], offsets)

    def words_and_entities_from(self, texts: Sequence[str], plan: TagPlan, scores: list[np.ndarray]) -> list[dict]:
        """`words_and_entities` of `texts` from `plan` (`plan_texts` of the same texts) and the model's scores
        ``[tokens, tags]`` of each of its encodings: the same merge and decoding, the model run elsewhere."""
        probabilities = self._probabilities(plan, scores)
        tagged = [self._word_tags(sentence, p) for sentence, p in zip(plan.words, probabilities, strict=True)]
        return self._with_entities(texts, tagged)

    def _with_entities(self, texts: Sequence[str], tagged: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """Each text's tagged words and, for IOB2 tags, the entity spans decoded from them (strict IOB2)."""
        decodable = is_entity_tagset(self.labels)
        out = []
        for text, words in zip(texts, tagged, strict=True):
            spans = None
            if decodable:
                offsets = [(w["word"], w["start"], w["end"]) for w in words]
                tags, scores = [w["tag"] for w in words], [w["score"] for w in words]
                spans = spans_from_bio(offsets, tags, scores, text)
            out.append({"words": words, "entities": spans})
        return out

    def _word_probabilities(self, sentences: list[list[str]]) -> list[np.ndarray]:
        """Tag probabilities ``[words, tags]`` per sentence, windows merged back to one row per word."""
        plan = self._plan(sentences)
        return self._probabilities(plan, self._forward(plan.encodings))

    def _plan(self, sentences: list[list[str]], offsets: list | None = None) -> TagPlan:
        """The windows of each non-empty sentence and their encodings (see `TagPlan`)."""
        windows: list[dict[str, Any]] = []
        encodings: list[Encoding] = []
        non_empty = [s for s, words in enumerate(sentences) if words]  # merge_windows numbers sentences 0..n-1
        # Each sentence is tokenized once, whole and with its special tokens, to count sub-words per word. When
        # it fits in one window and every word has a sub-word, that encoding is the window's (the encoder's
        # tokenizer would give the same one, truncating nothing); only longer sentences are encoded again, window
        # by window.
        full = self.tokenizer.encode_batch([sentences[s] for s in non_empty], is_pretokenized=True)
        for k, (s, whole) in enumerate(zip(non_empty, full, strict=True)):
            counts = _piece_counts(whole, len(sentences[s]))
            pieces = [self.unknown if n == 0 else w for w, n in zip(sentences[s], counts, strict=True)]
            reuse = sum(counts) <= self.budget and all(counts)
            for start, end in word_windows(counts, self.budget, self.stride):
                encoding = whole if reuse else self.encoder.tokenizer.encode(pieces[start:end], is_pretokenized=True)
                word_ids = [None if w is None else w + start for w in encoding.word_ids]
                windows.append(
                    {
                        "sentence": k,
                        "word_ids": word_ids,
                        "word_start": start,
                        "word_end": end,
                        "sentence_length": len(pieces),
                    }
                )
                encodings.append(encoding)
        return TagPlan(len(sentences), non_empty, windows, encodings, offsets or [])

    def _forward(self, encodings: list[Encoding]) -> list[np.ndarray]:
        """The session's scores ``[tokens, tags]`` of each encoding, in order (batched by length)."""
        scores: list[np.ndarray] = [np.empty(0)] * len(encodings)
        for batch in self.encoder.batches_of(encodings):
            (values,) = self.session.run([self.output], batch.feeds)
            for row, index in enumerate(batch.indices):
                scores[int(index)] = values[row, : len(batch.encodings[row].ids)]
        return scores

    def _probabilities(self, plan: TagPlan, scores: list[np.ndarray]) -> list[np.ndarray]:
        """Per sentence of `plan`, its words' tag probabilities from the scores of its encodings."""
        windows = plan.windows
        merged = dict(zip(plan.non_empty, merge_windows(windows, scores), strict=True)) if windows else {}
        empty = np.zeros((0, len(self.labels)))
        return [softmax(merged[s]) if s in merged else empty for s in range(plan.sentences)]


def _piece_counts(encoding: Encoding, num_words: int) -> list[int]:
    """Sub-words per word of a pre-split encoding (special tokens belong to no word)."""
    counts = [0] * num_words
    for w in encoding.word_ids:
        if w is not None:
            counts[w] += 1
    return counts
