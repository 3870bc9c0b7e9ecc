"""Citizens' votes on the assistant's answers ("Câu trả lời có hữu ích không?")."""
