"""`jtorch run --nproc-per-node N script.py args` (torchrun's single-node launcher).

Starts N processes of `jtorch run script.py args` (so `import torch` is jtorch) with
torch's rendezvous variables set (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
MASTER_ADDR, MASTER_PORT); waits for all. The first failure stops the rest and its
exit status is returned, as torchrun does.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (torchrun's standalone mode does the same)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _nproc(value):
    if value in ("auto", "cpu"):
        return 1 if value == "cpu" else max(1, _gpu_count())
    if value == "gpu":
        return _gpu_count()
    n = int(value)
    if n < 1:
        raise ValueError(f"--nproc-per-node must be positive, got {n}")
    return n


def _gpu_count():
    import jax
    try:
        return len(jax.devices("gpu"))
    except RuntimeError:
        return 0


def launch(script, args, nproc_per_node, master_addr="127.0.0.1", master_port=None,
           grace=5.0):
    """Run `script` in nproc_per_node ranks; returns the exit status to propagate."""
    n = _nproc(nproc_per_node)
    port = int(master_port) if master_port else free_port(master_addr)
    procs = []
    for rank in range(n):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(n),
                   LOCAL_WORLD_SIZE=str(n), GROUP_RANK="0", ROLE_RANK=str(rank),
                   ROLE_WORLD_SIZE=str(n), MASTER_ADDR=master_addr, MASTER_PORT=str(port),
                   TORCHELASTIC_RUN_ID="jtorch-none")
        cmd = [sys.executable, "-m", "jtorch.distributed._child", script, *args]
        procs.append(subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent))
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _wait(procs, grace)
    except KeyboardInterrupt:
        _stop(procs, grace)
        return 130
    except SystemExit:
        _stop(procs, grace)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def _die_with_parent():
    """Linux: a rank gets SIGTERM if the launcher dies (even by SIGKILL)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _wait(procs, grace):
    failed = None
    while True:
        codes = [p.poll() for p in procs]
        for rank, rc in enumerate(codes):
            if rc not in (None, 0) and failed is None:
                failed = (rank, rc)
        if failed is not None:
            _stop(procs, grace)
            rank, rc = failed
            print(f"jtorch run: rank {rank} (pid {procs[rank].pid}) failed with exit status "
                  f"{rc}; the other ranks were stopped", file=sys.stderr)
            return rc if rc > 0 else 128 - rc   # killed by signal s: 128 + s, like a shell
        if all(rc == 0 for rc in codes):
            return 0
        time.sleep(0.05)


def _stop(procs, grace):
    """SIGTERM the ranks still running, SIGKILL whoever outlives `grace` seconds."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(argv=None):
    """`python -m jtorch.distributed.run --nproc-per-node N script.py args`."""
    from .._cli import main as cli_main
    return cli_main(["run", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
