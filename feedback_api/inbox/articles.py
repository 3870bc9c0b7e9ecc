"""The articles an item cites, with their text from the search index (for the item page)."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Request

ArticleTable = dict[tuple[str, str], dict]  # (law id, article id) -> citation, title, text


def article_table(searcher) -> ArticleTable:
    """Every article of the index, its passages joined (they are consecutive, in order)."""
    table: ArticleTable = {}
    for p in searcher.passages:
        key = (p.doc_id, str(p.article_id))
        if key in table:
            table[key]["text"] += "\n" + p.text
        else:
            table[key] = {"citation": f"Điều {p.article_id} {p.doc_title}",
                          "title": p.article_title, "text": p.text}
    return table


def cited_passages(table: ArticleTable, citations: list[dict]) -> list[dict]:
    """Each citation with its article text when the article is in the table."""
    out = []
    for c in citations:
        law, article = c.get("law_id"), str(c.get("article_id"))
        found = (table.get((law, article))
                 or {"citation": f"Điều {article} {law}", "title": None, "text": None})
        out.append({**found, "related": bool(c.get("related"))})
    return out


class CitedArticles:
    """The article table of the loaded index, built on the first item page that needs it."""

    def __init__(self) -> None:
        self._table: ArticleTable | None = None
        self._lock = threading.Lock()

    def lookup(self, searcher, citations: list[dict]) -> list[dict]:
        """The cited articles (text only when an index is loaded)."""
        if searcher is None:
            return cited_passages({}, citations)
        with self._lock:
            if self._table is None:
                self._table = article_table(searcher)
        return cited_passages(self._table, citations)


async def _cited_articles(request: Request) -> CitedArticles:
    return request.app.state.inbox_articles  # made once by inbox.views.install


InboxArticles = Annotated[CitedArticles, Depends(_cited_articles)]
