# `make run` grades the solution notebook; `make test` runs the project's own test suite.
# Both create the virtual environment on first use (CPU-only torch, packages locked by constraints.txt).
SYSTEM_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
OUT ?= out
JOBS ?= $(shell nproc)
TEST_WORKERS ?= 4
SOLUTION ?= solution/A0.ipynb
LOCK_PY310 ?= $(firstword $(wildcard /root/.pyenv/versions/3.10*/bin/python) $(shell command -v python3.10))

.PHONY: venv run test lint grade template zip secret gradescope-check bench bench-suite bench-warm batch merge-answers clean lock lock-check

REQUIREMENTS := requirements.txt requirements-dev.txt constraints.txt
TORCH := $(shell grep '^torch==' requirements.txt)

# As root, the user that runs student code must reach the venv even when the checkout sits in a folder closed to
# it (mode 700, /root): the venv then lives in /opt, named after what it holds (so clones with the same
# requirements share it), and .venv is a link to it. Otherwise .venv is a plain folder.
ifeq ($(shell id -u),0)
VENV_HOME := /opt/a0-autograder/venv-$(shell { cat $(REQUIREMENTS); $(SYSTEM_PYTHON) -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-12)
READY_AFTER :=   # the name changes with the requirements: the files' dates do not matter
VENV_OPEN := mkdir -p $(dir $(VENV_HOME)) && chmod 755 /opt $(dir $(VENV_HOME))
VENV_OPEN_ALL := chmod -R a+rX $(VENV_HOME)
VENV_LINK := [ "$$(readlink $(VENV))" = "$(VENV_HOME)" ] || { rm -rf $(VENV) && ln -s $(VENV_HOME) $(VENV); }
else
VENV_HOME := $(VENV)
READY_AFTER := $(REQUIREMENTS)
VENV_OPEN := true
VENV_OPEN_ALL := true
VENV_LINK := true
endif
READY := $(VENV_HOME)/.ready
PIP := $(VENV_HOME)/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt

# torch alone first: from a wheel already on this machine if pip's find-links has one (no network), else from
# the CPU-only index. Only torch is looked up there: an unreachable index costs retries for every package.
$(READY): $(READY_AFTER)
	@$(VENV_OPEN)
	test -x $(VENV_HOME)/bin/python || $(SYSTEM_PYTHON) -m venv $(VENV_HOME)
	$(PIP) --no-index --no-deps $(TORCH) 2>/dev/null || $(PIP) --extra-index-url $(TORCH_INDEX) $(TORCH)
	$(PIP) -r requirements.txt -r requirements-dev.txt
	@$(VENV_OPEN_ALL)
	touch $@

venv: $(READY)
	@$(VENV_LINK)

# The project's smoke test: fails unless $(SOLUTION) gets full marks. Without the course's secret it grades with the
# development secret and says so (the solution's marks do not depend on it; a student's numbers would).
DEV_SECRET = $(if $(wildcard .grader-secret),,A0_DEVELOPMENT_SECRET=1)
run: venv
	@test -s .grader-secret || echo "make run: no course secret (.grader-secret): grading with the development secret (a TA gets the course's with: make secret FROM=autograder.zip)"
	$(DEV_SECRET) ./run_autograder --submission "$(SOLUTION)" --results $(OUT)/solution/results.json --no-notebook-output
	@$(SYSTEM_PYTHON) tools/full_marks.py $(OUT)/solution/results.json

# `make grade NB=path`: out/<name>-<digest of the path>/ (results.json, notebook.html, feedback.html) and the table.
grade: venv
	@test -n "$(NB)" || { echo "usage: make grade NB=path/to/notebook.ipynb"; exit 2; }
	$(PY) -m grader.one "$(NB)" "$(OUT)"

# `make template [ASSIGNMENT=module]`: the handout (source/A0.ipynb) made from the solution's markers
# (tools/template.py says which); project_tests/test_template.py checks the shipped one is what it gives.
template: venv
	$(PY) tools/template.py $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT))

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --python-executable $(PY)

test: venv
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal project_tests $(PYTEST_ARGS)

