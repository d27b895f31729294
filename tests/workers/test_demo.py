"""`alcyon demo`: installed in a fresh venv, its summary against the bundled data; on a terminal and piped."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GEOFENCE_DATA = ROOT / "plugins/geofence/alcyon_geofence/data"
FIRE_FRAMES = ROOT / "plugins/fire/alcyon_fire/data/frames/tower-1"
EMISSIONS_DATA = ROOT / "plugins/emissions/alcyon_emissions/data"

#: The scenarios of the demo recording (alcyon_geofence/make_demo.py's docstring): 3 vessels enter
#: and leave a zone, one crosses one, one dwells, one goes dark.
GEOFENCE_ALERTS = {"entered": 3, "exited": 3, "crossed": 1, "dwell": 1, "gap": 1}
#: The bundled frames are forest, plume, forest: one smoke sequence, opened and ended.
FIRE_ALERTS = {"fire.alert": 1, "fire.alert.end": 1}
#: Lines of pyais's real sample the decoder rejects (the geofence tests pin these counts too).
REJECTED = {"ais empty_payload": 100, "ais orphan_fragment": 20, "ais position_unavailable": 4}
#: The sites the demo configures (issue #9's demo configuration); the trace's third site has none.
PUE = {"par-2": 1.16, "nl-ams": 1.3, "asso-lorient": 1.0}
ISO3 = {"FR": "FRA", "NL": "NLD"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expected_ais() -> tuple[int, int]:
    """(positions, distinct MMSIs) of the recording, decoded with pyais directly (multi-part joined)."""
    from pyais.stream import FileReaderStream

    positions, vessels = 0, set()
    for message in FileReaderStream(str(GEOFENCE_DATA / "demo_tracks.nmea")):
        try:
            decoded = message.decode()
        except Exception:  # the sample's empty payloads: rejected by alcyon too
            continue
        if decoded.msg_type in (1, 2, 3, 18, 19, 27) and -90 <= decoded.lat <= 90 and -180 <= decoded.lon <= 180:
            positions += 1
            vessels.add(decoded.mmsi)
    return positions, len(vessels)


def expected_emissions() -> tuple[dict[str, float], dict[str, float]]:
    """Joules and grams CO2e per site: the trace generator's own increments x PUE x the country table."""
    from alcyon_emissions.make_trace import make_trace

    rows, joules_by_device = make_trace()
    site_zone = {row[1]: (row[5], row[6]) for row in rows}
    mix = json.loads((EMISSIONS_DATA / "codecarbon_global_energy_mix.json").read_text())
    energy: dict[str, float] = {}
    co2e: dict[str, float] = {}
    for device, joules in joules_by_device.items():
        site, zone = site_zone[device]
        energy[site] = energy.get(site, 0.0) + joules
        co2e[site] = co2e.get(site, 0.0) + joules / 3.6e6 * PUE[site] * mix[ISO3[zone]]["carbon_intensity"]
    return energy, co2e


def scrape_while_running(process: subprocess.Popen, port: int) -> str:
    """The last /metrics page the demo served before it exited ('' if none)."""
    import urllib.request

    page = ""
    while process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                page = response.read().decode()
        except OSError:
            pass
        time.sleep(0.1)
    return page


def check_summary(stdout: str, out: Path, embedded: bool = True) -> dict:
    """The printed summary and summary.json say what the bundled data holds."""
    figures = json.loads((out / "summary.json").read_text())
    positions, vessels = expected_ais()
    energy, co2e = expected_emissions()
    frames = len(list(FIRE_FRAMES.glob("*.jpg")))
    assert figures["alerts"] == {**{f"geofence.{k}": v for k, v in GEOFENCE_ALERTS.items()}, **FIRE_ALERTS}
    assert (figures["ais_positions"], figures["vessels_seen"]) == (positions, vessels)
    assert figures["frames"] == frames == 16
    assert 0 < figures["frames_with_smoke"] < frames
    assert figures["energy_j"] == pytest.approx(energy, rel=1e-6)
    assert figures["co2e_g"] == pytest.approx(co2e, rel=1e-4)
    assert figures["rejected"] == REJECTED
    # what a person reads
    geofence = ", ".join(f"{k} {v}" for k, v in sorted(GEOFENCE_ALERTS.items()))
    assert f"{positions} AIS positions, {vessels} vessels seen; geofence alerts: {geofence}" in stdout
    assert f"fire: {frames} frames, {figures['frames_with_smoke']} with smoke" in stdout
    assert "fire alerts: fire.alert 1, fire.alert.end 1" in stdout
    total_j, total_g = sum(energy.values()), sum(co2e.values())
    assert f"energy {total_j / 1000:.1f} kJ ({total_j / 3.6e6:.4f} kWh), CO2e {total_g:.2f} g" in stdout
    assert "rejected inputs: 124 (ais empty_payload 100, ais orphan_fragment 20, ais position_unavailable 4)" in stdout
    assert f"report: {out / 'report.html'}" in stdout and (out / "report.html").is_file()
    if embedded:
        assert f"dead letters: {out / 'dead-letters.jsonl'}" in stdout
        dead = [json.loads(line) for line in (out / "dead-letters.jsonl").read_text().splitlines()]
        assert len(dead) == 124 and {d["reason"] for d in dead} == {"empty_payload", "orphan_fragment",
                                                                     "position_unavailable"}
    return figures


