"""pytest fixtures for the integration tests: binaries and a topology per test."""

import os
import pathlib
import shutil
import tempfile

import pytest

import pop


def pytest_sessionstart(session):  # pylint: disable=unused-argument
    if os.geteuid() != 0:
        pytest.exit("integration tests need root (network namespaces)", returncode=1)
    pop.cleanup_stale()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
    # Remember each phase's report, so the topology fixture knows whether
    # the test failed and should keep its logs.
    rep = (yield).get_result()
    setattr(item, f"rep_{rep.when}", rep)


class Bins:
    """Where the BIRDs are: patched (ours) and stock (unpatched 2.17.5)."""

    def __init__(self):
        self.patched = self._dir("BIRD_PATCHED")
        self.stock = self._dir("BIRD_STOCK")

    @staticmethod
    def _dir(var):
        d = os.environ.get(var)
        if not d or not all((pathlib.Path(d) / b).is_file() for b in ("bird", "birdc")):
            pytest.exit(f"{var} must name a directory holding bird and birdc "
                        f"(got {d!r}); run tests/integration/run.sh", returncode=1)
        return pathlib.Path(d)


@pytest.fixture(scope="session")
def bins():
    return Bins()


@pytest.fixture
def sockdir():
    """A short directory for a controller socket (sun_path holds 107 bytes;
    the topology's own directories are long) and files beside it, that
    other users may traverse."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="apctl-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def topo(request):
    """A fresh Topology; torn down after the test whatever happened.

    Every test also fails if a BIRD logged a <BUG> (BIRD logs a failed
    ASSERT and carries on), checked before the topology and its logs go.
    On failure the daemons' logs are printed and the run dir is kept."""
    t = pop.Topology(request.node.name)
    yield t
    bugs = t.bug_lines()
    rep = getattr(request.node, "rep_call", None)
    failed = rep is None or rep.failed or bool(bugs)
    try:
        if failed:
            t.dump_logs()
    finally:
        t.teardown(keep_workdir=failed)
    assert bugs == {}, f"BIRD logged <BUG>: {bugs}"

