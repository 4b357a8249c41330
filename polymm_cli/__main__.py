"""`python -m polymm_cli` is the `polymm` command."""

from polymm_cli.cli.app import main

main()
