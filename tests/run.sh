#!/usr/bin/env bash
# The test command (README): install what the tests need when it is missing, check the import contracts
# (lint-imports), then run pytest.
#   bash tests/run.sh [pytest args...]
# Installs, only when missing: Debian packages for the real test infrastructure (OpenSSH server, SLURM + munge,
# Xvfb and the xcb libraries Qt needs), and the Python packages of pyproject.toml (extras studio + worker + test).
# torch is pinned to 2.13.0, the CPU wheel this machine kind has locally (newer pulls GBs of CUDA packages).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

apt_packages=(openssh-server openssh-client munge slurm-wlm xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0
              libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3 procps psmisc)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "tests/run.sh: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Are the requirements of pyproject.toml (base + studio + worker + test) satisfied? Checked without network.
if ! "$PY" - <<'PYCHECK'
import sys, tomllib
from importlib.metadata import version, PackageNotFoundError
from packaging.requirements import Requirement
meta = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = meta["optional-dependencies"]
reqs = meta["dependencies"] + extras["studio"] + extras["worker"] + extras["test"]
bad = []
for text in reqs:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate():
        continue
    try:
        if not req.specifier.contains(version(req.name), prereleases=True):
            bad.append(text)
    except PackageNotFoundError:
        bad.append(text)
if bad:
    print("tests/run.sh: missing or mismatched Python packages:", ", ".join(bad))
    sys.exit(1)
PYCHECK
then
  "$PY" -m pip install -q "torch==2.13.0" -e ".[studio,worker,test]"
fi
# Point the entry points (linguatune, linguatune-worker) at this checkout; no dependency work.
"$PY" -m pip install -q --no-deps --no-build-isolation -e . >/dev/null

export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
set +e
# The house plan first ([tool.importlinter] in pyproject.toml): a broken contract fails the run with its import
# chains; pytest still runs so the same run also reports the tests.
echo "tests/run.sh: lint-imports (the house plan's import contracts)"
"$PY" -c 'import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())' --no-cache
lint_rc=$?
# A last backstop under the per-test watchdog (tests/infra/watchdog.py): the whole run never outlives an hour.
timeout --kill-after=30 "${LINGUATUNE_TEST_RUN_LIMIT_S:-3600}" "$PY" -m pytest tests "$@"
rc=$?
((rc != 124)) || echo "tests/run.sh: pytest ran past ${LINGUATUNE_TEST_RUN_LIMIT_S:-3600} s and was stopped." >&2
set -e
if ((lint_rc != 0)); then
  echo "tests/run.sh: lint-imports found broken import contracts (see above); the run fails." >&2
  ((rc != 0)) || rc=$lint_rc
fi
# pytest exits 5 when it collected nothing, which must not pass as green.
exit $rc
