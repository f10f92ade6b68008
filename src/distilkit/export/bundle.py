"""Write a bundle folder atomically: `model.onnx`, `tokenizer.json`, `bundle.json`, its model card `README.md` (+ the
export's `config.yaml`).

The folder is assembled under a temporary name next to the destination, loaded back with the runtime's own
`load_bundle` (so a bundle that would not load is never put in place), then renamed over any old bundle. A killed
export leaves either the old bundle or the new one, never a model from one run beside labels from another.

Reading and checking bundles is the runtime's job (`distilkit.runtime.bundle`, torch-free).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from distilkit.core.atomic import new_folder, write_json, write_text
from distilkit.core.errors import DistilkitError
from distilkit.core.model_card import CARD_FILE, bundle_card, results_beside
from distilkit.runtime.bundle import BUNDLE_FILE, FORMAT_VERSION, MODEL_FILE, TOKENIZER_FILE, load_bundle
from distilkit.runtime.encoding import untruncated


def runtime_tokenizer(hf_tokenizer: Any) -> Tokenizer:
    """The `tokenizers` object behind a transformers fast tokenizer, with its padding and truncation switched off.

    The runtime pads per batch and truncates to the bundle's max_length itself; a padding or truncation setting left
    in `tokenizer.json` from training would otherwise apply on top. The copy leaves the transformers tokenizer as it
    was.
    """
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise DistilkitError("the runtime needs a fast (tokenizers) tokenizer")
    return untruncated(backend)


def write_bundle(
    out: Path,
    model_file: Path,
    tokenizer: Tokenizer,
    meta: dict[str, Any],
    extra_files: dict[str, str] | None = None,
) -> Path:
    """Assemble the bundle in a temporary folder, check it loads, then swap it into place at `out`.

    The card is rendered from the same `meta` as bundle.json (and the source model's results.json, when it sits
    next to a local model folder), inside the folder that is swapped in: a bundle never appears without its card.
    `meta` may set its own ``format_version`` (the exporter writes 1 unless the bundle needs ``long_text`` read).
    """
    meta = {"format_version": FORMAT_VERSION, **meta}
    out = Path(out)
    with new_folder(out) as tmp:
        shutil.copyfile(model_file, tmp / MODEL_FILE)
        # A copy without padding/truncation: the encoders of the export set truncation on the tokenizer they share.
        untruncated(tokenizer).save(str(tmp / TOKENIZER_FILE))
        write_json(tmp / BUNDLE_FILE, meta)
        write_text(tmp / CARD_FILE, bundle_card(meta, out, results_beside(meta["source_model"])))
        for name, text in (extra_files or {}).items():
            write_text(tmp / name, text)
        load_bundle(tmp, threads=1)
    return out
