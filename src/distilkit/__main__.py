"""`python -m distilkit` is the `distilkit` command."""

from distilkit.cli import main

main()
