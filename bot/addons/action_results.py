"""Validate the action server's replies without re-checking Rasa's own schema every time.

Rasa 3.6.21 checks every reply of the action server with ``jsonschema.validate(result,
schema)``. That call first validates the *schema* (Rasa's large, constant events schema) against
the JSON Schema metaschema, then builds a validator, then validates the reply. Profiling a
running ``rasa run`` under chat load (py-spy, 200 Hz) put 62% of the Rasa process's CPU in that
metaschema check. Here the schema is checked and the validator built once; every reply is still
validated against the same schema and a bad one raises the same ``ValidationError`` with Rasa's
message, so behaviour is unchanged.

``install()`` is called when ``addons.nlu_vi`` is imported, which every model of this bot does
(its tokenizer is the first pipeline component), so ``rasa run`` always has it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@cache
def _validator() -> Any:
    """Rasa's reply schema, checked against its metaschema once; a validator for it."""
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """What ``RemoteAction._validate_action_result`` does, with the validator built once."""
    error = best_match(_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result
