"""The limit: run the notebook's code cells (already converted by IPython) once, in this one plain process.

`python bench/bare.py cells.json` -- a cell that raises is skipped, and nothing else is done.
"""

import json
import sys

namespace = {"__name__": "__main__"}
for source in json.load(open(sys.argv[1])):
    try:
        exec(compile(source, "<cell>", "exec"), namespace)
    except BaseException:  # noqa: BLE001  -- errors are skipped, as with --allow-errors
        pass
