#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04, system python3 3.10).
# It installs everything into a virtual environment beside the source folder and leaves the system python3 alone,
# then proves the result: torch is the CPU build, and a small notebook made here grades as expected as the sandbox
# user under the real limits. Any failure ends the build with a message (the instructor sees it on upload).
# AUTOGRADER_ROOT (default: the folder above this script, /autograder on Gradescope) and TORCH_INDEX can be set.
set -euo pipefail
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${AUTOGRADER_ROOT:-$(dirname "$source_dir")}"
venv="$root/venv"
torch_index="${TORCH_INDEX-https://download.pytorch.org/whl/cpu}"   # CPU-only wheels, not the multi-GB CUDA build
fail() { echo "setup.sh: FAILED: $*" >&2; exit 1; }

# The course's secret the grader's inputs derive from (with the upload's content), shipped in the zip by `make zip`
# and used as is: every container, every re-upload and a TA's local regrade give a notebook the same inputs.
# Root-only: student code cannot read it.
[ -s "$source_dir/.grader-secret" ] || fail "no .grader-secret in the zip: build it with 'make zip' in a checkout holding the course's secret (make secret FROM=autograder.zip, or NEW=1 for a new course)"
chmod 600 "$source_dir/.grader-secret"
# The image's own interpreter, whatever PATH says (a pyenv or conda python3 first on PATH is not the system's).
python3=/usr/bin/python3
[ -x "$python3" ] || python3="$(command -v python3)" || fail "no python3 (expected /usr/bin/python3)"

if ! "$python3" -c "import ensurepip, venv" 2>/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
fi
[ -x "$venv/bin/python" ] || "$python3" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$source_dir/constraints.txt")
"${pip[@]}" ${torch_index:+--extra-index-url "$torch_index"} "$(grep '^torch==' "$source_dir/requirements.txt")"
"${pip[@]}" -r "$source_dir/requirements.txt"

# The unprivileged user that runs student code (run_autograder creates a0sandbox-1, ... on demand when several
# gradings run at once; on Gradescope one grading runs per container).
id -u a0sandbox >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin a0sandbox

# That user needs the interpreter and packages, and must not read the grader, the assignment, its tests or results.
chmod o+x "$root"
chmod -R a+rX "$venv"
chmod -R go-rwx "$source_dir/grader" "$source_dir/assignments" "$source_dir/tests"
mkdir -p "$root/results" && chmod 755 "$root/results"

# The proof.
torch_version="$("$venv/bin/python" -c 'import torch, sys; print(torch.__version__); sys.exit(torch.version.cuda is not None)' 2>/dev/null)" \
  || fail "torch does not import in $venv, or is not the CPU-only build (TORCH_INDEX=$torch_index)"
id -u a0sandbox >/dev/null 2>&1 || fail "the sandbox user a0sandbox does not exist (useradd failed?)"
# What a notebook may import (the assignment's Packages, assignments/a0/packages.py): every installed package
# imports, and so does every stand-in (a package Colab has and the assignment does not need).
(cd "$source_dir" && "$venv/bin/python" - <<'PY') || fail "a package the assignment declares does not import"
import importlib, sys
from grader.assignment import load
from grader.child import stand_ins
packages = load().packages
lines, absent = packages.self_check()
print("setup.sh: what a notebook may import:\n" + "\n".join("  " + line for line in lines))
if absent:
    sys.exit("setup.sh: FAILED: declared installed but not found: " + ", ".join(absent))
stand_ins.install(packages.stand_ins)
for name in [*packages.installed, *packages.stand_ins]:
    importlib.import_module(name)
PY
[ -x "$root/run_autograder" ] || cp "$source_dir/run_autograder" "$root/run_autograder"   # as Gradescope does
check="$(mktemp -d)"
trap 'rm -rf "$check"' EXIT
# Only the imports and a correct forward (Exercise 1): 1.1 and 1.2 must pass, every other test must fail.
"$venv/bin/python" - "$check/submission/A0.ipynb" <<'PY'
import json, os, sys
cells = ["import torch\nimport torch.nn as nn",
         "def forward(x):\n    return torch.sigmoid(torch.relu(x @ W1 + B1) @ W2 + B2)"]
os.makedirs(os.path.dirname(sys.argv[1]))
with open(sys.argv[1], "w") as f:
    json.dump({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "outputs": [], "source": s}
        for i, s in enumerate(cells)]}, f)
PY
"$root/run_autograder" --submission "$check/submission" --results "$check/results.json" --quiet \
  >"$check/log" 2>&1 || { cat "$check/log" >&2; fail "run_autograder failed on a small test notebook"; }
"$venv/bin/python" - "$check/results.json" <<'PY' || { cat "$check/log" >&2; exit 1; }
import json, sys
results = json.load(open(sys.argv[1]))
passed = sorted(t["number"] for t in results["tests"] if t["status"] == "passed" and t.get("max_score"))
if passed != ["1.1", "1.2"]:
    sys.exit("setup.sh: FAILED: a notebook with only a correct forward() should pass tests 1.1 and 1.2 and no "
             f"other, but passed {passed or 'none'}; the grader's verdict:\n{results.get('output', '')[:3000]}")
facts = results.get("extra_data", {})
print("setup.sh: sandbox layers in force: " + (", ".join(facts.get("in_force") or []) or "none") +
      "; NOT in force here: " + (", ".join(facts.get("not_in_force") or []) or "nothing"))
PY
echo "setup.sh: environment ready in $venv (torch $torch_version, CPU only; a test notebook graded as expected)"
