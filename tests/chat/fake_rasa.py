"""A stand-in for Rasa's REST channel, for the chat page's own tests only.

It answers scripted messages so the relay's error handling and the page's rendering can be
checked without a trained model; what the real assistant says is tested end to end in
tests/e2e/ against a real ``rasa run``. Every request it receives is kept for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.feedback_api.conftest import free_port

HOSTILE = ('<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
           ' Xem thêm https://dichvucong.gov.vn/p/home. hoặc /van-ban/Lu%E1%BA%ADt%20C%C6%B0'
           '%20tr%C3%BA%202020/20')
CITATIONS = [
    {"law_id": "Luật Cư trú 2020", "article_id": "20", "title": "Điều 20 Luật Cư trú 2020",
     "score": 0.91},
    {"law_id": "Luật Cư trú 2020", "article_id": "21", "title": "Điều 21 Luật Cư trú 2020",
     "score": 0.55},
]


def scripted(sender: str, message: str) -> tuple[int, bytes]:
    """The reply to one message: (HTTP status, body)."""
    def ok(messages: list[dict]) -> tuple[int, bytes]:
        return 200, json.dumps([{"recipient_id": sender, **m} for m in messages]).encode()

    if message == "xss":
        return ok([{"text": HOSTILE}])
    if message == "hỏi":
        return ok([
            {"text": "Theo Điều 20 Luật Cư trú 2020: công dân có chỗ ở hợp pháp thì được đăng "
                     "ký thường trú."},
            {"custom": {"type": "answer", "citations": CITATIONS, "confident": True}},
            {"text": "Câu trả lời có hữu ích không?",
             "buttons": [{"title": "Có", "payload": "/affirm"},
                         {"title": "Không", "payload": "/deny"}]},
        ])
    if message == "chưa chắc":
        return ok([
            {"text": "Tôi chưa chắc chắn. Các điều sau có thể liên quan."},
            {"custom": {"type": "answer", "citations": CITATIONS[1:], "confident": False}},
        ])
    if message == "/affirm":
        return ok([{"text": "Cảm ơn bạn đã đánh giá!"}])
    if message == "/deny":
        return ok([{"text": "Xin lỗi bạn. Tôi sẽ cố gắng hơn."}])
    if message == "rác":
        return 200, b"<html>Internal proxy page</html>"
    if message == "không phải danh sách":
        return 200, b'{"text": "hello"}'
    if message == "lỗi 500":
        return 500, b'{"message": "boom"}'
    if message == "im lặng":
        return ok([])
    if message.startswith("chậm"):
        time.sleep(float(message.split()[-1]))
        return ok([{"text": "Xin lỗi vì đã để bạn chờ."}])
    return ok([{"text": f"Bạn vừa nói: {message}"}])


class FakeRasa:
    """``POST /webhooks/rest/webhook`` on loopback; ``stop()`` then ``start()`` reuses the port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> FakeRasa:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.received.append(body)
                if self.path != "/webhooks/rest/webhook":
                    status, payload = 404, b"{}"
                else:
                    status, payload = scripted(body["sender"], body["message"])
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the API gave up waiting (timeout test)
                    pass

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def last(self) -> dict:
        with self._lock:
            return self.received[-1]
