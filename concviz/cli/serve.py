"""``concviz serve``: its own options, every check made up front (one line, not one per
browser tab), then the dashboards served in a browser until Ctrl+C."""

from __future__ import annotations

import argparse
import shlex
import sys

from .common import EXIT_OK, UsageError, load_scenario, resolve_python, spec_from_args
from .parser import Parser, build_parser

#: ``serve --big``: in Chromium a 1920x1080 page shows 137 x 33 cells, a 1280x720 one 91 x 22.
BIG_FONT = 24
#: ``serve --font-size`` bounds, in px: readable, and a page that still holds the dashboard.
MIN_FONT, MAX_FONT = 6, 96


def serve_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="concviz serve",
        description="Serve the dashboard in a browser (one dashboard per tab). Any other "
        "options are the dashboard's, e.g. -m processes -n 2.",
        epilog="examples:\n"
        "  concviz serve --big --scenario gil io-threads-vs-async race\n"
        "      a talk: PageDown / PageUp (or a slide clicker) step through the demos\n"
        "  concviz serve --replay demo.cvrec\n"
        "      the fallback: a recorded run, when the room's machine is too slow or busy\n"
        "  concviz serve --host 0.0.0.0 --public-url http://192.168.1.20:8000\n"
        "      reachable from other machines (the page's assets use the public URL)\n\n"
        "Nothing the page loads leaves this machine. Every dashboard, its run and its\n"
        "workers end when its tab closes; Ctrl+C ends them all. Only this server's own\n"
        "page (or --public-url's) may open a dashboard: other web sites cannot.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--public-url",
        default=None,
        help="the URL browsers reach it at (needed for any --host other than loopback)",
    )
    p.add_argument(
        "--big", action="store_true", help=f"a large font ({BIG_FONT}px), for the back of a room"
    )
    p.add_argument("--font-size", type=int, default=None, help="the browser's font size (16)")
    p.add_argument("--replay", metavar="FILE", default=None, help="serve a recording's replay")
    p.add_argument("--scenario", nargs="+", default=None, help="serve scenarios (a talk)")
    p.add_argument(
        "--max-dashboards",
        metavar="N",
        type=int,
        default=4,
        help="dashboards running at once, at most (default 4); more tabs are told to wait",
    )
    return p


def cmd_serve(argv: list[str]) -> int:
    """``concviz serve``: checks everything up front, then serves until Ctrl+C."""
    parser = serve_parser()
    args, rest = parser.parse_known_args(argv)
    if not 1 <= args.port <= 65535:
        raise UsageError(f"concviz serve: error: port must be 1-65535, got {args.port}")
    if args.font_size is not None and not MIN_FONT <= args.font_size <= MAX_FONT:
        raise UsageError(
            f"concviz serve: error: font-size must be {MIN_FONT}-{MAX_FONT} (px), "
            f"got {args.font_size}"
        )
    if args.max_dashboards < 1:
        raise UsageError(
            f"concviz serve: error: --max-dashboards must be at least 1, got {args.max_dashboards}"
        )
    from ..web.access import AccessError, allowed_origins, public_addresses  # noqa: PLC0415

    try:  # resolved as it will be bound: "", "0", "::0" and "0.0.0.00" are every interface
        public = public_addresses(args.host, args.port)
        origins = allowed_origins(args.host, args.port, args.public_url)
    except AccessError as exc:
        raise UsageError(f"concviz serve: error: {exc}") from None
    if public and not args.public_url:
        raise UsageError(
            f"concviz serve: error: --host {args.host!r} listens beyond this machine "
            f"({', '.join(public)}): that needs --public-url "
            "(the address browsers will use, e.g. http://192.168.1.20:8000)"
        )
    if args.replay:
        read = ["replay", args.replay, *rest]
        what = f"the replay of {args.replay}"
    elif args.scenario:
        read = ["scenario", *args.scenario, *rest]
        what = f"a talk: {' → '.join(args.scenario)} (PageDown / PageUp step through)"
    else:
        read = ["dashboard", *rest]
        what = f"the dashboard {shlex.join(rest)}".rstrip()
    try:  # the same checks the dashboard makes, but now, with one line, not per browser tab
        checked = build_parser().parse_args(read)
        if checked.command == "dashboard":
            spec_from_args(checked)
            resolve_python(checked.python)
        elif checked.command == "scenario":
            for name in checked.names:
                load_scenario(name)
        else:
            from ..observer.recording import RecordingError, read_frames  # noqa: PLC0415

            try:
                read_frames(checked.file)
            except RecordingError as exc:
                raise UsageError(str(exc)) from None
    except UsageError as exc:
        message = str(exc)
        raise UsageError(
            message if message.startswith("concviz") else f"concviz serve: {message}"
        ) from None
    from ..web.server import ConcvizServer, dashboard_command  # noqa: PLC0415

    font_size = args.font_size or (BIG_FONT if args.big else 16)
    server = ConcvizServer(
        dashboard_command(read),
        font_size=font_size,
        what=what,
        host=args.host,
        port=args.port,
        title="concviz",
        public_url=args.public_url,
        origins=origins,
        max_dashboards=args.max_dashboards,
    )
    if public:
        print(
            f"concviz serve: warning: listening on {', '.join(public)}: anyone who can reach "
            f"port {args.port} can open dashboards, which run code on this machine",
            file=sys.stderr,
        )
    try:
        server.serve()
    except OSError as exc:
        raise UsageError(
            f"concviz serve: error: cannot listen on {args.host}:{args.port}: {exc.strerror}"
        ) from None
    return EXIT_OK
