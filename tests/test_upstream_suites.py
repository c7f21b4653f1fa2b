"""openai-chatkit's own store and server tests, run against threadkit's stores.

The sdist of the installed openai-chatkit holds ``tests/test_store.py`` and
``tests/test_chatkit_server.py``, written against a sample store it does not ship. Each
backend runs both in a pytest subprocess, in a folder laid out as::

    pytest.ini               asyncio_mode = auto (upstream's setting)
    conftest.py              upstream_adapter/run_conftest.py
    helpers/mock_store.py    upstream_adapter/mock_store.py: their SQLiteStore is ours
    tests/_types.py          upstream_adapter/_types.py
    tests/test_store.py, tests/test_chatkit_server.py   from the sdist

Every upstream test must pass but those in ``ALLOWED_FAILURES``, which must fail.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, NoReturn

import pytest

import threadkit
from tests.conftest import BACKENDS, IN_CI, database_url_for, drop_postgres_database

ADAPTER = Path(__file__).resolve().parent / "upstream_adapter"
UPSTREAM_FILES = ("test_store.py", "test_chatkit_server.py")


class Allowed(NamedTuple):
    """An upstream test expected to fail: why, and what its error must show."""

    why: str
    shows: str


ALLOWED_FAILURES = {
    "test_default_id_generators_use_default_prefixes": Allowed(
        "it asserts the sample store's thr_/msg_ id prefixes;"
        " threadkit keeps the hosted API's cthr_/cthi_",
        shows="('thr_')",
    ),
}
PYTEST_INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
pythonpath = .
filterwarnings =
    ignore:Direct usage of named widget classes is deprecated:DeprecationWarning
"""
#: the upstream run of one backend takes a few seconds; this only stops a hang
RUN_TIMEOUT_SECONDS = 240
#: error lines shown per unexpected failure
ERROR_LINES = 6


