"""`make run`'s verdict: exit 1 unless results.json gives full marks (its score equals the sum of max_score)."""

import json
import sys

results = json.load(open(sys.argv[1]))
full = sum(test.get("max_score", 0) for test in results.get("tests", []))
score = results.get("score", sum(test.get("score", 0) for test in results.get("tests", [])))
if full == 0 or score != full:
    sys.exit(f"make run: {sys.argv[1]} gives {score:g}/{full:g}, not full marks")
print(f"make run: full marks ({score:g}/{full:g})")
