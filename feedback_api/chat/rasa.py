"""The one client for Rasa's REST channel (``POST /webhooks/rest/webhook``).

Rasa answers only after every action for the message has run (the action server calls the
API in turn), so the timeout is generous. Rasa never authenticates that webhook and takes the
sender id from the body: only this backend talks to it, with the id from the signed cookie.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from feedback_api.errors import DomainError

MAX_REPLY_BYTES = 1_000_000
MAX_BUTTONS = 20
DOWN = "Trợ lý đang tạm ngừng hoạt động. Bạn vui lòng thử lại sau ít phút."
SLOW = "Trợ lý trả lời quá lâu. Bạn vui lòng gửi lại sau ít phút."
GARBLED = "Trợ lý trả lời không hợp lệ. Bạn vui lòng thử lại sau ít phút."


class RasaUnavailable(DomainError):
    """Rasa is down, starting, overloaded or too slow: try again later."""

    status = 503


class RasaBadReply(DomainError):
    """Rasa answered something that is not its list of messages."""

    status = 502


@dataclass(frozen=True)
class RasaClient:
    base_url: str = "http://127.0.0.1:5005"
    timeout: float = 60.0  # seconds; Rasa's own response timeout is an hour

    def send(self, *, sender: str, text: str, channel: str = "web") -> list[dict[str, Any]]:
        """Post one user message; return the bot's messages, cleaned (see ``clean_messages``)."""
        body = json.dumps({
            "sender": sender,
            "message": text,
            "input_channel": channel,  # recorded as the tracker's latest_input_channel
            "metadata": {"channel": channel},
        }).encode("utf-8")
        request = urllib.request.Request(
            self.base_url.rstrip("/") + "/webhooks/rest/webhook", data=body, method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read(MAX_REPLY_BYTES + 1)
        except urllib.error.HTTPError as err:
            err.close()
            raise (RasaUnavailable(DOWN) if err.code >= 500 else RasaBadReply(GARBLED)) from err
        except TimeoutError as err:
            raise RasaUnavailable(SLOW) from err
        except urllib.error.URLError as err:
            if isinstance(err.reason, TimeoutError):
                raise RasaUnavailable(SLOW) from err
            raise RasaUnavailable(DOWN) from err
        except (OSError, ValueError) as err:  # reset connection, malformed status line
            raise RasaUnavailable(DOWN) from err
        if len(raw) > MAX_REPLY_BYTES:
            raise RasaBadReply(GARBLED)
        try:
            data = json.loads(raw)
        except ValueError as err:
            raise RasaBadReply(GARBLED) from err
        return clean_messages(data)


def clean_messages(data: Any) -> list[dict[str, Any]]:
    """Keep what the page renders: text, buttons (title, payload), custom, image.

    Anything else Rasa adds (recipient_id, attachment, elements) is dropped; a reply that is
    not a list of objects is a ``RasaBadReply``.
    """
    if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
        raise RasaBadReply(GARBLED)
    out = []
    for message in data:
        clean: dict[str, Any] = {}
        if isinstance(message.get("text"), str) and message["text"].strip():
            clean["text"] = message["text"]
        raw_buttons = message.get("buttons")
        buttons = [
            {"title": b["title"], "payload": b["payload"]}
            for b in (raw_buttons if isinstance(raw_buttons, list) else [])
            if isinstance(b, dict) and isinstance(b.get("title"), str)
            and isinstance(b.get("payload"), str) and b["title"].strip() and b["payload"].strip()
        ]
        if buttons:
            clean["buttons"] = buttons[:MAX_BUTTONS]
        if isinstance(message.get("custom"), dict):
            clean["custom"] = message["custom"]
        image = message.get("image")
        if isinstance(image, str) and (
            image.startswith(("https://", "http://")) or (image[:1] == "/" and image[:2] != "//")
        ):
            clean["image"] = image
        if clean:
            out.append(clean)
    return out
