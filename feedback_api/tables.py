"""Imports every ORM module, so ``Base.metadata`` knows all tables (Alembic, tests)."""

from feedback_api import db
from feedback_api import health as health_orm  # noqa: F401 - worker_heartbeat
from feedback_api.answers import orm as answers_orm  # noqa: F401
from feedback_api.auth import orm as auth_orm  # noqa: F401
from feedback_api.channels import orm as channels_orm  # noqa: F401
from feedback_api.departments import orm as departments_orm  # noqa: F401
from feedback_api.feedback import orm as feedback_orm  # noqa: F401
from feedback_api.notify import orm as notify_orm  # noqa: F401
from feedback_api.search import orm as search_orm  # noqa: F401 - law_validity

metadata = db.Base.metadata
