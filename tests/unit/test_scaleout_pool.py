"""The Ray worker pool: longest first, models kept per worker, a killed worker loses nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install vsrup[ray])")

from vsrup.scaleout.pool import PoolOptions, WorkItem, run_pool  # noqa: E402


def _factory(log_dir: Path):
    """A worker that counts its own builds and can be told to die once mid-item."""

    class Toy:
        def __init__(self) -> None:
            (log_dir / f"built-{os.getpid()}").touch()

        def run(self, payload):
            kill = log_dir / f"kill-{payload}"
            if kill.exists():
                kill.unlink()
                os.kill(os.getpid(), signal.SIGKILL)
            if payload == "bad":
                raise ValueError("bad payload: one line")
            return payload * 2

    return Toy


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.usefixtures("local_ray")
def test_results_models_kept_and_killed_worker_retried(tmp_path):
    (tmp_path / "kill-3").touch()  # the worker running item 3 dies once, mid-item
    items = [WorkItem(f"k{i}", cost=i, payload=i) for i in range(6)]
    events = list(run_pool(items, _factory(tmp_path), PoolOptions(workers=2)))
    done = {e.key: e.result for e in events if e.kind == "done"}
    assert done == {f"k{i}": 2 * i for i in range(6)}  # nothing lost, nothing twice
    assert [e.key for e in events if e.kind == "retry"] == ["k3"]
    assert sum(e.kind == "done" for e in events) == 6
    # longest first: the two costliest items start before any other
    starts = [e.key for e in events if e.kind == "start"]
    assert set(starts[:2]) == {"k5", "k4"}
    # one build per worker process (two actors, one of them restarted once), not per item
    assert len(list(tmp_path.glob("built-*"))) <= 3


@pytest.mark.usefixtures("local_ray")
def test_worker_error_is_reported_once_and_others_finish(tmp_path):
    items = [WorkItem("a", 1, 1), WorkItem("b", 2, "bad"), WorkItem("c", 3, 3)]
    events = list(run_pool(items, _factory(tmp_path), PoolOptions(workers=2)))
    failed = [e for e in events if e.kind == "failed"]
    assert [(e.key, e.error) for e in failed] == [("b", "bad payload: one line")]
    assert {e.key for e in events if e.kind == "done"} == {"a", "c"}


@pytest.mark.usefixtures("local_ray")
def test_duplicate_keys_refused(tmp_path):
    with pytest.raises(ValueError, match="unique"):
        list(run_pool([WorkItem("a", 1, 1), WorkItem("a", 2, 2)], _factory(tmp_path)))


def test_ray_address_connects_instead_of_starting_a_local_instance():
    from vsrup.scaleout.pool import _init

    calls = []

    class FakeRay:
        def is_initialized(self):
            return False

        def init(self, **kwargs):
            calls.append(kwargs)

    env = {"HF_HOME": "/shared/hf"}
    assert _init(FakeRay(), PoolOptions(workers=3, address="ray://head:10001", env=env))
    assert calls[0]["address"] == "ray://head:10001"
    assert "num_cpus" not in calls[0]  # the cluster's resources, not a local instance's
    assert calls[0]["runtime_env"] == {"env_vars": env}


def test_cli_pool_options_defaults():
    from vsrup.cli.scaleout import pool_options

    cluster = pool_options(None, "auto", "cpu")
    assert (cluster.address, cluster.workers, cluster.gpus_per_worker) == ("auto", 1, 0.0)
    assert "OMP_NUM_THREADS" not in cluster.env  # a cluster's nodes have their own cores
    local = pool_options(2, None, "cpu")
    assert local.workers == 2 and local.env["OMP_NUM_THREADS"] == str(
        max(1, (os.cpu_count() or 1) // 2)
    )
