"""Assertion audit: a test that passes without reaching a single assertion fails.

A test body that returns early, a loop over kept objects that turned out empty, or a check hidden behind a
condition that never held all pass silently; this plugin makes them fail. While a test's body runs it counts

- every plain ``assert`` that passed in the test tree (test modules, conftest files and the helpers registered
  with ``pytest.register_assert_rewrite``): pyproject sets ``enable_assertion_pass_hook = true``, so pytest's
  rewriter gives each assert a pass branch;
- every ``numpy.testing.assert_*`` call that returned;
- every ``pytest.raises`` / ``pytest.warns`` that completed: the block raised (warned) what was expected;

and a hypothesis test counts across all its examples. Assertions in fixtures do not count: they check the
arrangement, not the behaviour under test. A passed test with a count of zero is turned into a failure.

On when ``CI`` is set (``.ci/run`` exports ``CI=true``) or ``GEOAUG_ASSERT_AUDIT=1``; ``GEOAUG_ASSERT_AUDIT=0``
turns it off.

Cost. Implementing the ``pytest_assertion_pass`` hook makes every passing assert build its failure
explanation (reprs of every operand, a diff for ``==`` on sequences) and go through pluggy: 40 us for
``assert x == 1`` and 200 us for ``assert np.array_equal(a, b)`` on 2,000 floats, measured here, which is
seconds over a suite with assertion loops. So the pass branch's own question, "does any plugin implement
the hook?" (``_pytest.assertion.rewrite._check_if_assertion_pass_impl``, called by every passing rewritten
assert), is wrapped to count and answer as before: about 0.2 us an assert. Where a pytest lacks that
function the audit falls back to implementing the hook (slower, same counts).
"""

from __future__ import annotations

import functools
import os
import sys

import _pytest
import numpy.testing
import pluggy
import pytest

ENV = "GEOAUG_ASSERT_AUDIT"
# Only checks written in the test tree count: pytest also rewrites the asserts of plugins installed by entry
# point (hypothesis among them), and those run inside every hypothesis test.
TESTS = os.path.dirname(os.path.abspath(__file__)) + os.sep
_PLUMBING = tuple(os.path.dirname(m.__file__) + os.sep for m in (_pytest, pluggy))


def _from_tests(depth: int) -> bool:
    """Whether the code ``depth`` frames above the caller sits in the test tree."""
    return sys._getframe(depth + 1).f_code.co_filename.startswith(TESTS)


def _hook_site_in_tests() -> bool:
    """Whether the assert that fired pytest_assertion_pass sits in the test tree: the first frame above the
    hook machinery (pluggy, _pytest) is the asserting code. (Fallback path only.)"""
    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if not name.startswith(_PLUMBING):
            return name.startswith(TESTS)
        f = f.f_back
    return False


def enabled() -> bool:
    flag = os.environ.get(ENV)
    if flag is not None and flag != "":
        return flag not in ("0", "false", "no", "off")
    return bool(os.environ.get("CI"))


class _CountingContext:
    """Wraps the context manager of ``pytest.raises``/``pytest.warns``; counts when it exits successfully."""

    def __init__(self, audit: AssertAudit, inner, kind: str):
        self._audit, self._inner, self._kind = audit, inner, kind

    def __enter__(self):
        self._counts = _from_tests(1)
        return self._inner.__enter__()

    def __exit__(self, exc_type, exc, tb):
        __tracebackhide__ = True
        suppressed = self._inner.__exit__(exc_type, exc, tb)  # raises when the expectation was not met
        # raises: the expected exception was caught (suppressed); warns: the block ended normally and the
        # checker found the warning (an exception escaping the block is not a check).
        if self._counts and ((self._kind == "raises" and suppressed) or (self._kind == "warns" and exc_type is None)):
            self._audit.count += 1
        return suppressed

    def __getattr__(self, name):
        return getattr(self._inner, name)


