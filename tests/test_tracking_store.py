"""`log-run` against real stores: idempotent on its inputs, interrupted runs marked FAILED,
and an unreachable server refused in seconds with one line (issue 15, defects 9 and 17), also
when it answers slowly: deadlines, not timeouts (issue 25, item 3).

A real MLflow sqlite store; real sockets on 127.0.0.1 for servers that refuse or never
answer; real subprocesses for SIGTERM and SIGKILL.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from cropaudit.cli import EXIT_ENVIRONMENT, main
from cropaudit.config import parse_params
from cropaudit.errors import TrackingServerError
from cropaudit.reporting.tracking import (
    DIGEST_TAG,
    LATER_HINT,
    PROBE_DEADLINE_S,
    inputs_digest,
    log_run,
)
from support.http import HANG, TRICKLE, SlowServer
from support.workflow import tool_env


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """One sqlite store for the module (creating its schema takes seconds); each test logs
    into an experiment of its own."""
    return tmp_path_factory.mktemp("store") / "mlflow.db"


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch, store: Path, request) -> dict:
    """A finished audit's files, small: params, dataset table, metrics, an artifact folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    experiment = re.sub(r"[^\w-]", "_", request.node.name)  # also its artifact folder's name
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps(_params_data(experiment)))
    dataset = tmp_path / "images.parquet"
    pd.DataFrame({"image_id": ["a", "b"], "group": ["x", "y"]}).to_parquet(dataset)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"pair_tuples": 10, "share": 0.5}))
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note.txt").write_text("kept as an artifact")
    return {"params": params, "dataset": dataset, "metrics": metrics, "extra": extra,
            "db": store, "out": tmp_path / "mlflow-run.json", "experiment": experiment}


def _params_data(experiment: str) -> dict:
    return {"croppers": ["center"], "seed": 3, "tracking": {"experiment": experiment}}


def _log(inputs: dict, *, new: bool = False):
    params = parse_params(_params_data(inputs["experiment"]))
    return log_run(params=params, params_path=inputs["params"], metrics_path=inputs["metrics"],
                   dataset_path=inputs["dataset"], artifact_dirs=[inputs["extra"]], new=new)


def _statuses(inputs: dict) -> dict[str, str]:
    """run id -> status of the test's experiment, read from the store's own tables."""
    con = sqlite3.connect(inputs["db"], timeout=30)
    try:
        return dict(con.execute(
            "select r.run_uuid, r.status from runs r join experiments e "
            "on r.experiment_id = e.experiment_id where e.name = ?", (inputs["experiment"],)
        ).fetchall())
    finally:
        con.close()


def test_same_inputs_are_logged_once_and_new_forces_another_run(inputs) -> None:
    first, reused = _log(inputs)
    assert not reused and first.inputs_digest
    again, reused = _log(inputs)
    assert reused and again == first
    forced, reused = _log(inputs, new=True)
    assert not reused and forced.run_id != first.run_id
    assert _statuses(inputs) == {first.run_id: "FINISHED", forced.run_id: "FINISHED"}


def test_the_digest_follows_every_input() -> None:
    tags = {"dataset.sha256": "a", "git.commit": "c"}
    base = inputs_digest({"seed": 1}, {"p": 0.5}, tags)
    assert base == inputs_digest({"seed": 1}, {"p": 0.5}, {**tags, "unrelated": "x"})
    variants = [
        inputs_digest({"seed": 2}, {"p": 0.5}, tags),
        inputs_digest({"seed": 1}, {"p": 0.6}, tags),
        inputs_digest({"seed": 1}, {"p": 0.5}, {**tags, "dataset.sha256": "b"}),
        inputs_digest({"seed": 1}, {"p": 0.5}, {**tags, "git.commit": "d"}),
        inputs_digest({"seed": 1}, {"p": 0.5}, {**tags, "model.sha256": "m"}),
    ]
    assert len({base, *variants}) == 6


