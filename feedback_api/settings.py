"""One Settings object reads the environment (CAUNOI_*, DATABASE_URL); nothing else does.

``Settings()`` reads the variables named below (``CAUNOI_`` + the field name in capitals,
except ``DATABASE_URL`` and ``CAUNOI_ENV``); keyword arguments override them, so tests build
``Settings(load_search=False)``. The object is immutable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from feedback_api import keys
from knowledge import DEFAULT_INDEX, DEFAULT_MODEL

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "var"
KINDS = ("complaint", "proposal", "question")
OFF = {"0", "false", "no", "off"}  # a flag is on unless it says one of these
SERVICE_LEVELS_FORMAT = "CAUNOI_SERVICE_LEVELS cần dạng complaint=10,proposal=15,question=5"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CAUNOI_", frozen=True, validate_by_name=True, hide_input_in_errors=True
    )

    index_dir: Path = DEFAULT_INDEX
    model_dir: Path = DEFAULT_MODEL
    max_query_chars: int = 1000
    # Feedback store: SQLite (WAL) under var/ unless DATABASE_URL names PostgreSQL.
    database_url: str = Field(
        f"sqlite:///{DEFAULT_DATA / 'caunoi.db'}", validation_alias=AliasChoices("DATABASE_URL")
    )
    # Where the product keeps what it writes (the generated secret key among it).
    data_dir: Path = DEFAULT_DATA
    # The installation's secret (keys.py): CAUNOI_SECRET_KEY, else <data_dir>/secret.key,
    # generated on first start. Never a constant.
    secret_key: str = Field("", repr=False)
    # "production" refuses a short secret key and a public URL that is not https.
    environment: str = Field("development", validation_alias=AliasChoices("CAUNOI_ENV"))
    public_url: str = "http://127.0.0.1:8000"
    # Notifications: SMTP for liaisons' email; the worker drains the outbox in-process.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sender: str = "caunoi@laocai.example"
    run_worker: bool = True
    # Embedded default: a local SMTP sink saving mail to var/mail/ (off when a relay is set).
    dev_mailbox: bool = False
    mail_dir: Path = DEFAULT_DATA / "mail"
    worker_interval: float = 0.5
    # Service levels in working days per kind ("complaint=10,proposal=15,question=5" in the
    # environment), and the holiday calendar file.
    service_levels: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: {"complaint": 10, "proposal": 15, "question": 5}
    )
    holidays_file: Path | None = None
    # Schema upgrade at start (the serve command does it once, then starts its processes).
    migrate_on_start: bool = True
    # API processes: each holds its own copy of the search index (about 0.9 GB).
    api_workers: int = 2
    # Search is optional for the feedback service (tests of the store run without an index).
    load_search: bool = True
    # The web chat page forwards to Rasa's REST channel; Rasa answers after every action ran.
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout: float = 60.0

    # --- supervision, readiness and retention (health.py, retention.py) ---
    # The worker writes a heartbeat this often; /readyz fails when the newest one is older than
    # readiness_heartbeat_seconds, or an item waits for routing (or a due outbox message for a
    # worker) longer than readiness_backlog_seconds.
    heartbeat_interval: float = Field(5.0, gt=0)
    readiness_heartbeat_seconds: float = Field(60.0, gt=0)
    readiness_backlog_seconds: float = Field(900.0, gt=0)
    # Days kept (0 keeps forever); the worker deletes older rows once an hour.
    retention_sent_outbox_days: int = Field(30, ge=0)
    retention_dead_outbox_days: int = Field(30, ge=0)  # then the payload is blanked
    retention_citizen_message_days: int = Field(180, ge=0)
    retention_tracker_days: int = Field(90, ge=0)
    retention_audit_days: int = Field(365, ge=0)
    # Zalo and Messenger: handled events, delivery records, citizens silent this long
    retention_channel_days: int = Field(30, ge=0)

    # --- department webhooks (departments/webhooks.py) ---
    # Loopback, private, link-local, reserved and multicast destinations are refused unless
    # this is on (a receiver on this machine or intranet; the tests' local receivers).
    webhook_allow_private: bool = False

    # --- officials' sessions and logins (auth/sessions.py, auth/throttle.py) ---
    # A signed-in official is logged out after this many minutes without a request (and
    # always 12 hours after logging in).
    session_idle_minutes: int = Field(30, ge=1)
    # Failed logins within 15 minutes, per username and per client address, after which
    # further attempts wait 30 s, doubling per failure, at most 15 minutes.
    login_failures_per_user: int = Field(5, ge=1)
    login_failures_per_ip: int = Field(20, ge=1)

    # --- personal data in stores outside the feedback database (privacy/) ---
    # Rasa's tracker store as a SQLAlchemy URL (make run: sqlite:///var/rasa/tracker.db;
    # compose: the "rasa" PostgreSQL database) and the action server's outbox file (the same
    # CAUNOI_ACTIONS_OUTBOX the action server reads). Unset: export and erasure skip that store
    # and say so in their answer.
    tracker_store_url: str | None = Field(None, repr=False)  # may hold a password
    actions_outbox: Path | None = None

    # --- rate limits of the public endpoints (ratelimit.py) ---
    # Where the counters live: memory:// (each API process counts alone) or a Redis URL such as
    # redis://127.0.0.1:6379/3 (every API process shares one budget).
    rate_limit_storage: str = "memory://"
    # In the notation of the `limits` library, "N/second|minute|hour|day", several joined by
    # ";"; empty switches that limit off. Per client address unless said otherwise; calls
    # with a valid token or inbox session are not counted per address on search, status and
    # articles (the action server makes them for every citizen).
    rate_limit_chat: str = "120/minute"  # GET /chat, POST /chat/api/messages
    rate_limit_chat_sender: str = "20/minute;300/day"  # the same, per chat sender (cookie)
    rate_limit_search: str = "60/minute"
    rate_limit_status: str = "10/minute;100/day"  # tracking codes must not be enumerable
    rate_limit_articles: str = "60/minute"  # /api/v1/articles/…, /van-ban/…
    rate_limit_open311: str = "60/minute"  # every Open311 route
    rate_limit_submissions: str = "5/minute"  # POST /api/v1/feedback per channel+sender_id
    rate_limit_votes: str = "30/minute;300/day"  # POST /api/v1/answers/votes, per sender
    # Daily caps on filed items (0: none): per channel+sender_id on /api/v1/feedback, per
    # client address on Open311.
    submissions_per_day: int = Field(10, ge=0)
    open311_submissions_per_day: int = Field(10, ge=0)

    @field_validator("rate_limit_chat", "rate_limit_chat_sender", "rate_limit_search",
                     "rate_limit_status", "rate_limit_articles", "rate_limit_open311",
                     "rate_limit_submissions", "rate_limit_votes", "rate_limit_replies",
                     "rate_limit_webhooks")
    @classmethod
    def _limits(cls, value: str) -> str:
        """Refuse at start a limit the library cannot read, rather than at the first request."""
        from limits import parse_many

        if value.strip():
            try:
                parse_many(value)
            except ValueError:
                raise ValueError("giới hạn tần suất cần dạng 20/minute;300/day") from None
        return value.strip()

    # --- officials' replies in the web chat (chat/replies.py) ---
    # The chat page asks GET /chat/api/replies on load and every chat_reply_poll_seconds while
    # it is visible. Its own limit, per chat sender (per address without a sender cookie), so
    # polling never spends the chat's message budget; "" switches it off.
    rate_limit_replies: str = "30/minute"
    chat_reply_poll_seconds: float = Field(15.0, ge=1, le=600)

    # --- the channel gateway: Zalo OA and Facebook Messenger (channels/) ---
    # A platform whose settings are absent is off (the start log says so once).
    # Zalo: the app, the OA secret key that signs webhooks, the initial token pair (the
    # refresh token is single-use: after the first refresh the pair lives in the database).
    zalo_app_id: str = ""
    zalo_app_secret: str = Field("", repr=False)
    zalo_oa_secret: str = Field("", repr=False)
    zalo_refresh_token: str = Field("", repr=False)
    zalo_access_token: str = Field("", repr=False)
    zalo_openapi_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"
    # The token of Zalo's domain check: served as /zalo_verifier<token>.html
    zalo_verifier: str = ""
    # Messenger: the app secret (signatures), the verify token (webhook setup), the page token.
    messenger_app_secret: str = Field("", repr=False)
    messenger_verify_token: str = Field("", repr=False)
    messenger_page_token: str = Field("", repr=False)
    messenger_graph_url: str = "https://graph.facebook.com"
    messenger_graph_version: str = "v25.0"  # pinned: Meta silently upgrades expired versions
    # Webhook deliveries per client address (the platforms post from a few addresses).
    rate_limit_webhooks: str = "3000/minute"
    # Sends to a platform: attempts before a message is dead, and the first retry's delay in
    # seconds (doubling, at most 5 minutes): a citizen is waiting.
    channel_send_attempts: int = Field(8, ge=1)
    channel_retry_seconds: float = Field(2.0, gt=0)
    # Threads per API process handing citizens' events to Rasa (one citizen each at a time).
    channel_dispatchers: int = Field(4, ge=1, le=64)

    @property
    def zalo_on(self) -> bool:
        return bool(self.zalo_app_id and self.zalo_app_secret and self.zalo_oa_secret
                    and (self.zalo_refresh_token or self.zalo_access_token))

    @property
    def messenger_on(self) -> bool:
        return bool(self.messenger_app_secret and self.messenger_verify_token
                    and self.messenger_page_token)

    @field_validator("run_worker", "load_search", "dev_mailbox", "migrate_on_start", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        return value.strip().lower() not in OFF if isinstance(value, str) else value

    @field_validator("service_levels", mode="before")
    @classmethod
    def _service_levels(cls, value: Any) -> Any:
        """Working days per kind; every kind must be given a positive number."""
        if not isinstance(value, str):
            return value
        levels = {}
        for part in value.split(","):
            kind, _, days = part.partition("=")
            try:
                levels[kind.strip()] = int(days)
            except ValueError:
                raise ValueError(SERVICE_LEVELS_FORMAT) from None
        return levels

    @field_validator("service_levels")
    @classmethod
    def _every_kind(cls, levels: dict[str, int]) -> dict[str, int]:
        if set(levels) != set(KINDS) or min(levels.values()) < 1:
            raise ValueError(SERVICE_LEVELS_FORMAT)
        return levels

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, url: str) -> str:
        """postgres:// and postgresql:// both mean psycopg 3."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @field_validator("api_workers")
    @classmethod
    def _at_least_one(cls, workers: int) -> int:
        return max(1, workers)

    @model_validator(mode="before")
    @classmethod
    def _generated_secret(cls, data: Any) -> Any:
        """No secret given: the one in the data directory, created on first start."""
        if isinstance(data, dict) and not data.get("secret_key"):
            data = {**data, "secret_key": keys.load_or_create(
                Path(data.get("data_dir") or DEFAULT_DATA))}
        return data

    @model_validator(mode="after")
    def _production(self) -> Settings:
        if self.environment != "production":
            return self
        if len(self.secret_key) < keys.MIN_LENGTH:
            raise ValueError(f"CAUNOI_SECRET_KEY cần ít nhất {keys.MIN_LENGTH} ký tự khi chạy "
                             "production")
        if not self.public_url.startswith("https://"):
            raise ValueError("CAUNOI_PUBLIC_URL phải là địa chỉ https:// khi chạy production")
        return self

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over https: always in production, else when the public URL is https."""
        return self.production or self.public_url.startswith("https://")

    def key(self, purpose: str) -> bytes:
        """The key for one purpose, derived from the secret (keys.derive)."""
        return keys.derive(self.secret_key, purpose)

