"""A cheap stand-in for `telemetry-pipeline dev`: devserver.supervise over two small children.

Each child listens on its port (like Dagster's webserver and the dashboard) and starts a
grandchild of its own (like `dagster dev` starting its daemon), then prints one `ready` line with
the pids and blocks. Run as `python -m telemetry_pipeline_tests.supervised_fixture PORT PORT`.
"""

from __future__ import annotations

import sys

import click

from telemetry_pipeline.apps.devserver import Child, supervise

CHILD = """
import os, socket, subprocess, sys
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen()
grandchild = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
# One write(2) of a whole line: under PIPE_BUF bytes it cannot interleave with the other child's
# (print may write the text and its newline separately).
os.write(1, f"ready port={sys.argv[1]} child={os.getpid()} grandchild={grandchild.pid}\\n".encode())
sock.accept()  # blocks until killed
"""


def main(ports: list[str]) -> int:
    children = [
        Child(f"child-{port}", [sys.executable, "-c", CHILD, port], "127.0.0.1", int(port)) for port in ports
    ]
    try:
        return supervise(children)
    except click.ClickException as exc:  # as the CLI shows it
        exc.show()
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