def unavailable(reason: str) -> NoReturn:
    """Fail under CI, else skip loudly: the suites cannot run here."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    print(f"\n!!! SKIPPING the upstream suites: {reason} !!!\n", file=sys.stderr)
    pytest.skip(f"upstream suites skipped: {reason}")


def fetch_sdist(version: str, cache: Path, scratch: Path) -> Path:
    """openai-chatkit's sdist for ``version``, downloaded once into ``cache``."""
    folder = cache / version
    found = sorted(folder.glob("*.tar.gz"))
    if found:
        return found[0]
    command = [
        sys.executable,
        *("-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet"),
        *(f"openai-chatkit=={version}", "-d", str(scratch)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    downloaded = sorted(scratch.glob("*.tar.gz"))
    if done.returncode != 0 or not downloaded:
        unavailable(f"cannot download the openai-chatkit {version} sdist:\n{done.stderr[-2000:]}")
    folder.mkdir(parents=True, exist_ok=True)
    # (named by process: pytest-xdist workers may copy it at the same time)
    partial = folder / f"{downloaded[0].name}.{os.getpid()}.partial"
    shutil.copyfile(downloaded[0], partial)
    # Renamed only once complete: an interrupted copy is never taken for the sdist.
    return partial.replace(folder / downloaded[0].name)


def extract_upstream_tests(sdist: Path, into: Path) -> None:
    """Write the sdist's ``tests/<name>`` of each of ``UPSTREAM_FILES`` into ``into``."""
    with tarfile.open(sdist) as tar:
        members = {
            Path(m.name).name: m
            for m in tar.getmembers()
            if m.isfile() and Path(m.name).parent.name == "tests"
        }
        for name in UPSTREAM_FILES:
            member = members.get(name)
            stream = tar.extractfile(member) if member is not None else None
            if stream is None:
                pytest.fail(f"{sdist.name} has no tests/{name}", pytrace=False)
            (into / name).write_bytes(stream.read())


@pytest.fixture(scope="session")
def upstream_tests(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A folder with the upstream test files of the installed openai-chatkit."""
    if importlib.util.find_spec("pytest_asyncio") is None:
        unavailable("pytest-asyncio is not installed (it is in threadkit's test extra)")
    version = importlib.metadata.version("openai-chatkit")
    cache: pytest.Cache | None = getattr(request.config, "cache", None)  # None: no cacheprovider
    folder = (
        cache.mkdir("openai-chatkit-sdist")
        if cache is not None
        else tmp_path_factory.mktemp("openai-chatkit-sdist")
    )
    sdist = fetch_sdist(version, folder, tmp_path_factory.mktemp("download"))
    into = tmp_path_factory.mktemp(f"openai-chatkit-{version}-tests")
    extract_upstream_tests(sdist, into)
    return into


def lay_out(run: Path, upstream: Path) -> None:
    """The folder the upstream tests run in (see the module docstring)."""
    (run / "helpers").mkdir(parents=True)
    (run / "tests").mkdir()
    (run / "pytest.ini").write_text(PYTEST_INI)
    shutil.copyfile(ADAPTER / "run_conftest.py", run / "conftest.py")
    (run / "helpers" / "__init__.py").write_text("")
    shutil.copyfile(ADAPTER / "mock_store.py", run / "helpers" / "mock_store.py")
    # A regular package, so that it wins over threadkit's own ``tests`` package.
    (run / "tests" / "__init__.py").write_text("")
    shutil.copyfile(ADAPTER / "_types.py", run / "tests" / "_types.py")
    for name in UPSTREAM_FILES:
        shutil.copyfile(upstream / name, run / "tests" / name)


@pytest.fixture
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The adapter's environment for the backend: a SQLite folder or a fresh PostgreSQL
    database (dropped afterwards)."""
    backend: str = request.param
    if backend == "sqlite":
        folder = tmp_path / "sqlite"
        folder.mkdir()
        yield {"THREADKIT_UPSTREAM_BACKEND": backend, "THREADKIT_UPSTREAM_SQLITE_DIR": str(folder)}
        return
    url = database_url_for(backend, tmp_path)
    try:
        yield {"THREADKIT_UPSTREAM_BACKEND": backend, "THREADKIT_UPSTREAM_POSTGRES_URL": url}
    finally:
        drop_postgres_database(url)


@dataclass(frozen=True)
class Outcome:
    """One upstream test's result in the JUnit report."""

    file: str
    test: str  # e.g. "TestSqliteStore::test_load_threads"
    status: str  # passed, failed, error or skipped
    details: str = ""  # the first lines of each error
    text: str = ""  # the whole report of each error

    @property
    def name(self) -> str:
        return self.test.rpartition("::")[2].partition("[")[0]


def read_junit(report: Path) -> list[Outcome]:
    outcomes = []
    for case in ET.parse(report).iter("testcase"):
        module, _, cls = case.get("classname", "").partition(".test_")
        file = f"test_{cls.partition('.')[0]}.py" if module == "tests" else "?"
        inner = cls.partition(".")[2]
        test = f"{inner}::{case.get('name')}" if inner else str(case.get("name"))
        status, details, text = "passed", "", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                # An error (say in teardown) outranks a failure reported before it.
                if child.tag == "error" or status == "passed":
                    status = child.tag if child.tag != "failure" else "failed"
                details += first_error_lines(child.get("message", ""), child.text or "")
                text += f"{child.get('message', '')}\n{child.text or ''}\n"
        outcomes.append(Outcome(file, test, status, details, text))
    return outcomes


def first_error_lines(message: str, text: str) -> str:
    """The test's line, where the error was raised and the error's first lines."""
    lines = text.splitlines()
    places = [line for line in lines if ": in " in line and not line.startswith(" ")]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    shown = list(dict.fromkeys(places[:1] + places[-1:]))
    shown += (errors or message.splitlines())[:ERROR_LINES]
    return "".join(f"\n      {shorten(line)}" for line in shown if line)


def shorten(line: str, width: int = 240) -> str:
    return line if len(line) <= width else f"{line[: width - 5]}[...]"


def allowed(outcome: Outcome) -> bool:
    """Whether the outcome is an expected failure, failing the way it is expected to."""
    expected = ALLOWED_FAILURES.get(outcome.name)
    return expected is not None and outcome.status == "failed" and expected.shows in outcome.text


def tail(log: Path, size: int = 6000) -> str:
    return log.read_text(errors="replace")[-size:]


@pytest.mark.parametrize("backend_env", BACKENDS, indirect=True, ids=BACKENDS)
def test_upstream_suites(backend_env: dict[str, str], upstream_tests: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    lay_out(run, upstream_tests)
    report = tmp_path / "upstream.xml"
    log = tmp_path / "upstream.log"
    counted = tmp_path / "collected.txt"
    # Our threadkit first on the path: the one under test, whatever else is installed.
    source = str(Path(threadkit.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (str(run), source, os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        **backend_env,
        "PYTHONPATH": path,
        "THREADKIT_UPSTREAM_COLLECTED": str(counted),
    }
    command = [
        *(sys.executable, "-m", "pytest", "-c", str(run / "pytest.ini"), "--rootdir", str(run)),
        *("-p", "no:cacheprovider", "-q", "--tb=short", f"--junitxml={report}"),
        *(f"tests/{name}" for name in UPSTREAM_FILES),
    ]
    with log.open("wb") as out:
        try:
            done = subprocess.run(
                command,
                cwd=run,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=RUN_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"the upstream suites ran over {RUN_TIMEOUT_SECONDS} s:\n{tail(log)}")
    assert done.returncode in (0, 1) and report.exists(), (
        f"the upstream pytest run did not complete (exit {done.returncode}):\n{tail(log)}"
    )

    outcomes = read_junit(report)
    ran = {o.file for o in outcomes}
    assert ran == set(UPSTREAM_FILES), f"ran {sorted(ran)}, not {UPSTREAM_FILES}:\n{tail(log)}"
    collected = int(counted.read_text())
    executed = [o for o in outcomes if o.status != "skipped"]
    assert len(executed) >= collected, (
        f"{collected} upstream tests collected, {len(executed)} executed; skipped:\n"
        + "\n".join(f"  {o.file}::{o.test}{o.details}" for o in outcomes if o.status == "skipped")
    )

    unexpected = [o for o in outcomes if o.status != "passed" and not allowed(o)]
    not_failing = sorted(ALLOWED_FAILURES.keys() - {o.name for o in outcomes if allowed(o)})
    if unexpected or not_failing:
        pytest.fail(
            "\n".join(
                [f"{len(unexpected)} of {len(outcomes)} upstream tests failed unexpectedly:"]
                + [f"  {o.status.upper()} {o.file}::{o.test}{o.details}" for o in unexpected]
                + [
                    f"  {name} was expected to fail ({ALLOWED_FAILURES[name].why}, its error"
                    f" showing {ALLOWED_FAILURES[name].shows}) but did not: revisit"
                    " ALLOWED_FAILURES"
                    for name in not_failing
                ]
            ),
            pytrace=False,
        )
