"""One generation round's scored rollouts as one typed record (generate → reward → **rollouts** → step).

:class:`Rollouts` holds N rows (one process's ``L`` rows, or all ``W·L`` after :meth:`Rollouts.gather`): the
reward components, response lengths, the task family and problem type as int64 codes, the scorer's flags and
the group ids. Families are coded by position in :data:`FAMILY_NAMES` (``g2rpo.tasks.TASK_FAMILIES``), problem
types by position in ``g2rpo.tasks.PROBLEM_TYPES``. Names are canonicalised once, when the data is loaded
(``g2rpo.data``); :func:`family_codes` and :func:`problem_type_codes` only check them.

Shape legend: ``N`` rows, in TRL's layout (groups of ``G`` contiguous rows, rank by rank once gathered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch

from g2rpo.algo import CodedKeys
from g2rpo.tasks import PROBLEM_TYPES, TASK_FAMILIES

COMPONENTS = ("accuracy", "format", "structure", "length", "overall")
"""Column order of :attr:`Rollouts.components` (and of ``ScoredBatch.components``)."""

FAMILY_NAMES: tuple[str, ...] = tuple(TASK_FAMILIES)
"""Task family code ``c`` is ``FAMILY_NAMES[c]``."""

_FAMILY_CODE = {name: code for code, name in enumerate(FAMILY_NAMES)}
_PROBLEM_TYPE_CODE = {name: code for code, name in enumerate(PROBLEM_TYPES)}


def _codes(names: Sequence[str], table: dict[str, int], field: str, valid: Sequence[str], where: str) -> torch.Tensor:
    try:
        return torch.tensor([table[name] for name in names], dtype=torch.int64)
    except (KeyError, TypeError):
        row = next(i for i, name in enumerate(names) if not isinstance(name, str) or name not in table)
        raise ValueError(
            f"{where} row {row}: {field} {names[row]!r} is not a canonical {field.replace('_', ' ')} (valid: "
            f"{', '.join(valid)}); load the data with g2rpo.data (to_hf_dataset), which canonicalises names"
        ) from None


def family_codes(names: Sequence[str], where: str = "batch") -> torch.Tensor:
    """(N,) int64 codes of canonical task family names; a name that is not canonical is an error naming its row."""
    return _codes(names, _FAMILY_CODE, "task", FAMILY_NAMES, where)


def problem_type_codes(names: Sequence[str], where: str = "batch") -> torch.Tensor:
    """(N,) int64 codes of canonical problem types; a name that is not canonical is an error naming its row."""
    return _codes(names, _PROBLEM_TYPE_CODE, "problem_type", PROBLEM_TYPES, where)


_FLOAT_COLUMNS = len(COMPONENTS)


@dataclass(frozen=True)
class Rollouts:
    """N scored responses of one round (or of several, after :meth:`cat`).

    Fields (all on the CPU, N rows):
        components: (N, 5) float32 reward components in :data:`COMPONENTS` order.
        tokens: (N,) int64 response lengths in tokens.
        families: (N,) int64 task family codes into :data:`FAMILY_NAMES`.
        problem_types: (N,) int64 problem type codes into ``g2rpo.tasks.PROBLEM_TYPES``.
        timed_out: (N,) bool, the verifier hit its time limit or the batch budget.
        failed: (N,) bool, the item could not be scored (worker fault).
        group_ids: (N,) int64, rows of one prompt share an id (``row // G`` in a gathered round).
    """

    components: torch.Tensor
    tokens: torch.Tensor
    families: torch.Tensor
    problem_types: torch.Tensor
    timed_out: torch.Tensor
    failed: torch.Tensor
    group_ids: torch.Tensor

    def __post_init__(self) -> None:
        n = self.components.shape[0]
        if self.components.shape != (n, len(COMPONENTS)) or self.components.dtype != torch.float32:
            raise ValueError(f"Rollouts.components must be (N, {len(COMPONENTS)}) float32, got "
                             f"{tuple(self.components.shape)} {self.components.dtype}")
        for name, dtype in (("tokens", torch.int64), ("families", torch.int64), ("problem_types", torch.int64),
                            ("timed_out", torch.bool), ("failed", torch.bool), ("group_ids", torch.int64)):
            value = getattr(self, name)
            if value.shape != (n,) or value.dtype != dtype:
                raise ValueError(f"Rollouts.{name} must be ({n},) {dtype}, got {tuple(value.shape)} {value.dtype}")

    def __len__(self) -> int:
        return self.components.shape[0]

    @property
    def accuracy(self) -> torch.Tensor:
        return self.components[:, COMPONENTS.index("accuracy")]

    @property
    def overall(self) -> torch.Tensor:
        return self.components[:, COMPONENTS.index("overall")]

    def family_keys(self) -> CodedKeys:
        """The rows' task families as :class:`~g2rpo.algo.CodedKeys` (what estimators and metrics take)."""
        return CodedKeys.from_ids(self.families, FAMILY_NAMES)

    def problem_type_keys(self) -> CodedKeys:
        return CodedKeys.from_ids(self.problem_types, PROBLEM_TYPES)

    def select(self, rows: torch.Tensor) -> Rollouts:
        """Rows ``rows`` ((M,) int64 indices, or an (N,) bool mask) of every field."""
        if rows.dtype == torch.bool:
            rows = torch.nonzero(rows).flatten()
        return Rollouts(*(getattr(self, f.name).index_select(0, rows) for f in fields(self)))

    @staticmethod
    def cat(records: Sequence[Rollouts]) -> Rollouts:
        """The rows of ``records`` in order; each record's group ids are shifted past the previous records' so
        groups of different rounds stay distinct (round ``k`` of ``N/G`` groups each: ``k·N/G + row // G``)."""
        shifted, offset = [], 0
        for record in records:
            shifted.append(record.group_ids + offset)
            offset += int(record.group_ids.max()) + 1 if len(record) else 0
        parts = {f.name: torch.cat([getattr(r, f.name) for r in records]) for f in fields(Rollouts)
                 if f.name != "group_ids"}
        return Rollouts(**parts, group_ids=torch.cat(shifted))

    def gather(self, accelerator) -> Rollouts:
        """Every process's rows, process by process (``accelerator.gather``), in one collective.

        The record crosses as one (N, 10) int64 tensor: the float32 components as their bit patterns (exact),
        the integer and bool fields as they are.
        """
        packed = torch.cat([
            self.components.contiguous().view(torch.int32).to(torch.int64),
            torch.stack([self.tokens, self.families, self.problem_types, self.timed_out.to(torch.int64),
                         self.failed.to(torch.int64)], 1),
            self.group_ids.unsqueeze(1),
        ], 1)
        out = accelerator.gather(packed.to(accelerator.device)).cpu().reshape(-1, packed.shape[1])
        k = _FLOAT_COLUMNS
        return Rollouts(
            components=out[:, :k].to(torch.int32).view(torch.float32),
            tokens=out[:, k].contiguous(),
            families=out[:, k + 1].contiguous(),
            problem_types=out[:, k + 2].contiguous(),
            timed_out=out[:, k + 3].bool(),
            failed=out[:, k + 4].bool(),
            group_ids=out[:, k + 5].contiguous(),
        )