class AssertAudit:
    """The plugin object (registered by tests/conftest.py)."""

    def __init__(self) -> None:
        self.count = 0
        self.total = self.tests = 0
        self.empty: list[str] = []
        self._patched: list[tuple[object, str, object]] = []

    # --- counting -------------------------------------------------------------------------------------------
    def _count_passing_asserts(self) -> None:
        """Count every passing rewritten assert of the test tree at its pass branch (see the module doc)."""
        from _pytest.assertion import rewrite

        asked = getattr(rewrite, "_check_if_assertion_pass_impl", None)
        if asked is None:
            self.pytest_assertion_pass = self._on_assertion_pass
            return
        tests, frame = TESTS, sys._getframe

        def counting_check() -> bool:
            if frame(1).f_code.co_filename.startswith(tests):  # the caller is the passing assert itself
                self.count += 1
            return asked()

        self._patch(rewrite, "_check_if_assertion_pass_impl", counting_check)

    def _on_assertion_pass(self, item, lineno, orig, expl):
        if _hook_site_in_tests():
            self.count += 1

    def _patch(self, owner, name, new):
        self._patched.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    def _counted(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            __tracebackhide__ = True
            out = fn(*args, **kwargs)
            if out is not None and hasattr(out, "__exit__"):  # assert_raises(Exc) / assert_warns(W) as a context
                return _CountingContext(self, out, "warns" if "warn" in fn.__name__ else "raises")
            self.count += _from_tests(1)
            return out

        return wrapper

    def install(self) -> None:
        """Wrap numpy.testing's asserts and pytest.raises/warns. Done at configure time, before any test
        module is imported, so ``from numpy.testing import assert_allclose`` binds the counting wrapper too."""
        self._count_passing_asserts()
        for name in dir(numpy.testing):
            fn = getattr(numpy.testing, name)
            if name.startswith("assert_") and callable(fn):
                self._patch(numpy.testing, name, self._counted(fn))
        raises, warns = pytest.raises, pytest.warns

        @functools.wraps(raises)
        def counting_raises(*args, **kwargs):
            __tracebackhide__ = True
            out = raises(*args, **kwargs)
            if hasattr(out, "__exit__"):
                return _CountingContext(self, out, "raises")
            self.count += _from_tests(1)  # call form: raises(Exc, fn, *args) returned, so fn raised Exc
            return out

        @functools.wraps(warns)
        def counting_warns(*args, **kwargs):
            __tracebackhide__ = True
            out = warns(*args, **kwargs)
            if len(args) > 1:  # call form: warns(W, fn, *args) returned fn's result after checking
                self.count += _from_tests(1)
                return out
            return _CountingContext(self, out, "warns")

        self._patch(pytest, "raises", counting_raises)
        self._patch(pytest, "warns", counting_warns)

    def uninstall(self) -> None:
        while self._patched:
            owner, name, old = self._patched.pop()
            setattr(owner, name, old)

    # --- the check ------------------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item):
        self.count = 0

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.when != "call" or not report.passed or hasattr(report, "wasxfail"):
            return report
        self.tests, self.total = self.tests + 1, self.total + self.count
        if self.count == 0:
            self.empty.append(item.nodeid)
            report.outcome = "failed"
            report.longrepr = (
                f"{item.nodeid} passed without reaching an assertion (assert, numpy.testing, pytest.raises "
                f"or pytest.warns): it checks nothing. Add the assertion it was meant to make." + _stale_hint(item)
            )
        return report

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_line(
            f"assertion audit: {self.tests} passing tests reached {self.total} checks; "
            f"{len(self.empty)} reached none{' (failed above)' if self.empty else ''}"
        )


def _stale_hint(item) -> str:
    """If the test's code was rewritten without the pass hook (a .pyc cached before the hook was enabled),
    its plain asserts cannot be counted: say so instead of blaming the test."""
    obj = getattr(item, "obj", None)
    obj = getattr(getattr(obj, "hypothesis", None), "inner_test", obj)
    code = getattr(obj, "__code__", None)
    names = set()
    stack = [code] if code is not None else []
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if hasattr(k, "co_names"))
    if "_format_explanation" in names and "_call_assertion_pass" not in names:
        return (
            "\n(The module's asserts were rewritten without the pass hook: a stale .pyc from before "
            "enable_assertion_pass_hook was set. Delete the __pycache__ folders under tests/ and rerun.)"
        )
    return ""


def register(config) -> None:
    """Called from tests/conftest.py's pytest_configure."""
    if not enabled():
        return
    if not config.getini("enable_assertion_pass_hook"):
        raise pytest.UsageError(f"{ENV}: needs enable_assertion_pass_hook = true in [tool.pytest.ini_options]")
    audit = AssertAudit()
    audit.install()  # before register: on the fallback path it adds the pytest_assertion_pass hook
    config.pluginmanager.register(audit, "geoaug-assert-audit")
    config.add_cleanup(audit.uninstall)
