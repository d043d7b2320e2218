"""The tumour-board report (PDF) and the forest plot shared with the web page."""
