"""The sandbox, parent side: the children that read and run student code, and the parent's control of them.

launch.py    starts the reader and the runner, gives them their configuration and requests, enforces the timeouts
channel.py   reads and validates the children's reports (plain JSON data, never pickles)
lease.py     which unprivileged sandbox user runs a grading (leased, never shared) and sweeping what it left
cleanup.py   kills every process a child left behind and removes what the sandbox user wrote
scratch.py   the child's copy of the upload, within bounds, owned by the sandbox user
output.py    the head and tail of what the notebook printed
ta_files.py  the files for the course staff (--ta-files), checked before they are written
"""
