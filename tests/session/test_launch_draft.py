"""The launch rules both faces share (studio.session.launch): which profile a host name means, the known_hosts
entry parser, the demo's two CPU ranks, and a draft becoming the request the CLI and the Launch page send."""

from __future__ import annotations

import pytest

from studio.errors import LinguaTuneError
from studio.remote.errors import HostProfileError
from studio.remote.hosts import HostProfile, HostStore
from studio.session.launch import (DEMO_CPU_RANKS, LaunchDraft, launcher_section, parse_host_port, parse_overrides,
                                   ranks_per_node, resolve_profile)

PLAN = {"schema": "linguatune.plan/1",
        "languages": [{"code": "ar", "pairs": 300_000}, {"code": "hi", "pairs": 100_000}]}


def test_local_is_built_in_unless_a_saved_profile_takes_the_name(tmp_path):
    store = HostStore(tmp_path / "hosts.json")
    assert resolve_profile(None, store).launcher == "local"
    assert resolve_profile("local", store).launcher == "local"
    with pytest.raises(HostProfileError, match="gpu-box"):
        resolve_profile("gpu-box", store)
    store.add(HostProfile(name="gpu-box", host="10.0.0.5", gpus_per_node=8))
    assert resolve_profile("gpu-box", store).host == "10.0.0.5"
    store.add(HostProfile(name="local", host="127.0.0.1", port=2222))
    assert resolve_profile("local", store).port == 2222


def test_known_hosts_entry_names():
    assert parse_host_port("example.org") == ("example.org", 22)
    assert parse_host_port("[127.0.0.1]:2222") == ("127.0.0.1", 2222)
    assert parse_host_port("[::1]:2200") == ("::1", 2200)
    with pytest.raises(LinguaTuneError, match="port"):
        parse_host_port("[host]:ssh")


def test_overrides_are_json_or_text_and_malformed_ones_are_named():
    assert parse_overrides(["train.max_steps=20", "model.name_or_path=/m/llama"]) == {
        "train.max_steps": 20, "model.name_or_path": "/m/llama"}
    with pytest.raises(LinguaTuneError, match="KEY=VALUE"):
        parse_overrides(["train.max_steps"])


def test_ranks_one_per_gpu_and_two_cpu_ranks_for_the_demo():
    cpu = HostProfile(name="local", launcher="local", gpus_per_node=0)
    gpus = HostProfile(name="box", host="box", gpus_per_node=8)
    assert ranks_per_node(cpu, "demo") == DEMO_CPU_RANKS == 2
    assert ranks_per_node(cpu, "llama-7b-8xa100") == 1
    assert ranks_per_node(gpus, "llama-7b-8xa100") == 8
    assert ranks_per_node(gpus, "demo") == 8


def test_a_demo_draft_on_this_machine_becomes_the_request_both_faces_send(tmp_path):
    profile = resolve_profile(None, HostStore(tmp_path / "hosts.json"))
    request = LaunchDraft(profile, PLAN, preset="demo", name="demo",
                          overrides=parse_overrides(["train.max_steps=3"])).request()
    assert request.nproc_per_node == 2
    assert request.languages == ["ar", "hi"] and request.plan == PLAN
    spec = request.job_spec
    assert spec["launcher"]["kind"] == "local" and spec["launcher"]["host"] == "local"
    assert spec["train"]["max_steps"] == 3
    assert set(spec["allocation"]) == {"ar", "hi"}
    assert spec["allocation"]["ar"] > spec["allocation"]["hi"]  # the plan's proportions, scaled to the sample


def test_slurm_fields_reach_the_launcher_section():
    profile = HostProfile(name="cluster", host="login", launcher="slurm", nodes=2, gpus_per_node=8,
                          slurm_partition="gpu", slurm_account="nlp", slurm_time="24:00:00")
    assert launcher_section(profile) == {"kind": "slurm", "nodes": 2, "gpus_per_node": 8, "host": "cluster",
                                         "partition": "gpu", "account": "nlp", "time_limit": "24:00:00"}
