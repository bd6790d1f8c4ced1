# `make run` grades the solution notebook; `make test` runs the project's own test suite.
# Both create the virtual environment .venv on first use (CPU-only torch, pinned packages).
SYSTEM_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
OUT ?= out
JOBS ?= $(shell nproc)

.PHONY: venv run test grade zip bench batch clean

TORCH := $(shell grep '^torch==' requirements.txt)
PIP := $(PY) -m pip install -q --disable-pip-version-check

# torch alone first: from a wheel already on this machine if pip's find-links has one (no network), else from
# the CPU-only index. Only torch is looked up there: an unreachable index costs retries for every package.
$(VENV)/.ready: requirements.txt requirements-dev.txt
	test -x $(PY) || $(SYSTEM_PYTHON) -m venv $(VENV)
	$(PIP) --no-index --no-deps $(TORCH) 2>/dev/null || $(PIP) --extra-index-url $(TORCH_INDEX) $(TORCH)
	$(PIP) -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(VENV)/.ready

run: venv
	./run_autograder --submission solution/A0.ipynb --results $(OUT)/solution/results.json --no-notebook-output

grade: venv
	@test -n "$(NB)" || { echo "usage: make grade NB=path/to/notebook.ipynb"; exit 2; }
	./run_autograder --submission "$(NB)" --results "$(OUT)/$(basename $(notdir $(NB)))/results.json" --no-notebook-output

test: venv
	$(PY) -m pytest -n 2 project_tests

# `make batch EXPORT=submissions.zip OUT=dir [JOBS=n] [FORCE=1]` regrades a Gradescope "Download Submissions"
# export (the zip or its unpacked folder) into dir/grades.csv, answers.html/.csv, report.html and
# dir/<submission_id>/; rerun to resume (a changed grader regrades everything; FORCE=1 regrades all the same).
batch: venv
	@test -n "$(EXPORT)" || { echo "usage: make batch EXPORT=export.zip|folder OUT=dir [JOBS=n] [FORCE=1]"; exit 2; }
	$(PY) -m grader.batch "$(EXPORT)" "$(OUT)" --jobs $(JOBS) $(if $(FORCE),--force)

zip:
	$(PY) tools/build_zip.py autograder.zip

clean:
	rm -rf $(OUT) autograder.zip .pytest_cache

# `make bench [BENCH_REPEAT=n]` times ./run_autograder against running the notebook bare and against
# `jupyter nbconvert --execute` (issue 5); ipykernel, for the latter only, comes from bench/requirements.txt.
BENCH_REPEAT ?= 5
bench: venv
	-$(PIP) -r bench/requirements.txt
	$(PY) bench/run.py --repeat $(BENCH_REPEAT)
