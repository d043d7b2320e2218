"""The tumour-board application: REST API, server-rendered pages and the PDF report."""
