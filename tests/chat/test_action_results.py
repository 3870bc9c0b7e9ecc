"""bot/addons/action_results.py: Rasa's check of action-server replies, built once.

Runs in the Rasa environment (Python 3.10), as ``rasa run`` does: importing the tokenizer
module installs it; a valid reply passes and an invalid one is still refused with Rasa's error.
"""

from __future__ import annotations

from tests.chat.test_lock_store import pytestmark, run_script  # noqa: F401 - same skip rule


def test_replies_are_still_validated_once_the_tokenizer_is_loaded():
    result = run_script("""
        import json
        from jsonschema import ValidationError
        from rasa.core.actions.action import RemoteAction

        stock = RemoteAction._validate_action_result
        import addons.nlu_vi  # what loading this bot's model imports
        action = RemoteAction("action_answer_question", None)
        good = {"events": [{"event": "slot", "name": "last_question", "value": "hỏi"}],
                "responses": [{"response": "utter_answer_intro"}]}
        refused = []
        for bad in ({"events": "không phải danh sách"},
                    {"events": [{"event": "slot", "timestamp": "hôm qua"}]},
                    {"responses": [42]}):
            try:
                action._validate_action_result(bad)
            except ValidationError as exc:
                refused.append("Failed to validate Action server response" in exc.message)
        print(json.dumps({"installed": RemoteAction._validate_action_result is not stock,
                          "good": action._validate_action_result(good), "refused": refused}))
    """)
    assert result == {"installed": True, "good": True, "refused": [True, True, True]}
