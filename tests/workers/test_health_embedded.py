"""Health of a runtime in this process (embedded broker): ready while consumers poll, not live when wedged."""

from __future__ import annotations

import threading

from alcyon import Event, Processor, hookimpl
from alcyon.config import load_config
from alcyon.plugins import PluginHost
from alcyon.runtime import Runtime
from alcyon_workers.health import Health

from .conftest import wait_for

RELEASE = threading.Event()


def _stuck(event, ctx):
    RELEASE.wait(10)  # a C-level wait: TimeLimit cannot interrupt it, like a model stuck in onnxruntime


class _Plugin:
    @hookimpl
    def alcyon_processors(self, config):
        return [Processor(name="stuck", subscribe=("stuck.job",), handle=_stuck, time_limit_ms=200, max_retries=0)]


def test_ready_then_not_live_while_a_handler_is_stuck_past_its_time_limit():
    config = load_config(env={})
    host = PluginHost(config)
    host.register(_Plugin(), "stuck_plugin")
    runtime = Runtime(config, host)
    health = Health(config, runtime, busy_margin_s=0.3)
    assert health.readiness() == [] and health.liveness() == [], "nothing started: nothing to wait for"
    runtime.start(2)
    try:
        wait_for(lambda: health.readiness() == [], 5, "the consumers to poll")
        assert health.liveness() == []
        RELEASE.clear()
        runtime.publish(Event(type="stuck.job", source="test", subject="s", data={}))
        runtime.flush()
        wait_for(lambda: health.liveness() != [], 5, "liveness to see the stuck handler")
        (problem,) = health.liveness()
        assert problem.startswith("a handler of stuck has run") and "past its time limit of 0.2 s" in problem
        assert health.readiness() == [], "its consumers still poll: ready, but not live"
        RELEASE.set()
        wait_for(lambda: health.liveness() == [], 5, "liveness to recover once the handler returns")
    finally:
        RELEASE.set()
        runtime.stop(grace_s=2)
    assert health.readiness() == ["stopping"]


def _crash(ctx):
    raise OSError("the receiver's socket is gone")


def _finish(ctx):
    ctx.publish(Event(type="done.tick", source="test", subject="s", data={}))


def test_a_crashed_source_makes_the_process_not_live_a_finished_one_does_not():
    from alcyon.processors import Source
    from alcyon_workers.runner import start_sources

    config = load_config(env={})
    runtime = Runtime(config, PluginHost(config), processors=())
    health = Health(config, runtime)
    sources = [Source(name="crashing", publishes=("x.y",), run=_crash, plugin="test"),
               Source(name="replay", publishes=("done.tick",), run=_finish, plugin="test")]
    threads = start_sources(runtime, sources, threading.Event(), on_crash=health.source_crashed)
    for thread in threads:
        thread.join(5)
    try:
        assert health.liveness() == ["source crashing crashed (see its source_crashed log line)"]
        assert health.readiness() == []
    finally:
        runtime.stop(grace_s=2)
