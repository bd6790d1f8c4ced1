"""The child's seccomp filter: no socket reaches anything outside the child's own processes, with or
without a network namespace, and multiprocessing's pipes and queues keep working."""

import json
import os
import socket
import subprocess
import sys
import uuid

import pytest
from conftest import ROOT, solution
from test_hostile import ATTACK, assert_score, hostile, summary_line, with_cell  # noqa: F401 (a fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the network namespace needs root")

# Run in a fresh interpreter: the filter stays on the process for good.
PROBE = r'''
import ctypes, errno, json, multiprocessing, platform, socket, sys
from grader.child import confine

namespace, abstract = sys.argv[1] == "namespace", sys.argv[2]
if namespace:
    assert confine._new_network_namespace()
assert confine._libc.prctl(confine.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
confine._block_sockets(namespace)
found = {}
STREAM, DGRAM, RAW = 1, 2, 3
for name, family, kind in (("AF_INET", 2, STREAM), ("AF_INET6", 10, STREAM), ("AF_VSOCK", 40, STREAM),
                           ("AF_PACKET", 17, DGRAM), ("AF_NETLINK", 16, RAW), ("AF_UNIX", 1, STREAM),
                           ("AF_UNIX+2**32", 1 + 2**32, STREAM), ("AF_BLUETOOTH", 31, STREAM), ("AF_ALG", 38, 5)):
    # the raw system call: Python's socket() refuses families it does not know; only the low 32 bits count
    fd = confine._libc.syscall(confine._ARCH[platform.machine()][2][0], ctypes.c_long(family), kind, 0)
    found[name] = "created" if fd >= 0 else errno.errorcode[ctypes.get_errno()]
try:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect("\0" + abstract)
        found["abstract connect"] = "connected"
except OSError as exc:
    found["abstract connect"] = errno.errorcode[exc.errno]
a, b = socket.socketpair()
a.sendall(b"x")
found["socketpair"] = b.recv(1).decode()

def work(queue, end):
    queue.put(sum(range(10)))
    end.send("pipe")

fork = multiprocessing.get_context("fork")
queue, (mine, theirs) = fork.Queue(), fork.Pipe()
child = fork.Process(target=work, args=(queue, theirs))
child.start()
found["queue"], found["pipe"] = queue.get(timeout=10), mine.recv()
child.join(10)
found["exit"] = child.exitcode
print(json.dumps(found))
'''


@pytest.fixture
def abstract_listener():
    """An abstract Unix socket listening outside the sandbox, as a service on the host would."""
    name = f"a0hC-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("\0" + name)
        server.listen()
        yield name


@pytest.mark.parametrize("namespace", [True, False])
def test_only_unix_sockets_of_the_childs_own_processes(namespace, abstract_listener):
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, "namespace" if namespace else "none", abstract_listener],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    found = json.loads(completed.stdout)
    for family in ("AF_INET", "AF_INET6", "AF_VSOCK", "AF_PACKET", "AF_NETLINK", "AF_BLUETOOTH", "AF_ALG"):
        assert found[family] == "EACCES", family
    if namespace:  # Unix sockets allowed; abstract names are the namespace's own
        assert found["AF_UNIX"] == found["AF_UNIX+2**32"] == "created"
        assert found["abstract connect"] == "ECONNREFUSED"
    else:
        assert found["AF_UNIX"] == found["AF_UNIX+2**32"] == "EACCES"
        assert found["abstract connect"] == "EACCES"
    assert (found["socketpair"], found["queue"], found["pipe"], found["exit"]) == ("x", 45, "pipe", 0)


def test_a_notebook_reaches_no_socket_outside_its_own_processes(hostile, abstract_listener):  # noqa: F811
    """End to end: the cell's outcomes come back in its exception message, as in test_hostile."""
    nb = with_cell(
        solution(),
        f'''
import errno, multiprocessing, socket
outcomes = []
for family, kind in ((socket.AF_VSOCK, socket.SOCK_STREAM), (socket.AF_NETLINK, socket.SOCK_RAW),
                     (socket.AF_PACKET, socket.SOCK_DGRAM), (socket.AF_INET6, socket.SOCK_DGRAM)):
    try:
        socket.socket(family, kind).close()
        outcomes.append("created")
    except OSError as exc:
        outcomes.append(errno.errorcode[exc.errno])
try:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect("\\0{abstract_listener}")
        s.sendall(b"solution please")
    outcomes.append("connected")
except OSError as exc:
    outcomes.append(errno.errorcode[exc.errno])
fork = multiprocessing.get_context("fork")
queue = fork.Queue()
worker = fork.Process(target=queue.put, args=("queue works",))
worker.start()
outcomes.append(queue.get(timeout=10))
worker.join(10)
raise RuntimeError("ATTACK " + ", ".join(outcomes))
''',
    )
    graded = hostile.grade(nb)
    assert_score(graded)
    namespace = "network namespace" if '"network": "namespace' in graded.log else "no network namespace"
    unix = "ECONNREFUSED" if namespace == "network namespace" else "EACCES"
    assert f"ATTACK EACCES, EACCES, EACCES, EACCES, {unix}, queue works" in summary_line(graded.results, ATTACK), (
        namespace
    )
