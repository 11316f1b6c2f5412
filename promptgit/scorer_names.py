"""Default dimension names for scorers a suite does not name (docs/spec.md, Dimensions and failure patterns).

The store keeps each scorer's values under its dimension name and every comparison across revisions pairs
dimensions by that name, so a default name may depend only on what the scorer measures, never on where it
stands in the list: reordering scorers must not swap their histories, and a scorer whose configuration
changed must not pass for the old one. The rule:

- an unnamed scorer whose label (its kind; `python:<function>` for a python scorer) no other unnamed scorer
  of the suite shares is named by the label alone (`regex`), as results stored before this rule were;
- unnamed scorers sharing a label are each named `<label>~<digest>` (`regex~3f2a91`): the first six hex
  digits of the SHA-256 of the canonical JSON (hashing.canonical_json) of `[kind, config]`. The weight is
  left out: it changes how much a scorer counts, not what it measures.

`~` is outside the characters a `name:` may use, so a given name never takes a default one.
Standard library only, plus hashing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from promptgit.hashing import canonical_json

if TYPE_CHECKING:  # suites imports this module, and dimensions imports stats, which imports suites
    from promptgit.dimensions import DimensionScore

DIGEST_CHARS = 6  # 16.7 million values: two configurations of one suite meeting is a one-in-millions event
SEPARATOR = "~"


def label_of(kind: str, config: Any) -> str:
    """A scorer's label: its kind, or `python:<function>` for a python scorer given as `file.py:function`
    (as scorers/python_code.py labels it)."""
    if kind == "python" and isinstance(config, str) and ":" in config:
        return "python:" + config.rsplit(":", 1)[1].strip()
    return kind


def config_digest(kind: str, config: Any) -> str:
    """Six lowercase hex digits naming a scorer's kind and configuration (None for a bare scorer);
    equal configurations spelled differently in YAML (quotes, key order) give equal digests."""
    return hashlib.sha256(canonical_json([kind, config]).encode()).hexdigest()[:DIGEST_CHARS]


def default_names(scorers: Sequence[tuple[str, Any]]) -> tuple[str, ...]:
    """The default dimension name of each unnamed scorer, given as (kind, config), in the order given.

    Pass only the scorers without a `name:`; two with equal kind and configuration get equal names
    (the caller refuses them: suites.py).
    """
    labels = [label_of(kind, config) for kind, config in scorers]
    shared = Counter(labels)
    return tuple(
        label if shared[label] == 1 else f"{label}{SEPARATOR}{config_digest(kind, config)}"
        for label, (kind, config) in zip(labels, scorers)
    )


class _Spec(Protocol):
    """What `comparable` and `described` read of a scorer (suites.ScorerSpec has it)."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> Any: ...

    @property
    def dimension(self) -> str: ...


def comparable(base: Sequence[_Spec], head: Sequence[_Spec]) -> frozenset[str]:
    """The dimension names both sides' scorers hold for the same kind and configuration: the only ones whose
    values may be paired across the two sides. A scorer alone in its kind keeps its bare name when its
    pattern or rubric changes, and a `name:` stays as the author edits what it names, yet each side then
    measures something else; and a stored result may carry a name its suite no longer gives (rows stored
    before scorers had names of their own kept two `regex` scorers both as `regex`)."""
    before = {s.dimension: [s.name, canonical_json(s.config)] for s in base}
    return frozenset(
        s.dimension for s in head if s.dimension in before and before[s.dimension] == [s.name, canonical_json(s.config)]
    )


ABOUT_CHARS = 60  # a legend line under a table, not the whole rubric


def described(scores: Sequence[DimensionScore], specs: Sequence[_Spec]) -> tuple[DimensionScore, ...]:
    """`scores` with `about` set for each default name that carries a digest: the scorer it stands for,
    `regex: '^[a-z]+$'`, cut to 60 characters, so a table can say which of two regex scorers is which."""
    about = {s.dimension: _spelled(s.name, s.config) for s in specs if SEPARATOR in s.dimension}
    return tuple(dataclasses.replace(d, about=about[d.name]) if d.name in about else d for d in scores)


def _spelled(kind: str, config: Any) -> str:
    text = f"{kind}: {config!r}" if isinstance(config, str) else f"{kind}: {canonical_json(config)}"
    return text if len(text) <= ABOUT_CHARS else text[: ABOUT_CHARS - 1] + "…"
