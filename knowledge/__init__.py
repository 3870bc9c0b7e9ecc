"""Search over the province's policy texts: what the API, the assistant and the benchmarks import.

    from knowledge import Searcher
    result = Searcher(DEFAULT_INDEX).search("cho e hoi nhap khau ve nha ck lam the nao", k=5)

Everything else in this package is how the search works inside; outside code imports only the
names below. They load on first use, so ``import knowledge`` costs nothing (Rasa's components
import it in the other Python runtime).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS = {
    # searching
    "Searcher": "knowledge.search",
    "SearchResult": "knowledge.search",
    "Hit": "knowledge.search",
    "Query": "knowledge.search",
    "Tuning": "knowledge.search",
    "Weights": "knowledge.search",
    "Passage": "knowledge.corpus",
    # building the index
    "build_index": "knowledge.index",
    "Sources": "knowledge.index",
    "BuildReport": "knowledge.index",
    "DEFAULT_INDEX": "knowledge.index",
    "DEFAULT_MODEL": "knowledge.index",
    "law_departments": "knowledge.index",
    # the embedding model
    "Encoder": "knowledge.dense",
    "QUERY_PREFIX": "knowledge.dense",
    "set_threads": "knowledge.dense",
    "ensure_model": "knowledge.model_setup",
    # reading a citizen's message as the search reads it
    "ChatLexicon": "knowledge.chat",
    "default_lexicon": "knowledge.chat",
    "read_plainly": "knowledge.chat",
    "DiacriticRestorer": "knowledge.diacritics",
    "read_phrases": "knowledge.diacritics",
    # evaluating
    "Question": "knowledge.evaluate",
    "load_questions": "knowledge.evaluate",
    "evaluate": "knowledge.evaluate",
    "score_ranking": "knowledge.evaluate",
    "percentile": "knowledge.evaluate",
}

__all__ = [
    "BuildReport",
    "ChatLexicon",
    "DEFAULT_INDEX",
    "DEFAULT_MODEL",
    "DiacriticRestorer",
    "Encoder",
    "Hit",
    "Passage",
    "QUERY_PREFIX",
    "Query",
    "Question",
    "SearchResult",
    "Searcher",
    "Sources",
    "Tuning",
    "Weights",
    "build_index",
    "default_lexicon",
    "ensure_model",
    "evaluate",
    "law_departments",
    "load_questions",
    "percentile",
    "read_phrases",
    "read_plainly",
    "score_ranking",
    "set_threads",
]

if TYPE_CHECKING:  # for type checkers and editors; at run time names load lazily
    from knowledge.chat import ChatLexicon, default_lexicon, read_plainly
    from knowledge.corpus import Passage
    from knowledge.dense import QUERY_PREFIX, Encoder, set_threads
    from knowledge.diacritics import DiacriticRestorer, read_phrases
    from knowledge.evaluate import Question, evaluate, load_questions, percentile, score_ranking
    from knowledge.index import (
        DEFAULT_INDEX,
        DEFAULT_MODEL,
        BuildReport,
        Sources,
        build_index,
        law_departments,
    )
    from knowledge.model_setup import ensure_model
    from knowledge.search import Hit, Query, Searcher, SearchResult, Tuning, Weights


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return __all__
