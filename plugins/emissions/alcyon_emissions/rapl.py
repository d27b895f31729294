"""Linux RAPL energy counters from ``/sys/class/powercap`` (the ``rapl`` input).

Which domains are read, so that nothing is counted twice:

* every package zone (``intel-rapl:N``, named ``package-N``; AMD's counters use the same
  driver) — the package contains its ``core`` and ``uncore`` subzones, which are skipped;
* every ``dram`` zone, nested under a package in sysfs but *not* part of the package's energy;
* not ``psys`` (the platform zone contains the packages and DRAM) nor ``intel-rapl-mmio``
  zones (the same package counter through another interface).

Each domain is one device, ``<prefix>/<zone name>`` (``prefix`` defaults to the host name),
published as an ``energy_uj`` counter with its ``max_energy_range_uj``: the processor adds the
range on a wrap.  Where RAPL is not readable (no powercap tree, a virtual machine, or
``energy_uj`` readable by root only since Linux 5.10) the input fails at start with a message
saying so; it never invents numbers.

Input URI: ``rapl`` or ``rapl:?interval=5``; ``[plugins.emissions.rapl]`` may set ``root``,
``interval_s`` and ``prefix``.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import parse_qs, urlsplit

from alcyon import ConfigError, SourceContext

from .energy import Sample

ROOT = "/sys/class/powercap"


@dataclasses.dataclass(frozen=True)
class Domain:
    device: str
    energy: Path
    max_range_uj: float


def domains(root: Path, prefix: str) -> list[Domain]:
    """The package and DRAM domains under ``root``; a ConfigError if none is readable."""
    if not root.is_dir():
        raise ConfigError(f"RAPL is not readable here: {root} does not exist (no powercap driver: a virtual "
                          "machine or a kernel without intel_rapl); no power samples from this input")
    found: list[Domain] = []
    problems: list[str] = []
    for zone in sorted(root.glob("intel-rapl:*")):  # intel-rapl-mmio:* does not match: the same counters again
        try:
            name = (zone / "name").read_text().strip()
        except OSError:
            continue
        nested = zone.name.count(":") > 1
        if name.startswith("package") and not nested:
            label = name
        elif name == "dram":
            parent = zone.parent / zone.name.rsplit(":", 1)[0] if nested else None
            label = f"{(parent / 'name').read_text().strip()}/dram" if parent and (parent / "name").exists() \
                else name
        else:
            continue  # core, uncore (inside their package), psys (contains everything)
        try:
            (zone / "energy_uj").read_text()
            max_range = float((zone / "max_energy_range_uj").read_text())
        except PermissionError:
            problems.append(f"{zone / 'energy_uj'} is readable by root only (Linux >= 5.10): run as root or "
                            "grant read access (e.g. a udev rule or chmod o+r)")
            continue
        except (OSError, ValueError) as exc:
            problems.append(f"{zone}: {exc}")
            continue
        found.append(Domain(f"{prefix}/{label}", zone / "energy_uj", max_range))
    if not found:
        raise ConfigError("RAPL is not readable here: " + ("; ".join(problems) if problems else
                                                           f"no package or dram zone under {root}"))
    return found


def rapl_reader(uri: str, config: Mapping[str, Any]) -> Any:
    settings = dict(config.get("rapl") or {})
    unknown = set(settings) - {"root", "interval_s", "prefix"}
    if unknown:
        raise ConfigError(f"[plugins.emissions.rapl]: unknown key(s) {', '.join(sorted(unknown))}; "
                          "accepted: root, interval_s, prefix")
    query = parse_qs(urlsplit(uri).query)
    try:
        interval = float(query.get("interval", [settings.get("interval_s", 5)])[0])
    except ValueError:
        raise ConfigError(f"power input {uri!r}: interval must be a number of seconds") from None
    if not interval > 0:
        raise ConfigError(f"power input {uri!r}: interval must be positive")
    root = Path(settings.get("root", ROOT))
    prefix = str(settings.get("prefix") or socket.gethostname())
    found = domains(root, prefix)  # not readable: a configuration error now, not silence later
    site, zone = config.get("site", ""), config.get("zone", "")

    def read(ctx: SourceContext) -> Iterator[Sample]:
        while ctx.running():
            started = time.monotonic()
            now = time.time()
            for d in found:
                value = float(d.energy.read_text())
                yield Sample(d.device, now, "energy_uj", value, d.max_range_uj, site, zone)
            ctx.stopping.wait(max(0.0, interval - (time.monotonic() - started)))

    return read
