#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04, system python3 3.10).
# It installs everything into a virtual environment beside the source folder and leaves the system python3 alone.
# AUTOGRADER_ROOT (default: the folder above this script, /autograder on Gradescope) and TORCH_INDEX can be set.
set -euo pipefail
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${AUTOGRADER_ROOT:-$(dirname "$source_dir")}"
venv="$root/venv"
torch_index="${TORCH_INDEX-https://download.pytorch.org/whl/cpu}"   # CPU-only wheels, not the multi-GB CUDA build

if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" ${torch_index:+--extra-index-url "$torch_index"} "$(grep '^torch==' "$source_dir/requirements.txt")"
"${pip[@]}" -r "$source_dir/requirements.txt"

# The unprivileged user that runs student code (run_autograder falls back to creating it, then to `nobody`).
id -u a0sandbox >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin a0sandbox

# That user needs the interpreter and packages, and must not read the grader, its tests or its results.
chmod o+x "$root"
chmod -R a+rX "$venv"
chmod -R go-rwx "$source_dir/grader" "$source_dir/tests"
mkdir -p "$root/results" && chmod 755 "$root/results"
echo "setup.sh: environment ready in $venv"
