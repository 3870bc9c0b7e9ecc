"""The department classifier a process holds, and which department owns each cited law.

The classifier itself (``routing.DepartmentClassifier``) encodes every example and mandate
when built: seconds of work. ``ClassifierHolder`` builds it on first use, from the departments
as they are in the database, and again after admins edit them. The API process and the
background worker (worker.py) each hold one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from feedback_api.db import Database

if TYPE_CHECKING:
    from feedback_api.departments.routing import DepartmentClassifier, DepartmentProfile


class ClassifierHolder:
    """Builds the department classifier on first use and again after admins edit departments.

    With a searcher, the classifier shares its encoder and reads text as the search does
    (diacritics restored); without one it loads the encoder from ``model_dir``.
    """

    def __init__(self, db: Database, *, searcher, model_dir: Path) -> None:
        self.db, self.searcher, self.model_dir = db, searcher, model_dir
        self._classifier: DepartmentClassifier | None = None
        self._lock = threading.Lock()

    def current(self) -> DepartmentClassifier:
        """The classifier for the departments as they are now (built if needed)."""
        classifier = self._classifier
        if classifier is not None:
            return classifier
        # Departments are read before taking the lock: a caller holding the lock must never
        # wait for the database (SQLite: one writer) while a database holder waits for the lock.
        profiles = self._profiles()
        with self._lock:
            if self._classifier is None:
                self._classifier = self._build(profiles)
            return self._classifier

    def refresh(self) -> None:
        """Forget the classifier: the next ``current()`` builds it from the edited departments."""
        with self._lock:
            self._classifier = None

    def _profiles(self) -> list[DepartmentProfile]:
        from feedback_api.departments import service as departments
        from feedback_api.departments.routing import DepartmentProfile

        with self.db.session() as session:
            return [
                DepartmentProfile(code=d.code, name=d.name, mandate=d.mandate)
                for d in departments.list_departments(session)
            ]

    def _build(self, profiles: list[DepartmentProfile]) -> DepartmentClassifier:
        from feedback_api.departments.routing import DepartmentClassifier, load_examples

        searcher = self.searcher
        if searcher is not None:
            encoder = searcher.encoder
            restore = lambda text: searcher.interpret(text).restored  # noqa: E731
        else:
            from knowledge import Encoder

            encoder, restore = Encoder(self.model_dir), None
        return DepartmentClassifier(
            profiles, encoder=encoder, examples=load_examples(), restore=restore
        )


def citation_departments_from(searcher) -> dict[str, str]:
    """law_id -> owning department, from the loaded index (or the shipped law table)."""
    if searcher is not None:
        return {p.doc_id: p.department for p in searcher.passages if p.department}
    from knowledge import law_departments

    return law_departments()


def cited_departments_fn(searcher) -> Callable[[list[dict]], list[str]]:
    """A function: citations [{law_id, article_id}] -> owning department codes. Citations
    marked ``related`` (what the assistant found when it could not answer) say nothing about
    the question's department: the router reads the question alone."""
    owners = citation_departments_from(searcher)
    return lambda citations: sorted(
        {owners[c["law_id"]] for c in citations
         if c.get("law_id") in owners and not c.get("related")}
    )
