"""Finding the submitted notebook and turning it into plain Python, without running it."""
