"""What verification finds: one problem of one file (or of the chain), by kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProblemKind = Literal[
    "missing", "truncated", "modified", "corrupt", "count_mismatch", "chain_broken",
    "signature_invalid",
]  # fmt: skip


@dataclass(frozen=True)
class Problem:
    file_name: str
    kind: ProblemKind
    detail: str
