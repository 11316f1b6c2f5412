"""Run promptgit as `python -m promptgit`."""

from promptgit.cli import main

main()
