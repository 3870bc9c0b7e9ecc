"""What the running API owns, as one typed object: ``Services``.

main.py's lifespan builds it at start-up (``start_services``), keeps it on
``app.state.services`` and stops it at shutdown; views take its parts through the typed
dependencies of deps.py (``SettingsDep``, ``CalendarDep``, ``SearcherDep`` …), never from
``app.state`` directly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feedback_api.db import Database
from feedback_api.departments.classifier import ClassifierHolder, cited_departments_fn
from feedback_api.feedback.calendar import WorkCalendar
from feedback_api.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from feedback_api.channels.gateway import Gateway
    from feedback_api.worker import Background
    from knowledge import Searcher


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    calendar: WorkCalendar
    searcher: Searcher | None  # None with CAUNOI_LOAD_SEARCH=0
    classifier: ClassifierHolder
    background: Background | None = None  # routing and outbox threads (CAUNOI_RUN_WORKER)
    mailbox: Any = None  # the development SMTP sink (CAUNOI_DEV_MAILBOX), if started
    gateway: Gateway | None = None  # Zalo and Messenger (channels/), when one is configured

    def wake_worker(self) -> None:
        """Route new items now rather than at the next poll (no-op: another process routes)."""
        if self.background is not None:
            self.background.wake()

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        if self.background is not None:
            self.background.stop()
        if self.mailbox is not None:
            self.mailbox.stop()
        self.db.dispose()


def start_services(settings: Settings) -> Services:
    """Migrate (if asked), open the database, load the index, start the background work."""
    from feedback_api.migrate import migrate_and_seed

    if settings.migrate_on_start:
        migrate_and_seed(settings.database_url)
    db = Database(settings.database_url)
    calendar = WorkCalendar.load(settings.holidays_file)
    searcher = None
    if settings.load_search:
        from knowledge import Searcher

        searcher = Searcher(settings.index_dir, model_dir=settings.model_dir)
    classifier = ClassifierHolder(db, searcher=searcher, model_dir=settings.model_dir)
    mailbox = None
    if settings.dev_mailbox:
        from feedback_api.notify.devmail import start_dev_mailbox

        mailbox = start_dev_mailbox(settings.smtp_host, settings.smtp_port, settings.mail_dir)
    background = None
    if settings.run_worker:
        from feedback_api.worker import Background

        # Build the classifier (a few seconds of encoding) now, not on the first citizen's item.
        threading.Thread(
            target=classifier.current, name="caunoi-classifier-warmup", daemon=True
        ).start()
        background = Background(
            db, settings, classifier=classifier, cited_departments=cited_departments_fn(searcher)
        ).start()
    gateway = None
    if settings.zalo_on or settings.messenger_on:
        from feedback_api.channels.gateway import Gateway

        gateway = Gateway(settings, db).start()
    return Services(
        settings=settings, db=db, calendar=calendar, searcher=searcher, classifier=classifier,
        background=background, mailbox=mailbox, gateway=gateway,
    )


def services_of(app: FastAPI) -> Services:
    """The app's services (set by the lifespan before the first request)."""
    return app.state.services
