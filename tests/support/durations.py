"""A pytest plugin: the session fails when one test runs longer than `max_test_seconds`.

Speed targets live in benchmarks, not in timed unit tests; this is a guard against the suite
growing unseen. A test's time is its setup, call and teardown together (a session-scoped audit
is paid by the first test that asks for it); tests that carry such an audit are named in
`max_test_seconds_exceptions` (pyproject.toml, docs/testing.md).
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("max_test_seconds", "longest a test may take (setup + call + teardown)",
                  default="0")
    parser.addini("max_test_seconds_exceptions", "test ids exempt from max_test_seconds",
                  type="linelist", default=[])


_DURATIONS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _DURATIONS[report.nodeid] = _DURATIONS.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when a test ran longer than `max_test_seconds` without being named
    an exception in pyproject.toml, and say which."""
    limit = float(session.config.getini("max_test_seconds") or 0)
    allowed = set(session.config.getini("max_test_seconds_exceptions"))
    over = {t: s for t, s in _DURATIONS.items() if limit and s > limit and t not in allowed}
    if over:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for test, seconds in sorted(over.items(), key=lambda x: -x[1]):
            line = f"{test}: {seconds:.0f} s, over max_test_seconds ({limit:.0f} s)"
            if reporter is not None:
                reporter.write_line(line, red=True)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
