"""Typer apps, one file per command family; `views.py` holds pure Rich renderers."""
