"""Several processes (``torchrun``): process-group set-up and BatchNorm synchronised across processes.

``torchrun --nproc_per_node=G -m ffld train CONFIG`` starts G processes with ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE`` set; :func:`setup` joins them into one group (NCCL on CUDA, gloo on CPU) and picks each process's
device. Each process takes its slice of every global batch (see :mod:`ffld.train.engine`), and
DistributedDataParallel averages the gradients.

:class:`SyncBatchNorm2d` replaces ``torch.nn.SyncBatchNorm``, which refuses CPU tensors: it normalises with the
statistics of the *global* batch, computed by differentiable all-reduces, so G processes on B/G samples each
compute what one process computes on B samples (the gloo backend runs it on CPU for tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place: ``rank`` of ``world_size``, and its ``device``."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


class DeviceError(ValueError):
    """A device that cannot be used: a name PyTorch does not know, or CUDA without a GPU."""


def choose_device(name: str) -> torch.device:
    """ "auto" → CUDA when available, else CPU; "cuda" refuses to run without a GPU.

    Raises:
        DeviceError: ``name`` is not a device, or names CUDA and PyTorch sees no CUDA GPU.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise DeviceError(f"device {name!r}: not a device PyTorch knows (try auto, cpu or cuda)") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r}: CUDA was asked for, but PyTorch sees no CUDA GPU")
    return device


def setup(device_name: str) -> ProcessInfo:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1), else run alone."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = choose_device(device_name)
    if world_size == 1:
        return ProcessInfo(0, 1, device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(minutes=30))
    return ProcessInfo(dist.get_rank(), dist.get_world_size(), device)


def cleanup() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every process (no-op when running alone)."""
    if dist.is_initialized():
        dist.barrier()


class _AllReduceSum(torch.autograd.Function):
    """The sum of a tensor over the processes, differentiable: the gradient of each process's input is the sum of
    the output gradients of every process (the backward of a sum that every process uses). It replaces
    ``torch.distributed.nn.functional.all_reduce``, which computes the same but is deprecated (on torch 2.14, a
    FutureWarning that ``ffld train`` printed at each of SyncBatchNorm2d's two calls, in every process)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over the processes, with gradients (see :class:`_AllReduceSum`)."""
    return _AllReduceSum.apply(tensor)


class SyncBatchNorm2d(nn.BatchNorm2d):
    r"""BatchNorm2d whose training statistics are those of the batch across all processes.

    With :math:`S_c = \sum x`, :math:`Q_c = \sum (x - \mu_c)^2` and :math:`n` summed over every process,
    :math:`\mu_c = S_c / n`, :math:`\sigma^2_c = Q_c / n`, the output is
    :math:`(x - \mu_c) / \sqrt{\sigma^2_c + \epsilon} \cdot \gamma_c + \beta_c`, and the running variance is
    updated with the unbiased :math:`Q_c / (n - 1)`, as ``BatchNorm2d`` does. The sums are all-reduced with
    :func:`all_reduce_sum`, whose backward all-reduces the gradients, so the backward pass is that of the global batch
    too. The statistics are computed in at least float32 and the output has the
    input's dtype, as BatchNorm2d's has (bfloat16 under autocast). Outside training or outside a process group it is
    a plain BatchNorm2d.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        channels = input.shape[1]
        accumulate = torch.promote_types(input.dtype, torch.float32)  # statistics in at least float32
        count = torch.tensor([input.numel() / channels], dtype=accumulate, device=input.device)
        sums = all_reduce_sum(torch.cat([input.sum(dim=(0, 2, 3), dtype=accumulate), count]))
        total = sums[-1]
        mean = sums[:channels] / total
        centred = input - mean[None, :, None, None]
        squares = all_reduce_sum(centred.square().sum(dim=(0, 2, 3)))
        variance = squares / total
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), momentum)
                unbiased = (squares / (total - 1)).detach().to(self.running_var.dtype)
                self.running_var.lerp_(unbiased, momentum)
        scale = torch.rsqrt(variance + self.eps)
        if self.affine:
            scale = scale * self.weight
        output = centred * scale[None, :, None, None]
        output = output + self.bias[None, :, None, None] if self.affine else output
        return output.to(input.dtype)

    @classmethod
    def convert(cls, module: nn.Module) -> nn.Module:
        """Replace every ``BatchNorm2d`` inside ``module`` by a :class:`SyncBatchNorm2d` with the same state."""
        if isinstance(module, nn.BatchNorm2d) and not isinstance(module, cls):
            synced = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
            reference = next(t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point())
            synced.to(device=reference.device, dtype=reference.dtype)
            synced.load_state_dict(module.state_dict())
            return synced
        for name, child in module.named_children():
            setattr(module, name, cls.convert(child))
        return module


__all__ = [
    "DeviceError",
    "ProcessInfo",
    "SyncBatchNorm2d",
    "all_reduce_sum",
    "barrier",
    "choose_device",
    "cleanup",
    "setup",
]
