"""Token classification: formats and schemes, every bad-input case by file and line, sub-word alignment and windows,
offsets into raw text, entity spans, and seqeval figures checked against hand counts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from tokenizers.pre_tokenizers import BertPreTokenizer
from transformers import BertTokenizerFast

from distilkit.core.errors import DistilkitError
from distilkit.core.tasks import IGNORE_INDEX
from distilkit.core.words import merge_windows, spans_from_bio, words_with_offsets
from distilkit.data.alignment import encode_words
from distilkit.data.tag_schemes import to_iob2
from distilkit.data.tagged import load_token_data, read_conll, read_token_jsonl
from distilkit.evaluate.tag_metrics import entity_metrics, token_accuracy

LETTERS = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def tokenizer() -> BertTokenizerFast:
    """WordPiece over a few whole words plus single letters: any other word splits into one piece per letter.

    (Built from a dict: transformers 5 ignores ``vocab_file=`` and would leave a 5-token vocabulary.)
    """
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "paris", "john", "smith", "went", "to"]
    tokens += list(LETTERS) + [f"##{c}" for c in LETTERS] + list(".,!?'-")
    return BertTokenizerFast(vocab={t: i for i, t in enumerate(tokens)}, do_lower_case=True)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------------- formats


def test_conll_tab_docstart_and_blank_runs(tmp_path):
    path = write(
        tmp_path / "a.conll",
        "-DOCSTART-\tO\n\nJohn\tB-PER\nSmith\tI-PER\nwent\tO\n\n\n-DOCSTART- -X- -X- O\nNew York\tB-LOC\n",
    )
    split = read_conll(path)
    assert split.sentences == [["John", "Smith", "went"], ["New York"]]
    assert split.tags == [["B-PER", "I-PER", "O"], ["B-LOC"]]
    assert split.scheme == "iob2" and split.is_bio
    assert split.where(0, 2) == f"{path}:5" and split.where(1) == f"{path}:9"


def test_conll_space_separated_and_tag_column(tmp_path):
    spaced = read_conll(write(tmp_path / "a.txt", "John   NNP B-PER\nruns VBZ O\n\nHi UH O\n"))
    assert spaced.tags == [["B-PER", "O"], ["O"]]
    pos = read_conll(tmp_path / "a.txt", tag_column=1)
    assert pos.tags == [["NNP", "VBZ"], ["UH"]] and not pos.is_bio and pos.scheme == "none"


def test_plain_pos_tags_are_kept_even_when_they_contain_hyphens(tmp_path):
    split = read_conll(write(tmp_path / "pos.conll", "(\t-LRB-\nits\tPRP$\nO\tNNP\n)\t-RRB-\n"))
    assert split.tags == [["-LRB-", "PRP$", "NNP", "-RRB-"]] and not split.is_bio


def test_iob1_and_bioes_become_iob2(tmp_path):
    iob1 = read_conll(write(tmp_path / "iob1.conll", "a\tI-PER\nb\tI-PER\nc\tB-PER\nd\tO\ne\tI-LOC\n"))
    assert iob1.scheme == "iob1"
    assert iob1.tags == [["B-PER", "I-PER", "B-PER", "O", "B-LOC"]]
    bioes = read_conll(write(tmp_path / "bioes.conll", "a\tB-PER\nb\tI-PER\nc\tE-PER\nd\tS-LOC\ne\tS-LOC\nf\tO\n"))
    assert bioes.scheme == "bioes"
    assert bioes.tags == [["B-PER", "I-PER", "I-PER", "B-LOC", "B-LOC", "O"]]
    assert to_iob2(["U-X", "B-Y", "L-Y", "O"]) == ["B-X", "B-Y", "I-Y", "O"]  # BILOU too
    assert to_iob2(["B-X", "I-X", "O", "B-X"]) == ["B-X", "I-X", "O", "B-X"]  # IOB2 unchanged


def test_jsonl(tmp_path):
    lines = [{"tokens": ["Paris", "!"], "tags": ["S-LOC", "O"]}, {"words": 1, "tokens": ["x"], "tags": ["O"]}]
    path = write(tmp_path / "a.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n\n")
    split = read_token_jsonl(path)
    assert split.sentences == [["Paris", "!"], ["x"]] and split.tags == [["B-LOC", "O"], ["O"]]
    assert split.where(1, 0) == f"{path}:2"


def test_folder_vocabulary_and_mixed_formats(tmp_path):
    write(tmp_path / "train.conll", "John\tB-PER\nin\tO\nParis\tB-LOC\n\nNew\tB-LOC\nYork\tI-LOC\n")
    write(tmp_path / "dev.jsonl", json.dumps({"tokens": ["John", "Smith"], "tags": ["B-PER", "I-PER"]}) + "\n")
    write(tmp_path / "test.conll", "Paris\tS-LOC\n")
    data = load_token_data(tmp_path)
    # I-PER never occurs in train, yet belongs to the vocabulary: a two-word PER in dev is fine.
    assert data.tag_names == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert data.is_bio and data.dev.tags == [["B-PER", "I-PER"]] and data.test.tags == [["B-LOC"]]
    assert data.tag2id["I-PER"] == 4


def test_local_hf_dataset_with_classlabel(tmp_path):
    datasets = pytest.importorskip("datasets")
    names = ["O", "B-PER", "I-PER"]
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
        }
    )
    rows = {"tokens": [["John", "Smith", "ran"], ["ok"]], "ner_tags": [[1, 2, 0], [0]]}
    folder = tmp_path / "hf"
    folder.mkdir()
    for split in ("train", "validation", "test"):  # parquet keeps the ClassLabel names in its schema metadata
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(folder / f"{split}.parquet"))
    data = load_token_data(f"hf:{folder}", tags_key="ner_tags")
    assert data.train.tags == [["B-PER", "I-PER", "O"], ["O"]] and data.is_bio
    assert data.test.where(1) == f"{folder}[test] row 1"
    with pytest.raises(DistilkitError, match=r"\[train\]: missing column 'tags'"):
        load_token_data(f"hf:{folder}")


# ------------------------------------------------------------------------------------------------------- bad input


def _bad_cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Each case: a data folder (or file) with one defect, and the message expected (file:line: what)."""
    cases = {}

    def case(name: str, files: dict[str, str | bytes], expected: str) -> None:
        folder = tmp / name
        folder.mkdir(parents=True)
        for file, content in files.items():
            path = folder / file
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        cases[name] = (folder, expected.format(folder=folder))

    case(
        "ragged",
        {"train.conll": "a\tNN\tO\nb\tNN\tO\n\nc\tO\n"},
        "{folder}/train.conll:4: 2 tab-separated columns, but the first line (line 1) has 3",
    )
    case("ragged_space", {"train.txt": "a NN\nb\n"}, "{folder}/train.txt:2: 1 space-separated columns")
    case("empty_tag", {"train.conll": "a\tO\nb\t\n"}, "{folder}/train.conll:2: empty tag")
    case("empty_word", {"train.conll": "a\tO\n \tO\n"}, "{folder}/train.conll:2: empty word")
    case("bad_prefix", {"train.conll": "a\tB-PER\n\nb\tO\nc\tX-PER\n"}, "{folder}/train.conll:4: invalid tag 'X-PER'")
    case("empty_type", {"train.conll": "a\tB-PER\nb\tI-\n"}, "{folder}/train.conll:2: invalid tag 'I-'")
    case(
        "unseen_in_test",
        {"train.conll": "a\tB-PER\nb\tO\n", "test.conll": "a\tO\n\nb\tO\nc\tB-ORG\n"},
        "{folder}/test.conll:4: tag 'B-ORG' does not occur in the training split (train entity types: PER)",
    )
    case(
        "unseen_pos_in_dev",
        {"train.conll": "a\tNN\n", "dev.jsonl": json.dumps({"tokens": ["a"], "tags": ["NN|JJ"]}) + "\n"},
        "{folder}/dev.jsonl:1: tag 'NN|JJ' does not occur in the training split (train tags: NN)",
    )
    case(
        "empty_file", {"train.conll": "\n\n-DOCSTART-\tO\n\n"}, "{folder}/train.conll: no sentences (the file is empty)"
    )
    case("empty_jsonl", {"train.jsonl": ""}, "{folder}/train.jsonl: no sentences (the file is empty)")
    case(
        "jsonl_lengths",
        {
            "train.jsonl": json.dumps({"tokens": ["a"], "tags": ["O"]})
            + "\n"
            + json.dumps({"tokens": ["a", "b"], "tags": ["O"]})
        },
        "{folder}/train.jsonl:2: 2 tokens but 1 tags",
    )
    case(
        "jsonl_key",
        {"train.jsonl": '{"words": ["a"], "tags": ["O"]}\n'},
        "{folder}/train.jsonl:1: missing key 'tokens'",
    )
    case(
        "jsonl_syntax",
        {"train.jsonl": '{"tokens": ["a"], "tags": ["O"]}\n{oops\n'},
        "{folder}/train.jsonl:2: invalid JSON",
    )
    case("utf8", {"train.conll": b"a\tO\n\nb\tO\nc\xff\tO\n"}, "{folder}/train.conll:4: not valid UTF-8")
    case(
        "mixed_kinds",
        {"train.conll": "a\tB-PER\n", "dev.conll": "a\tNN\n"},
        "{folder}/dev.conll: has plain tags but the training split has entity (BIO) tags",
    )
    case("no_train", {"dev.conll": "a\tO\n"}, "{folder}: no train.conll")
    return cases


