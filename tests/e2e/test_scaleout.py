"""Scale-out on a local Ray instance (2 CPUs, two workers): a folder of clips and one longer
clip in several segments give the same video streams as one process; a worker killed with
SIGKILL mid-segment loses nothing; a driver run again continues from finished segments."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install vsrup[ray])")

from typer.testing import CliRunner  # noqa: E402

from vsrup.cli.app import app  # noqa: E402
from vsrup.engine.pipeline import UpscaleJob  # noqa: E402
from vsrup.interface.method import MethodOptions  # noqa: E402
from vsrup.scaleout.driver import run_distributed  # noqa: E402
from vsrup.scaleout.pool import PoolOptions  # noqa: E402
from vsrup.video.synth import make_clip  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def video_packets(path: Path) -> list[tuple[int | None, bytes]]:
    import av

    with av.open(str(path)) as c:
        return [(p.pts, bytes(p)) for p in c.demux(video=0) if p.size]


def audio_packet_count(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        if not c.streams.audio:
            return 0
        return sum(1 for p in c.demux(audio=0) if p.size)


def _run(args: list[str]) -> object:
    return CliRunner().invoke(app, args, catch_exceptions=False)


@pytest.mark.usefixtures("local_ray")
def test_folder_and_long_clip_equal_one_process(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    make_clip(src / "a.mp4", frames=10, audio_tracks=1)
    make_clip(src / "sub" / "b.mkv", width=48, height=32, frames=7, seed=1)
    make_clip(src / "long.mp4", frames=30, seed=2, audio_tracks=1)
    common = ["-m", "bicubic", "--scale", "2", "--segment-frames", "8", "-q"]
    one = _run(["upscale", str(src), "-o", str(tmp_path / "one") + "/", *common,
                "--work-dir", str(tmp_path / "w1")])  # fmt: skip
    assert one.exit_code == 0, one.output
    two = _run(["upscale", str(src), "-o", str(tmp_path / "two") + "/", *common,
                "--work-dir", str(tmp_path / "w2"), "--workers", "2"])  # fmt: skip
    assert two.exit_code == 0, two.output
    names = ["a_x2.mp4", "sub/b_x2.mkv", "long_x2.mp4"]
    for name in names:
        a, b = tmp_path / "one" / name, tmp_path / "two" / name
        assert video_packets(a) == video_packets(b), name  # byte-identical video stream
        assert audio_packet_count(a) == audio_packet_count(b)
    assert len(video_packets(tmp_path / "two" / "long_x2.mp4")) == 30
    assert audio_packet_count(tmp_path / "two" / "long_x2.mp4") > 0
    # the stores are gone once the outputs are complete
    assert not list((tmp_path / "w2").glob("job-*"))


def _killer_factory(marker_dir: Path, how: str):
    """A worker whose method dies (SIGKILL) or fails once, on the frame the marker names."""

    def factory():
        import torch

        from vsrup.interface import registry
        from vsrup.interface.method import Method, MethodSpec
        from vsrup.scaleout.worker import SegmentWorker

        class Flaky(Method):
            spec = MethodSpec(id="flaky-test", summary="test", kind="classical",
                              scales=(2,), any_scale=False)  # fmt: skip

            @classmethod
            def from_weights(cls, weights, runtime, options):
                return cls()

            @property
            def scale(self) -> int:
                return 2

            def process(self, clip):
                for i in range(clip.frames.shape[0]):
                    marker = marker_dir / f"{how}-{clip.start + i}"
                    if marker.exists():
                        marker.unlink()
                        if how == "kill":
                            os.kill(os.getpid(), signal.SIGKILL)
                        raise RuntimeError(f"planned failure at frame {clip.start + i}")
                return torch.nn.functional.interpolate(clip.frames, scale_factor=2)

        if "flaky-test" not in registry.ids():
            registry.register(Flaky)
        return SegmentWorker()

    return factory


def _jobs(tmp_path: Path, n: int = 2) -> list[UpscaleJob]:
    jobs = []
    for i in range(n):
        clip = make_clip(tmp_path / f"c{i}.mkv", frames=20, seed=i)
        jobs.append(UpscaleJob(input=clip, output=tmp_path / f"c{i}_x2.mkv", method="flaky-test",
                               options=MethodOptions(), work_dir=tmp_path / "work",
                               segment_frames=5))  # fmt: skip
    return jobs


@pytest.mark.usefixtures("local_ray")
def test_killed_worker_loses_nothing_and_rerun_continues(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    factory = _killer_factory(marks, "kill")
    factory()  # the driver looks the method's spec up too
    (marks / "kill-12").touch()  # the worker rendering frames 10..14 of a clip dies there
    events = []
    states = run_distributed(_jobs(tmp_path), PoolOptions(workers=2), events.append, factory)
    assert [s.error for s in states] == ["", ""], events
    assert [e.event for e in events].count("retry") == 1, events
    assert all(s.result is not None and s.result.frames == 20 for s in states)
    segs = [e for e in events if e.event == "segment"]
    assert sum(e.frames for e in segs) == 40  # every frame once, none twice
    for i in range(2):
        assert len(video_packets(tmp_path / f"c{i}_x2.mkv")) == 20


@pytest.mark.usefixtures("local_ray")
def test_failed_segment_keeps_the_others_and_a_rerun_renders_only_it(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    factory = _killer_factory(marks, "fail")
    factory()
    (marks / "fail-7").touch()  # one segment fails once: its file is not written
    jobs = _jobs(tmp_path, 1)
    events = []
    states = run_distributed(jobs, PoolOptions(workers=2), events.append, factory)
    assert "planned failure at frame 7" in states[0].error
    assert not jobs[0].output.exists()
    assert sum(e.event == "segment" for e in events) == 3  # the other three are kept
    lost = [e.segment for e in events if e.event == "failed"]
    assert len(lost) == 1
    events.clear()
    again = [dataclasses.replace(j) for j in jobs]  # the same files: the same job identity
    states = run_distributed(again, PoolOptions(workers=2), events.append, factory)
    assert states[0].result is not None and states[0].result.frames == 20
    assert [e.segment for e in events if e.event == "segment"] == lost  # only the lost one
    assert len(video_packets(jobs[0].output)) == 20


@pytest.mark.usefixtures("local_ray")
def test_workers_refuse_image_sequence_output(tmp_path):
    make_clip(tmp_path / "a.mp4", frames=4)
    r = _run(["upscale", str(tmp_path / "a.mp4"), "-o", str(tmp_path / "seq" / "%04d.png"),
              "-m", "bicubic", "--workers", "2"])  # fmt: skip
    assert r.exit_code == 2
    assert "video output" in r.output


@pytest.mark.usefixtures("local_ray")
def test_learned_method_json_events_and_same_stream(tmp_path):
    """span (temporal stage on by default) on two workers: the same video packets as one
    process, one JSON event per segment and one object for the file. Segments from frame 12
    on are read from a seek (`frames_from`: 4 context frames + a 4-frame batch before)."""
    import json

    make_clip(tmp_path / "s.mp4", frames=20, seed=4)
    common = ["-m", "span", "--scale", "2", "--segment-frames", "4", "-q", "--device", "cpu"]
    one = _run(["upscale", str(tmp_path / "s.mp4"), "-o", str(tmp_path / "one.mp4"), *common,
                "--work-dir", str(tmp_path / "w1")])  # fmt: skip
    assert one.exit_code == 0, one.output
    two = CliRunner().invoke(
        app,
        ["upscale", str(tmp_path / "s.mp4"), "-o", str(tmp_path / "two.mp4"), *common,
         "--work-dir", str(tmp_path / "w2"), "--workers", "2", "--json"],
    )  # fmt: skip
    assert two.exit_code == 0, two.output
    assert video_packets(tmp_path / "one.mp4") == video_packets(tmp_path / "two.mp4")
    rows = [json.loads(line) for line in two.stdout.splitlines() if line.startswith("{")]
    segments = [r for r in rows if r.get("event") == "segment"]
    files = [r for r in rows if "event" not in r]
    assert sorted(r["segment"] for r in segments) == [0, 1, 2, 3, 4]
    assert sum(r["frames"] for r in segments) == 20
    assert [(f["status"], f["frames"]) for f in files] == [("ok", 20)]
