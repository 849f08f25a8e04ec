"""Which clips go into which micro-batch: a pure function of (seed, micro-batch index).

Batches never mix buckets (latent shapes must match). Each epoch shuffles within buckets and then the order
of batches, from a generator seeded by (seed, epoch), so a resumed run sees exactly the batches it would
have seen without the interruption, with no RNG state to carry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache

import torch

from ltx_pipelines.hashing import cache_key


def derive_seed(*parts: object) -> int:
    """A 63-bit seed derived from ``parts`` (stable across processes and Python versions)."""
    return int(cache_key(*parts, length=15), 16)


class BatchSchedule:
    """Micro-batches of sample indices, grouped by ``groups[i]`` (the bucket of sample i)."""

    def __init__(self, groups: Sequence[str], batch_size: int, seed: int):
        if not groups:
            raise ValueError("no training samples: every clip was quarantined or held out")
        self._by_group: dict[str, list[int]] = defaultdict(list)
        for index, group in enumerate(groups):
            self._by_group[group].append(index)
        self.batch_size = batch_size
        self.seed = seed
        self.batches_per_epoch = sum(-(-len(v) // batch_size) for v in self._by_group.values())

    def batch(self, micro_step: int) -> list[int]:
        """The sample indices of micro-batch number ``micro_step`` (0-based, across epochs)."""
        epoch, position = divmod(micro_step, self.batches_per_epoch)
        return self._epoch(epoch)[position]

    @lru_cache(maxsize=4)  # noqa: B019 - a handful of epochs, owned by this schedule
    def _epoch(self, epoch: int) -> tuple[list[int], ...]:
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "epoch", epoch))
        batches = []
        for group in sorted(self._by_group):
            members = self._by_group[group]
            order = torch.randperm(len(members), generator=generator).tolist()
            shuffled = [members[i] for i in order]
            batches += [shuffled[i : i + self.batch_size] for i in range(0, len(shuffled), self.batch_size)]
        order = torch.randperm(len(batches), generator=generator).tolist()
        return tuple(batches[i] for i in order)
