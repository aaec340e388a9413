"""pytest fixtures for the integration tests: binaries and a topology per test."""

import os
import pathlib

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
def topo(request):
    """A fresh Topology; torn down after the test whatever happened.

    On failure the daemons' logs are printed and the run dir is kept."""
    t = pop.Topology(request.node.name)
    yield t
    rep = getattr(request.node, "rep_call", None)
    failed = rep is None or rep.failed
    try:
        if failed:
            t.dump_logs()
    finally:
        t.teardown(keep_workdir=failed)

