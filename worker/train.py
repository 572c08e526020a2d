"""The training recipe: one job directory in, a tuned model and an event log out.

Launch (the job directory must hold ``job.json``)::

    linguatune-worker run JOB_DIR                                   # one process (world size 1)
    torchrun --nproc-per-node 8 -m worker.cli run JOB_DIR           # one node, 8 GPUs (or CPU ranks over gloo)
    srun torchrun --nnodes $N --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint $HEAD:29500 \\
         -m worker.cli run JOB_DIR                                  # SLURM, several nodes (shared job directory)

Features (the ``TrainingRecipe`` sections, top to bottom):

- torch FSDP2: ``fully_shard`` on every decoder layer, then on the root. GPU: NCCL, bf16 compute with fp32 master
  weights and fp32 gradient reduction (``MixedPrecisionPolicy``). CPU: gloo, fp32.
- AdamW, warmup + cosine (or linear/constant) schedule, gradient accumulation, clipping, optional activation
  checkpointing. The loss is the mean over all target tokens of the optimizer step (all micro-batches, all ranks).
- The mixture (``worker.data``) is built once by rank 0 into ``cache/`` (Arrow) and memory-mapped by every rank.
- Events (rank 0 only): ``status`` on every state change, ``data`` (the mixture report), ``train`` every optimizer
  step, ``checkpoint``, ``log``, ``error`` (message + traceback), ``done``. ``status.json`` is rewritten on every
  step and by a heartbeat thread every few seconds.
- Checkpoints: torch.distributed.checkpoint (sharded model + optimizer) plus the scheduler, the data position
  (the optimizer step; the batch order is a pure function of seed, epoch and step) and every rank's RNG, every
  ``checkpoint_every_steps``; ``checkpoints/latest`` names the newest complete one and is replaced atomically
  after the save. ``run`` on a directory with a checkpoint resumes from it, so after any crash (SIGKILL included)
  the job continues with the same batches, and on CPU the same losses. Steps after the last checkpoint are
  trained again and their ``train`` events repeat with new ``seq`` numbers (readers keep the last per step).
- SIGTERM: the current step finishes, a checkpoint is written, the status becomes ``cancelled``, exit 143.
- Any failure: one ``error`` event with a one-sentence message and the traceback, ``exit_code``, non-zero exit.
  Process-group operations time out (``train.collective_timeout_s``), so a rank never waits forever on a dead peer.
- Evaluation (``worker.evaluation.evaluate``) every ``eval.every_steps`` and at the end, on every rank, with the
  FSDP2-sharded model in eval mode.

Exit codes: 0 finished, 1 failed, 2 invalid job spec, 143 cancelled by SIGTERM.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import socket
import threading
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from worker import contract
from worker.contract import EventLog, JobSpec, JobSpecError, write_json_atomic

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SPEC = 2
EXIT_CANCELLED = 143
HEARTBEAT_S = 5.0
DATA_BUILD_TIMEOUT_S = 6 * 3600
LATEST_FILE = "latest"


class JobCancelled(Exception):
    """SIGTERM arrived before training started."""


class Heartbeat:
    """Rank 0's ``status.json`` writer: on every change and every few seconds from a daemon thread."""

    def __init__(self, job_dir: Path, fields: dict[str, Any]):
        self.path = job_dir / contract.STATUS_FILE
        self.fields = dict(fields)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="status-heartbeat", daemon=True)

    def start(self) -> None:
        self.update()
        self._thread.start()

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.fields.update(fields)
            self.fields["updated_at"] = time.time()
            write_json_atomic(self.path, self.fields)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.update()
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()


