"""Loading a pretrained model straight into its FSDP2 shards, so host memory per node stays near one copy of the
weights (issue 13 item 6).

The plain path (``worker.model.load_model_and_tokenizer``) has every rank read the whole checkpoint in fp32 on
CPU before sharding: 8 ranks of a 7B model hold ~8 full copies (~216 GB) for a moment, enough to be OOM-killed on a
SLURM node with a default memory limit. Here every rank

1. builds the model on the ``meta`` device (no memory), with the pad token added as the plain path adds it;
2. lets the trainer shard it (``fully_shard``), then ``to_empty`` gives each rank storage for its shard only;
3. reads from the checkpoint's safetensors files only the rows of its own shard (plain reads, not a memory map,
   whose touched pages would stay counted in the rank's memory), in the checkpoint's dtype, cast to fp32 into the shard; rows the checkpoint lacks (the added pad token's embedding and
   output rows) get the mean of the existing rows, computed across ranks as the plain path computes it on one;
4. recomputes the non-persistent buffers (the rotary tables) and copies persistent ones.

Checkpoints without safetensors (``pytorch_model.bin``), remote code, and models with buffers it does not know
take the plain path, and the job says so in a log event.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_FILE = "model.safetensors"


@dataclass
class PendingWeights:
    """What ``load_into_shards`` needs after sharding: where each tensor is, and the rows to mean-fill."""

    files: dict[str, Path]  # checkpoint key -> safetensors file
    added_rows: dict[str, int] = field(default_factory=dict)  # param name -> first row not in the checkpoint


def checkpoint_files(folder: Path) -> dict[str, Path] | None:
    """Checkpoint key -> safetensors file of a model folder, or None when it has no safetensors weights."""
    index = folder / SAFETENSORS_INDEX
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map") or {}
        return {key: folder / name for key, name in weight_map.items()}
    single = folder / SAFETENSORS_FILE
    if single.is_file():
        reader = _SafetensorsRows(single)
        reader.close()
        return {key: single for key in reader.header if key != "__metadata__"}
    return None


def model_folder(name: str, base_dir: Path | None = None) -> Path | None:
    """A local folder holding the model's files: ``name`` itself (``./x`` from the job directory, as the plain path
    takes it), or its snapshot in the Hugging Face cache (fetched there when the hub can be reached)."""
    if base_dir is not None and (name.startswith("./") or name.startswith("../")):
        name = str((base_dir / name).resolve())
    if os.path.isdir(name):
        return Path(name)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.model",
                                                            "*.txt", "*.tiktoken"]))
    except Exception:  # offline, unknown name, no access: the plain path reports it in its own words
        return None


def why_not_sharded(spec, base_dir: Path | None = None) -> str | None:
    """None when ``spec`` (a ModelSpec) can be loaded straight into shards, else the reason it cannot."""
    if spec.tiny is not None:
        return "a tiny model is built, not loaded"
    if spec.trust_remote_code:
        return "a model with remote code"
    folder = model_folder(spec.name_or_path or "", base_dir)
    try:
        files = checkpoint_files(folder) if folder is not None else None
    except (OSError, ValueError, KeyError) as exc:
        return f"its safetensors index could not be read ({exc})"
    if files is None:
        return "the checkpoint has no safetensors files"
    return None


def build_on_meta(spec, *, base_dir: Path | None = None):
    """(model on the meta device, tokenizer, PendingWeights): nothing is read but the config and the tokenizer."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from worker.model import PAD_TOKEN

    folder = model_folder(spec.name_or_path or "", base_dir)
    if folder is None:
        raise RuntimeError(f"the model {spec.name_or_path!r} has no local folder")
    try:
        files = checkpoint_files(folder)
        config = AutoConfig.from_pretrained(str(folder))
        config.use_cache = False
        tokenizer_name = spec.tokenizer or str(folder)
        if base_dir is not None and (tokenizer_name.startswith("./") or tokenizer_name.startswith("../")):
            tokenizer_name = str((base_dir / tokenizer_name).resolve())
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_name)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32,
                                                     attn_implementation=spec.attn_implementation)
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError... for one cause: the plain path
        raise RuntimeError(f"the model could not be built on the meta device ({type(exc).__name__}: {exc})") from exc
    pending = PendingWeights(files)
    if tokenizer.pad_token_id is None:
        old = model.get_input_embeddings().weight.shape[0]
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
        if len(tokenizer) > old:
            model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
            for name, param in model.named_parameters():
                if param.shape[0] == len(tokenizer) and name.endswith("weight") and param.dim() == 2:
                    pending.added_rows[name] = old
    model.config.pad_token_id = tokenizer.pad_token_id
    unknown = [f"{m}.{b}" for m, module in model.named_modules() for b in module._non_persistent_buffers_set
               if not hasattr(module, "rope_init_fn")]
    if unknown:
        raise RuntimeError(f"buffers this loader does not know how to rebuild: {', '.join(unknown[:3])}")
    return model, tokenizer, pending


def _key_for(name: str, files: dict[str, Path]) -> str | None:
    """The checkpoint key of a parameter (checkpoints sometimes drop or add the ``model.`` prefix)."""
    for key in (name, name.removeprefix("model."), f"model.{name}"):
        if key in files:
            return key
    return None


_DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "F64": torch.float64,
           "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
           "BOOL": torch.bool}


class _SafetensorsRows:
    """Rows of the tensors of one safetensors file, read with plain file reads: a memory map would leave every page
    a rank touched counted in its resident memory (half the checkpoint per rank of two)."""

    def __init__(self, path: Path):
        self.fh = open(path, "rb")
        size = int.from_bytes(self.fh.read(8), "little")
        self.header = json.loads(self.fh.read(size))
        self.start = 8 + size

    def shape(self, key: str) -> list[int]:
        return list(self.header[key]["shape"])

    def rows(self, key: str, first: int, stop: int) -> torch.Tensor:
        entry = self.header[key]
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise RuntimeError(f"the checkpoint tensor {key} has a dtype this loader does not read ({entry['dtype']})")
        shape = entry["shape"]
        row_items = 1
        for n in shape[1:]:
            row_items *= n
        itemsize = torch.empty((), dtype=dtype).element_size()
        begin = self.start + entry["data_offsets"][0] + first * row_items * itemsize
        count = (stop - first) * row_items
        out = torch.empty(count, dtype=dtype)
        self.fh.seek(begin)
        view = memoryview(out.view(torch.uint8).numpy()) if dtype != torch.bfloat16 else None
        if view is None:  # numpy has no bfloat16: read through a uint8 view of the tensor's storage
            view = memoryview(out.view(torch.int16).view(torch.uint8).numpy())
        if self.fh.readinto(view) != count * itemsize:
            raise RuntimeError(f"the checkpoint tensor {key} is shorter than its header says")
        return out.view(stop - first, *shape[1:]) if shape else out.view(())

    def close(self) -> None:
        self.fh.close()


@torch.no_grad()
def load_into_shards(model, pending: PendingWeights, device) -> None:
    """Fill the sharded model's storage (after ``to_empty``) with this rank's rows of the checkpoint."""
    import torch.distributed as dist
    from torch.distributed.tensor import DTensor

    readers: dict[Path, _SafetensorsRows] = {}

    def reader(path: Path) -> _SafetensorsRows:
        if path not in readers:
            readers[path] = _SafetensorsRows(path)
        return readers[path]

    try:
        for name, param in model.named_parameters():
            key = _key_for(name, pending.files)
            if key is None:
                raise RuntimeError(f"the checkpoint has no tensor for {name}")
            local, start = _local_rows(param)
            rows_in_file = pending.added_rows.get(name)
            stored = reader(pending.files[key]).shape(key)
            expected = list(param.shape)
            if rows_in_file is not None and expected:
                expected[0] = rows_in_file
            if stored != expected:
                raise RuntimeError(f"the checkpoint tensor {key} has shape {stored}, the model expects {expected}")
            stop = start + (local.shape[0] if local.dim() else 1)
            available = min(stop, rows_in_file) if rows_in_file is not None else stop
            if available > start and local.numel():
                chunk = reader(pending.files[key]).rows(key, start, available)
                target = local[: available - start] if local.dim() else local
                target.copy_(chunk.view(target.shape).to(device))  # cast while copying (CPU: no fp32 temporary)
                del chunk
            if rows_in_file is not None:
                # The added rows: the mean of the checkpoint's rows, summed across ranks like the plain path's mean.
                own = local[: max(0, min(stop, rows_in_file) - start)]
                total = own.sum(dim=0, dtype=torch.float64)
                if isinstance(param, DTensor) and dist.is_initialized():
                    dist.all_reduce(total, group=param.device_mesh.get_group())
                mean = (total / rows_in_file).to(local.dtype)
                first_added = max(rows_in_file, start) - start
                if first_added < local.shape[0]:
                    local[first_added:] = mean
        for module_name, module in model.named_modules():
            if hasattr(module, "rope_init_fn") and "inv_freq" in module._buffers:
                inv_freq, scaling = module.rope_init_fn(module.config, device)
                module.register_buffer("inv_freq", inv_freq, persistent=False)
                module.original_inv_freq = inv_freq
                module.attention_scaling = scaling
            for buffer_name, buffer in module.named_buffers(recurse=False):
                if buffer_name in module._non_persistent_buffers_set:
                    continue
                full = f"{module_name}.{buffer_name}" if module_name else buffer_name
                key = _key_for(full, pending.files)
                if key is None:
                    raise RuntimeError(f"the checkpoint has no tensor for the buffer {full}")
                rows = reader(pending.files[key]).shape(key)[0] if reader(pending.files[key]).shape(key) else 1
                buffer.copy_(reader(pending.files[key]).rows(key, 0, rows).view(buffer.shape))
    finally:
        for one in readers.values():
            one.close()


def _local_rows(param) -> tuple[torch.Tensor, int]:
    """This rank's part of a (possibly sharded) parameter and the global index of its first row."""
    from torch.distributed.tensor import DTensor

    if not isinstance(param, DTensor):
        return param.data, 0
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    local = param.to_local()
    _shape, offset = compute_local_shape_and_global_offset(param.shape, param.device_mesh, param.placements)
    return local, int(offset[0]) if len(offset) else 0
