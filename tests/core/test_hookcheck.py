"""Hook mistakes are errors in alcyon's words, with the likely intended name and where the plugin comes from."""

from __future__ import annotations

import types

import pytest
from structlog.testing import capture_logs

from alcyon import PluginError, Processor, hookimpl
from alcyon.config import load_config
from alcyon.plugins import PluginHost


def module(name: str, **functions) -> types.ModuleType:
    mod = types.ModuleType(name)
    for attr, function in functions.items():
        setattr(mod, attr, function)
    return mod


def register(plugin) -> PluginHost:
    host = PluginHost(load_config(env={}))
    host.register(plugin, "power_budget")
    return host


def processors(config):
    return [Processor(name="power_budget", subscribe=("power.sample",), handle=lambda e, ctx: None)]


def test_a_hook_without_hookimpl_is_an_error_saying_to_add_it():
    with pytest.raises(PluginError, match=r"plugin 'power_budget': alcyon_processors is not decorated with @hookimpl, "
                                          r"so alcyon would never call it: add `from alcyon import hookimpl` and "
                                          r"`@hookimpl` above it \(plugin 'power_budget' is module "
                                          r"alcyon_power_budget.plugin: check `power_budget = "
                                          r"\"alcyon_power_budget.plugin\"` under \[project.entry-points"):
        register(module("alcyon_power_budget.plugin", alcyon_processors=processors))


@pytest.mark.parametrize("wrong,right", [("alcyon_processor", "alcyon_processors"),
                                         ("alcyon_event_type", "alcyon_event_types"),
                                         ("alcyon_start_up", "alcyon_startup")])
def test_an_unknown_hook_gets_a_did_you_mean(wrong, right):
    with pytest.raises(PluginError, match=rf"plugin 'power_budget': {wrong} is not an alcyon hook; did you mean "
                                          rf"{right}\?"):
        register(module("alcyon_power_budget.plugin", **{wrong: hookimpl(processors)}))
    # undecorated and misspelled: the same did-you-mean
    with pytest.raises(PluginError, match=rf"{wrong} is not an alcyon hook; did you mean {right}\?"):
        register(module("alcyon_power_budget.plugin", **{wrong: processors}))


def test_a_hook_asking_for_an_argument_alcyon_does_not_pass_names_the_ones_it_does():
    def alcyon_processors(cfg):
        return []

    with pytest.raises(PluginError, match=r"alcyon_processors\(cfg\) asks for cfg, which alcyon does not pass; it "
                                          r"passes config \(by name: keep the argument names of "
                                          r"alcyon.hookspecs.alcyon_processors\)"):
        register(module("alcyon_power_budget.plugin", alcyon_processors=hookimpl(alcyon_processors)))


def test_a_plugin_without_hooks_is_a_warning_naming_the_entry_point():
    with capture_logs() as logs:
        register(module("alcyon_power_budget", helper=lambda: None))
    [warning] = [line for line in logs if line["event"] == "plugin_without_hooks"]
    assert warning["log_level"] == "warning" and warning["plugin"] == "power_budget"
    assert "implements no alcyon hook" in warning["hint"] and "module alcyon_power_budget" in warning["hint"]


def test_a_correct_plugin_registers_silently():
    with capture_logs() as logs:
        host = register(module("alcyon_power_budget.plugin", alcyon_processors=hookimpl(processors),
                               alcyon_version="1", helper=lambda: None))
    assert [p.name for p in host.processors()] == ["power_budget"] and logs == []
