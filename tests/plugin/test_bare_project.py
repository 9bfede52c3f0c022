"""The fixtures in a user's project with no configuration: README snippet and docs recipes.

Each test writes a bare project (only test files, sometimes a conftest) and runs
pytest on it in a subprocess, on asyncio alone and on asyncio and trio.
"""

from __future__ import annotations

import importlib.util
import textwrap

import pytest

from tests.docpages import DOCS, marked_examples
from tests.plugin.bare import (
    ASYNCIO_ONLY_CONFTEST,
    BOTH_BACKENDS_CONFTEST,
    outcomes,
    readme_testing_snippet,
    run_bare,
)

ASSERTING_TESTS = """
import sniffio


async def test_unmarked_async_test_runs(fake_broker):
    async with fake_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare("unmarked")
    assert "unmarked" in fake_broker.queues()
    print("RAN ON", sniffio.current_async_library())


async def test_unmarked_tls(fake_broker_tls):
    async with fake_broker_tls.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare("over-tls")
    assert "over-tls" in fake_broker_tls.queues()
"""


#: anyio's own ``anyio_backend`` runs a test on every backend it finds installed.
DEFAULT_BACKENDS = 2 if importlib.util.find_spec("trio") else 1


def test_readme_snippet_verbatim_runs_without_configuration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_my_service=readme_testing_snippet())
    result = run_bare(pytester, "-v")
    assert outcomes(result) == {"passed": 1 + DEFAULT_BACKENDS}, result.stdout.str()
    result.stdout.fnmatch_lines(["*test_publishes?asyncio? PASSED*"])


def test_readme_snippet_on_asyncio_only(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(ASYNCIO_ONLY_CONFTEST)
    pytester.makepyfile(test_my_service=readme_testing_snippet())
    result = run_bare(pytester)
    assert outcomes(result) == {"passed": 2}, result.stdout.str()


def test_readme_snippet_verbatim_runs_on_trio_too(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(BOTH_BACKENDS_CONFTEST)
    pytester.makepyfile(test_my_service=readme_testing_snippet())
    result = run_bare(pytester, "-v")
    assert outcomes(result) == {"passed": 3}, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*test_publishes?asyncio? PASSED*", "*test_publishes?trio? PASSED*"]
    )


def test_unmarked_async_tests_run_on_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(ASYNCIO_ONLY_CONFTEST)
    pytester.makepyfile(test_user=ASSERTING_TESTS)
    result = run_bare(pytester, "-s")
    assert outcomes(result) == {"passed": 2}, result.stdout.str()
    result.stdout.fnmatch_lines(["*RAN ON asyncio*"])
    assert "RAN ON trio" not in result.stdout.str()


def test_unmarked_async_tests_follow_the_users_backends(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(BOTH_BACKENDS_CONFTEST)
    pytester.makepyfile(test_user=ASSERTING_TESTS)
    result = run_bare(pytester, "-s")
    assert outcomes(result) == {"passed": 4}, result.stdout.str()
    result.stdout.fnmatch_lines(["*RAN ON asyncio*", "*RAN ON trio*"])


def test_other_async_tests_are_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        async def test_without_a_broker():
            pass
        """
    )
    result = run_bare(pytester)
    # pytest's own verdict on an async test no plugin runs: we only claim broker tests
    assert "async def functions are not natively supported" in result.stdout.str()


@pytest.mark.parametrize("backends", ["asyncio", "asyncio+trio"])
def test_docs_testing_recipes_run_in_a_bare_project(
    pytester: pytest.Pytester, backends: str
) -> None:
    recipes = [
        code
        for kind, _, code in marked_examples(DOCS / "testing.rst", "testing-example")
        if kind == "pytest"
    ]
    assert recipes
    if backends == "asyncio+trio":
        pytester.makeconftest(BOTH_BACKENDS_CONFTEST)
    for number, code in enumerate(recipes):
        (pytester.path / f"test_recipe_{number}.py").write_text(code + "\n")
    result = run_bare(pytester, "-rs", without_pytest_asyncio=False)  # a recipe uses it
    counts = outcomes(result)
    assert counts.get("failed", 0) == 0, result.stdout.str()
    assert counts.get("errors", 0) == 0, result.stdout.str()
    assert counts["passed"] >= len(recipes)


def test_pytest_asyncio_recipe_file(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_asyncio")
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            import asyncio

            import pytest

            from async_amqp_testing import BlockingFakeBroker, FakeBroker


            @pytest.mark.asyncio
            async def test_owned_by_pytest_asyncio(fake_broker):
                assert isinstance(fake_broker, BlockingFakeBroker)
                asyncio.get_running_loop()
                async with fake_broker.connect() as conn, conn.new_channel() as chan:
                    await chan.queue_declare("pa")
                assert "pa" in fake_broker.queues()


            async def test_unmarked_goes_to_anyio(fake_broker):
                assert isinstance(fake_broker, FakeBroker)
                async with fake_broker.connect() as conn, conn.new_channel() as chan:
                    await chan.queue_declare("anyio")
            """
        )
    )
    result = run_bare(pytester, without_pytest_asyncio=False)
    assert outcomes(result) == {"passed": 1 + DEFAULT_BACKENDS}, result.stdout.str()


def test_pytest_asyncio_auto_mode_keeps_its_tests(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_asyncio")
    pytester.makeini("[pytest]\nasyncio_mode = auto\n")
    pytester.makepyfile(
        test_user="""
        import asyncio

        from async_amqp_testing import BlockingFakeBroker


        async def test_auto_mode(fake_broker):
            assert isinstance(fake_broker, BlockingFakeBroker)
            asyncio.get_running_loop()
            async with fake_broker.connect() as conn, conn.new_channel() as chan:
                await chan.queue_declare("auto")
            assert "auto" in fake_broker.queues()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=180)
    assert outcomes(result) == {"passed": 1}, result.stdout.str()
