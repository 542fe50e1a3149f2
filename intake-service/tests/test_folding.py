"""Folding text for keyword matching (case, accents, marks, a few letters, whitespace): the
substitutions give exactly what one ``str.translate`` of every mark and letter gives (the
definition, kept here), over the multilingual corpus and text made of every folded
character."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from intake_service.classification.model import _DROPPED_MARKS, _FOLDED_LETTERS, fold

CORPUS = Path(__file__).parent / "data" / "multilingual_complaints.jsonl"
ONE_TRANSLATION = str.maketrans({**dict.fromkeys(_DROPPED_MARKS), **_FOLDED_LETTERS})


def folded_by_one_translation(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold()).translate(ONE_TRANSLATION)
    return " ".join(unicodedata.normalize("NFC", decomposed).split())


def test_fold_is_the_one_translation():
    texts = [json.loads(line)["text"] for line in CORPUS.read_text().splitlines() if line]
    every_character = "".join(map(chr, _DROPPED_MARKS)) + "".join(_FOLDED_LETTERS)
    texts += [
        every_character,
        f"Ł{every_character}ódź  ĦAŁØ Æsir’s\u200cœuvre ı",
        "Ça  coûte\u00a0cher — «ŒUVRE» ﬁnal ǅ",
        "بی‌ادب ـــ מִלָּה Ἀθῆναι Ёлка",
        "",
        " ".join(texts),
    ]
    for text in texts:
        assert fold(text) == folded_by_one_translation(text), text
