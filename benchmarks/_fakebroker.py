"""The fake broker (async_amqp_testing) as a separate process, for ``--broker fake``.

It runs as ``python -m async_amqp_testing --port 0`` so that broker and client
never share a process or an event loop, exactly as a test suite would use it
through the CLI; the port is read from the URL it prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parent.parent
_URL = re.compile(rb"amqp://[^@]+@127\.0\.0\.1:(\d+)/")


class FakeBrokerProcess:
    """Start the fake broker on a free port; stop it (SIGTERM, then kill) on exit."""

    def __init__(self, *extra_args: str, pythonpath: Path | None = None) -> None:
        self.extra_args = extra_args
        #: where async_amqp_testing is imported from (default: this repository)
        self.source = pythonpath or REPO
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FakeBrokerProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.source), env.get("PYTHONPATH")]))
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "async_amqp_testing",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                *self.extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=self.source,  # ``-m`` puts the working directory first on sys.path
        )
        self._process = process
        assert process.stdout is not None
        for line in process.stdout:
            found = _URL.search(line)
            if found:
                self.port = int(found.group(1))
                return self
        self.__exit__(None, None, None)
        raise RuntimeError("the fake broker exited before printing its URL")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