# `make batch EXPORT=submissions.zip OUT=dir [JOBS=n] [FORCE=1] [NAMES=1] [DUE=... LATE_DUE=...]` regrades a Gradescope "Download
# Submissions" export (the zip or its unpacked folder) into dir/grades.csv, changes.csv, answers.html/.csv,
# report.html and dir/submission_<id>/; rerun to resume (a changed grader regrades everything; FORCE=1 regrades all
# the same). NAMES=1 shows names beside the Exercise 3 answers (anonymous by default).
# Not root and no Landlock (macOS, old kernels): refused unless RISK_MY_FILES=1 (notebooks could reach your files).
batch: venv
	@test -n "$(EXPORT)" || { echo "usage: make batch EXPORT=export.zip|folder OUT=dir [JOBS=n] [FORCE=1] [NAMES=1]"; exit 2; }
	$(PY) -m grader.batch "$(EXPORT)" "$(OUT)" --jobs $(JOBS) $(if $(FORCE),--force) $(if $(NAMES),--names) \
	  $(if $(DUE),--due "$(DUE)") $(if $(LATE_DUE),--late-due "$(LATE_DUE)") \
	  $(if $(RISK_MY_FILES),--unconfined-notebooks-can-read-and-change-my-files)

# `make merge-answers OUT=dir`: the score and comment columns a TA filled in OUT/answers.csv into grades.csv and
# report.html (a rerun of `make batch` keeps them too).
merge-answers: venv
	$(PY) -m grader.batch --merge-answers "$(OUT)"

# The course's secret (.grader-secret, out of git) ships in autograder.zip; gradings and `make zip` refuse without
# it. `make secret FROM=autograder.zip` takes the course's from its zip; `make secret NEW=1` makes one (a course's
# first zip only); `make secret` says which this checkout has.
zip:
	$(SYSTEM_PYTHON) tools/build_zip.py autograder.zip

secret:
	$(SYSTEM_PYTHON) tools/build_zip.py --secret $(if $(FROM),--from "$(FROM)") $(if $(NEW),--new)

# Rehearse Gradescope's "Test Autograder": build the zip, run its setup.sh in a temporary /autograder layout (Docker
# when usable), grade the solution and the handout with no arguments; prints both tables and the image build time.
gradescope-check:
	TORCH_INDEX="$(TORCH_INDEX)" $(SYSTEM_PYTHON) tools/gradescope_check.py

# Regenerate constraints.txt for this machine's Python and Gradescope's 3.10 (LOCK_PY310=path/to/python3.10).
lock:
	@test -n "$(LOCK_PY310)" || { echo "make lock needs a Python 3.10: make lock LOCK_PY310=path/to/python3.10"; exit 2; }
	$(SYSTEM_PYTHON) tools/lock.py --py310 "$(LOCK_PY310)" --torch-index "$(TORCH_INDEX)"

# `make lock-check`: asks the package index whether every pin still installs on Python 3.10 (CI runs it after the
# suite; `make test` checks offline that constraints.txt is make lock's output for today's requirements).
lock-check:
	@test -n "$(LOCK_PY310)" || { echo "make lock-check needs a Python 3.10: make lock-check LOCK_PY310=path/to/python3.10"; exit 2; }
	$(SYSTEM_PYTHON) tools/lock.py --check --py310 "$(LOCK_PY310)"

clean:
	rm -rf $(OUT) autograder.zip .pytest_cache

# `make bench [BENCH_REPEAT=n]` times ./run_autograder against running the notebook bare and against
# `jupyter nbconvert --execute` (issue 5); ipykernel, for the latter only, comes from bench/requirements.txt.
BENCH_REPEAT ?= 5
bench: venv
	-$(PIP) -r bench/requirements.txt
	$(DEV_SECRET) $(PY) bench/run.py --repeat $(BENCH_REPEAT)

# `make bench-suite`: `make test`'s wall time beside two CPU-bound processes (CI shares its 2 cores), then alone.
bench-suite: venv
	$(PY) bench/suite_under_load.py

# a grading started cold (run_autograder) against one whose children a warm start forks (grader.serve, the batch)
bench-warm: venv
	$(DEV_SECRET) $(PY) bench/warm.py --repeat $(BENCH_REPEAT)
