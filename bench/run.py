"""`make bench` (issue 5): how long grading takes, against running the notebook bare and against nbconvert.

For each notebook, on this machine, in one run:
  a   the limit: bench/bare.py runs every code cell once in a fresh plain Python (cells converted beforehand,
      untimed, with IPython's transformer; a cell that raises is skipped; nothing else)
  a1  the same with OMP_NUM_THREADS=1, the thread setting the grader's child uses (like for like with b)
  b   ./run_autograder on the notebook, the whole command
  c   jupyter nbconvert --to notebook --execute --allow-errors (a Jupyter kernel, the path Otter-Grader uses);
      skipped, with the reason, when ipykernel is missing (`make bench` installs bench/requirements.txt)
  c1  the same with OMP_NUM_THREADS=1 (like for like with b)
Rounds are interleaved (a, a1, b, c, c1, a, ...) so that background load hits every method alike; the first
round is an untimed warm-up, the median of the next --repeat rounds is reported.

Peak memory is sampled in the warm-up round: every 10 ms the PSS (proportional set size, /proc/PID/smaps_rollup)
of the command's process and all its descendants (for b: run_autograder's parent, the reader, the runner and the
prober and worker it forks for the probes; for c: nbconvert and the kernel) is summed, and the maximum over the
samples is shown. PSS shares a page among the processes that map it, so a fork's copy-on-write pages count once
(RSS, used before, counted the runner's ~330 MB again for each fork); a spike shorter than 10 ms can be missed. (This
machine has cgroup v1 only, so there is no memory.peak; v1's max_usage_in_bytes would count page cache.)
Timings on a shared machine are noisy: run it twice and compare; the script prints numbers, never asserts.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
A, A1, B, C, C1 = (
    "a  bare python",
    "a1 bare python, 1 thread",
    "b  ./run_autograder",
    "c  nbconvert --execute",
    "c1 nbconvert, 1 thread",
)


def convert(notebook: Path, target: Path):
    """The code cells as IPython would run them (what nbconvert's ipython2python, used by the grader, does)."""
    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    transform, cells = TransformerManager().transform_cell, []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code":
            try:
                cells.append(transform(cell.source))
            except Exception:  # noqa: BLE001  -- the cell then raises its SyntaxError when run
                cells.append(cell.source)
    target.write_text(json.dumps(cells))


def kernel_missing() -> str | None:
    check = (
        "from jupyter_client.kernelspec import KernelSpecManager as K; import ipykernel; K().get_kernel_spec('python3')"
    )
    done = subprocess.run([PY, "-c", check], capture_output=True, text=True)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or ["?"])[-1] + " (`make bench` installs bench/requirements.txt)"


def methods(notebook: Path, work: Path, user: str, kernel_problem: str | None) -> dict:
    cells = work / "cells.json"
    convert(notebook, cells)
    bare = [PY, str(ROOT / "bench" / "bare.py"), str(cells)]
    one_thread = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    found = {
        A: (bare, None),
        A1: (bare, one_thread),
        B: (
            [
                str(ROOT / "run_autograder"),
                "--submission",
                str(notebook),
                "--results",
                str(work / "results.json"),
                "--quiet",
                "--no-notebook-output",
                "--sandbox-user",
                user,
            ],
            None,
        ),
    }
    if not kernel_problem:
        nbconvert = [
            PY,
            "-m",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--allow-errors",
            "--ExecutePreprocessor.kernel_name=python3",
            "--output-dir",
            str(work / "nbconvert"),
            str(notebook),
        ]
        found[C], found[C1] = (nbconvert, None), (nbconvert, one_thread)
    return found


