"""The training loop: the multi-loss schedule of Sect. 4 and 6.6, resumable, on CPU, one GPU or several.

Reproducibility. The data order of epoch ``e`` and the augmentation of its step ``s`` are drawn from generators
seeded with ``(seed, e)`` and ``(seed, e, s)``; every global batch is the same whatever the number of processes,
each process taking its contiguous slice. A run therefore resumes from a checkpoint at any step boundary and
reaches the same weights as an uninterrupted run (bit for bit on CPU). It resumes with the configuration it was
started with: only the keys of :data:`~ffld.train.config.RESUMABLE` (the number of epochs, the output folder, the
runtime settings that do not change what is computed, the data's folder and ``init``) may differ.

Files in the run folder: ``last.pt`` (the training state, rewritten atomically at every epoch end, every
``checkpoint_every`` steps, and at the step where Ctrl-C or SIGTERM stops the run), ``model.safetensors`` (the latest
weights for inference, with their metadata), ``metrics.csv`` (one row per epoch, rewritten from the checkpointed
history; its test NMEs in %, like every NME ffld writes; its ``seconds`` the time of the epoch's steps, those that an
interrupted invocation checkpointed included), ``run.json`` (the model file's metadata as readable JSON: the
provenance of this invocation and of earlier ones, the configuration, the initial weights' file with its SHA-256 and
provenance, the epochs trained and the training faces' fingerprint) and ``tensorboard/``. Running a finished run again
rewrites ``model.safetensors``, ``metrics.csv`` and ``run.json`` from ``last.pt``, in case a kill cut them short. A
resumed run checks that its training faces are those it started with (their number and landmarks), wherever
``data.root`` now points.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm  # the console bar: it switches itself off where output is no terminal (notebooks, logs)

from ffld.checkpoint import load_model, load_state, load_weights_from, save_model, save_state
from ffld.data.prepared import PreparedFaces, prepare_faces
from ffld.data.registry import dataset_info, open_split
from ffld.data.specs import inter_ocular
from ffld.data.transforms import AffineParams, LandmarkAugment
from ffld.evaluate import evaluate_faces
from ffld.files import dump_json, sha256_of, write_csv
from ffld.models import FFLD
from ffld.provenance import provenance
from ffld.train import distributed
from ffld.train.config import RESUMABLE, TrainConfig, config_to_dict, resume_differences
from ffld.train.interrupt import StopRequests
from ffld.train.objective import MultiLoss


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step and the last good checkpoint."""


