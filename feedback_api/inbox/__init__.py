"""The officials' inbox: server-rendered pages."""
