from pathlib import Path

import pytest

from alcyon import ConfigError, Option
from alcyon.config import load_config, plugin_config


def test_defaults_are_embedded_and_env_overrides_the_file(tmp_path):
    path = tmp_path / "alcyon.toml"
    path.write_text('[alcyon]\nbatch_linger_ms = 50\nworker_threads = 3\n')
    config = load_config(path, env={"ALCYON_WORKER_THREADS": "6"})
    assert config.embedded and config.batch_linger_ms == 50 and config.worker_threads == 6


@pytest.mark.parametrize("toml,env,message", [
    ("[alcyon]\nbatch_lingr_ms = 5\n", {}, "unknown key.*batch_lingr_ms"),
    ("[alcyon]\nworker_threads = 'four'\n", {}, r"\[alcyon\] worker_threads: expected int"),
    ("", {"ALCYON_BATCH_MAX_EVENTS": "0"}, "ALCYON_BATCH_MAX_EVENTS: must be >= 1"),
    ("", {"ALCYON_LOG_FORMAT": "xml"}, "ALCYON_LOG_FORMAT: must be one of auto, json, console"),
    ("[alcyon\n", {}, "not valid TOML"),
    ("[worker]\n", {}, r"unknown table\(s\) worker"),
])
def test_bad_configuration_names_the_key_and_the_expected_form(tmp_path, toml, env, message):
    path = tmp_path / "alcyon.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env=env)


def test_secrets_come_from_mounted_files_and_are_redacted(tmp_path):
    secret = tmp_path / "amqp"
    secret.write_text("amqp://alcyon:s3cr3t@rabbit:5672/\n")
    config = load_config(env={"ALCYON_BROKER_URL_FILE": str(secret)})
    assert config.broker_url == "amqp://alcyon:s3cr3t@rabbit:5672/"
    shown = dict((k, v) for k, v, _ in config.describe())
    assert "s3cr3t" not in shown["broker_url"] and "alcyon:***@rabbit" in shown["broker_url"]


def test_plugin_options_are_validated_with_their_env_names(tmp_path):
    options = [Option("zones", str, required=True, help="GeoJSON file"), Option("gap_minutes", int, 30)]
    config = load_config(env={"ALCYON_GEOFENCE__ZONES": "mpa.geojson", "ALCYON_GEOFENCE__GAP_MINUTES": "45"})
    assert plugin_config(config, "geofence", options) == {"zones": "mpa.geojson", "gap_minutes": 45}
    with pytest.raises(ConfigError, match=r"\[plugins.geofence\] zones .*ALCYON_GEOFENCE__ZONES.* is required"):
        plugin_config(load_config(env={}), "geofence", options)
    bad = load_config(env={"ALCYON_GEOFENCE__ZONES": "z", "ALCYON_GEOFENCE__GAP_MINUTS": "1"})
    with pytest.raises(ConfigError, match="unknown key.*gap_minuts.*known keys: gap_minutes, zones"):
        plugin_config(bad, "geofence", options)


@pytest.mark.parametrize("value,message", [
    ("0", r"\[plugins.budget\] window_s \(or ALCYON_BUDGET__WINDOW_S\): must be >= 1, got 0.0"),
    ("90000", r"window_s \(or ALCYON_BUDGET__WINDOW_S\): must be <= 86400, got 90000.0"),
])
def test_option_ranges_are_enforced_at_start_up_naming_the_key(value, message):
    options = [Option("window_s", float, 3600.0, "rolling window", minimum=1, maximum=86400)]
    with pytest.raises(ConfigError, match=message):
        plugin_config(load_config(env={"ALCYON_BUDGET__WINDOW_S": value}), "budget", options)


def test_option_choices_and_checks_are_enforced():
    def even(value):
        if value % 2:
            raise ValueError("must be even")

    options = [Option("mode", str, "sum", "how", choices=("sum", "max")), Option("n", int, 2, "", check=even)]
    with pytest.raises(ConfigError, match=r"mode \(or ALCYON_BUDGET__MODE\): must be one of sum, max, got 'avg'"):
        plugin_config(load_config(env={"ALCYON_BUDGET__MODE": "avg"}), "budget", options)
    with pytest.raises(ConfigError, match=r"n \(or ALCYON_BUDGET__N\): must be even, got 3"):
        plugin_config(load_config(env={"ALCYON_BUDGET__N": "3"}), "budget", options)
    assert options[0].describe() == "str; default 'sum'; one of sum, max; how"


def test_env_lists_and_tables_parse_json_toml_and_commas():
    options = [Option("hosts", list, []), Option("names", list, []), Option("table", dict, {}),
               Option("inline", dict, {})]
    env = {"ALCYON_P__HOSTS": '["a,b", "c"]', "ALCYON_P__NAMES": "x, y", "ALCYON_P__TABLE": '{"k": [1, 2]}',
           "ALCYON_P__INLINE": '{ url = "https://h", timeout_s = 5 }'}
    assert plugin_config(load_config(env=env), "p", options) == {
        "hosts": ["a,b", "c"], "names": ["x", "y"], "table": {"k": [1, 2]},
        "inline": {"url": "https://h", "timeout_s": 5}}
    with pytest.raises(ConfigError, match=r'table \(or ALCYON_P__TABLE\): expected dict \(in the environment: '
                                          r'\{"key": "value"\} or \{ key = "value" \}\), got \'k=1\''):
        plugin_config(load_config(env={"ALCYON_P__TABLE": "k=1"}), "p", options)


def test_config_check_prints_no_secret_of_a_webhook_or_zone_url(monkeypatch, capsys, tmp_path):
    from alcyon.cli import main
    from alcyon_geofence.zones import BUNDLED_MPAS

    slack = "https://hooks.slack.com/services/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"
    token = "https://alerts.example.org/hook?token=tok-123456&format=cloudevents"
    # file: URLs keep their query in the path: the file's name holds it (no network in tests)
    zone_file = tmp_path / "mpa.geojson?access_token=pk.eyJ1IjoiYWxjeW9uIn0"
    zone_file.write_bytes(Path(BUNDLED_MPAS).read_bytes())
    zones = f"file://{zone_file}"
    config = tmp_path / "alcyon.toml"
    config.write_text(f'[plugins.notify.webhooks.slack]\nurl = "{slack}"\n[plugins.notify.webhooks.ops]\n'
                      f'url = "{token}"\n[plugins.geofence]\nzones = "{zones}"\nzones_invalid = "repair"\n')
    monkeypatch.setenv("ALCYON_STATE_URL", "redis://:r3dispw@redis:6379/0")
    assert main(["--config", str(config), "config", "check"]) == 0
    out, err = capsys.readouterr()
    assert "zones_loaded" in err and "access_token=***" in err
    out += err
    for secret in ("xK9pQ2mN7vL4rT8sW1yZ3aB5", "tok-123456", "pk.eyJ1IjoiYWxjeW9uIn0", "r3dispw"):
        assert secret not in out
    assert "https://hooks.slack.com/services/T0AB12CDE/B0CD34EFG/***" in out
    assert "token=***&format=cloudevents" in out and "access_token=***" in out
