import pytest

from alcyon import PluginError, Processor, hookimpl
from alcyon.config import load_config
from alcyon.plugins import PluginHost


class Good:
    @hookimpl
    def alcyon_processors(self, config):
        return [Processor(name="echo", subscribe=("demo.#",), handle=lambda e, ctx: None)]


class Typo:
    @hookimpl
    def alcyon_processor(self, config):  # misspelt hook
        return []


def test_a_misspelt_hook_is_refused_with_a_pointer_to_the_hookspecs():
    host = PluginHost(load_config(env={}))
    with pytest.raises(PluginError, match="alcyon_processor.*alcyon.hookspecs"):
        host.register(Typo(), "typo")


def test_disabled_plugins_are_not_loaded():
    host = PluginHost(load_config(env={"ALCYON_DISABLE_PLUGINS": "good"}))
    host.register(Good(), "good")
    assert host.names() == [] and host.processors() == []


def test_two_plugins_cannot_provide_the_same_processor():
    host = PluginHost(load_config(env={}))
    host.register(Good(), "a")
    host.register(Good(), "b")
    with pytest.raises(PluginError, match="processor 'echo' is provided by both 'a' and 'b'"):
        host.processors()


def test_info_lists_hooks_processors_and_subscriptions():
    host = PluginHost(load_config(env={}))
    host.register(Good(), "good", "1.2.3")
    [info] = host.info()
    assert (info.name, info.version, info.hooks) == ("good", "1.2.3", ("alcyon_processors",))
    assert [(p.name, p.subscribe, p.plugin) for p in info.processors] == [("echo", ("demo.#",), "good")]


@pytest.mark.parametrize("kwargs,message", [
    (dict(name="Bad Name", subscribe=("a",), handle=print), "lower-case"),
    (dict(name="x", subscribe=(), handle=print), "subscribes to nothing"),
    (dict(name="x", subscribe=("a..b",), handle=print), "word ''"),
    (dict(name="x", subscribe=("a",)), "exactly one of handle= or handle_batch="),
])
def test_processor_declarations_are_checked(kwargs, message):
    with pytest.raises(PluginError, match=message):
        Processor(**kwargs)
