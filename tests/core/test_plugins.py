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


def test_a_plugin_whose_dependency_is_missing_names_the_extra_to_install(tmp_path, monkeypatch):
    """A distribution that declares an extra named after its plugin: the error says to install it."""
    dist_info = tmp_path / "needy_dist-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: needy-dist\nVersion: 1.0\n"
                                        "Provides-Extra: needy\nRequires-Dist: no-such-lib-xyz; extra == 'needy'\n")
    (dist_info / "entry_points.txt").write_text("[alcyon.plugins]\nneedy = needy_plugin\n")
    (tmp_path / "needy_plugin.py").write_text("import no_such_lib_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("ALCYON_LOAD_PLUGINS", raising=False)
    with pytest.raises(PluginError) as info:
        PluginHost(load_config(env={})).load_entry_points()
    message = str(info.value)
    assert "plugin 'needy' (needy_plugin) needs 'no_such_lib_xyz', which is not installed" in message
    assert "pip install 'needy-dist[needy]'" in message and '[plugins] disabled = ["needy"]' in message
    # ... and disabling it is enough to start without it
    assert "needy" not in PluginHost(load_config(env={"ALCYON_DISABLE_PLUGINS": "needy"})).load_entry_points().names()