@pytest.mark.slow
def test_demo_installed_in_a_fresh_venv_summarises_the_bundled_data(tmp_path):
    """alcyon from a wheel of this checkout in a new venv (dependencies from this interpreter's
    site-packages through a .pth line: no download), `alcyon demo` run outside the source tree."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True, timeout=600, capture_output=True)
    [wheel] = (tmp_path / "dist").glob("alcyon-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    parents = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(site, "alcyon-test-dependencies.pth").write_text("\n".join(parents) + "\n")
    env = {**os.environ, "PYTHONPATH": "", "VIRTUAL_ENV": str(venv), "ALCYON_METRICS_PORT": str(free_port())}
    env.pop("ALCYON_BROKER_URL", None)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300,
                   env=env, capture_output=True)
    work = tmp_path / "newcomer"
    work.mkdir()
    located = subprocess.run([str(python), "-c", "import alcyon, alcyon_workers; print(alcyon.__file__)"],
                             cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert located.startswith(str(venv)), located  # the installed copy, not the checkout

    started = time.monotonic()
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:  # files: no pipe to fill
        process = subprocess.Popen([str(venv / "bin" / "alcyon"), "demo"], cwd=work, env=env, stdout=out, stderr=err)
        scraped = scrape_while_running(process, int(env["ALCYON_METRICS_PORT"]))
        process.wait(300)
    wall = time.monotonic() - started
    result = subprocess.CompletedProcess(process.args, process.returncode, (tmp_path / "out.txt").read_text(),
                                         (tmp_path / "err.txt").read_text())
    assert result.returncode == 0, result.stderr[-3000:]
    assert "alcyon_source_events_total" in scraped  # it serves metrics while it runs
    print(f"alcyon demo wall time (fresh venv, install excluded): {wall:.1f} s")
    figures = check_summary(result.stdout, work / "alcyon-demo")
    html = (work / "alcyon-demo" / "report.html").read_text()
    assert html.count('class="marker marker-') >= sum(GEOFENCE_ALERTS.values())
    assert "https://" not in html.split("<body>", 1)[1].replace("https://www.w3.org", "")  # nothing fetched

    # `alcyon report` rebuilds it from the archive alone: the same counts, the same drawings
    rebuilt = work / "rebuilt.html"
    again = subprocess.run([str(venv / "bin" / "alcyon"), "report", "--archive",
                            f"sqlite:///{work / 'alcyon-demo' / 'archive.sqlite'}", "-o", str(rebuilt)],
                           cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    text = rebuilt.read_text()
    assert text.count('class="marker marker-') == html.count('class="marker marker-')
    assert f"<b>{figures['vessels_seen']}</b><span>vessels seen" in text
    assert text.count("data:image/jpeg;base64,") == html.count("data:image/jpeg;base64,") == 16 + 1


def read_all(fd: int, process: subprocess.Popen, timeout: float = 120) -> str:
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_on_a_terminal_the_demo_draws_progress_and_human_logs_and_piped_it_logs_json(tmp_path):
    env = {**os.environ, "ALCYON_METRICS_PORT": "0", "COLUMNS": "120"}
    for key in ("ALCYON_BROKER_URL", "ALCYON_LOG_FORMAT", "ALCYON_LOG_LEVEL"):
        env.pop(key, None)
    command = [sys.executable, "-m", "alcyon.cli", "demo", "-o", str(tmp_path / "tty")]
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    screen = read_all(leader, process)
    os.close(leader)
    assert process.wait(30) == 0, screen[-3000:]
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", screen)
    # the live display: a bar per source reaching 100%, events/s per pipeline, alerts as they fire
    for source in ("ais", "camera", "power"):
        assert re.search(rf"source {source}\s+\[#{{24}}\] 100%", plain), plain[-3000:]
    assert re.search(r"maritime \d+ events, [\d,]+/s\s+fire \d+ events, [\d,]+/s\s+emissions \d+ events", plain)
    assert "\x1b[4F\x1b[J" in screen  # redrawn in place
    # (the name comes with the vessel's static report, which may be processed after its first alert)
    assert re.search(r"ALERT geofence.entered +(DEMO TRAWLER ONE|MMSI 200000001) baie de Quiberon", plain)
    assert "ALERT fire.alert         camera tower-1 bearing" in plain
    # human logs at warning level: the first rejected line of each reason, no JSON, no dramatiq noise
    assert re.search(r"warning\s*\]\s*input_rejected", plain) and plain.count("input_rejected") == 3
    assert not [line for line in plain.splitlines() if line.lstrip().startswith("{")]
    assert "same type twice" not in plain and "run_started" not in plain
    check_summary(plain.replace("\r\n", "\n"), tmp_path / "tty")

    # a broker in the environment (an operator's shell) does not make it distributed: --broker does
    piped = subprocess.run(command[:-1] + [str(tmp_path / "piped")], cwd=tmp_path, capture_output=True, text=True,
                           env={**env, "ALCYON_BROKER_URL": "amqp://nobody:wrong@127.0.0.1:1/"}, timeout=120)
    assert piped.returncode == 0, piped.stderr[-3000:]
    logs = [json.loads(line) for line in piped.stderr.splitlines()]  # every line is JSON
    assert sum(1 for line in logs if line["event"] == "input_rejected") == 124  # one each, for machines
    assert any(line["event"] == "run_started" for line in logs)
    assert "source ais" not in piped.stderr and "\x1b[" not in piped.stderr + piped.stdout
    check_summary(piped.stdout, tmp_path / "piped")
    assert "embedded mode" in piped.stdout


DEMO_QUEUES = ("alcyon.geofence", "alcyon.fire-detect", "alcyon.fire-alert", "alcyon.emissions", "alcyon.notify",
               "alcyon.archive")


def queue_depths(url: str, queues: tuple[str, ...], purge: bool = False) -> dict[str, int]:
    import pika
    import pika.exceptions

    depths = {}
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        for queue in queues:
            channel = connection.channel()
            try:
                depths[queue] = (channel.queue_purge(queue) if purge else
                                 channel.queue_declare(queue, passive=True)).method.message_count
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet
                depths[queue] = 0
    finally:
        connection.close()
    return depths


@pytest.mark.slow
@pytest.mark.rabbitmq
def test_demo_on_rabbitmq_starts_its_workers_and_says_the_same(tmp_path, broker_url):
    env = {**os.environ, "ALCYON_METRICS_PORT": "0"}
    env.pop("ALCYON_BROKER_URL", None)
    command = [sys.executable, "-m", "alcyon.cli", "demo", "--broker", broker_url]
    queue_depths(broker_url, DEMO_QUEUES, purge=True)  # what earlier tests left on this vhost
    dead_before = queue_depths(broker_url, ("alcyon.source.ais.XQ",))["alcyon.source.ais.XQ"]
    result = subprocess.run([*command, "-o", str(tmp_path / "dist")], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:] + (tmp_path / "dist" / "workers.log").read_text()[-3000:]
    assert "rabbitmq mode" in result.stdout
    check_summary(result.stdout, tmp_path / "dist", embedded=False)
    # the rejected lines are kept on the broker, every processor queue is drained, the workers are gone
    # (bundled: up to 200 rejected lines per message)
    assert queue_depths(broker_url, ("alcyon.source.ais.XQ",))["alcyon.source.ais.XQ"] > dead_before
    assert set(queue_depths(broker_url, DEMO_QUEUES).values()) == {0}
    workers_log = [json.loads(line) for line in (tmp_path / "dist" / "workers.log").read_text().splitlines()
                   if line.startswith("{")]
    started = [line["processors"] for line in workers_log if line["event"] == "worker_started"]
    assert sorted(map(sorted, started)) == [["archive", "notify"], ["emissions"], ["fire-alert", "fire-detect"],
                                            ["geofence"]]

    # messages waiting in a demo queue would be counted as the demo's: refused, named
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    connection.channel().basic_publish("", "alcyon.geofence", b"left over")
    connection.close()
    try:
        refused = subprocess.run([*command, "-o", str(tmp_path / "again")], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=120)
    finally:
        queue_depths(broker_url, ("alcyon.geofence",), purge=True)
    assert refused.returncode == 2 and "alcyon.geofence (1) already hold messages" in refused.stderr


def test_the_demo_names_the_plugins_it_misses(tmp_path):
    env = {**os.environ, "ALCYON_METRICS_PORT": "0",
           "ALCYON_LOAD_PLUGINS": "geofence=alcyon_geofence.plugin,notify=alcyon_notify.plugin"}
    result = subprocess.run([sys.executable, "-m", "alcyon.cli", "demo", "-o", str(tmp_path / "run")], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "not installed: fire, emissions, archive (pip install \"alcyon[all]\")" in result.stderr
