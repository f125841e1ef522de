"""Fetching from Maven Central into the cache (bridge.sandbox.maven, kafka_jars), with a
stand-in ``mvn`` on PATH: no network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bridge.errors import MissingToolError, SandboxError
from bridge.sandbox.kafka_jars import classpath_arg, ensure_classpath, log4j_config
from bridge.sandbox.maven import cache_lock, cache_root, replace_dir, run_mvn, staging_dir


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "exchange-bridge"


def fake_mvn(bin_dir: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir.mkdir(exist_ok=True)
    mvn = bin_dir / "mvn"
    mvn.write_text("#!/bin/sh\n" + script)
    mvn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_the_cache_is_under_xdg_cache_home(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cache_root() == cache
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "exchange-bridge"


def test_cache_lock_makes_its_lock_file(cache: Path) -> None:
    with cache_lock("thing-1.0"):
        assert (cache / "thing-1.0.lock").is_file()


def test_a_staging_dir_goes_whatever_happens(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), staging_dir(tmp_path / "parent", ".stage-") as staging:
        assert staging.parent == tmp_path / "parent" and staging.name.startswith(".stage-")
        (staging / "half-written").write_text("x")
        raise RuntimeError
    assert list((tmp_path / "parent").iterdir()) == []


def test_replace_dir_swaps_in_the_staged_directory(tmp_path: Path) -> None:
    target, staged, trash = tmp_path / "lib", tmp_path / "staged", tmp_path / "trash"
    for path, name in ((target, "old.jar"), (staged, "new.jar")):
        path.mkdir()
        (path / name).write_text(name)
    replace_dir(staged, target, trash=trash)
    assert [p.name for p in target.iterdir()] == ["new.jar"]
    assert [p.name for p in trash.iterdir()] == ["old.jar"]
    assert not staged.exists()


def test_run_mvn_is_quiet_and_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_mvn(tmp_path / "bin", f'echo "$@" > {tmp_path}/args\n', monkeypatch)
    run_mvn(["dependency:copy", "-Dx=1"], cwd=tmp_path, what="x")
    assert (tmp_path / "args").read_text() == "-q -B dependency:copy -Dx=1\n"


def test_a_failing_mvn_is_reported_with_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_mvn(tmp_path / "bin", "echo 'Could not resolve io.example:thing'\nexit 1\n", monkeypatch)
    with pytest.raises(SandboxError) as caught:
        run_mvn(["dependency:copy"], cwd=tmp_path, what="Thing 1.0")
    message = str(caught.value)
    assert message.startswith("mvn could not fetch Thing 1.0 (exit 1); is Maven Central reachable?")
    assert message.endswith("Could not resolve io.example:thing")


def test_a_missing_mvn_leaves_no_cache(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match="`mvn`"):
        ensure_classpath("4.1.1")
    assert [p.name for p in (cache / "kafka-4.1.1").iterdir()] == []


def test_the_jars_are_resolved_once_and_cached(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for `mvn dependency:copy-dependencies -DoutputDirectory=DIR`: two jars.
    script = """
        echo run >> {calls}
        for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${{arg#*=}}";; esac; done
        mkdir -p "$out" && touch "$out/kafka_2.13-9.9.jar" "$out/kafka-tools-9.9.jar"
    """.format(calls=tmp_path / "calls")
    fake_mvn(tmp_path / "bin", script.replace("\n        ", "\n"), monkeypatch)
    jars = ensure_classpath("9.9")
    lib = cache / "kafka-9.9" / "lib"
    assert [p.name for p in jars] == ["kafka-tools-9.9.jar", "kafka_2.13-9.9.jar"]
    assert all(p.parent == lib for p in jars)
    assert ensure_classpath("9.9") == jars
    assert (tmp_path / "calls").read_text() == "run\n"
    assert [p.name for p in (cache / "kafka-9.9").iterdir()] == ["lib"]  # no leftovers
    assert classpath_arg(jars) == f"{lib}/*"
    assert classpath_arg(jars[:1]) == str(jars[0])


def test_a_version_must_look_like_one(cache: Path) -> None:
    with pytest.raises(SandboxError, match="not a Kafka version"):
        ensure_classpath("4.1.1; rm -rf /")


def test_the_log4j_config_is_copied_out_of_the_package(tmp_path: Path, cache: Path) -> None:
    written = log4j_config(tmp_path)
    assert written == tmp_path / "log4j2.properties" and "rootLogger" in written.read_text()
    written.write_text("edited")
    assert log4j_config(tmp_path).read_text() != "edited"  # the package's text comes back
    assert log4j_config().parent == cache
