"""Splitting evaluation work over ranks in lockstep, and gathering the pieces on rank 0.

A model sharded with FSDP2 all-gathers its parameters inside every forward call, so every rank must make the same
number of forward calls. Work is therefore cut into batches first (all ranks compute the same batch list from the
same files), batch ``b`` goes to rank ``b % world_size``, and a rank with one batch fewer repeats one of its batches
(results discarded) so that all ranks run the same number of rounds. Generation inside a round is kept in step by
``generate(synced_gpus=True)``, which keeps finished ranks calling forward until every rank is done.
"""

from __future__ import annotations

from typing import Any, Sequence, TypeVar

T = TypeVar("T")


def distributed_active(world_size: int) -> bool:
    """True when a torch process group is initialised and spans more than one rank."""
    if world_size <= 1:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def lockstep_share(batches: Sequence[T], rank: int, world_size: int) -> list[tuple[T, bool]]:
    """This rank's batches as ``(batch, is_real)``; every rank gets the same count, padded with repeats.

    A rank without any real batch repeats batch 0 of the whole list, so padding never needs an empty forward.
    """
    if world_size <= 1:
        return [(batch, True) for batch in batches]
    mine = [batches[b] for b in range(rank, len(batches), world_size)]
    rounds = -(-len(batches) // world_size)
    filler = mine[-1] if mine else (batches[0] if batches else None)
    share = [(batch, True) for batch in mine]
    while len(share) < rounds and filler is not None:
        share.append((filler, False))
    return share


def gather_to_rank0(obj: Any, rank: int, world_size: int) -> list[Any] | None:
    """Every rank's ``obj`` in rank order on rank 0 (None on other ranks); just ``[obj]`` when not distributed."""
    if not distributed_active(world_size):
        return [obj]
    import torch.distributed as dist

    gathered: list[Any] | None = [None] * world_size if rank == 0 else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def broadcast_from_rank0(obj: Any, rank: int, world_size: int) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not distributed_active(world_size):
        return obj
    import torch.distributed as dist

    box = [obj if rank == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]
