"""``alcyon emissions report``: energy and CO2e per device, site or zone, from the archive.

Reads the ``emissions`` table the archive plugin fills (``ALCYON_ARCHIVE_URL`` or
``[plugins.archive] url``).  A record counts in ``[--from, --to)`` by the end of its interval.
Energy is the devices' own (IT) energy; CO2e includes each site's PUE.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from alcyon import ConfigError

from .co2e import J_PER_KWH
from .samples import parse_time_value

FIELDS = ("group", "energy_j", "kwh", "co2e_g", "basis", "gaps")


def add_report_command(subparsers: Any) -> None:
    p = subparsers.add_parser("emissions", help="emissions commands (report)")
    sub = p.add_subparsers(dest="emissions_command", metavar="ACTION", required=True)
    r = sub.add_parser("report", help="energy (J, kWh), CO2e (g), basis and gaps per group and in total",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--from", dest="start", metavar="T", help="from this time (RFC 3339 or unix seconds)")
    r.add_argument("--to", dest="end", metavar="T", help="until this time, excluded")
    r.add_argument("--by", choices=("device", "site", "zone"), default="site", help="group by (default: site)")
    r.add_argument("--format", choices=("table", "csv", "json"), default="table")
    r.add_argument("--archive", metavar="URL",
                   help="archive URL (default: ALCYON_ARCHIVE_URL or [plugins.archive] url)")
    r.set_defaults(func=_cmd_report)


def _time(text: str | None, flag: str) -> Any:
    from datetime import datetime, timezone

    if text is None:
        return None
    try:
        return datetime.fromtimestamp(parse_time_value(text), timezone.utc)
    except ValueError as exc:
        raise ConfigError(f"{flag} {text!r}: expected RFC 3339 (2026-01-01T00:00:00Z) or unix seconds "
                          f"({exc})") from None


def report_rows(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a report: one per group, then ``total``."""
    rows = []
    for s in summary:
        rows.append({"group": s["group"], "energy_j": s["energy_j"], "kwh": s["energy_j"] / J_PER_KWH,
                     "co2e_g": s["co2e_g"], "basis": " + ".join(s["basis"]), "gaps": s["gaps"]})
    bases = sorted({b for s in summary for b in s["basis"]})
    energy = sum(s["energy_j"] for s in summary)
    rows.append({"group": "total", "energy_j": energy, "kwh": energy / J_PER_KWH,
                 "co2e_g": sum(s["co2e_g"] for s in summary), "basis": " + ".join(bases),
                 "gaps": sum(s["gaps"] for s in summary)})
    return rows


def _cmd_report(args: argparse.Namespace, config: Any, host: Any) -> int:
    try:
        from alcyon_archive.plugin import archive_for, archive_url
    except ImportError:  # pragma: no cover - the archive plugin ships with alcyon
        raise ConfigError("the report reads the archive plugin's database: install alcyon[archive]") from None
    url = args.archive or archive_url(host.plugin_config("archive"))
    if not url:
        raise ConfigError("no archive to report from: set ALCYON_ARCHIVE_URL, [plugins.archive] url or --archive")
    summary = archive_for(url).summary(args.by, _time(args.start, "--from"), _time(args.end, "--to"))
    rows = report_rows(summary)
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=1)
        print()
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(_table(rows, args.by))
    return 0


def _table(rows: list[dict[str, Any]], by: str) -> str:
    cells = [[by, "energy J", "kWh", "CO2e g", "gaps", "basis"]]
    for r in rows:
        cells.append([r["group"], f"{r['energy_j']:.1f}", f"{r['kwh']:.6f}", f"{r['co2e_g']:.3f}", str(r["gaps"]),
                      r["basis"]])
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    lines = ["  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:5], widths[1:])), row[5]])
             for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(-1, "-" * len(lines[0]))
    return "\n".join(lines)
