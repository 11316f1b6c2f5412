"""promptgit: a git-native prompt repository."""

__version__ = "0.1.0"
