"""The word features of the intent classifier, without Rasa: tf-idf of folded words and pairs,
of folded character 2–5-grams, and of the words as typed. ``addons.linear_intents`` trains on
them in Rasa; ``benchmarks/nlu/linear.py`` (the proxy, Python 3.11) uses the same ones."""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import TfidfVectorizer

from vietnamese import canonical

_WORD = re.compile(r"\w+")
_TOKEN = r"(?u)\b\w+\b"


def plain_words(text: str) -> str:
    """Folded, de-slanged words: what a message and its unaccented copy share."""
    return " ".join(canonical(w) for w in _WORD.findall(text))


def featurizers() -> list[TfidfVectorizer]:
    return [
        TfidfVectorizer(analyzer="word", token_pattern=_TOKEN, ngram_range=(1, 2),
                        preprocessor=plain_words, sublinear_tf=True),
        # typos, run-together and partial words
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), preprocessor=plain_words,
                        sublinear_tf=True),
        # words as typed (lower-cased): diacritics count when present
        TfidfVectorizer(analyzer="word", token_pattern=_TOKEN, sublinear_tf=True),
    ]
