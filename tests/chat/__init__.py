"""Tests of the web chat, read-more pages and Rasa stores (issue 4)."""