def test_log_run_command_says_when_a_run_is_reused(inputs, capsys) -> None:
    argv = ["log-run", "--params", str(inputs["params"]), "--dataset", str(inputs["dataset"]),
            "--metrics", str(inputs["metrics"]), "--out", str(inputs["out"])]
    assert main(argv) == 0
    first = json.loads(inputs["out"].read_text())
    assert "logged before" not in capsys.readouterr().out
    assert main(argv) == 0
    assert "these inputs were logged before; --new logs another run" in capsys.readouterr().out
    assert json.loads(inputs["out"].read_text()) == first
    assert first["inputs_digest"] and list(_statuses(inputs)) == [first["run_id"]]


def _start_and_catch_running(inputs: dict, files: int) -> subprocess.Popen[bytes]:
    """A `log-run` subprocess, returned once its run is RUNNING and copying artifacts.

    Many small artifact files keep the run open long enough to be caught in that state; the
    copy's folder appearing is the sign (polling the file system, not the store, so as not to
    compete for its lock).
    """
    for i in range(files):
        (inputs["extra"] / f"file-{i:04d}.txt").write_text(f"{i}\n")
    argv = [sys.executable, "-m", "cropaudit", "log-run", "--params", str(inputs["params"]),
            "--dataset", str(inputs["dataset"]), "--metrics", str(inputs["metrics"]),
            "--artifacts", str(inputs["extra"]), "--out", str(inputs["out"])]
    env = tool_env(MLFLOW_TRACKING_URI=f"sqlite:///{inputs['db']}")
    proc = subprocess.Popen(argv, cwd=inputs["out"].parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    copies = inputs["db"].parent / "mlruns" / inputs["experiment"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(copies.glob("*/artifacts/extra/file-*")):
            return proc
        time.sleep(0.01)
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"never saw the run copying (exit {proc.returncode}): {err.decode()[-2000:]}")


def test_a_terminated_log_run_marks_its_run_failed(inputs) -> None:
    proc = _start_and_catch_running(inputs, files=300)
    proc.send_signal(signal.SIGTERM)  # what Snakemake and service managers send (SIGHUP alike)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-2000:]
    assert err.decode().strip().splitlines()[-1] == "cropaudit log-run: interrupted"
    assert list(_statuses(inputs).values()) == ["FAILED"]
    assert not inputs["out"].exists()


def test_a_killed_log_run_is_marked_failed_by_the_next_one(inputs) -> None:
    proc = _start_and_catch_running(inputs, files=300)
    proc.kill()  # SIGKILL: no handler runs, the run stays RUNNING
    proc.communicate(timeout=60)
    (killed,) = _statuses(inputs).items()
    assert killed[1] == "RUNNING"
    record, reused = _log(inputs)
    assert not reused
    assert _statuses(inputs) == {killed[0]: "FAILED", record.run_id: "FINISHED"}
    run = MlflowClient(f"sqlite:///{inputs['db']}").get_run(record.run_id)
    assert run.data.tags[DIGEST_TAG] == record.inputs_digest


# -- open_run: every run, the audit's and the cropper comparison's, is opened one way --------


def test_a_failure_inside_a_child_run_ends_it_and_its_parent_failed(inputs) -> None:
    """Nested runs (log-croppers' parent and children) end FAILED like the audit run."""
    from cropaudit.reporting.tracking import TrackingParams, connect, open_run

    store = connect(TrackingParams(experiment=inputs["experiment"]))
    ids = []

    def interrupted_in_the_child() -> None:
        with open_run(store, "parent", {"k": "v"}) as parent:
            ids.append(parent.run_id)
            with open_run(store, "child", {}, parent=parent) as child:
                ids.append(child.run_id)
                raise KeyboardInterrupt  # what SIGTERM and SIGHUP become while a run is open

    with pytest.raises(KeyboardInterrupt):
        interrupted_in_the_child()
    assert _statuses(inputs) == {ids[0]: "FAILED", ids[1]: "FAILED"}
    child_run = MlflowClient(f"sqlite:///{inputs['db']}").get_run(ids[1])
    assert child_run.data.tags["mlflow.parentRunId"] == ids[0]


def test_an_mlflow_error_inside_a_run_is_one_line_and_the_run_failed(inputs) -> None:
    import mlflow

    from cropaudit.reporting.tracking import TrackingParams, connect, open_run

    store = connect(TrackingParams(experiment=inputs["experiment"]))
    with pytest.raises(TrackingServerError) as caught, \
            open_run(store, "bad", {}) as run:
        run.log("log a metric", mlflow.log_metric, "no\nnewlines", 1.0)  # refused by MLflow
    message = str(caught.value)
    assert message.startswith(f"MLflow tracking store sqlite:///{inputs['db']}: ")
    assert message.endswith(LATER_HINT) and "\n" not in message
    assert list(_statuses(inputs).values()) == ["FAILED"]


# -- unreachable servers ---------------------------------------------------------------------


def _refusing_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_is_one_line_with_a_way_to_log_later(inputs, monkeypatch,
                                                                   capsys) -> None:
    uri = f"http://127.0.0.1:{_refusing_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    code = main(["log-run", "--params", str(inputs["params"]), "--dataset",
                 str(inputs["dataset"]), "--metrics", str(inputs["metrics"]),
                 "--out", str(inputs["out"])])
    assert code == EXIT_ENVIRONMENT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"cropaudit log-run: error: MLflow tracking server {uri} "
                             "unreachable (connection refused); the results stay on disk")
    assert "run the same `cropaudit log-run`" in err[0]
    assert not inputs["out"].exists() and inputs["metrics"].exists()


