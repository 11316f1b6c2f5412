"""promptgit test suite."""
