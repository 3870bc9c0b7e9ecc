"""``python -m actions``: rasa-sdk's action server for this package, with the outbox running.

The outbox's delivery thread starts when the server starts, not at the first chat: a
submission stored while the API was down is delivered after a restart even if no one writes to
the bot. Importing the actions starts nothing.

Options are rasa-sdk's (``python -m rasa_sdk --help``); ``--actions`` defaults to ``actions``.
The server listens on ``SANIC_HOST`` (rasa-sdk's default: 0.0.0.0).
"""

from __future__ import annotations

from typing import Any

import pluggy
from rasa_sdk.__main__ import main_from_args
from rasa_sdk.endpoint import create_argument_parser
from rasa_sdk.plugin import plugin_manager

from actions.submission import services

hookimpl = pluggy.HookimplMarker("rasa_sdk")


class StartOutbox:
    """A rasa-sdk plugin: the outbox starts with the server (after rasa-sdk set up logging)."""

    @hookimpl
    def attach_sanic_app_extensions(self, app: Any) -> None:
        app.register_listener(_start_outbox, "before_server_start")


async def _start_outbox(app: Any, loop: Any) -> None:
    services()


def main(argv: list[str] | None = None) -> None:
    parser = create_argument_parser()
    parser.set_defaults(actions="actions")
    args = parser.parse_args(argv)
    plugin_manager().register(StartOutbox())
    main_from_args(args)


if __name__ == "__main__":
    main()
