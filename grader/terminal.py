"""A readable summary of a results.json for the terminal: one line a test."""
import re


def _reason(output: str) -> str:
    text = re.sub(r"```.*?```", "", output, flags=re.S)
    first = next((line.strip("-> ") for line in text.splitlines() if line.strip()), "")
    return (first[:97] + "...") if len(first) > 100 else first


def print_table(results: dict, path):
    print(f"\n{'test':<6} {'score':>9}  reason")
    for test in results.get("tests", []):
        mark = "ok " if test.get("status") == "passed" else "XX "
        score = f"{test.get('score', 0):g}/{test.get('max_score', 0):g}"
        print(f"{mark}{test.get('number', ''):<3} {score:>9}  {_reason(test.get('output', ''))}")
    total = sum(t.get("max_score", 0) for t in results.get("tests", []))
    print(f"total  {results.get('score', 0):g}/{total:g}   ({results.get('execution_time', 0)} s)")
    print(f"results: {path}")
