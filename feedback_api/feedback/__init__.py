"""Citizens' feedback: complaints, proposals and forwarded questions, with their history."""