def tree_pss(root: int) -> int:
    """Bytes of PSS of `root` and all its descendants. A process whose smaps_rollup cannot be read is exiting (its
    stat still shows the RSS it is freeing: counting that inflated the peak by a whole runner when the forks end)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()  # after "(comm)": state ppid ...
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss(pid)
        todo.extend(children.get(pid, []))
    return total


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(b"Pss:"))
    except (OSError, StopIteration, ValueError):
        return 0


def run(command, env, work: Path, sample: bool) -> dict:
    """Wall seconds of one run; with `sample`, also its peak tree PSS; for b, when results.json appeared."""
    results = work / "results.json"
    results.unlink(missing_ok=True)
    with open(work / "stderr.txt", "w+b") as err:
        wall, started = time.time(), time.perf_counter()
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        peak = 0
        if sample:
            while proc.poll() is None:
                peak = max(peak, tree_pss(proc.pid))
                time.sleep(0.01)
        proc.wait()
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            err.seek(0)
            print(
                f"  ! {command[0]} exited with {proc.returncode}: {err.read()[-2000:].decode(errors='replace')}",
                file=sys.stderr,
            )
    return {
        "seconds": seconds,
        "peak": peak,
        "results_after": results.stat().st_mtime - wall if results.exists() else None,
    }


def bench(notebook: Path, rounds: int, user: str, kernel_problem) -> dict:
    with tempfile.TemporaryDirectory(prefix="a0-bench-") as tmp:
        work = Path(tmp)
        todo = methods(notebook, work, user, kernel_problem)
        times = {name: [] for name in todo}
        peaks, results_after = {}, []
        for number in range(rounds + 1):
            print(
                f"{notebook.relative_to(ROOT)}: {'warm-up' if number == 0 else f'round {number}/{rounds}'}",
                file=sys.stderr,
                flush=True,
            )
            for name, (command, env) in todo.items():
                got = run(command, env, work, sample=number == 0)
                if number == 0:
                    peaks[name] = got["peak"]
                    continue
                times[name].append(got["seconds"])
                if name == B and got["results_after"] is not None:
                    results_after.append(got["results_after"])
    return {"times": times, "peaks": peaks, "results_after": results_after}


def ratio(data, top, bottom):
    times = data["times"]
    return statistics.median(times[top]) / statistics.median(times[bottom]) if bottom in times else None


def show(label, value, fmt="{:.2f}"):
    return f"{label} " + ("n/a" if value is None else fmt.format(value))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per notebook (default 5)")
    parser.add_argument("--solution", type=Path, default=ROOT / "solution" / "A0.ipynb")
    parser.add_argument("--template", type=Path, default=ROOT / "source" / "A0.ipynb")
    parser.add_argument(
        "--sandbox-user",
        default="a0bench",
        help="for b: cleanup kills every process of the sandbox user, so not the default one",
    )
    args = parser.parse_args()
    kernel_problem = kernel_missing()
    if kernel_problem:
        print(f"c skipped: {kernel_problem}")
    load = os.getloadavg()[0]
    data = {
        nb: bench(nb.resolve(), args.repeat, args.sandbox_user, kernel_problem) for nb in (args.solution, args.template)
    }

    print(
        f"\n{os.cpu_count()} cores, load average {load:.1f} at start and {os.getloadavg()[0]:.1f} at end; "
        f"{args.repeat} timed rounds after 1 warm-up; seconds"
    )
    print(f"{'notebook':<20} {'method':<26} {'median':>7} {'min':>7} {'max':>7} {'peak MB':>8}")
    for nb, got in data.items():
        for name, times in got["times"].items():
            print(
                f"{nb.parent.name + '/' + nb.name:<20} {name:<26} {statistics.median(times):7.2f} "
                f"{min(times):7.2f} {max(times):7.2f} {got['peaks'][name] / 2**20:8.0f}"
            )
        after = statistics.median(got["results_after"]) if got["results_after"] else None
        print(
            f"{'':<20} "
            + "   ".join(
                [
                    show("b/a", ratio(got, B, A)),
                    show("b/a1", ratio(got, B, A1)),
                    show("b/c", ratio(got, B, C)),
                    show("b/c1", ratio(got, B, C1)),
                    show("results.json after", after, "{:.2f} s"),
                ]
            )
        )

    sol, tpl = data[args.solution], data[args.template]
    tpl_after = statistics.median(tpl["results_after"]) if tpl["results_after"] else None
    goals = [
        ("b/a <= 1.05 on the solution", ratio(sol, B, A), 1.05, "{:.2f}"),
        ("b/c <= 0.80 on the solution", ratio(sol, B, C), 0.80, "{:.2f}"),
        ("b/c <= 0.80 on the template", ratio(tpl, B, C), 0.80, "{:.2f}"),
        ("b/c1 <= 0.80 on the solution (1 thread each)", ratio(sol, B, C1), 0.80, "{:.2f}"),
        ("peak memory of b < 500 MB (solution)", sol["peaks"][B] / 2**20, 500, "{:.0f} MB"),
        ("template: results.json within 3 s", tpl_after, 3.0, "{:.2f} s"),
    ]
    print("\ngoals (issue 5)")
    for text, value, limit, fmt in goals:
        verdict = "n/a" if value is None else "holds" if value <= limit else "DOES NOT HOLD"
        print(f"  {text:<46} {'n/a' if value is None else fmt.format(value):>9}  {verdict}")


if __name__ == "__main__":
    main()
