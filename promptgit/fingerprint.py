"""A suite's fingerprint: the hash of everything that decides its result.

docs/spec.md, Fingerprints and change detection.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptgit import scorers
from promptgit.config import Settings
from promptgit.hashing import content_hash, output_settings
from promptgit.prompts import ComputedRef, Prompt, image_files, template_graph
from promptgit.suites import Suite
from promptgit.tree import Tree

# Bump when built-in scoring or result semantics change, so stored results are not reused wrongly.
RESULTS_VERSION = 2  # 2: regex on RE2, the judge reads a JSON verdict
# A template that places images (templating's image() global).
_IMAGE_CALL = re.compile(rb"\bimage\s*\(")


@dataclass(frozen=True)
class SuiteSources:
    """The files a suite's result depends on, by role."""

    suite: str
    dataset: str | None
    prompt_files: tuple[str, ...]  # the prompt first, then every file it can load (see `includes`)
    scorer_files: tuple[str, ...]
    computed: tuple[ComputedRef, ...] = ()  # loads named at render time, and the files each could be
    images: tuple[str, ...] = ()  # image files the cases name, when the prompt uses image() (sorted)

    @property
    def all(self) -> tuple[str, ...]:
        """Every file, in a stable order."""
        dataset = (self.dataset,) if self.dataset else ()
        return (self.suite, *dataset, *self.prompt_files, *self.scorer_files, *self.images)


def suite_sources(tree: Tree, settings: Settings, suite: Suite, prompt: Prompt) -> SuiteSources:
    """The files `suite` reads at this snapshot."""
    scorer_files: list[str] = []
    for spec in suite.scorers:
        scorer_files.extend(scorers.files_read(spec.name, spec.config, suite.path))
    graph = template_graph(tree, settings, prompt)
    return SuiteSources(
        suite=suite.path,
        dataset=suite.dataset,
        prompt_files=graph.files,
        scorer_files=tuple(dict.fromkeys(scorer_files)),
        computed=graph.computed,
        images=_images(suite) if _calls_image(tree, graph.files) else (),
    )


def _calls_image(tree: Tree, files: tuple[str, ...]) -> bool:
    """Whether a template the prompt can load mentions `image(` (a global, which Jinja's analysis leaves out).

    A mention that is no call only hashes the named images too: never a result reused wrongly.
    """
    for path in files:
        try:
            if _IMAGE_CALL.search(tree.read_bytes(path)):
                return True
        except FileNotFoundError:
            continue
    return False


def _images(suite: Suite) -> tuple[str, ...]:
    """The image files the suite's cases name (prompts.image_files): a render may load only these."""
    return tuple(sorted({path for case in suite.cases for path in image_files(case.vars)}))


def fingerprint(
    tree: Tree, settings: Settings, sources: SuiteSources, overrides: Mapping[str, Any] | None = None
) -> str:
    """Hash the content of every file the suite reads, the project's model defaults, and a run's overrides.

    Names are left out so a renamed suite or prompt keeps its results, except the files a computed
    template name can reach: there the name decides which content is loaded, so it is hashed too.
    `overrides` are model settings a run lays over the files' (`eval --model/--set`): a model or a
    temperature given there makes a new fingerprint, as the same change in the front matter does;
    transport settings (hashing.TRANSPORT_SETTINGS) are left out, as they are from the defaults.
    """

    def digest(path: str) -> str | None:
        try:
            return hashlib.sha256(tree.read_bytes(path)).hexdigest()
        except FileNotFoundError:
            return None

    return content_hash(
        "suite",
        {
            "version": RESULTS_VERSION,
            "suite": digest(sources.suite),
            "dataset": digest(sources.dataset) if sources.dataset else None,
            "prompt": [digest(p) for p in sources.prompt_files],
            "scorers": [digest(p) for p in sources.scorer_files],
            "defaults": output_settings(settings.defaults),
            # Only present when a name is computed, so fingerprints of other suites stay as they were.
            **({"computed": sorted({p for ref in sources.computed for p in ref.files})} if sources.computed else {}),
            # Likewise only present when cases name images: their bytes, by path (a path names what is sent).
            **({"images": {p: digest(p) for p in sources.images}} if sources.images else {}),
            # Only present with overrides that change an answer, so every other fingerprint stays as it was.
            **({"overrides": output_settings(overrides)} if overrides and output_settings(overrides) else {}),
        },
    )
