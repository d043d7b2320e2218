"""Command-line interface (`netlm`)."""
