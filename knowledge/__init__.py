"""Search over the province's policy texts: what the API, the assistant and the benchmarks import.

    from knowledge import Searcher
    result = Searcher(DEFAULT_INDEX).search("cho e hoi nhap khau ve nha ck lam the nao", k=5)

Everything else in this package is how the search works inside; outside code imports only the
names below, and the embedding model's plumbing from the public subpackage ``knowledge.e5``. The
names load on first use, so ``import knowledge`` costs nothing (Rasa's components import it in
the other Python runtime).

The default corpus's laws are not in the repository: ``laws_file()`` finds them (the file
``CAUNOI_LAWS_FILE`` names, else ``../shared/data/legal/laws.json`` beside the clone).
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
    "Passage": "knowledge.passages",
    # building the index
    "build_index": "knowledge.index",
    "Sources": "knowledge.sources",
    "BuildReport": "knowledge.index",
    "DEFAULT_INDEX": "knowledge.index",
    "DEFAULT_MODEL": "knowledge.index",
    "law_departments": "knowledge.sources",
    "laws_file": "knowledge.sources",
    # the embedding model (its plumbing: the public subpackage knowledge.e5)
    "Encoder": "knowledge.e5.encoder",
    "QUERY_PREFIX": "knowledge.e5.encoder",
    "set_threads": "knowledge.threads",
    "ensure_model": "knowledge.e5.convert",
    "model_identity": "knowledge.e5.convert",
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
    "laws_file",
    "load_questions",
    "model_identity",
    "percentile",
    "read_phrases",
    "read_plainly",
    "score_ranking",
    "set_threads",
]

if TYPE_CHECKING:  # for type checkers and editors; at run time names load lazily
    from knowledge.chat import ChatLexicon, default_lexicon, read_plainly
    from knowledge.diacritics import DiacriticRestorer, read_phrases
    from knowledge.e5.convert import ensure_model, model_identity
    from knowledge.e5.encoder import QUERY_PREFIX, Encoder
    from knowledge.evaluate import Question, evaluate, load_questions, percentile, score_ranking
    from knowledge.index import DEFAULT_INDEX, DEFAULT_MODEL, BuildReport, build_index
    from knowledge.passages import Passage
    from knowledge.search import Hit, Query, Searcher, SearchResult, Tuning, Weights
    from knowledge.sources import Sources, law_departments, laws_file
    from knowledge.threads import set_threads


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return __all__
