"""Code that runs inside the child process, next to student code. It reports plain data and nothing else."""