def _dist_env() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Multiplier of the peak learning rate for optimizer step ``step`` (0-based)."""
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    if schedule == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class TrainingRecipe:
    """One job: ``setup()`` (process group, model, data, sharding, optimizer, resume), ``train()``,
    ``save_checkpoint()``, ``save_final()``, ``cleanup()``. ``run_job`` drives it and handles failures."""

    def __init__(self, job_dir: Path):
        self.job_dir = job_dir
        self.rank, self.world_size, self.local_rank = _dist_env()
        self.events: EventLog | None = None
        self.heartbeat: Heartbeat | None = None
        self.stop_requested = False
        self.step = 0
        self.total_steps = 0
        self.spec: JobSpec | None = None

    # ---- reporting -------------------------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def emit(self, kind: str, **data: Any) -> None:
        """Write an event (rank 0 only; other ranks ignore the call)."""
        if self.events is not None:
            self.events.emit(kind, **data)

    def log(self, message: str) -> None:
        self.emit("log", message=message, rank=self.rank)

    def set_state(self, state: str, **extra: Any) -> None:
        if self.is_main:
            self.emit("status", state=state, step=self.step, total_steps=self.total_steps, **extra)
            if self.heartbeat is not None:
                self.heartbeat.update(state=state, step=self.step, total_steps=self.total_steps)

    def open_reporting(self) -> None:
        if not self.is_main:
            return
        (self.job_dir / contract.LOGS_DIR).mkdir(exist_ok=True)
        try:
            (self.job_dir / contract.EXIT_CODE_FILE).unlink()
        except FileNotFoundError:
            pass
        self.events = EventLog(self.job_dir / contract.EVENTS_FILE)
        self.heartbeat = Heartbeat(self.job_dir, {
            "state": "starting", "step": 0, "total_steps": 0, "pids": [os.getpid()],
            "hostname": socket.gethostname(), "world_size": self.world_size, "started_at": time.time(),
            "launcher_pid": os.getppid() if "TORCHELASTIC_RUN_ID" in os.environ else None,
        })
        self.heartbeat.start()
        self.emit("status", state="starting", step=0, world_size=self.world_size, pid=os.getpid(),
                  hostname=socket.gethostname())

    # ---- setup -----------------------------------------------------------------------------------------------
    def setup(self) -> None:
        import torch
        import torch.distributed as dist

        self.spec = contract.load_job_spec(self.job_dir)
        spec = self.spec
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        if "MASTER_PORT" not in os.environ:
            if self.world_size > 1:
                raise RuntimeError("MASTER_PORT is not set; start several ranks with torchrun")
            os.environ["MASTER_PORT"] = str(_free_port())
        self.use_cuda = torch.cuda.is_available() and torch.cuda.device_count() > 0
        if self.use_cuda:
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
            backend = "nccl"
        else:
            self.device = torch.device("cpu")
            backend = "gloo"
        precision = spec.train.precision
        if precision == "auto":
            precision = "bf16" if self.use_cuda else "fp32"
        if precision == "bf16" and not self.use_cuda:
            raise JobSpecError("bf16 training needs a GPU; use precision 'fp32' or 'auto' on CPU", "train.precision")
        self.precision = precision
        dist.init_process_group(backend, rank=self.rank, world_size=self.world_size,
                                timeout=timedelta(seconds=spec.train.collective_timeout_s),
                                device_id=self.device if self.use_cuda else None)
        # A CPU (gloo) group with a long timeout for the waits that can legitimately take long, such as other ranks
        # waiting while rank 0 builds a large mixture; gloo still fails at once when a peer dies.
        self.cpu_group = dist.new_group(backend="gloo", timeout=timedelta(seconds=max(
            spec.train.collective_timeout_s, DATA_BUILD_TIMEOUT_S)))
        self.pids = self._all_gather_objects(os.getpid())
        if self.heartbeat is not None:
            self.heartbeat.update(pids=self.pids, device=str(self.device), precision=precision)
        self.shared_job_dir = self._check_shared_job_dir()

        from worker.model import load_model_and_tokenizer

        torch.manual_seed(spec.train.seed)
        pending = None
        if spec.model.load != "full" and spec.model.tiny is None:
            from worker import sharded_load

            reason = sharded_load.why_not_sharded(spec.model, self.job_dir)
            if reason is None:
                try:
                    self.model, self.tokenizer, pending = sharded_load.build_on_meta(spec.model,
                                                                                     base_dir=self.job_dir)
                except RuntimeError as exc:
                    reason = str(exc)
            if reason is not None:
                if spec.model.load == "sharded":
                    raise RuntimeError(f"model.load is 'sharded' but {reason}")
                if self.is_main:
                    self.emit("log", level="warning", message=(
                        f"every rank reads the whole checkpoint ({reason}): host memory peaks near "
                        f"{self.world_size} copies of the weights while loading"))
        if pending is None:
            self.model, self.tokenizer = load_model_and_tokenizer(spec.model, base_dir=self.job_dir)
        self._build_data()
        self._shard()
        if pending is not None:
            from worker import sharded_load

            self.model.to_empty(device=self.device)
            sharded_load.load_into_shards(self.model, pending, self.device)
        self._build_optimizer()
        self._maybe_resume()

    def _check_shared_job_dir(self) -> bool:
        """Whether every node sees the same job directory. Checkpoints and ``latest`` are written by rank 0 alone,
        so on nodes with a folder of their own a resume would find nothing: each node's first rank writes a marker,
        and rank 0 looks for all of them. A warning event says so when one is missing (the job still runs)."""
        import socket
        import uuid

        mine = None
        if self.local_rank == 0:
            mine = (socket.gethostname(), uuid.uuid4().hex)
            marker = self.job_dir / f".node-{mine[1]}"
            marker.write_text(mine[0], encoding="utf-8")
        markers = [m for m in self._all_gather_objects(mine) if m is not None]
        self._barrier(long=True)
        shared = True
        if self.is_main:
            unseen = sorted({host for host, token in markers if not (self.job_dir / f".node-{token}").is_file()})
            if unseen:
                shared = False
                self.emit("log", level="warning", message=(
                    f"the job directory {self.job_dir} is not shared with node(s) {', '.join(unseen)}: checkpoints "
                    f"are written by rank 0 only, so this job cannot resume after a failure; put the work root on "
                    f"a filesystem every node mounts"))
        self._barrier(long=True)
        if mine is not None:
            (self.job_dir / f".node-{mine[1]}").unlink(missing_ok=True)
        return shared

    def _all_gather_objects(self, value: Any) -> list[Any]:
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value, group=self.cpu_group)
        return out

    def _barrier(self, *, long: bool = False) -> None:
        import torch.distributed as dist

        if long:
            dist.barrier(group=self.cpu_group)
        elif self.use_cuda:
            dist.barrier(device_ids=[self.local_rank])
        else:
            dist.barrier()

    def _build_data(self) -> None:
        from worker import data as mixdata

        spec = self.spec
        cache = self.job_dir / "cache"
        target = cache / f"mixture-{mixdata.mixture_fingerprint(spec, self.tokenizer, self.job_dir)}"
        if self.is_main:
            mixture = mixdata.load_mixture(target)
            if mixture is None:
                self.set_state("starting", phase="data")
                mixture = mixdata.build_mixture(spec, self.tokenizer, base_dir=self.job_dir,
                                                cache_dir=cache / "datasets", log=self.log)
                mixdata.save_mixture(mixture, target)
                mixture = mixdata.load_mixture(target)
        self._barrier(long=True)
        if not self.is_main:
            mixture = mixdata.load_mixture(target)
            if mixture is None:  # the job directory is not shared between nodes: build it here too
                mixture = mixdata.build_mixture(spec, self.tokenizer, base_dir=self.job_dir,
                                                cache_dir=cache / f"datasets-rank{self.rank}")
        self.mixture = mixture
        self.lengths = mixdata.column_array(mixture.dataset, "length")
        train = spec.train
        self.rows_per_step = self.world_size * train.per_device_batch_size * train.gradient_accumulation_steps
        self._epoch_rows: dict[int, list[np.ndarray]] = {}
        rows = len(self.rows_for_epoch(0))
        self.steps_per_epoch = rows // self.rows_per_step
        if self.steps_per_epoch == 0:
            raise mixdata.DataError(
                f"the mixture fills {rows} rows but one optimizer step needs {self.rows_per_step} "
                f"(ranks x per_device_batch_size x gradient_accumulation_steps); add data or lower the batch",
                "train.per_device_batch_size")
        self.total_steps = max(1, int(train.epochs * self.steps_per_epoch))
        if train.max_steps is not None:
            self.total_steps = min(self.total_steps, train.max_steps)
        self.warmup_steps = int(math.ceil(train.warmup_ratio * self.total_steps))
        report = dict(mixture.report)
        report.update(rows_per_epoch=rows, steps_per_epoch=self.steps_per_epoch, total_steps=self.total_steps,
                      packing=train.packing, max_length=train.max_length)
        self.emit("data", **report)

    def rows_for_epoch(self, epoch: int) -> list[np.ndarray]:
        from worker.data import epoch_rows

        if epoch not in self._epoch_rows:
            self._epoch_rows.clear()
            train = self.spec.train
            self._epoch_rows[epoch] = epoch_rows(self.lengths, max_length=train.max_length, packing=train.packing,
                                                 seed=train.seed, epoch=epoch)
        return self._epoch_rows[epoch]

    def _shard(self) -> None:
        import torch
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        from worker.model import decoder_layers

        model = self.model
        model.config.use_cache = False
        if self.spec.train.activation_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        mesh = init_device_mesh(self.device.type, (self.world_size,))
        if self.precision == "bf16":
            policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        else:
            policy = MixedPrecisionPolicy()
        for layer in decoder_layers(model):
            fully_shard(layer, mesh=mesh, mp_policy=policy)
        fully_shard(model, mesh=mesh, mp_policy=policy)
        if self.use_cuda:
            for module in model.modules():  # rotary tables and other buffers FSDP does not manage
                for name, buf in list(module.named_buffers(recurse=False)):
                    if buf.device != self.device and buf.device.type != "meta":  # meta: filled after to_empty
                        module._buffers[name] = buf.to(self.device)
        model.train()

    def _build_optimizer(self) -> None:
        import torch

        train = self.spec.train
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=train.learning_rate,
                                           weight_decay=train.weight_decay, betas=(0.9, 0.999), eps=1e-8,
                                           foreach=True)
        total, warmup, schedule = self.total_steps, self.warmup_steps, train.lr_scheduler
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, total, warmup, schedule))

    # ---- checkpoints -----------------------------------------------------------------------------------------
    @property
    def checkpoints_dir(self) -> Path:
        return self.job_dir / contract.CHECKPOINTS_DIR

    def latest_checkpoint(self) -> Path | None:
        try:
            name = (self.checkpoints_dir / LATEST_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        path = self.checkpoints_dir / name
        return path if (path / "trainer.json").is_file() else None

    def save_checkpoint(self) -> Path:
        """Sharded model + optimizer (DCP), scheduler + data position (rank 0), RNG (every rank); then ``latest``."""
        import torch
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict

        self.set_state("checkpointing")
        started = time.time()
        path = self.checkpoints_dir / f"step-{self.step:07d}"
        if self.is_main:
            shutil.rmtree(path, ignore_errors=True)  # a save cut short by a crash
            path.mkdir(parents=True)
        self._barrier()
        model_sd, optim_sd = get_state_dict(self.model, self.optimizer)
        dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(path))
        rng = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
        if self.use_cuda:
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        torch.save(rng, path / f"rng-rank{self.rank}.pt")
        if self.is_main:
            write_json_atomic(path / "trainer.json", {
                "step": self.step, "total_steps": self.total_steps, "world_size": self.world_size,
                "scheduler": self.scheduler.state_dict(), "steps_per_epoch": self.steps_per_epoch,
                "mixture_examples": len(self.mixture.dataset), "tokens_seen": self.tokens_seen,
            })
        self._barrier()
        if self.is_main:
            tmp = self.checkpoints_dir / f".{LATEST_FILE}.tmp"
            tmp.write_text(path.name, encoding="utf-8")
            os.replace(tmp, self.checkpoints_dir / LATEST_FILE)
            self._prune_checkpoints(keep=path)
            self.emit("checkpoint", step=self.step, path=str(path.relative_to(self.job_dir)),
                      seconds=round(time.time() - started, 3))
        self.set_state("running")
        return path

    def _prune_checkpoints(self, keep: Path) -> None:
        done = sorted(p for p in self.checkpoints_dir.glob("step-*") if (p / "trainer.json").is_file())
        for old in done[: max(0, len(done) - self.spec.train.keep_checkpoints)]:
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)

    def _maybe_resume(self) -> None:
        import torch
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

        self.tokens_seen = 0
        path = self.latest_checkpoint()
        if path is None:
            return
        meta = json.loads((path / "trainer.json").read_text(encoding="utf-8"))
        if meta.get("mixture_examples") != len(self.mixture.dataset) or meta.get("steps_per_epoch") != \
                self.steps_per_epoch:
            raise RuntimeError(f"the checkpoint {path.name} was made for different data or batch settings; "
                               f"delete {self.checkpoints_dir} to start over")
        model_sd, optim_sd = get_state_dict(self.model, self.optimizer)
        state = {"model": model_sd, "optim": optim_sd}
        dcp.load(state, checkpoint_id=str(path))
        set_state_dict(self.model, self.optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
        self.scheduler.load_state_dict(meta["scheduler"])
        self.step = int(meta["step"])
        self.tokens_seen = int(meta.get("tokens_seen", 0))
        rng_file = path / f"rng-rank{self.rank}.pt"
        if meta.get("world_size") == self.world_size and rng_file.is_file():
            rng = torch.load(rng_file, weights_only=False)
            torch.set_rng_state(rng["torch"])
            random.setstate(rng["python"])
            np.random.set_state(rng["numpy"])
            if self.use_cuda and "cuda" in rng:
                torch.cuda.set_rng_state(rng["cuda"], self.device)
        else:
            self.log(f"resuming with {self.world_size} ranks from a checkpoint made with {meta.get('world_size')}; "
                     f"random states are not restored")
        self.resumed_from = self.step
        self.log(f"resumed from checkpoint {path.name} (step {self.step} of {self.total_steps})")

    # ---- training --------------------------------------------------------------------------------------------
    def _micro_batches(self, step: int) -> list[Any]:
        """This rank's micro-batches of global optimizer step ``step`` (0-based)."""
        from worker.data import collate

        train = self.spec.train
        epoch, in_epoch = divmod(step, self.steps_per_epoch)
        rows = self.rows_for_epoch(epoch)
        first = in_epoch * self.rows_per_step
        bs = train.per_device_batch_size
        batches = []
        for micro in range(train.gradient_accumulation_steps):
            start = first + (micro * self.world_size + self.rank) * bs
            mine = rows[start:start + bs]
            flat = np.concatenate(mine)
            fetched = self.mixture.dataset.select_columns(["input_ids", "prompt_len"])[flat.tolist()]
            examples = [{"input_ids": ids, "prompt_len": p}
                        for ids, p in zip(fetched["input_ids"], fetched["prompt_len"])]
            grouped, cursor = [], 0
            for row in mine:
                grouped.append(examples[cursor:cursor + len(row)])
                cursor += len(row)
            batches.append(collate(grouped, pad_id=self.tokenizer.pad_token_id, packed=train.packing))
        return batches

    def train_step(self) -> dict[str, float]:
        import torch
        import torch.distributed as dist
        import torch.nn.functional as F

        started = time.time()
        batches = self._micro_batches(self.step)
        counts = torch.tensor([sum(b.target_tokens for b in batches)], dtype=torch.float64, device=self.device)
        dist.all_reduce(counts)
        global_targets = max(1.0, float(counts[0]))
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        for batch in batches:
            out = self.model(**batch.model_inputs(self.device))
            logits = out.logits[:, :-1, :].float()
            labels = batch.labels[:, 1:].to(self.device)
            summed = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100,
                                     reduction="sum")
            # FSDP averages gradients over ranks; scaling by world size makes the step's gradient the mean over
            # every target token of the global batch.
            (summed * (self.world_size / global_targets)).backward()
            loss_sum += summed.detach().double()
        max_norm = self.spec.train.grad_clip if self.spec.train.grad_clip is not None else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        if hasattr(grad_norm, "full_tensor"):
            grad_norm = grad_norm.full_tensor()
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        real = sum(b.real_tokens for b in batches)
        total = sum(b.input_ids.numel() for b in batches)
        stats = torch.tensor([float(loss_sum), real, total, 1.0 if self.stop_requested else 0.0],
                             dtype=torch.float64, device=self.device)
        dist.all_reduce(stats)
        self.stop_requested = bool(stats[3] > 0)
        self.step += 1
        elapsed = max(1e-9, time.time() - started)
        tokens = int(stats[1])
        self.tokens_seen += tokens
        return {
            "step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4),
            "loss": float(stats[0]) / global_targets, "lr": lr, "tokens": tokens,
            "tokens_per_s": round(tokens / elapsed, 1), "tokens_per_s_per_rank": round(tokens / elapsed /
                                                                                        self.world_size, 1),
            "real_token_share": round(float(stats[1]) / max(1.0, float(stats[2])), 4),
            "target_tokens": int(global_targets), "grad_norm": float(grad_norm), "seconds": round(elapsed, 4),
        }

    def evaluate(self, *, final: bool = False) -> None:
        """Run ``worker.evaluation.evaluate`` on every rank (a collective: all ranks call it at the same step).

        It receives the FSDP2-sharded model (a ``FSDPModule``: forward and ``generate`` all-gather each layer's
        parameters on the fly, so every rank must run the same number of forwards) in eval mode (autograd
        left enabled: the evaluation turns it off where it generates), bf16 compute on GPU / fp32 on CPU, plus the tokenizer (pad token set), the job's
        ``EvalSpec``, the step, ``emit`` (writes events on rank 0, ignored elsewhere), the job directory, the rank,
        the world size and the device. Training resumes in train mode afterwards."""
        try:
            from worker import evaluation
        except ImportError:
            self.log("evaluation is not available in this worker build")
            return
        self.set_state("evaluating")
        self.model.eval()
        try:
            evaluation.evaluate(self.model, self.tokenizer, self.spec.eval, step=self.step, emit=self.emit,
                                job_dir=self.job_dir, rank=self.rank, world_size=self.world_size, device=self.device)
        finally:
            self.model.train()
        if not final:
            self.set_state("running")

    def train(self) -> int:
        """The loop; returns the exit code (0 finished, 143 cancelled)."""
        spec = self.spec
        resumed = getattr(self, "resumed_from", None)
        self.set_state("running", **({"resumed_from_step": resumed} if resumed is not None else {}))
        every = spec.train.checkpoint_every_steps
        while self.step < self.total_steps:
            metrics = self.train_step()
            self.emit("train", total_steps=self.total_steps, **metrics)
            if self.heartbeat is not None:
                self.heartbeat.update(step=self.step)
            if self.stop_requested:
                if self.step < self.total_steps:
                    self.save_checkpoint()
                    self.set_state("cancelled", reason="SIGTERM")
                    return EXIT_CANCELLED
                break
            if every and self.step % every == 0 and self.step < self.total_steps:
                self.save_checkpoint()
            if spec.eval.every_steps and self.step % spec.eval.every_steps == 0 and self.step < self.total_steps:
                self.evaluate()
        # The final model is saved before the last evaluation, so an evaluation failure never loses it.
        self.save_final()
        if spec.eval.at_end:
            self.evaluate(final=True)
        return EXIT_OK

    def save_final(self) -> None:
        """Gather the full state dict to rank 0 (CPU) and write ``final/`` in save_pretrained layout."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        self.set_state("checkpointing", phase="final")
        state = get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if self.is_main:
            final = self.job_dir / contract.FINAL_DIR
            tmp = self.job_dir / f".{contract.FINAL_DIR}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            self.model.save_pretrained(str(tmp), state_dict=state, safe_serialization=True)
            self.tokenizer.save_pretrained(str(tmp))
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
            self.emit("checkpoint", step=self.step, path=contract.FINAL_DIR, final=True)
        self._barrier()

    def cleanup(self) -> None:
        import torch.distributed as dist

        if self.heartbeat is not None:
            self.heartbeat.stop()
        if dist.is_initialized():
            try:
                dist.destroy_process_group()
            except Exception:  # a dead peer can make teardown fail; the exit code is already decided
                pass


def _describe_failure(exc: BaseException, rank: int) -> tuple[str, int]:
    """(one-sentence message, exit code) for an exception."""
    import torch

    from worker.data import DataError
    from worker.model import ModelLoadError

    if isinstance(exc, JobSpecError):
        return f"invalid job spec: {exc}", EXIT_BAD_SPEC
    if isinstance(exc, (DataError, ModelLoadError)):
        field = getattr(exc, "field", "")
        return (f"{exc} ({field})" if field else str(exc)), EXIT_FAILED
    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return (f"out of memory on rank {rank}: lower train.per_device_batch_size or train.max_length, or enable "
                f"train.activation_checkpointing"), EXIT_FAILED
    text = str(exc).strip().splitlines()
    if type(exc).__name__ == "DistStoreError" or "Connection closed by peer" in str(exc) or \
            "Connection reset by peer" in str(exc):
        return (f"rank {rank} lost contact with another rank, which most likely failed (see logs/): "
                f"{text[0] if text else type(exc).__name__}"), EXIT_FAILED
    return f"{type(exc).__name__}: {text[0] if text else 'no message'}", EXIT_FAILED


def _die_with_launcher() -> None:
    """Under torchrun, ask Linux to SIGKILL this rank when torchrun dies. torchrun starts each rank in a session of
    its own, so a SIGKILL of the launcher's process group (a cancel's last resort) would otherwise leave the ranks
    training unsupervised."""
    if "TORCHELASTIC_RUN_ID" not in os.environ or not hasattr(os, "getppid"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the launcher died before prctl took effect
        os._exit(EXIT_FAILED)


def run_job(job_dir: str | os.PathLike[str]) -> int:
    """Run (or resume) the job in ``job_dir`` on this rank; returns the process exit code."""
    job_dir = Path(job_dir).resolve()
    _die_with_launcher()
    recipe = TrainingRecipe(job_dir)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM,)}

    def on_sigterm(signum, frame):
        recipe.stop_requested = True
        if not getattr(recipe, "in_loop", False):
            raise JobCancelled()

    code = EXIT_FAILED
    try:
        signal.signal(signal.SIGTERM, on_sigterm)
        if not (job_dir / contract.JOB_FILE).is_file():
            raise JobSpecError(f"{job_dir} has no {contract.JOB_FILE}", contract.JOB_FILE)
        recipe.open_reporting()
        recipe.setup()
        recipe.in_loop = True
        code = recipe.train()
        if code == EXIT_OK:
            recipe.set_state("finished")
    except BaseException as exc:  # noqa: BLE001 - every failure must end in an error event and an exit code
        if isinstance(exc, JobCancelled) or (isinstance(exc, KeyboardInterrupt) and recipe.stop_requested):
            code = EXIT_CANCELLED
            recipe.set_state("cancelled", reason="SIGTERM before training started")
        else:
            message, code = _describe_failure(exc, recipe.rank)
            tb = traceback.format_exc()
            if recipe.is_main:
                try:
                    recipe.emit("error", message=message, traceback=tb, rank=recipe.rank)
                    recipe.set_state("failed")
                except OSError:
                    pass
            else:
                try:
                    logs = job_dir / contract.LOGS_DIR
                    logs.mkdir(exist_ok=True)
                    (logs / f"rank{recipe.rank}-error.txt").write_text(f"{message}\n\n{tb}", encoding="utf-8")
                except OSError:
                    pass
            import sys

            print(f"linguatune-worker (rank {recipe.rank}): {message}", file=sys.stderr, flush=True)
    finally:
        recipe.in_loop = False
        if recipe.is_main and recipe.events is not None:
            try:
                recipe.emit("done", exit_code=code, step=recipe.step)
                tmp = job_dir / f".{contract.EXIT_CODE_FILE}.tmp"
                tmp.write_text(f"{code}\n", encoding="utf-8")
                os.replace(tmp, job_dir / contract.EXIT_CODE_FILE)
            except OSError:
                pass
        recipe.cleanup()
        if recipe.events is not None:
            recipe.events.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
