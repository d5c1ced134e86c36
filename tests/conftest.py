"""Shared test setup. In CI (CI=true) a test that skips because the training extra is missing fails the
run: the extra is installed there, so a skip would hide a broken install; and a test that passes without
reaching an assertion fails (tests/assert_audit.py; GEOAUG_ASSERT_AUDIT=1 turns it on outside CI)."""

import os

import pytest
from hypothesis import HealthCheck, settings

# Shared helpers may hold asserts: rewrite them (detailed failures, and the assertion audit counts them).
pytest.register_assert_rewrite("helpers", "strategies", "train_helpers")

import assert_audit  # noqa: E402  (after the rewrite registration, like the helpers it sits beside)

# CI draws the same 200 examples every run (derandomize): a red run is a reproducible failure, never a draw of
# luck; the dev profile draws new ones each run, which is where new counterexamples turn up.
settings.register_profile(
    "ci", max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config):
    config.addinivalue_line("markers", "train: needs the training extra (torch, ms-swift, ...)")
    assert_audit.register(config)  # a passing test that reached no assertion fails (on in CI)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need a CUDA device: on a machine without one they are deselected and listed (never
    skipped: CI fails on a skip), and benchmarks/gpu_smoke.sh runs them where a GPU is lent."""
    gpu = [it for it in items if it.get_closest_marker("gpu")]
    if not gpu or _cuda():
        return
    items[:] = [it for it in items if not it.get_closest_marker("gpu")]
    config.hook.pytest_deselected(items=gpu)
    _gpu_deselected.extend(it.nodeid for it in gpu)


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


_gpu_deselected = []
_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _gpu_deselected:
        print(f"\n{len(_gpu_deselected)} GPU test(s) deselected (no CUDA device; benchmarks/gpu_smoke.sh runs them):")
        for n in _gpu_deselected:
            print("  ", n)
    if os.environ.get("CI") and _skipped:
        print(f"\nCI: {len(_skipped)} test(s) skipped; every test must run in CI:")
        for n in _skipped:
            print("  ", n)
        session.exitstatus = 1
