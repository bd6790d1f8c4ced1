"""Sending plain data to the parent: one JSON object a line, on a pipe the parent created."""

import json
import os

from ..records import EVENTS


class Reporter:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._write = os.write  # kept before student code can replace os.write
        self._dumps = json.dumps
        self._getpid = os.getpid
        self.pid = os.getpid()

    def send(self, event: str, **fields) -> None:
        """One event of records.py, by its declared name (records.READY, RECORD, ...), with its fields."""
        if event not in EVENTS:
            raise ValueError(f"not a declared event: {event!r}")
        if self._getpid() != self.pid:
            return  # a process forked by the notebook does not speak for it
        data = (self._dumps({"event": event, **fields}, allow_nan=True) + "\n").encode()
        while data:
            try:
                written = self._write(self.fd, data)
            except OSError:
                return  # the notebook closed the channel; the parent will say what is missing
            data = data[written:]
