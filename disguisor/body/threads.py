"""Torch's thread count for the body models: one thread, so that a body's numbers do not depend
on the process (a plain run on all cores and a batch task on one core write the same bytes)."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def one_torch_thread():
    """Torch on one intra-op thread inside the block (the caller's count restored after).

    The body models' numbers must not depend on the machine or the process: a reduction that
    torch splits over threads sums in another order, and a plain run (the cores' threads) and a
    batch task (one thread per worker) would write bodies that differ in the last digits. Every
    torch computation behind a fit or a loaded model runs here; the tensors are small."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
