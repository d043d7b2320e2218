"""ASGI entry point for process managers and multi-worker uvicorn: `netlm.web.asgi:app`."""

from netlm.web.app import create_app

app = create_app()
