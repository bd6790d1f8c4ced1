"""Finding the submitted notebook and reading it into plain data, without running it: used only inside the confined
children (the reader reads it for the parent; the runner takes its code cells)."""
