"""Cầu Nối's HTTP service (FastAPI). For now it serves policy search; feedback comes next."""
