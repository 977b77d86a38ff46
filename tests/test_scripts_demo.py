"""`scripts/demo` fails loudly: a taken port stops it at once, naming the port; a process of
the demo that stops ends the demo with a non-zero exit and the end of that process's log; and
Ctrl-C stops everything quietly."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import ROOT, free_port

DEMO = str(ROOT / "scripts" / "demo")


def demo_env(tmp_path: Path, port: int) -> dict[str, str]:
    """The demo on its own port, database and log folder (never demo.sqlite3)."""
    return {
        **os.environ,
        "PORT": str(port),
        "DEMO_DATABASE_URL": f"sqlite:///{tmp_path}/demo.sqlite3",
        "TMPDIR": str(tmp_path),
    }


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A database the demo's migrate finds done (migrating a new one takes seconds)."""
    database = tmp_path_factory.mktemp("migrated") / "demo.sqlite3"
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{database}"},
        check=True,
        timeout=120,
    )
    return database


def start_demo(tmp_path: Path, port: int, migrated: Path) -> tuple[subprocess.Popen, Path, Path]:
    shutil.copy(migrated, tmp_path / "demo.sqlite3")
    out, err = tmp_path / "demo.out", tmp_path / "demo.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        demo = subprocess.Popen(
            [DEMO],
            cwd=ROOT,
            env=demo_env(tmp_path, port),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group, as in a terminal
        )
    return demo, out, err


def wait_until_running(demo: subprocess.Popen, out: Path, err: Path, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "fbsync demo is running" in out.read_text():
            return
        if demo.poll() is not None:
            raise AssertionError(f"the demo ended early: {err.read_text()}")
        time.sleep(0.2)
    raise AssertionError("the demo did not start")


def processes_of(demo: subprocess.Popen) -> dict[str, psutil.Process]:
    """The demo's long-running processes by name: sandbox, worker, daphne."""
    found = {}
    for child in psutil.Process(demo.pid).children():
        command = " ".join(child.cmdline())
        for name, marker in (("sandbox", "graph_sandbox"), ("worker", "run_worker")):
            if marker in command:
                found[name] = child
        if "daphne" in command:
            found["daphne"] = child
    assert set(found) == {"sandbox", "worker", "daphne"}, found
    return found


def stop(demo: subprocess.Popen, children: list[psutil.Process]) -> None:
    """Whatever a failed test left running."""
    if demo.poll() is None:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    for child in children:
        if child.is_running():
            child.kill()


def test_a_taken_port_stops_the_demo_at_once_naming_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [DEMO],
            cwd=ROOT,
            env=demo_env(tmp_path, port),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert done.returncode == 1
    assert time.monotonic() - started < 10  # before the setup, the migrations, the processes
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "PORT=" in done.stderr  # how to choose another
    assert "running" not in done.stdout


def test_a_port_that_is_not_a_number_is_refused(tmp_path):
    done = subprocess.run(
        [DEMO],
        cwd=ROOT,
        env={**demo_env(tmp_path, 0), "PORT": "80a"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert "PORT must be a port number" in done.stderr


@pytest.mark.slow
# daphne (the process the old demo let die unnoticed); the worker and the sandbox are watched
# by the same loop.
@pytest.mark.parametrize("victim", ["daphne"])
def test_a_process_that_stops_ends_the_demo_with_the_end_of_its_log(tmp_path, victim, migrated):
    demo, out, err = start_demo(tmp_path, free_port(), migrated)
    children: list[psutil.Process] = []
    try:
        wait_until_running(demo, out, err)
        processes = processes_of(demo)
        children = list(processes.values())
        logs = re.search(r"Logs: (\S+)/\{sandbox,worker,daphne\}\.log", out.read_text())
        assert logs, out.read_text()
        log = Path(logs.group(1)) / f"{victim}.log"
        assert log.read_text().strip(), f"{victim} wrote nothing to {log}"

        processes[victim].kill()
        code = demo.wait(timeout=30)
    finally:
        stop(demo, children)

    assert code == 1
    stderr = err.read_text()
    assert f"the {victim} process stopped (exit status 137). The end of {log}:" in stderr
    assert f"  | {log.read_text().strip().splitlines()[-1]}" in stderr
    # The others were stopped with it.
    assert psutil.wait_procs(children, timeout=10)[1] == []


@pytest.mark.slow
def test_ctrl_c_stops_every_process_quietly(tmp_path, migrated):
    demo, out, err = start_demo(tmp_path, free_port(), migrated)
    children: list[psutil.Process] = []
    try:
        wait_until_running(demo, out, err)
        children = list(processes_of(demo).values())

        os.killpg(demo.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
        code = demo.wait(timeout=30)
    finally:
        stop(demo, children)

    assert code == 130
    assert "stopped (exit status" not in err.read_text()
    assert psutil.wait_procs(children, timeout=10)[1] == []


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of scripts/setup in a checkout whose .venv exists and whose pip only notes what
    it was asked to install."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup", tmp_path / "scripts" / "setup")
    for name in ("requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".env").write_text("# the developer's\n")
    bin_ = tmp_path / ".venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "python").symlink_to(sys.executable)
    (bin_ / "pip").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/pip.calls\n')
    (bin_ / "pip").chmod(0o755)
    return tmp_path


def setup(checkout: Path, *args: str) -> list[str]:
    """Run the copy of scripts/setup; return the pip commands it ran."""
    calls = checkout / "pip.calls"
    calls.unlink(missing_ok=True)
    subprocess.run([checkout / "scripts" / "setup", *args], check=True, timeout=60)
    return calls.read_text().splitlines() if calls.exists() else []


def test_the_demo_installs_only_what_the_app_needs_and_the_tests_the_rest(checkout):
    assert "scripts/setup --app" in Path(DEMO).read_text()
    assert "scripts/setup --dev" in (ROOT / "scripts" / "test").read_text()

    assert setup(checkout, "--app") == ["install --quiet -r requirements.txt"]
    assert setup(checkout, "--app") == []  # installed: nothing to do
    assert setup(checkout, "--dev") == ["install --quiet -r requirements-dev.txt"]
    assert setup(checkout) == []  # the development set is the default (.ci/run)
    assert setup(checkout, "--app") == []  # the development set holds the app's

    with (checkout / "requirements.txt").open("a") as requirements:
        requirements.write("# a changed pin\n")
    assert setup(checkout, "--app") == ["install --quiet -r requirements.txt"]
    assert setup(checkout) == ["install --quiet -r requirements-dev.txt"]


def test_setup_refuses_an_unknown_option(checkout):
    done = subprocess.run(
        [checkout / "scripts" / "setup", "--everything"], capture_output=True, text=True
    )

    assert done.returncode == 2
    assert "usage: scripts/setup [--dev | --app]" in done.stderr
