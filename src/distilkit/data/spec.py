"""What a command's data options resolve to: where the splits are, which task they are for, how tags are read.

`DataSpec` is the object `finetune`, `distil` and the main job build from `--data`, `--dev`, `--test`, the column
options and `--task`; it reads the splits (through `data.sources`, the one meaning of `--data`) and encodes a split
for training. Sequence and token classification differ only here and in scoring (`evaluate.scoring`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from distilkit.core.errors import DistilkitError
from distilkit.core.long_text import LongText
from distilkit.core.tasks import CLASSIFIER_TASKS, TOKEN_CLASSIFICATION, check_task
from distilkit.data.classification import ClassificationData, ClassificationSplit, Columns, load_classification
from distilkit.data.sources import resolve_data
from distilkit.data.tagged import TokenData, TokenSplit, load_token_data

if TYPE_CHECKING:  # batching imports torch: a data error is reported before torch is loaded
    from distilkit.data.batching import EncodedSplit


@dataclass
class TokenOptions:
    """How token-classification files are read (tag column, tagging scheme) and cut into windows."""

    tag_column: int = -1
    scheme: str = "auto"
    stride: int = 32  # sub-words shared by consecutive windows of a sentence longer than max_length
    label_all_subwords: bool = False
    unseen_tags: str = "error"  # a dev/test tag train lacks: "error", or "drop" the sentences holding one


@dataclass
class DataSpec:
    """Where the data is: a folder/file/`hf:NAME`/known dataset name for train, optional dev and test overrides,
    which task it is for, and (sequence classification) how texts longer than the model's window are read."""

    data: str
    dev: str | None = None
    test: str | None = None
    columns: Columns = field(default_factory=Columns)
    task: str = "sequence-classification"
    tokens: TokenOptions = field(default_factory=TokenOptions)
    long_text: LongText = field(default_factory=LongText)

    def __post_init__(self) -> None:
        check_task(self.task, CLASSIFIER_TASKS)
        if self.is_tokens and not self.long_text.is_truncate:
            raise DistilkitError(
                f"long_text: {self.long_text.strategy} is for sequence-classification; token-classification already "
                "reads long sentences in windows of whole words (--stride)"
            )
        if self.columns.text_pair is not None:
            self.long_text.refuse_pairs(self.data)  # before any model is loaded

    @property
    def is_tokens(self) -> bool:
        return self.task == TOKEN_CLASSIFICATION

    def describe(self) -> dict[str, str | None]:
        """Where the data came from, as given (a name, path or `hf:NAME`): what results.json and the model card
        record, so a model says what it was trained and scored on."""
        return {"source": self.data, "dev": self.dev, "test": self.test}

    def load(self) -> ClassificationData | TokenData:
        if self.is_tokens:
            options = self.tokens
            return load_token_data(
                resolve_data(self.data),
                self.dev,
                self.test,
                tag_column=options.tag_column,
                scheme=options.scheme,
                unseen_tags=options.unseen_tags,
            )
        return load_classification(resolve_data(self.data), self.dev, self.test, self.columns)

    def encode(
        self, tokenizer, split: ClassificationSplit | TokenSplit, label2id: dict[str, int], max_length: int
    ) -> EncodedSplit:
        """Token ids and labels of a training split: one example per text (or per window of a long text, with
        `long_text` windows), or one per window of a tagged sentence."""
        from distilkit.data.batching import encode_split, encode_token_split

        if isinstance(split, TokenSplit):
            options = self.tokens
            return encode_token_split(
                tokenizer, split, label2id, max_length, options.stride, options.label_all_subwords
            )[0]
        return encode_split(tokenizer, split, label2id, max_length, self.long_text)
