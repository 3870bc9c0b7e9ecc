"""Departments of the province, their liaisons, and routing of feedback to them."""
