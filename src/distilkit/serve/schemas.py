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
    max_tokens: int = Field(description="Texts are cut to this many tokens (special tokens included); see truncated.")
    latency_ms: float = Field(description="Server time from arrival to answer, queueing and batching included.")


class LabelResult(BaseModel):
    label: str
    score: float
    scores: dict[str, float]
    truncated: bool = Field(description="True when the text was longer than max_tokens and its end was cut.")


class ClassifyResponse(Served):
    results: list[LabelResult]


class TokenTag(BaseModel):
    token: str
    tag: str
    score: float
    start: int = Field(description="Character offset of the token in the text.")
    end: int


class Entity(BaseModel):
    type: str
    start: int
    end: int
    text: str
    score: float = Field(description="Mean score of the entity's tokens.")


class NerResult(BaseModel):
    tokens: list[TokenTag]
    entities: list[Entity]
    truncated: bool


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
