"""Python add-ons that Rasa imports by dotted path when run from bot/ (lock store, NLU)."""
