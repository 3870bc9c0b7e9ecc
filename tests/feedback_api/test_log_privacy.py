"""Database errors end up in logs and tracebacks: they must not quote what a citizen wrote."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError


def test_database_errors_do_not_quote_the_parameters(database):
    phone = "0912345678"
    with database.session() as session, pytest.raises(SQLAlchemyError) as caught:
        session.execute(text("INSERT INTO no_such_table (phone) VALUES (:phone)"),
                        {"phone": phone})
    assert "no_such_table" in str(caught.value)
    assert phone not in str(caught.value)
