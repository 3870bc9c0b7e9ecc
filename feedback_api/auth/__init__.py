"""API tokens (bot, admins, triage) and officials' accounts for the web pages."""
