"""Citizens' web pages: the chat at /chat (relayed to Rasa) and read-more articles."""