@pytest.mark.parametrize(
    "name",
    [
        "ragged",
        "ragged_space",
        "empty_tag",
        "empty_word",
        "bad_prefix",
        "empty_type",
        "unseen_in_test",
        "unseen_pos_in_dev",
        "empty_file",
        "empty_jsonl",
        "jsonl_lengths",
        "jsonl_key",
        "jsonl_syntax",
        "utf8",
        "mixed_kinds",
        "no_train",
    ],
)
def test_bad_input_names_file_and_line(tmp_path, name):
    folder, expected = _bad_cases(tmp_path)[name]
    with pytest.raises(DistilkitError) as excinfo:
        load_token_data(folder)
    message = str(excinfo.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_unseen_tags_drop_leaves_out_their_sentences_and_says_so(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write(folder / "train.conll", "a\tNN\nb\tVB\n")
    write(folder / "dev.conll", "a\tNN\n\nb\tNN|JJ\na\tNN\n\nb\tVB\n")
    with pytest.raises(DistilkitError, match=r"dev.conll:3: tag 'NN\|JJ' .*--unseen-tags drop"):
        load_token_data(folder)
    with pytest.warns(UserWarning, match=r"dev.conll:3: tag 'NN\|JJ' .*1 of 3 sentences with unseen tags left out"):
        data = load_token_data(folder, unseen_tags="drop")
    assert data.dev.sentences == [["a"], ["b"]]
    assert data.dev.tags == [["NN"], ["VB"]]
    assert data.dev.where(1) == f"{folder}/dev.conll:6"  # lines still point into the file
    with pytest.raises(DistilkitError, match="unseen_tags: expected one of error, drop"):
        load_token_data(folder, unseen_tags="ignore")


def test_explicit_scheme_is_enforced(tmp_path):
    path = write(tmp_path / "a.conll", "a\tO\nb\tI-PER\n")
    assert read_conll(path, scheme="iob1").tags == [["O", "B-PER"]]
    with pytest.raises(DistilkitError, match=rf"^{re.escape(str(path))}:2: tag 'I-PER' starts an entity"):
        read_conll(path, scheme="bio")
    other = write(tmp_path / "b.conll", "a\tS-PER\n")
    with pytest.raises(DistilkitError, match=rf"^{re.escape(str(other))}:1: invalid tag 'S-PER'"):
        read_conll(other, scheme="iob2")
    with pytest.raises(DistilkitError, match=rf"^{re.escape(str(path))}:1: no tag column 5"):
        read_conll(path, tag_column=5)
    with pytest.raises(DistilkitError, match="unknown tagging scheme"):
        read_conll(path, scheme="bilu")


# ------------------------------------------------------------------------------------------------------- alignment


def _word_pieces(tokenizer, window) -> dict[int, list[str]]:
    pieces: dict[int, list[str]] = {}
    for token, w in zip(tokenizer.convert_ids_to_tokens(window["input_ids"]), window["word_ids"], strict=True):
        if w is not None:
            pieces.setdefault(w, []).append(token)
    return pieces


def test_round_trip_words_to_subwords_to_words(tokenizer):
    words = [["John", "Smith", "flew", "to", "Zanzibarxyz", "."], ["The", "quokka"]]
    tags = [["B-PER", "I-PER", "O", "O", "B-LOC", "O"], ["O", "B-ANIMAL"]]
    tag2id = {t: i for i, t in enumerate(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ANIMAL"])}
    id2tag = {i: t for t, i in tag2id.items()}
    windows = encode_words(tokenizer, words, tags, tag2id, max_length=64, stride=8)
    assert [w["sentence"] for w in windows] == [0, 1]
    for window in windows:
        s = window["sentence"]
        pieces = _word_pieces(tokenizer, window)
        assert sorted(pieces) == list(range(len(words[s])))
        # the pieces of each word spell the (lower-cased) word: nothing lost, nothing moved to a neighbour
        for w, word_pieces in pieces.items():
            assert "".join(p.removeprefix("##") for p in word_pieces) == words[s][w].lower()
        assert len(pieces[4 if s == 0 else 1]) > 5  # a word in many pieces
        labelled = [
            (w, id2tag[label])
            for w, label in zip(window["word_ids"], window["labels"], strict=True)
            if label != IGNORE_INDEX
        ]
        assert labelled == list(enumerate(tags[s]))  # first sub-word only, in order
        assert window["input_ids"][0] == tokenizer.cls_token_id and window["labels"][0] == IGNORE_INDEX
        assert set(window) >= {"input_ids", "attention_mask", "token_type_ids", "labels", "word_ids"}


def test_label_all_subwords_continues_entities_with_inside_tags(tokenizer):
    tag2id = {"O": 0, "B-LOC": 1, "I-LOC": 2}
    (window,) = encode_words(tokenizer, [["Zanzi", "bar"]], [["B-LOC", "O"]], tag2id, 64, 0, label_all_subwords=True)
    assert window["labels"] == [IGNORE_INDEX, 1, 2, 2, 2, 2, 0, 0, 0, IGNORE_INDEX]
    (plain,) = encode_words(tokenizer, [["Zanzi", "bar"]], [["B-LOC", "O"]], tag2id, 64, 0)
    assert plain["labels"] == [IGNORE_INDEX, 1, *[IGNORE_INDEX] * 4, 0, *[IGNORE_INDEX] * 2, IGNORE_INDEX]


def _word_scores(windows, num_tags: int = 3) -> list[np.ndarray]:
    """Scores that depend on the word only (its sentence and index), padded like a model's output batch."""
    width = max(len(w["input_ids"]) for w in windows) + 2
    batch = np.full((len(windows), width, num_tags), np.nan)
    for k, window in enumerate(windows):
        for p, w in enumerate(window["word_ids"]):
            if w is not None:
                batch[k, p] = [window["sentence"], w, w * w]
    return batch


def test_windows_over_long_sentences_give_every_word_one_prediction(tokenizer):
    rng = np.random.default_rng(0)
    long = ["".join(rng.choice(list(LETTERS), size=rng.integers(1, 5))) for _ in range(80)]
    long[10] = "the"
    long[40] = "x" * 30  # longer than a whole window: its own window, tail pieces dropped
    long[41] = "\u200b"  # tokenizes to nothing
    sentences = [long, ["John", "went"], [], ["pqrst"] * 3]
    max_length, stride = 12, 4
    windows = encode_words(tokenizer, sentences, max_length=max_length, stride=stride)
    assert max(len(w["input_ids"]) for w in windows) <= max_length
    assert sum(w["sentence"] == 0 for w in windows) > 10
    full = {
        w: len(p)
        for w, p in _word_pieces(tokenizer, encode_words(tokenizer, [long], max_length=512, stride=0)[0]).items()
    }
    assert full[41] == 1  # the zero-width word became [UNK]
    previous = None
    for window in (w for w in windows if w["sentence"] == 0):
        pieces = _word_pieces(tokenizer, window)
        assert sorted(pieces) == list(range(window["word_start"], window["word_end"]))
        for w, p in pieces.items():  # whole words only (bar the giant word, cut to fit)
            assert len(p) == full[w] or (w == 40 and len(pieces) == 1)
        if previous is not None:  # overlap of whole words, at most `stride` pieces
            shared = range(window["word_start"], previous["word_end"])
            assert sum(full[w] for w in shared) <= stride
            assert previous["word_start"] < window["word_start"] <= previous["word_end"]
        previous = window
    merged = merge_windows(windows, _word_scores(windows))
    unwindowed = encode_words(tokenizer, sentences, max_length=512, stride=0)
    assert len(unwindowed) == len(sentences)
    expected = merge_windows(unwindowed, _word_scores(unwindowed))
    assert [m.shape for m in merged] == [(80, 3), (2, 3), (0, 3), (3, 3)]
    for got, want in zip(merged, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_merge_takes_each_word_from_the_window_where_it_has_most_context(tokenizer):
    words = list("abcdefghij")  # one piece each
    windows = encode_words(tokenizer, [words], max_length=8, stride=4)  # 6 words a window, 4 shared
    assert [(w["word_start"], w["word_end"]) for w in windows] == [(0, 6), (2, 8), (4, 10)]
    scores = [np.full((len(w["input_ids"]), 1), k, dtype=float) for k, w in enumerate(windows)]
    chosen = merge_windows(windows, scores)[0][:, 0].tolist()
    # word 2: window 0 (left edge is the sentence start) has min(inf, 3) = 3, window 1 has 0 -> window 0.
    # word 3: window 0 -> 2, window 1 -> 1 -> window 0.  word 4: 1 vs 2 vs 0 -> window 1.  word 5: 0 vs 2 vs 1 -> 1.
    # word 6: window 1 -> min(4, 1) = 1, window 2 -> min(2, inf) = 2 -> window 2.  word 7: 0 vs 3 -> window 2.
    assert chosen == [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]


def test_encode_refuses_bad_settings(tokenizer):
    with pytest.raises(ValueError, match="stride"):
        encode_words(tokenizer, [["a"]], max_length=8, stride=6)
    with pytest.raises(ValueError, match="not in tag2id"):
        encode_words(tokenizer, [["a"]], [["B-X"]], {"O": 0}, max_length=8, stride=0)


# --------------------------------------------------------------------------------------------------- offsets, spans

NASTY = [
    "Café  déjà-vu,\tnaïve   résumé!",
    "  leading and trailing  ",
    "Dr. O'Neil paid $3.50 (cash)... really?!",
    "emoji 😀❤️ and 👍🏽 x\u200by e\u0301t\u00e9",
    "tabs\t\tand\nnew\r\nlines\u00a0nbsp\u2003em",
    "«quoted» — dash – “curly” ‘single’ ¿qué?",
    "",
    "   ",
]


@pytest.mark.parametrize("text", NASTY)
def test_words_with_offsets_index_the_text_like_bert_pre_tokenizer(text):
    words = words_with_offsets(text)
    for word, start, end in words:
        assert text[start:end] == word and word.strip() == word and word
    expected = [(w, s, e) for w, (s, e) in BertPreTokenizer().pre_tokenize_str(text)]
    assert words == expected


def test_words_with_offsets_by_hand():
    text = "Zoë's  café,\t東京 😀!"
    assert words_with_offsets(text) == [
        ("Zoë", 0, 3),
        ("'", 3, 4),
        ("s", 4, 5),
        ("café", 7, 11),
        (",", 11, 12),
        ("東", 13, 14),  # CJK ideographs are words of their own, as BERT's normalizer makes them
        ("京", 14, 15),
        ("😀", 16, 17),
        ("!", 17, 18),
    ]


def test_spans_from_bio_keep_original_spacing_and_average_scores():
    text = "Mr.  Jean-Luc   Picard visited  São Paulo!"
    words = words_with_offsets(text)
    assert [w for w, _, _ in words] == ["Mr", ".", "Jean", "-", "Luc", "Picard", "visited", "São", "Paulo", "!"]
    tags = ["O", "O", "B-PER", "I-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-PER"]
    scores = [0.9, 0.9, 0.8, 0.6, 1.0, 0.6, 0.9, 0.5, 1.0, 0.1]
    spans = spans_from_bio(words, tags, scores, text)
    assert spans == [
        {"type": "PER", "start": 5, "end": 22, "text": "Jean-Luc   Picard", "score": pytest.approx(0.75)},
        {"type": "LOC", "start": 32, "end": 41, "text": "São Paulo", "score": pytest.approx(0.75)},
    ]  # the stray I-PER on "!" continues nothing and is dropped, as the strict metric drops it
    assert spans_from_bio(words[:2], ["B-X", "B-X"], [1.0, 0.5], text)[1]["text"] == "."
    with pytest.raises(ValueError):
        spans_from_bio(words, tags[:-1], scores, text)


# --------------------------------------------------------------------------------------------------------- metrics


def test_entity_metrics_match_hand_counts():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["B-ORG", "O", "B-PER", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["I-ORG", "O", "B-PER", "B-ORG"]]
    # gold: PER(0:0-1) LOC(0:3-4) ORG(1:0) PER(1:2)      = 4 entities
    # pred: PER(0:0-1) LOC(0:3) [I-ORG starts nothing] PER(1:2) ORG(1:3) = 4 entities
    # exact matches: the two PERs. LOC has the wrong end, ORG the wrong place.
    m = entity_metrics(gold, pred)
    assert m["precision"] == pytest.approx(2 / 4) and m["recall"] == pytest.approx(2 / 4)
    assert m["f1"] == pytest.approx(0.5)
    assert m["per_type"] == {
        "LOC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        "ORG": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        "PER": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2},
    }
    assert m["macro_f1"] == pytest.approx(1 / 3)
    # precision 1/2 of 2 predicted, recall 1/3: f1 = 2 * (1/2 * 1/3) / (1/2 + 1/3) = 0.4
    m2 = entity_metrics([["B-A", "O", "B-B", "B-A"]], [["B-A", "O", "B-A", "O"]])
    assert (m2["precision"], m2["recall"]) == (pytest.approx(0.5), pytest.approx(1 / 3))
    assert m2["f1"] == pytest.approx(0.4)
    assert m2["per_type"]["A"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}


def test_entity_metrics_edge_cases():
    nothing = entity_metrics([["O", "O"]], [["O", "O"]])
    assert nothing == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "macro_f1": 0.0, "per_type": {}}
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1 predicted"):
        entity_metrics([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="not an IOB2 tag"):
        entity_metrics([["NN"]], [["O"]])


def test_token_accuracy():
    assert token_accuracy([["DT", "NN"], ["VBZ"]], [["DT", "VB"], ["VBZ"]]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        token_accuracy([["DT"]], [["DT"], ["NN"]])
