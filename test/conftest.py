"""Shared fixtures. Every test that starts DDS participants gets its own ROS_DOMAIN_ID and keeps discovery
on this machine, so concurrent runs never hear each other and no traffic leaves loopback."""
import itertools
import os
import subprocess
import sys

import pytest

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
_domains = itertools.count((os.getpid() * 7) % 150)


def fresh_domain_id() -> int:
    """A domain id for one test; ids stay within Fast DDS's valid range (0-232)."""
    return 20 + next(_domains) % 200


@pytest.fixture
def domain_id(monkeypatch) -> int:
    domain = fresh_domain_id()
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    return domain


@pytest.fixture
def ros_context(domain_id):
    """An rclpy context on this test's domain, shut down afterwards."""
    import rclpy
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    yield context
    context.try_shutdown()


@pytest.fixture
def processes():
    """Start Python processes with ``processes.start(args)`` (``prefix``: a command that runs the interpreter, e.g.
    setpriv); all are stopped (SIGINT, then SIGKILL) at teardown, whether the test passed or not."""

    class Processes(list):
        def start(self, args, prefix=(), **kwargs):
            process = subprocess.Popen([*prefix, sys.executable, *args], stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, start_new_session=True, **kwargs)
            self.append(process)
            return process

    from rpl_ros.runner import stop  # here: it imports the simulation, which most tests never need
    started = Processes()
    yield started
    stop(started)