def test_a_server_that_never_answers_is_given_up_in_seconds(inputs, monkeypatch) -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        with pytest.raises(TrackingServerError, match=r"unreachable \(no answer within 5 s\)"):
            _log(inputs)


# -- deadlines, not timeouts (issue 25, item 3) ------------------------------------------------

MLFLOW_NOT_FOUND = (404, "application/json",
                    b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such thing"}')


def _log_run_against(inputs: dict, uri: str, **tracking: object
                     ) -> tuple[subprocess.CompletedProcess[str], float]:
    """`cropaudit log-run` as a subprocess against ``uri``; its result and wall seconds."""
    data = _params_data(inputs["experiment"])
    data["tracking"].update(tracking)
    inputs["params"].write_text(json.dumps(data))
    argv = [sys.executable, "-m", "cropaudit", "log-run", "--params", str(inputs["params"]),
            "--dataset", str(inputs["dataset"]), "--metrics", str(inputs["metrics"]),
            "--out", str(inputs["out"])]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=inputs["out"].parent, capture_output=True, text=True,
                          env=tool_env(MLFLOW_TRACKING_URI=uri), timeout=120)
    return proc, time.monotonic() - started


def test_a_trickling_server_is_given_up_at_the_probe_deadline(inputs) -> None:
    """One byte per second: every read gets something within its timeout (before: log-run
    was still waiting after 150 s)."""
    with SlowServer({}, default=TRICKLE, every_s=1.0) as server:
        proc, seconds = _log_run_against(inputs, server.base)
    assert proc.returncode == EXIT_ENVIRONMENT, proc.stderr
    line = proc.stderr.strip().splitlines()
    assert line == [f"cropaudit log-run: error: MLflow tracking server {server.base} "
                    f"unreachable (no complete answer within {PROBE_DEADLINE_S:g} s); "
                    f"{LATER_HINT}"]
    assert seconds < PROBE_DEADLINE_S + 20, seconds  # + the interpreter's start-up
    assert not inputs["out"].exists()


