"""The one secret of an installation, and the purpose-specific keys derived from it.

No constant secret is ever used: unless ``CAUNOI_SECRET_KEY`` is set, the first start writes
32 random bytes to ``<data dir>/secret.key`` (mode 0600) and every later start, and every other
process of the installation, reads the same file. Each use gets its own key, derived with
HMAC-SHA256 from the secret and the name of the use, so a key leaked from one use (say, the
voter hash) says nothing about the others (say, the session cookies).

Purposes in use: ``inbox-session``, ``chat-sender``, ``voter``, ``webhook`` (each department's
webhook secret is derived from it: departments/webhooks.py), ``rate-limit`` (keyed counters),
``privacy-subject`` (the keyed hash that names a citizen in the audit log).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = "secret.key"
MIN_LENGTH = 32  # characters of CAUNOI_SECRET_KEY accepted in production


def load_or_create(data_dir: Path) -> str:
    """The installation's secret from ``data_dir/secret.key``, created on first use.

    Creation is atomic (``O_EXCL``): of several processes starting at once, one writes the
    file and the others read it.
    """
    path = Path(data_dir) / KEY_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    try:
        os.link(tmp, path)  # fails if another process won the race: then read theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    secret = path.read_text(encoding="utf-8").strip()
    if len(secret) < MIN_LENGTH:
        raise ValueError(f"Khóa bí mật trong {path} quá ngắn (cần ít nhất {MIN_LENGTH} ký tự).")
    return secret


def derive(secret: str, purpose: str) -> bytes:
    """The key for one purpose: HMAC-SHA256(secret, "caunoi/" + purpose)."""
    return hmac.new(secret.encode("utf-8"), f"caunoi/{purpose}".encode(), hashlib.sha256).digest()
