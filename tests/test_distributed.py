"""SyncBatchNorm2d over 2 gloo processes equals BatchNorm2d over the whole batch in one process, in float64 and
under bfloat16 autocast, without a warning; device choice refuses what cannot run."""

import os
import socket
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from ffld.train.distributed import DeviceError, SyncBatchNorm2d, choose_device


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _case(autocast: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and output weights, in float64, or in bfloat16 as a convolution's output is under autocast."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(6, 3, 5, 4, dtype=torch.float64, generator=generator) * 3 + 1
    weights = torch.randn(6, 3, 5, 4, dtype=torch.float64, generator=generator)
    dtype = torch.bfloat16 if autocast else torch.float64
    return inputs.to(dtype), weights.to(dtype)


def _batchnorm(autocast: bool = False) -> nn.BatchNorm2d:
    """A BatchNorm2d in float64, or in float32 (the parameters' dtype under autocast)."""
    norm = nn.BatchNorm2d(3).to(torch.float32 if autocast else torch.float64)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([0.5, 1.5, -2.0]))
        norm.bias.copy_(torch.tensor([0.1, 0.0, 0.3]))
    return norm


def _forward_backward(norm: nn.BatchNorm2d, inputs: torch.Tensor, weights: torch.Tensor, autocast: bool) -> dict:
    """The output, the gradients of ``(output * weights).sum()`` and the running statistics."""
    inputs = inputs.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        output = norm(inputs)
    (output * weights).sum().backward()
    return {
        "output": output.detach(),
        "grad_input": inputs.grad,
        "grad_weight": norm.weight.grad,
        "grad_bias": norm.bias.grad,
        "running_mean": norm.running_mean,
        "running_var": norm.running_var,
    }


def _worker(rank: int, port: int, folder: str, autocast: bool) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        inputs, weights = _case(autocast)
        norm = SyncBatchNorm2d.convert(_batchnorm(autocast))
        part = slice(3 * rank, 3 * rank + 3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _forward_backward(norm, inputs[part], weights[part], autocast)
        result["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
        torch.save(result, os.path.join(folder, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
@pytest.mark.parametrize(
    ("autocast", "tolerance"),
    [
        (False, {"rtol": 1e-12, "atol": 1e-12}),
        # assert_close's defaults by dtype: bfloat16 outputs and input gradients within rtol 1.6e-2 (a rounding,
        # where the float32 sums differ in their last bits), float32 statistics and gradients within rtol 1.3e-6
        (True, {}),
    ],
    ids=["float64", "bf16-autocast"],
)
def test_sync_batchnorm_equals_whole_batch_batchnorm(tmp_path, autocast, tolerance):
    mp.spawn(_worker, args=(free_port(), str(tmp_path), autocast), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert [r["warnings"] for r in ranks] == [[], []]  # e.g. no deprecation of the collectives it uses
    norm = _batchnorm(autocast)
    whole = _forward_backward(norm, *_case(autocast), autocast)
    assert whole["output"].dtype == whole["grad_input"].dtype == _case(autocast)[0].dtype  # BatchNorm2d keeps it
    for key in ("output", "grad_input"):
        joined = torch.cat([r[key] for r in ranks])
        assert joined.dtype == whole[key].dtype
        torch.testing.assert_close(joined, whole[key], **tolerance)
    for r in ranks:  # DDP would average these per-process parameter gradients; each is half of the whole-batch one
        torch.testing.assert_close(r["running_mean"], whole["running_mean"], **tolerance)
        torch.testing.assert_close(r["running_var"], whole["running_var"], **tolerance)
    for key in ("grad_weight", "grad_bias"):
        torch.testing.assert_close(ranks[0][key] + ranks[1][key], whole[key], **tolerance)


def test_outside_a_process_group_it_is_plain_batchnorm():
    inputs, _ = _case()
    plain, synced = _batchnorm(), SyncBatchNorm2d.convert(_batchnorm())
    torch.testing.assert_close(synced(inputs), plain(inputs), rtol=0, atol=0)


def test_choose_device():
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(DeviceError, match="'tpu': not a device"):
        choose_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_refused(name):
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        choose_device(name)
