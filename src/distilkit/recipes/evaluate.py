"""`distilkit evaluate`: a saved classifier or tagger scored on one split of any data `--data` can name."""

from __future__ import annotations

from distilkit.core.long_text import LongText
from distilkit.core.tasks import TOKEN_CLASSIFICATION
from distilkit.data import classification, tagged
from distilkit.data.classification import Columns, read_split
from distilkit.data.sources import split_file
from distilkit.data.spec import DataSpec, TokenOptions
from distilkit.data.tagged import read_token_split
from distilkit.evaluate.scoring import score
from distilkit.models.teacher import load_classifier


def evaluate(
    model_name: str,
    data: str,
    split: str = "test",
    columns: Columns | None = None,
    max_length: int = 128,
    allow_pickle: bool = False,
    task: str = "sequence-classification",
    tokens: TokenOptions | None = None,
    long_text: LongText | None = None,
) -> dict:
    """Score a saved classifier on one split: a file, or the `split` file of a data folder or known dataset.

    `long_text` should be the strategy the model was trained with: a model trained on windows scores its windows'
    mean; read truncated, it would be judged on inputs it never learnt from."""
    spec = DataSpec(
        data,
        columns=columns or Columns(),
        task=task,
        tokens=tokens or TokenOptions(),
        long_text=long_text or LongText(),
    )
    formats = tagged.FILE_FORMATS if task == TOKEN_CLASSIFICATION else classification.FILE_FORMATS
    path = split_file(data, split, tuple(formats))
    model, tokenizer = load_classifier(model_name, None, allow_pickle, task=task)
    options = spec.tokens
    if spec.is_tokens:
        gold = read_token_split(path, options.tag_column, options.scheme)
    else:
        gold = read_split(path, spec.columns)
    return score(model, tokenizer, gold, max_length, options.stride, spec.long_text)
