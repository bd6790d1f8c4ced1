"""What the runner's autograd observation (grader/child/observe.py) costs per call of `backprop`, and what it sees.

`python bench/autograd_observation.py [--repeat N]`: the solution's hand-written backprop, an autograd one and an
empty function, each called bare and inside the observation, rounds interleaved, medians printed in microseconds;
then what the observation reports for a daemon thread answering with torch.autograd.grad while the caller waits.
"""

import argparse
import queue
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from grader.child.observe import autograd_runs  # noqa: E402

torch.set_num_threads(1)  # as the runner does
torch.manual_seed(0)
X, Y = torch.randn(25, 3), torch.rand(25, 2)
W1, B1, W2, B2 = torch.randn(3, 4), torch.randn(4), torch.randn(4, 2), torch.randn(2)


def by_hand():
    z1 = X @ W1 + B1
    h = z1.relu()
    y_hat = torch.sigmoid(h @ W2 + B2)
    g = 2 * (y_hat - Y) * y_hat * (1 - y_hat)
    hg = (g @ W2.T) * (z1 > 0).float()
    return X.T @ hg, hg.sum(0), h.T @ g, g.sum(0)


def with_autograd():
    params = [p.clone().requires_grad_() for p in (W1, B1, W2, B2)]
    with torch.enable_grad():
        y_hat = torch.sigmoid(torch.relu(X @ params[0] + params[1]) @ params[2] + params[3])
        return torch.autograd.grad(((y_hat - Y) ** 2).sum(), params)


def empty():
    return None


def timed(function, observed: bool, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        if observed:
            with autograd_runs(torch):
                function()
        else:
            function()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    start = time.perf_counter()
    with autograd_runs(torch):
        pass
    print(f"first observation in this process (the profiler starts up): {(time.perf_counter() - start) * 1e3:.1f} ms")
    functions = {"by hand": by_hand, "autograd": with_autograd, "empty": empty}
    times: dict = {(name, observed): [] for name in functions for observed in (False, True)}
    with torch.no_grad():  # as the probes call
        for _ in range(args.repeat):
            for (name, observed), found in times.items():
                found.append(timed(functions[name], observed, args.calls))
    print(f"per call, median of {args.repeat} rounds of {args.calls} calls (microseconds):")
    for name in functions:
        bare, observed = (statistics.median(times[name, flag]) for flag in (False, True))
        print(f"  {name:9} bare {bare:8.1f}   observed {observed:8.1f}   cost {observed - bare:8.1f}")
    with torch.no_grad():
        for name, function in functions.items():
            with autograd_runs(torch) as seen:
                function()
            print(f"seen for {name}: {seen}")
        requests, answers = queue.Queue(), queue.Queue()

        def worker():
            requests.get()
            answers.put(with_autograd())

        threading.Thread(target=worker, daemon=True).start()
        with autograd_runs(torch) as seen:
            requests.put(X)
            answers.get(timeout=30)
        print(f"seen for a daemon thread answering while the caller waits: {seen}")


if __name__ == "__main__":
    main()
