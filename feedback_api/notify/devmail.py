"""A local mailbox for the embedded default: liaisons' email lands in var/mail/*.eml.

``make run`` has no mail server to talk to; rather than failing every notification, the
service starts this SMTP sink on the configured port, so a newcomer can read what a liaison
would receive. Production sets CAUNOI_SMTP_HOST to the province's relay and CAUNOI_DEV_MAILBOX=0.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger("feedback_api.devmail")


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10**9:09d}.eml"
        (self.folder / name).write_bytes(envelope.content)
        return "250 OK"


def start_dev_mailbox(host: str, port: int, folder: Path):
    """Start the sink; returns its controller (``.stop()``), or None if the port is taken."""
    from aiosmtpd.controller import Controller

    controller = Controller(_SaveToFolder(folder), hostname=host, port=port)
    try:
        controller.start()
    except (OSError, RuntimeError) as exc:
        log.warning("dev mailbox not started on %s:%s (%s)", host, port, type(exc).__name__)
        return None
    return controller
