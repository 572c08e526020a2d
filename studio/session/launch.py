"""Launching, as both faces do it: which host profile a name means, the launcher section of a job spec, the
``--set KEY=VALUE`` overrides, how many ranks a node runs, and a launch draft turned into a ``LaunchRequest``.

The CLI (``linguatune launch``, ``linguatune demo``) and the Launch page build requests here, so a rule such as "the
demo on this machine runs two CPU ranks" exists once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from studio.errors import LinguaTuneError
from studio.remote.hosts import HostProfile, HostStore, local_profile
from studio.remote.jobspec import DEFAULT_PRESET, build_job_spec
from studio.remote.launch import LaunchRequest, plan_languages

LOCAL = "local"
# The demo preset is sized for two CPU ranks (FSDP2 over gloo) on a machine without GPUs.
DEMO_CPU_RANKS = 2


def resolve_profile(name: str | None, hosts: HostStore | None = None) -> HostProfile:
    """The host profile ``name`` means: a saved profile, else the built-in ``local`` one (also for no name).
    An unknown name raises ``HostProfileError`` naming it."""
    store = hosts or HostStore()
    profiles = store.load()
    if name and name in profiles:
        return profiles[name]
    if not name or name == LOCAL:
        return local_profile()
    return store.get(name)


def parse_host_port(entry: str) -> tuple[str, int]:
    """``(host, port)`` of a known_hosts entry name: ``[host]:port`` or a bare ``host`` (port 22)."""
    if entry.startswith("[") and "]:" in entry:
        host, port = entry[1:].rsplit("]:", 1)
        try:
            return host, int(port)
        except ValueError:
            raise LinguaTuneError(f"{entry!r} names no valid port.", field="host") from None
    return entry, 22


def trust_offered_key(error) -> Path:
    """Record the key an ``UnknownHostKeyError`` carries for the host that offered it (the target or a jump
    host); call only after the user confirmed the fingerprint. Returns the known_hosts file written."""
    from studio.remote.knownhosts import trust_host_key

    host, port = parse_host_port(error.host)
    return trust_host_key(host, port, error.key)


def launcher_section(profile: HostProfile) -> dict[str, Any]:
    """The job spec's launcher fields, from a host profile."""
    section: dict[str, Any] = {"kind": profile.launcher, "nodes": profile.nodes,
                               "gpus_per_node": profile.gpus_per_node, "host": profile.name}
    for key, value in (("partition", profile.slurm_partition), ("account", profile.slurm_account),
                       ("time_limit", profile.slurm_time)):
        if value:
            section[key] = value
    return section


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["train.max_steps=20", ...]`` as ``{"train.max_steps": 20}`` (values read as JSON, else kept as text)."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise LinguaTuneError(f"--set expects KEY=VALUE, got {item!r}.", field="set")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        overrides[key.strip()] = value
    return overrides


def read_data_file(path: str | None) -> dict | None:
    """The data-sources file of ``--data`` (a JSON object), or None; one sentence on a bad file."""
    if not path:
        return None
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LinguaTuneError(f"Cannot read the data file {path}: {exc.strerror}.", field="data") from None
    except ValueError as exc:
        raise LinguaTuneError(f"The data file {path} is not valid JSON ({exc}).", field="data") from None
    if not isinstance(obj, dict):
        raise LinguaTuneError(f"The data file {path} must hold a JSON object.", field="data")
    return obj


def ranks_per_node(profile: HostProfile, preset: str | None) -> int:
    """Training processes per node: one per GPU; the demo on a machine without GPUs runs ``DEMO_CPU_RANKS``."""
    if profile.gpus_per_node <= 0 and (preset or DEFAULT_PRESET) == "demo":
        return DEMO_CPU_RANKS
    return max(1, profile.gpus_per_node)


@dataclass
class LaunchDraft:
    """What a user chose, before anything is built: a plan (dict) or none, a host profile, a preset, overrides
    and data sources. ``request()`` builds the job spec and the ``LaunchRequest`` (raising ``LinguaTuneError``
    naming what is wrong)."""

    profile: HostProfile | None  # None: a spec without a launcher section (the Launch page's preset preview)
    plan: dict[str, Any] | None = None
    preset: str | None = None
    name: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    nproc_per_node: int | None = None
    worker_argv: Sequence[str] | None = None

    def spec(self) -> dict[str, Any]:
        return build_job_spec(self.plan, preset=self.preset, name=self.name, overrides=self.overrides,
                              data=self.data or None,
                              launcher=launcher_section(self.profile) if self.profile is not None else None)

    def request(self) -> LaunchRequest:
        if self.profile is None:
            raise LinguaTuneError("Choose a host to launch on.", field="host")
        spec = self.spec()
        plan = self.plan or {"schema": "linguatune.plan/1",
                             "languages": [{"code": c, "pairs": p} for c, p in spec.get("allocation", {}).items()]}
        languages = plan_languages(plan) or list(spec.get("languages", []))
        return LaunchRequest(self.profile, spec, name=self.name, languages=languages, plan=plan,
                             nproc_per_node=self.nproc_per_node or ranks_per_node(self.profile, self.preset),
                             worker_argv=self.worker_argv)