def _generator(*key: int) -> torch.Generator:
    seed = int(np.random.SeedSequence([abs(k) for k in key]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator().manual_seed(seed)


def resolve_flag(value: str | bool, device: torch.device) -> bool:
    """A ``runtime`` switch (``bf16``, ``channels_last``) on ``device``: ``"auto"`` means on CUDA only."""
    return device.type == "cuda" if value == "auto" else bool(value)


def process_mean(values: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The mean of ``values`` over the processes, on the CPU: the same numbers in every process (all-reduced in
    float64 on ``device``, which the backend needs: CUDA for NCCL); ``values`` itself when running alone."""
    if not dist.is_initialized():
        return values
    total = values.to(device, torch.float64, copy=True)
    dist.all_reduce(total)
    return total.div_(dist.get_world_size()).cpu()


def optimisation_step(
    network: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    objective: MultiLoss,
    images: torch.Tensor,
    target: torch.Tensor,
    iod: torch.Tensor,
    bf16: bool,
) -> tuple[torch.Tensor, list[torch.Tensor], bool]:
    """Forward, backward and update on one batch, unless the loss of any process is not finite.

    Args:
        images: (B, 3, S, S) float images in [0, 1]; target: (B, N, 2) landmarks; iod: (B,) inter-ocular distances.

    Returns:
        ``(total, per_stage, finite)``: the (detached) losses of this process, and whether the loss was finite in
        every process (when it was not, nothing was updated).
    """
    network.train()
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        output = network(images)
    total, per_stage = objective(output, target, iod)
    finite = torch.isfinite(total.detach()).to(torch.float32)
    if dist.is_initialized():
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    if finite.item():
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
    return total.detach(), [loss.detach() for loss in per_stage], bool(finite.item())


class Trainer:
    """One training run described by a :class:`~ffld.train.config.TrainConfig`.

    Args:
        config: the run.
        log: where progress messages go (rank 0 only).
    """

    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        runtime = config.runtime
        self.process = distributed.setup(runtime.device)
        self.device = self.process.device
        self.log = log if self.process.is_main else (lambda message: None)
        self.output = Path(config.output)
        self.bf16 = resolve_flag(runtime.bf16, self.device)
        self.channels_last = resolve_flag(runtime.channels_last, self.device)
        batch = config.optimizer.batch_size
        if batch % self.process.world_size:
            raise ValueError(
                f"optimizer.batch_size {batch} is not divisible by the {self.process.world_size} processes"
            )
        state = self._read_checkpoint()  # before the data are prepared: a run that cannot resume stops at once

        self.provenance = provenance(self.device)  # how this run was started, stored with every checkpoint
        self.earlier_provenance: list[dict[str, Any]] = []  # the invocations that trained it before, oldest first
        self.init_source: dict[str, Any] | None = None  # the file of initial weights (config.init), as it was read
        self.info = dataset_info(config.data.dataset)
        if not self.process.is_main:  # let rank 0 generate or decode first (e.g. SynthFace's cache), then read
            distributed.barrier()
        self.train_faces = self._prepare(config.data.train).to(self.device)
        if self.process.is_main:
            distributed.barrier()
        if config.data.balance == "pdb":
            from ffld.data.pdb import pose_balanced_indices

            self.order_pool = torch.as_tensor(pose_balanced_indices(self.train_faces.original.numpy()))
        else:
            self.order_pool = torch.arange(len(self.train_faces))
        if len(self.order_pool) < batch:
            raise ValueError(f"the training set has {len(self.order_pool)} faces, fewer than one batch of {batch}")
        self.steps_per_epoch = len(self.order_pool) // batch
        self.test_faces = {split: self._prepare(split) for split in config.data.test} if self.process.is_main else {}

        torch.manual_seed(runtime.seed)
        self.model = FFLD(self.info.spec.num_points, **vars(config.model))
        self.model.init_mean_shape(self.train_faces.landmarks.mean(dim=0).cpu(), (config.data.input_size,) * 2)
        if config.init and state is None:  # a resumed run's weights are in its checkpoint (init may have moved)
            self._load_initial_weights(config.init)
        self.model.to(self.device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if runtime.sync_batchnorm and self.process.world_size > 1:
            distributed.SyncBatchNorm2d.convert(self.model)
        network: torch.nn.Module = self.model
        if self.process.world_size > 1:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            network = DistributedDataParallel(self.model, device_ids=device_ids)
        self.network = torch.compile(network) if runtime.compile else network

        optim = config.optimizer
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, optim.lr_step, optim.lr_gamma)
        self.augment = LandmarkAugment(self.info.spec.flip_permutation, **vars(config.augment))
        self.objective = MultiLoss(
            config.losses,
            config.weights(),
            self.model.stage_levels,
            config.model.patch_size,
            config.align.sigma,
            config.align.kernel_size,
        )
        self.epoch = 0
        self.step = 0  # steps done in the current epoch
        # the loss sums of this epoch; their mean over the processes is the sum over the whole batches
        self.running = torch.zeros(len(config.losses) + 1, dtype=torch.float64)
        self.align_best = math.inf
        self.align_stale = 0
        self.history: list[dict[str, Any]] = []
        self.resumed_seconds = 0.0  # the seconds that earlier invocations spent on this epoch's checkpointed steps
        self.epoch_started = time.perf_counter()  # when this epoch began, less resumed_seconds
        if state is not None:
            self._restore(state)

    # -- set-up ----------------------------------------------------------------------------------------------------

    def _prepare(self, split: str) -> PreparedFaces:
        data = self.config.data
        dataset = open_split(data.dataset, data.root, split, data.convert, data.synthface)
        if split == data.train and data.train_every > 1:
            dataset = torch.utils.data.Subset(dataset, range(0, len(dataset), data.train_every))
        return prepare_faces(
            dataset, data.input_size, data.enlarge, data.box, self.config.runtime.workers, f"preparing {split}"
        )

    def _load_initial_weights(self, path: str) -> None:
        """Start from the weights of ``path`` (Sect. 6.6: the pre-trained baseline); the tensors it lacks (the
        CropNets of a baseline) keep their initialisation. ``ValueError`` if they were trained on crops of another
        size than ``data.input_size`` (a model predicts coordinates in pixels of its crops)."""
        model, metadata = load_model(path)
        size, trained = self.config.data.input_size, metadata.get("input_size")
        if trained is not None and trained != size:
            raise ValueError(
                f"{path}: was trained on {trained}×{trained} crops, but this run's data.input_size is {size}; "
                f"train both steps at one size (--set data.input_size={trained})"
            )
        new = load_weights_from(self.model, model.state_dict(), path)
        self.init_source = {
            "path": str(Path(path).resolve()),
            "sha256": sha256_of(path),
            "provenance": metadata.get("provenance"),
            "earlier_provenance": metadata.get("earlier_provenance", []),
        }
        self.log(f"initialised from {path}" + (f"; newly initialised: {', '.join(new)}" if new else ""))

    @property
    def checkpoint_path(self) -> Path:
        return self.output / "last.pt"

    def metadata(self) -> dict[str, Any]:
        """What an inference model needs besides its weights (stored with checkpoints and model files)."""
        data = self.config.data
        return {
            "model": {"num_landmarks": self.info.spec.num_points, **vars(self.config.model)},
            "dataset": data.dataset,
            "landmarks": self.info.spec.name,
            "input_size": data.input_size,
            "enlarge": data.enlarge,
            "box": data.box,
            "config": config_to_dict(self.config),
            "provenance": self.provenance,
            "earlier_provenance": self.earlier_provenance,
            "init": self.init_source,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "running": self.running,
            "align_sigma": self.objective.align_sigma,
            "align_best": self.align_best,
            "align_stale": self.align_stale,
            "epoch_seconds": time.perf_counter() - self.epoch_started if self.step else 0.0,
            "history": self.history,
            "train_data": self.train_data,
            "metadata": self.metadata(),
        }

    @functools.cached_property
    def train_data(self) -> dict[str, Any]:
        """What identifies the training faces: their number and the SHA-256 of their landmarks (as read, in order)."""
        landmarks = self.train_faces.original.numpy().astype("<f4").tobytes()
        return {"faces": len(self.train_faces), "landmarks_sha256": hashlib.sha256(landmarks).hexdigest()}

    def _read_checkpoint(self) -> dict[str, Any] | None:
        """The training state to resume from, ``None`` for a new run.

        Raises:
            CheckpointError: ``last.pt`` is not an ffld training checkpoint.
            ValueError: it was written with another configuration (besides the :data:`RESUMABLE` keys), or it has
                trained more epochs than ``optimizer.epochs``.
        """
        if not self.checkpoint_path.exists():
            return None
        state = load_state(self.checkpoint_path)
        differences = resume_differences(state["metadata"]["config"], config_to_dict(self.config))
        if differences:
            raise ValueError(
                f"{self.checkpoint_path}: was written with another configuration ({'; '.join(differences)}); "
                f"only {', '.join(RESUMABLE)} may change when a run resumes: use another output folder or delete "
                "the checkpoint"
            )
        if state["epoch"] > self.config.optimizer.epochs:
            raise ValueError(
                f"{self.checkpoint_path}: has trained {state['epoch']} epochs, more than optimizer.epochs "
                f"({self.config.optimizer.epochs})"
            )
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; ``ValueError`` if it was trained on other faces than ``data.root`` now holds (a
        moved ``data.root`` must hold the same data)."""
        saved, now = state.get("train_data"), self.train_data
        if saved is not None and saved != now:  # (checkpoints before ffld recorded it lack the entry)
            same = (
                "the same number of faces, with other landmarks"
                if saved["faces"] == now["faces"]
                else f"{now['faces']} faces, not {saved['faces']}"
            )
            raise ValueError(
                f"{self.checkpoint_path}: was trained on other data: the {self.config.data.train!r} split at "
                f"data.root={self.config.data.root!r} has {same}; use another output folder or the run's data"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step, self.running = state["epoch"], state["step"], state["running"]
        self.objective.align_sigma = state["align_sigma"]
        self.align_best, self.align_stale = state["align_best"], state["align_stale"]
        self.history = state["history"]
        self.resumed_seconds = state.get("epoch_seconds", 0.0)  # (absent from checkpoints before ffld saved it)
        saved = state["metadata"]
        self.earlier_provenance = [*saved.get("earlier_provenance", []), saved["provenance"]]
        self.init_source = saved.get("init")
        self.log(f"resumed from {self.checkpoint_path} at epoch {self.epoch + 1}, step {self.step}")

    # -- one step --------------------------------------------------------------------------------------------------

    def batch_indices(self, epoch: int, step: int) -> torch.Tensor:
        """This process's slice of global batch ``step`` of ``epoch``."""
        batch = self.config.optimizer.batch_size
        order = self.order_pool[
            torch.randperm(len(self.order_pool), generator=_generator(self.config.runtime.seed, epoch))
        ]
        share = batch // self.process.world_size
        start = step * batch + self.process.rank * share
        return order[start : start + share]

    def batch_params(self, epoch: int, step: int) -> AffineParams:
        """This process's slice of the augmentation parameters of global batch ``step`` of ``epoch``."""
        self.augment.generator = _generator(self.config.runtime.seed, epoch, step + 1)
        params = self.augment.sample(self.config.optimizer.batch_size)
        share = self.config.optimizer.batch_size // self.process.world_size
        start = self.process.rank * share
        return AffineParams(*(value[start : start + share] for value in params))

    def train_step(self, epoch: int, step: int) -> list[float]:
        """One optimisation step; returns the total loss and each stage's loss (this process's batch)."""
        index = self.batch_indices(epoch, step)
        faces = self.train_faces
        augmented = self.augment.batch(
            faces.images[index.to(self.device)], faces.landmarks[index.to(self.device)], self.batch_params(epoch, step)
        )
        images = augmented.images.float().div_(255)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        target = augmented.landmarks
        total, per_stage, finite = optimisation_step(
            self.network,
            self.optimizer,
            self.objective,
            images,
            target,
            inter_ocular(target, self.info.spec),
            self.bf16,
        )
        if not finite:
            where = f"at epoch {epoch + 1}, step {step + 1}"
            raise self._diverged(f"the loss became {total.item()} (in this or another process) {where}")
        return [total.item()] + [loss.item() for loss in per_stage]

    def _diverged(self, what: str) -> TrainingDiverged:
        """The error that ends a diverged run, naming the last checkpoint (which holds only finite weights)."""
        return TrainingDiverged(
            f"{what}; the last good checkpoint is {self.checkpoint_path}"
            + ("" if self.checkpoint_path.exists() else " (none written yet)")
        )

    def _check_finite_weights(self) -> None:
        """Refuse to save non-finite weights or BatchNorm statistics: a step with a finite loss can still produce
        them (too large a learning rate), and they would be saved as a model that predicts NaN."""
        broken = [
            name
            for name, tensor in self.model.state_dict().items()
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
        ]
        if broken:
            names = ", ".join(broken[:3]) + (", ..." if len(broken) > 3 else "")
            what = f"{len(broken)} weight tensor(s) became non-finite ({names}) while the loss stayed finite"
            raise self._diverged(what)

    # -- the run ---------------------------------------------------------------------------------------------------

    def save(self) -> None:
        """Checkpoint (rank 0), atomically, then :meth:`export`. The checkpoint holds the loss sums averaged over
        the processes, so that every process resumes with the same ones."""
        self._check_finite_weights()
        self.running = process_mean(self.running, self.device)
        if self.process.is_main:
            save_state(self.checkpoint_path, self._state())
        self.export()

    def export(self) -> None:
        """Write ``model.safetensors``, and ``metrics.csv`` and ``run.json`` from the checkpointed state (rank 0)."""
        if self.process.is_main:
            metadata = self.metadata()
            save_model(self.output / "model.safetensors", self.model, metadata)
            if self.history:  # test-split columns appear from the first evaluated epoch on; other rows leave them empty
                write_csv(self.output / "metrics.csv", self.history)
            progress = {"epochs_trained": self.epoch, "steps_into_epoch": self.step, "train_data": self.train_data}
            dump_json(self.output / "run.json", {"provenance": metadata.pop("provenance"), **progress, **metadata})
        distributed.barrier()

    def _end_of_epoch(self, seconds: float) -> dict[str, Any]:
        names = ["total"] + [f"S{k}_{name}" for k, name in enumerate(self.config.losses)]
        self.running = process_mean(self.running, self.device)  # the whole batches' losses, the same in every process
        means = (self.running / self.steps_per_epoch).tolist()
        row: dict[str, Any] = {"epoch": self.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
        row.update({f"train_{name}": value for name, value in zip(names, means, strict=True)})
        if "align" in self.config.losses:  # σ of Align Loss's filter, 0 once dropped (Sect. 6.6); others have none
            row["align_sigma"] = self.objective.align_sigma if self.objective.align_sigma is not None else 0.0
        row["seconds"] = round(seconds, 2)
        last = self.epoch + 1 == self.config.optimizer.epochs
        if self.process.is_main and ((self.epoch + 1) % self.config.runtime.eval_every == 0 or last):
            for split, faces in self.test_faces.items():
                result = evaluate_faces(self.model, faces, self.info, self.device)  # fp32, as `ffld evaluate`
                for stage, nmes in enumerate(result.nme):
                    row[f"{split}_nme_S{stage}"] = 100 * float(nmes.mean())  # in %, as results.json
        self.update_align_filter(means)
        return row

    def update_align_filter(self, means: list[float]) -> None:
        """Drop Align Loss's Gaussian filter once its loss has stopped decreasing (Sect. 6.6).

        The paper puts Align Loss on the last stage only. Where several stages use it (Table 5's AL/AL/AL), they share
        one σ, and the loss watched is that of the first of them (S1 there), the committed experiments' rule.
        """
        patience = self.config.align.patience
        if patience is None or "align" not in self.config.losses or self.objective.align_sigma is None:
            return
        value = means[1 + self.config.losses.index("align")]
        if value < self.align_best:
            self.align_best, self.align_stale = value, 0
            return
        self.align_stale += 1
        if self.align_stale >= patience:
            self.objective.align_sigma = None
            self.log(f"epoch {self.epoch + 1}: Align Loss stopped decreasing; its Gaussian filter is dropped")

    def run(self) -> list[dict[str, Any]]:
        """Train to the configured number of epochs (resuming if a checkpoint exists); returns the history."""
        if self.epoch == self.config.optimizer.epochs:  # trained before: a kill may have cut its outputs short
            self.export()
            self.log(f"all {self.epoch} epochs were trained; {self.output}'s model file and CSV log are rewritten")
            return self.history
        writer = None
        if self.process.is_main:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(self.output / "tensorboard", purge_step=self.epoch + 1)
            self.log(f"training on {self.device} ({self.process.world_size} process(es)), output {self.output}")
        with StopRequests() as stop:
            try:
                self._train_epochs(stop, writer)
            finally:
                if writer is not None:
                    writer.close()
        return self.history

    def _train_epochs(self, stop: StopRequests, writer: Any) -> None:
        """Train the epochs left. On a stop request (:mod:`~ffld.train.interrupt`), checkpoint at the next step
        boundary and raise ``KeyboardInterrupt``."""
        while self.epoch < self.config.optimizer.epochs:
            self.epoch_started = time.perf_counter() - (self.resumed_seconds if self.step else 0.0)
            bar = tqdm(
                total=self.steps_per_epoch,
                initial=self.step,
                desc=f"epoch {self.epoch + 1}/{self.config.optimizer.epochs}",
                disable=None if self.process.is_main else True,
                leave=False,
            )
            while self.step < self.steps_per_epoch:
                losses = self.train_step(self.epoch, self.step)
                self.running += torch.tensor(losses, dtype=torch.float64)
                self.step += 1
                bar.update()
                bar.set_postfix(loss=f"{losses[0]:.4g}")
                if self.step == self.steps_per_epoch:
                    break  # the epoch end checkpoints
                every = self.config.runtime.checkpoint_every
                stopping = self._stop_agreed(stop.requested)
                if stopping or (every and self.step % every == 0):
                    self.save()
                if stopping:
                    bar.close()
                    self._stop()
            bar.close()
            row = self._end_of_epoch(time.perf_counter() - self.epoch_started)
            self.scheduler.step()
            self.history.append(row)
            self.epoch, self.step = self.epoch + 1, 0
            self.running.zero_()
            self.save()
            if writer is not None:
                for key, value in row.items():
                    if key != "epoch":
                        writer.add_scalar(key, value, row["epoch"])
                writer.flush()
            self.log(_summary(row))
            if self.epoch < self.config.optimizer.epochs and self._stop_agreed(stop.requested):
                self._stop()

    def _stop_agreed(self, requested: bool) -> bool:
        """Whether any process was asked to stop: every process must checkpoint at the same step, since
        :meth:`save` averages over them."""
        if not dist.is_initialized():
            return requested
        flag = torch.tensor([float(requested)], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def _stop(self) -> None:
        where = f"epoch {self.epoch + 1}, step {self.step}" if self.step else f"the end of epoch {self.epoch}"
        self.log(f"stopped at {where}; {self.checkpoint_path} holds every step taken")
        raise KeyboardInterrupt

    def close(self) -> None:
        """Drop the DDP wrapper, then leave the process group (when one was joined).

        The order matters: DDP's reducer holds a reference to the gloo process group. Were it the last one, as it is
        once the group has left the registry, the reducer's destructor would join gloo's worker threads while holding
        the GIL, and a worker freeing a finished job's tensors waits for the GIL: a deadlock at exit, seen with two
        CPU processes on torch 2.11 (the class of pytorch/pytorch#56297). Freed first, the reducer leaves the group
        to ``destroy_process_group``, whose destructor releases the GIL.
        """
        if self.process.world_size > 1:
            self.network = self.model
            gc.collect()  # the DDP module may sit in a reference cycle; free it now, while the group is registered
        distributed.cleanup()


def _summary(row: dict[str, Any]) -> str:
    """One line per epoch: the loss, and the NME of S0 and of the last stage on each test split."""
    parts = [f"epoch {row['epoch']}", f"loss {row['train_total']:.4g}"]
    nme_keys = [key for key in row if "_nme_S" in key]
    last_stage = max((int(key.rsplit("S", 1)[1]) for key in nme_keys), default=0)
    for key in nme_keys:
        if key.endswith(("_S0", f"_S{last_stage}")):
            parts.append(f"{key} {row[key]:.2f}%")
    return ", ".join(parts) + f" ({row['seconds']:.0f} s)"


def train(config: TrainConfig, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run (or resume) a training run; see :class:`Trainer`."""
    trainer = Trainer(config, log)
    try:
        return trainer.run()
    finally:
        trainer.close()


__all__ = ["Trainer", "TrainingDiverged", "optimisation_step", "process_mean", "resolve_flag", "train"]
