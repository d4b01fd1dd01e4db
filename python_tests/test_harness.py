"""The test suite's own promise: a failing case prints what is needed to rerun it."""
import os

import torch  # noqa: F401  (the generated test imports it)

pytest_plugins = ["pytester"]

HERE = os.path.dirname(__file__)


def test_a_failing_case_prints_its_seeds_and_shapes(pytester):
    with open(os.path.join(HERE, "conftest.py")) as f:
        pytester.makeconftest(f.read())
    with open(os.path.join(HERE, "helpers.py")) as f:
        pytester.makepyfile(helpers=f.read())
    pytester.makepyfile(test_case="""
        import torch
        from helpers import fresh_input

        def test_fails():
            x = fresh_input("cpu", (3, 5), torch.float32, seed=123)
            assert x.sum() > 1e9
        def test_passes():
            fresh_input("cpu", (2,), torch.float64, seed=77)
        """)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1, passed=1)
    out = result.stdout.str()
    assert "fresh_input(shape=(3, 5), dtype=torch.float32, seed=123" in out
    assert "seed=77" not in out  # only the failing test's draws, not a passing one's
