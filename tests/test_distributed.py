"""SyncBatchNorm2d over 2 gloo processes equals BatchNorm2d over the whole batch in one process."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from ffld.train.distributed import SyncBatchNorm2d


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _case() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(6, 3, 5, 4, dtype=torch.float64, generator=generator) * 3 + 1
    weights = torch.randn(6, 3, 5, 4, dtype=torch.float64, generator=generator)
    return inputs, weights


def _batchnorm() -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(3).double()
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([0.5, 1.5, -2.0]))
        norm.bias.copy_(torch.tensor([0.1, 0.0, 0.3]))
    return norm


def _worker(rank: int, port: int, folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        inputs, weights = _case()
        norm = SyncBatchNorm2d.convert(_batchnorm())
        part = inputs[3 * rank : 3 * rank + 3].clone().requires_grad_()
        output = norm(part)
        (output * weights[3 * rank : 3 * rank + 3]).sum().backward()
        torch.save(
            {
                "output": output.detach(),
                "grad_input": part.grad,
                "grad_weight": norm.weight.grad,
                "grad_bias": norm.bias.grad,
                "running_mean": norm.running_mean,
                "running_var": norm.running_var,
            },
            os.path.join(folder, f"rank{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_sync_batchnorm_equals_whole_batch_batchnorm(tmp_path):
    mp.spawn(_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    inputs, weights = _case()
    norm = _batchnorm()
    whole = inputs.clone().requires_grad_()
    output = norm(whole)
    (output * weights).sum().backward()
    tolerance = {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(torch.cat([r["output"] for r in ranks]), output.detach(), **tolerance)
    torch.testing.assert_close(torch.cat([r["grad_input"] for r in ranks]), whole.grad, **tolerance)
    for r in ranks:  # DDP would average these per-process parameter gradients; each is half of the whole-batch one
        torch.testing.assert_close(r["running_mean"], norm.running_mean, **tolerance)
        torch.testing.assert_close(r["running_var"], norm.running_var, **tolerance)
    torch.testing.assert_close(ranks[0]["grad_weight"] + ranks[1]["grad_weight"], norm.weight.grad, **tolerance)
    torch.testing.assert_close(ranks[0]["grad_bias"] + ranks[1]["grad_bias"], norm.bias.grad, **tolerance)


def test_outside_a_process_group_it_is_plain_batchnorm():
    inputs, _ = _case()
    plain, synced = _batchnorm(), SyncBatchNorm2d.convert(_batchnorm())
    torch.testing.assert_close(synced(inputs), plain(inputs), rtol=0, atol=0)
