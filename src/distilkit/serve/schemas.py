"""Request and response bodies of the HTTP API (they are also what `/docs` and `/openapi.json` show)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TextsRequest(BaseModel):
    """One text or a list of texts for one model (the first served bundle of the endpoint's task by default)."""

    model_config = ConfigDict(extra="forbid")
    text: str | list[str] = Field(description="A text, or a list of texts answered in order.")
    model: str | None = Field(None, description="Bundle name (see GET /v1/models); default: the first of the task.")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(description="What the user typed.")


class Served(BaseModel):
    """Fields every inference answer carries."""

    model: str = Field(description="The bundle that answered.")
    max_tokens: int = Field(
        description="Texts are cut to this many tokens (special tokens included), see truncated; NER tags longer "
        "texts window by window instead."
    )
    latency_ms: float = Field(description="Server time from arrival to answer, queueing and batching included.")


class LabelResult(BaseModel):
    label: str
    score: float
    scores: dict[str, float]
    truncated: bool = Field(
        description="True when the text was longer than max_tokens and some of it was not read: its end, or its "
        "middle for a bundle exported with --long-text head-tail; never for --long-text windows, which reads it all."
    )


class ClassifyResponse(Served):
    results: list[LabelResult]


class WordTag(BaseModel):
    """A word of the text, split as BERT's pre-tokenizer splits it (punctuation is a word of its own), and its tag.

    The same as `Predictor.tag_words` and `distilkit predict --task pos`: one prediction per word (read at its first
    sub-word), which is what the entity decoder and the metric see, rather than sub-word pieces no caller can use.
    """

    word: str
    tag: str
    score: float = Field(description="Probability of the tag.")
    start: int = Field(description="Character offset of the word in the text: text[start:end] == word.")
    end: int


class Entity(BaseModel):
    """An entity decoded from the word tags by strict IOB2 (B-X opens, I-X continues it, a stray I-X is dropped).

    That is the rule the reported entity F1 counts, and the decoder of `distilkit predict --task ner` and
    `Predictor.entities`: the API gives the same entities, offsets and scores as both.
    """

    type: str
    start: int = Field(description="Character offset of the entity's first word.")
    end: int = Field(description="Character offset just past its last word.")
    text: str = Field(description="text[start:end], the original spacing and casing kept.")
    score: float = Field(description="Mean probability of its words' tags.")


class NerResult(BaseModel):
    words: list[WordTag] = Field(description="Every word of the text with its tag, in order.")
    entities: list[Entity] | None = Field(
        description="Entities in order; null when the bundle's tags are not IOB2 entity tags (e.g. a POS tagger), "
        "whose answer is the word tags."
    )
    truncated: bool = Field(
        description="Always false: a text longer than max_tokens is tagged in overlapping windows of whole words, "
        "so every word is tagged and nothing is cut."
    )


class NerResponse(Served):
    results: list[NerResult]


class EmbedResponse(Served):
    dim: int
    embeddings: list[list[float]]
    truncated: list[bool]


class ChatResponse(Served):
    intent: str | None = Field(description="Best intent, or null when its score is below the threshold.")
    score: float = Field(description="Cosine similarity of the message to the nearest example utterance.")
    threshold: float
    response: str
    fallback: bool = Field(description="True when the bot's fallback answered.")


class ModelInfo(BaseModel):
    name: str
    task: str
    labels: list[str]
    max_tokens: int


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    chatbot: str | None = Field(description="Name of the bot behind /v1/chat, if one is loaded.")


class Problem(BaseModel):
    detail: str
