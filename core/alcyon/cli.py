"""The ``alcyon`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from . import __version__
from .config import SETTINGS, Config, load_config
from .errors import AlcyonError, BrokerError, ConfigError
from .logs import configure_logging, redact
from .plugins import PluginHost

DESCRIPTION = """\
alcyon routes sensor events (camera frames, AIS pings, power samples) to plugin processors.

With no broker configured everything runs in one process (the embedded mode):
  alcyon demo                    the three pipelines over the bundled data: progress, summary, report
  alcyon run --until-idle        replay the configured sources, process, print a summary
With RabbitMQ (ALCYON_BROKER_URL=amqp://user:pass@host:5672/):
  alcyon topology --apply        declare the exchange, queues and bindings
  alcyon worker -p geofence      run processors, scale by starting more workers
  alcyon publish events.jsonl    publish JSON-lines events

Configuration: --config FILE (or ALCYON_CONFIG, or ./alcyon.toml) plus ALCYON_* variables;
`alcyon config check` validates it and lists every key.
"""


def build_parser(host: PluginHost | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alcyon", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"alcyon {__version__}")
    parser.add_argument("-c", "--config", help="TOML configuration file (default: $ALCYON_CONFIG or ./alcyon.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run sources and processors in one process (embedded when no broker is set)",
                       description="Run every enabled source and processor in this process. Without "
                                   "ALCYON_BROKER_URL it is the embedded mode: same routing, retries, dead "
                                   "letters and metrics as the distributed mode, no broker needed.")
    p.add_argument("--until-idle", action="store_true",
                   help="exit once every source has finished and every event is processed (demos, replays)")
    p.add_argument("--source", action="append", help="run only this source (repeatable)")
    p.add_argument("--threads", type=int, help="handler threads (default: worker_threads)")
    p.add_argument("-i", "--input", metavar="FILE",
                   help="publish the events of this JSON-lines file ('-' for stdin), validated first, process "
                        "them and exit when idle; no source runs unless named with --source")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("demo", help="see alcyon work: the three pipelines over the bundled data, a summary, a report",
                       description="Run the maritime (recorded AIS tracks over the French marine protected "
                                   "areas), fire (smoke frames, the baseline model) and emissions (a power "
                                   "trace) pipelines together over their bundled data, in this process, with a "
                                   "live display on a terminal; then print a summary and write a "
                                   "self-contained HTML report. Your configuration is kept, the demo's keys "
                                   "are layered over it.")
    p.add_argument("-o", "--out", default="alcyon-demo", metavar="DIR",
                   help="run directory: archive, alerts, dead letters, summary.json, report.html "
                        "(default: ./alcyon-demo; its previous demo files are replaced)")
    p.add_argument("--broker", metavar="URL",
                   help="run it distributed on RabbitMQ (amqp://user:pass@host:5672/vhost, an empty vhost): "
                        "the sources here, one `alcyon worker` subprocess per plugin, the same summary")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("report", help="write the HTML report of a run from its archive",
                       description="Rebuild the self-contained HTML report (map of the protected areas with "
                                   "tracks and alerts, smoke frames, emissions chart, counts) from an archive: "
                                   "the demo's, or any run's with the archive plugin (embedded or distributed).")
    p.add_argument("--archive", default="sqlite:///alcyon-demo/archive.sqlite",
                   help="sqlite:///PATH or postgresql://... (default: the demo's)")
    p.add_argument("--zones", help="GeoJSON of the protected areas to draw (default: the geofence plugin's bundled)")
    p.add_argument("-o", "--out", default="report.html", help="HTML file to write (default: report.html)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("worker", help="run processors against RabbitMQ until SIGTERM",
                       description="Consume the queues of the selected processors (all by default) from "
                                   "RabbitMQ. SIGTERM stops gracefully within shutdown_grace_s; unfinished "
                                   "messages go back to the queue.")
    p.add_argument("-p", "--processors", help="comma-separated processor or plugin names (a plugin: all its "
                                               "processors; default: all installed)")
    p.add_argument("--threads", type=int, help="handler threads (default: worker_threads)")
    p.set_defaults(func=_cmd_worker)

    p = sub.add_parser("ingest", help="run a source alone, publishing its events (to RabbitMQ, or embedded)",
                       description="Run one source (e.g. ais) without processors: what a receiver-side "
                                   "process does in a distributed deployment. Its inputs come from its plugin "
                                   "configuration, or from --input. For ais: `demo` (the bundled recording), "
                                   "file:PATH[?speed=1] (replay, optionally at recorded speed), "
                                   "udp://HOST:PORT (listen), tcp://HOST:PORT (connect to a receiver, "
                                   "reconnecting).")
    p.add_argument("source", help="source name (see `alcyon plugins`)")
    p.add_argument("-i", "--input", action="append", metavar="URI", help="an input (repeatable)")
    p.add_argument("--until-idle", action="store_true", help="exit once the inputs are exhausted (files)")
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser("publish", help="publish events from a JSON-lines file ('-' for stdin)",
                       description="Each line is a CloudEvents object: type and subject are required; source "
                                   "and time default to this file and now; id defaults to one derived from the "
                                   "line's content and number, so publishing a file twice sends the same events "
                                   "again, not duplicates. The whole file is validated first (JSON, envelope, "
                                   "the schema of each installed event type): one bad line and nothing is sent. "
                                   "With RabbitMQ, events are batched by type and confirmed by the broker before "
                                   "the command exits; embedded (no ALCYON_BROKER_URL), the installed processors "
                                   "handle them in this process until idle.")
    p.add_argument("file", help="JSON-lines file, or - for standard input")
    p.add_argument("--dry-run", action="store_true", help="validate the file and say what would be sent; send nothing")
    p.set_defaults(func=_cmd_publish)

    p = sub.add_parser("topology", help="print (or --apply) the exchange, queues and bindings",
                       description="What the installed, enabled processors imply on RabbitMQ.")
    p.add_argument("--apply", action="store_true", help="declare it on the broker (idempotent)")
    p.set_defaults(func=_cmd_topology)

    p = sub.add_parser("plugins", help="list installed plugins, their hooks, processors and subscriptions")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_plugins)

    p = sub.add_parser("new-plugin", help="create a plugin project that passes its own tests",
                       description="Write a plugin project (pyproject with the alcyon.plugins entry point, a "
                                   "processor named like the plugin, its tests) into DIRECTORY.")
    p.add_argument("name", help="plugin name: lower-case letters, digits, '_'")
    p.add_argument("directory", nargs="?", help="where to create it (default: ./alcyon-NAME)")
    p.add_argument("--stateful", action="store_true",
                   help="a processor with keyed state (an energy budget per meter over a rolling window), tested "
                        "embedded and on RabbitMQ + Redis")
    p.set_defaults(func=_cmd_new_plugin)

    p = sub.add_parser("config", help="configuration commands")
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    c = config_sub.add_parser("check", help="validate the configuration and print every key (secrets redacted)",
                              description="Validate the configuration and print every key (secrets redacted). "
                                          "With --connect, also connect to every configured service (RabbitMQ: "
                                          "credentials, vhost, TLS, then the exchange and every processor's "
                                          "queues; Redis: PING) and exit 1 if any fails, saying how to fix it.")
    c.add_argument("--connect", action="store_true",
                   help="connect to RabbitMQ and Redis and check the topology (what `helm test` runs)")
    c.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="per-connection timeout for --connect (default: 5)")
    c.set_defaults(func=_cmd_config_check)

    p = sub.add_parser("dlq", help="dead letters: list, show, replay, purge",
                       description="Dead letters are kept (with their original bytes, reason, error, attempts) "
                                   "until you act. replay sends them back to their processor's queue.")
    dlq_sub = p.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    for name, help_text in (("list", "one line per dead letter"), ("show", "one dead letter in full"),
                            ("replay", "send dead letters back to their processor"),
                            ("purge", "delete dead letters for good")):
        d = dlq_sub.add_parser(name, help=help_text)
        d.add_argument("processor", help="processor (or source) name (see `alcyon plugins`), or `unrouted`: "
                                         "events no processor subscribed to")
        if name == "show":
            d.add_argument("id", help="dead-letter id (from `alcyon dlq list`)")
        if name in ("replay", "purge"):
            group = d.add_mutually_exclusive_group(required=True)
            group.add_argument("--id", action="append", help="this dead letter (repeatable)")
            group.add_argument("--all", action="store_true", help="every dead letter of the processor")
        d.set_defaults(func=_cmd_dlq)

    if host is not None:
        host.add_cli_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    config_path = _peek_config(argv)
    configure_logging()  # logs to stderr from the start: stdout is the command's output (--json)
    try:
        config = load_config(config_path)
        configure_logging(config.log_level, config.log_format)
        host = PluginHost(config).load_entry_points()
    except AlcyonError as exc:
        if any(a in ("-h", "--help", "--version") for a in argv):
            config, host = None, None  # still show help when the configuration is broken
        else:
            print(f"alcyon: error: {redact(str(exc))}", file=sys.stderr)
            return 2
    if config is not None:  # every command logs as a process does: JSON, redacted, on stderr
        configure_logging(config.log_level, config.log_format, _Stderr())
    parser = build_parser(host)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args, config, host) or 0)
    except AlcyonError as exc:
        print(f"alcyon: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written (a test's capture, a redirected stream)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _peek_config(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg in ("-c", "--config") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


# -- commands ---------------------------------------------------------------------------------
def _long_running(config: Config) -> None:
    """Logs and the metrics directory set up before any plugin hook runs (a hook may create metrics)."""
    from alcyon_workers.process import prepare_process

    prepare_process(config)


def _cmd_run(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    from alcyon_workers.runner import run_all

    _long_running(config)
    if args.input is None:
        return run_all(config, until_idle=args.until_idle, sources=args.source, threads=args.threads,
                       host=host)
    events = _read_input(args.input, host)
    return run_all(config, until_idle=True, sources=args.source or (), threads=args.threads, events=events,
                   host=host)


def _cmd_demo(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    from pathlib import Path

    from alcyon_workers.demo import run_demo

    return run_demo(config, Path(args.out), broker=args.broker)


def _cmd_report(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    from pathlib import Path

    from alcyon_workers.report import write_report

    out = write_report(args.archive, Path(args.out), zones=Path(args.zones) if args.zones else None)
    print(out)
    return 0


def _read_input(path: str, host: PluginHost) -> list[Any]:
    """Every event of ``path`` ('-': stdin), validated against the installed event types, or an error."""
    from .inputs import read_events

    types = host.validate().event_types()
    if path == "-":
        return read_events(sys.stdin.buffer, "<stdin>", types)
    try:
        with open(path, "rb") as stream:
            return read_events(stream, path, types)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _cmd_ingest(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    from alcyon_workers.runner import run_all

    if config.embedded:
        print("alcyon: error: ingest publishes to RabbitMQ: set ALCYON_BROKER_URL (without a broker, "
              "`alcyon run` runs the sources and the processors together)", file=sys.stderr)
        return 2
    return run_all(config, until_idle=args.until_idle, sources=[args.source], processors=False, inputs=args.input,
                   host=host)


def _cmd_worker(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    from alcyon_workers.worker import run_worker

    _long_running(config)
    return run_worker(config, processor_names(host, args.processors), args.threads, host=host)


def processor_names(host: PluginHost, selection: str | None) -> list[str] | None:
    """``-p a,b``: each a processor name, or a plugin name standing for all of its processors."""
    if not selection:
        return None
    by_plugin: dict[str, list[str]] = {}
    for p in host.validate().processors():
        by_plugin.setdefault(p.plugin, []).append(p.name)
    names: list[str] = []
    for name in filter(None, (n.strip() for n in selection.split(","))):
        expanded = by_plugin.get(name) if not any(name in group for group in by_plugin.values()) else None
        names.extend(n for n in (expanded or [name]) if n not in names)
    return names


def _cmd_publish(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    from collections import Counter

    from .runtime import Runtime

    events = _read_input(args.file, host)
    if args.dry_run:
        counts = Counter(e.type for e in events)
        print(f"{len(events)} event(s) valid ({', '.join(f'{t} {n}' for t, n in sorted(counts.items())) or 'none'}); "
              "nothing published (--dry-run)")
        return 0
    if config.embedded:
        from alcyon_workers.runner import run_all

        return run_all(config, until_idle=True, sources=(), events=events, host=host)
    from .services import require_services

    require_services(config)  # a wrong password says so now, not "not confirmed" after the flush timeout
    runtime = Runtime(config, host)
    try:
        for event in events:
            runtime.publish(event)
        runtime.flush()
    finally:
        runtime.stop(grace_s=10)
    print(f"published {len(events)} event(s), confirmed by the broker")
    return 0


def _topology(config: Config, host: PluginHost) -> Any:
    """What the installed, enabled processors imply on RabbitMQ."""
    from .topology import Topology

    return Topology.of(host.processors(), config.exchange, int(config.dead_letter_ttl_days * 86_400_000) or None)


def _cmd_topology(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    host.validate()
    topology = _topology(config, host)
    print(topology.describe())
    if args.apply:
        if config.embedded:
            print("alcyon: error: --apply needs ALCYON_BROKER_URL (the embedded mode declares nothing)",
                  file=sys.stderr)
            return 2
        import pika.exceptions

        from .amqp import blocking_channel, parameters_from_config
        from .topology import explain_declare_error

        try:
            with blocking_channel(parameters_from_config(config)) as channel:
                topology.declare_all(channel)
        except pika.exceptions.ChannelClosedByBroker as exc:
            raise BrokerError(explain_declare_error(exc, topology)) from None
        print("applied")
    return 0


def _cmd_plugins(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    infos = host.info()
    if args.json:
        print(json.dumps([{
            "name": i.name, "version": i.version, "hooks": list(i.hooks),
            "processors": [{"name": p.name, "subscribe": list(p.subscribe), "queue": p.queue,
                            "batch": p.handle_batch is not None, "stateful": p.stateful} for p in i.processors],
            "sources": [{"name": s.name, "publishes": list(s.publishes)} for s in i.sources],
            "event_types": [t.name for t in i.event_types],
            "options": [{"name": o.name, "type": _type_names(o.type), "default": o.default, "required": o.required,
                         "minimum": o.minimum, "maximum": o.maximum,
                         "choices": list(o.choices) if o.choices else None, "help": o.help}
                        for o in host.options(i.name)],
        } for i in infos], indent=2, default=str))
        return 0
    if not infos:
        print("no plugins installed (or all disabled)")
    for i in infos:
        print(f"{i.name} {i.version}")
        print(f"  hooks: {', '.join(h.removeprefix('alcyon_') for h in i.hooks)}")
        for p in i.processors:
            kind = "batch" if p.handle_batch is not None else "per event"
            print(f"  processor {p.name} ({kind}{', stateful' if p.stateful else ''}) <- {', '.join(p.subscribe)}")
        for s in i.sources:
            print(f"  source {s.name} -> {', '.join(s.publishes)}")
        for t in i.event_types:
            print(f"  event type {t.name}")
        for o in host.options(i.name):
            print(f"  option {o.name}: {o.describe()}")
    if config.disabled:
        print(f"disabled: {', '.join(sorted(config.disabled))}")
    return 0


def _cmd_new_plugin(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    from pathlib import Path

    from .plugin_template import create_plugin

    directory = Path(args.directory or f"alcyon-{args.name.replace('_', '-')}")
    files = create_plugin(args.name, directory, stateful=args.stateful)
    tests = ("pytest -m 'not rabbitmq'   (pytest alone also runs them on RabbitMQ + Redis)" if args.stateful
             else "pytest")
    print(f"created {len(files)} files in {directory}; next: cd {directory} && pip install -e \".[test]\" && {tests}")
    return 0


def _cmd_config_check(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    host.validate()
    print(f"configuration OK ({config.path or 'no file'}; mode: {'embedded' if config.embedded else 'rabbitmq'})")
    width = max(len(s.name) for s in SETTINGS)
    for name, shown, help_text in config.describe():
        print(f"  {name:<{width}}  {shown:<24}  {help_text}")
    for name in host.names():
        print(f"  [plugins.{name}]")
        _print_options(host, name, "    ")
    if args.connect:
        return _connect_check(config, host, args.timeout)
    return 0


def _connect_check(config: Config, host: PluginHost, timeout: float) -> int:
    from .services import check_services

    results = check_services(config, timeout=timeout, topology=_topology(config, host))
    if not results:
        print("services: none configured (embedded mode, state in memory)")
    for status in results:
        print(f"  {'ok  ' if status.ok else 'FAIL'} {redact(str(status))}")
    failed = sum(not s.ok for s in results)
    print(f"services: {len(results) - failed} ok, {failed} failed")
    return 1 if failed else 0


def _print_options(host: PluginHost, name: str, indent: str) -> None:
    """Each option of plugin ``name``: its value (redacted) and what it accepts, with its help."""
    values = host.plugin_config(name)
    options = host.options(name)
    if not options:
        print(f"{indent}(no options)")
    width = max((len(o.name) for o in options), default=0)
    for option in options:
        shown = redact(json.dumps(values.get(option.name), default=str))
        print(f"{indent}{option.name:<{width}} = {shown:<24}  {option.describe()}")


def _cmd_dlq(args: argparse.Namespace, config: Config, host: PluginHost) -> int:
    from .dlq import DeadLetterAdmin

    admin = DeadLetterAdmin(config, host.validate())
    try:
        return admin.run(args)
    finally:
        admin.close()


def _type_names(expected: Any) -> list[str]:
    return [t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,))]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