def test_a_server_that_answers_health_and_then_hangs_is_refused_by_the_probe(inputs) -> None:
    """Before: the probe passed on /health and MLflow's own retries took 34.5 s."""
    with SlowServer({"/health": (200, "text/plain", b"OK")}, default=HANG) as server:
        proc, seconds = _log_run_against(inputs, server.base)
    assert proc.returncode == EXIT_ENVIRONMENT, proc.stderr
    assert "unreachable (no answer within 5 s)" in proc.stderr
    assert server.requests[:2] == ["/health", "/api/2.0/mlflow/experiments/get-by-name"
                                   f"?experiment_name={inputs['experiment']}"]
    assert seconds < PROBE_DEADLINE_S + 20, seconds


def test_every_mlflow_call_has_a_deadline(inputs) -> None:
    """The probe passes (/health and the look-up answer), then creating the experiment
    trickles: the call's deadline (tracking.call_deadline_s) ends it with one line."""
    routes = {"/health": (200, "text/plain", b"OK"),
              "/api/2.0/mlflow/experiments/get-by-name": MLFLOW_NOT_FOUND}
    with SlowServer(routes, default=TRICKLE, every_s=0.5) as server:
        proc, seconds = _log_run_against(inputs, server.base, call_deadline_s=3)
    assert proc.returncode == EXIT_ENVIRONMENT, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"cropaudit log-run: error: MLflow tracking store {server.base}: find or create the "
        f"experiment: no result within 3 s (tracking.call_deadline_s); {LATER_HINT}"]
    assert any("experiments/create" in r for r in server.requests), server.requests
    assert seconds < 3 + 30, seconds  # + start-up and MLflow's import


def test_a_deadline_interrupts_a_blocked_read_and_restores_what_was_there() -> None:
    """The mechanism itself, on a real socket that never answers."""
    import signal as sig

    from cropaudit.reporting.deadline import DeadlineExceeded, deadline

    previous = sig.getsignal(sig.SIGALRM)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as conn:
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded, match=r"read: no result within 0\.5 s"), \
                    deadline(5, "outer"), deadline(0.5, "read"):
                conn.recv(1)  # blocks: nothing is ever sent
            assert 0.4 < time.monotonic() - started < 3
    assert sig.getsignal(sig.SIGALRM) is previous
    assert sig.getitimer(sig.ITIMER_REAL) == (0.0, 0.0)


# -- parallel jobs on a new local store (issue 23: the race seen once under CI) ---------------


@pytest.mark.parametrize("round_", range(3))
def test_parallel_log_runs_on_a_new_sqlite_store_all_finish(tmp_path: Path, round_: int) -> None:
    """Three `log-run`s started at once on a store that does not exist yet: each creates
    MLflow's tables and the experiment on first access, and without the lock beside the
    database one of them failed with "table ... already exists". Three rounds, each on a
    fresh store, so the race is met more than once."""
    db = tmp_path / "store" / "mlflow.db"
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps(_params_data("race")))
    dataset = tmp_path / "images.parquet"
    pd.DataFrame({"image_id": ["a", "b"], "group": ["x", "y"]}).to_parquet(dataset)
    env = tool_env(MLFLOW_TRACKING_URI=f"sqlite:///{db}")
    procs = []
    for i in range(3):
        metrics = tmp_path / f"metrics-{i}.json"  # distinct inputs: three runs, none reused
        metrics.write_text(json.dumps({"pair_tuples": 10 + i}))
        argv = [sys.executable, "-m", "cropaudit", "log-run", "--params", str(params),
                "--dataset", str(dataset), "--metrics", str(metrics),
                "--out", str(tmp_path / f"run-{i}.json")]
        procs.append(subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE))
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    statuses = _statuses({"db": db, "experiment": "race"})
    assert sorted(statuses.values()) == ["FINISHED"] * 3
    assert {json.loads((tmp_path / f"run-{i}.json").read_text())["run_id"]
            for i in range(3)} == set(statuses)
