"""Server-rendered pages of the tumour-board application (Jinja2 + htmx)."""
