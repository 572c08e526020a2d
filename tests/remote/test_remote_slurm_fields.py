"""SLURM fields in SLURM's own syntax: nothing a user types can add a shell line or an sbatch option to job.sbatch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from studio.remote.errors import HostProfileError
from studio.remote.hosts import HostProfile, HostStore
from studio.remote.sbatch import render_sbatch

BASE = dict(name="cluster", host="login", launcher="slurm")


@pytest.mark.parametrize("value", ["90", "5:30", "24:00:00", "2-12", "1-00:00", "1-00:00:00", "UNLIMITED"])
def test_sbatch_time_formats_are_accepted(value):
    assert f"#SBATCH --time={value}" in render_sbatch(HostProfile(**BASE, slurm_time=value), "j", "/w/j", "true")


@pytest.mark.parametrize("field,value", [
    ("slurm_time", "tomorrow"), ("slurm_time", "24:00:00\necho pwned"), ("slurm_time", "1 day"),
    ("slurm_time", "24:00:00\n"),
    ("slurm_partition", "debug --output=/tmp/x"), ("slurm_partition", "gpu\nrm -rf ~"), ("slurm_partition", "gpu\n"),
    ("slurm_account", "proj;id"), ("slurm_account", "a b"),
])
def test_bad_fields_are_refused_naming_the_field(field, value):
    with pytest.raises(HostProfileError) as info:
        HostProfile(**BASE, **{field: value})
    assert info.value.field == field and "\n" not in str(info.value)  # one line, the value shown escaped


@pytest.mark.parametrize("extra", ["--gres=gpu:8 --output=/x", "--x=$(id)", "--mem=1G\n#SBATCH --output=/x", "echo hi"])
def test_extra_directives_are_single_options(extra):
    with pytest.raises(HostProfileError, match="one sbatch option"):
        HostProfile(**BASE, slurm_extra=[extra])
    profile = HostProfile(**BASE, slurm_extra=["--gres=gpu:8", "#SBATCH --exclusive", "--qos=high"])
    script = render_sbatch(profile, "j", "/w/j", "true")
    assert "#SBATCH --gres=gpu:8" in script and "#SBATCH --exclusive" in script


def test_the_cli_refuses_in_one_sentence_and_saves_nothing(tmp_path):
    result = subprocess.run([sys.executable, "-m", "studio.cli", "hosts", "add", "cluster", "--host", "login",
                             "--launcher", "slurm", "--partition", "gpu", "--time", "tomorrow"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "SLURM time 'tomorrow'" in lines[0]
    assert "cluster" not in HostStore().load()
