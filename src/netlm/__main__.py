"""`python -m netlm` runs the command line."""

from netlm.cli.app import main

main()
