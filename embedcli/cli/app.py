"""The Typer app: the group, ``main``, and the ordered list of command areas. Every way a
run can end becomes one stderr line and one exit status here, in one place.

A command area is a module with its own ``app = typer.Typer()``; adding a command means
writing it in an area's module (or a new module, with one line in ``AREAS``).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from embedcli import __version__
from embedcli.cli import io
from embedcli.errors import EmbedcliError, ExitStatus, shown

# The command areas, in the order `embedcli --help` lists them.
AREAS = (
    "embedcli.cli.queries",    # analogy, neighbors, similarity, doesnt-match, vector, rank, vocab
    "embedcli.cli.batch",      # batch
    "embedcli.cli.shell",      # shell
    "embedcli.cli.classroom",  # explain, interpolate, plot, quiz
    "embedcli.cli.evaluate",   # evaluate analogies|similarity
    "embedcli.cli.models",     # models list|info|add|remove|default
)


class EmbedcliGroup(TyperGroup):
    """Maps every way a run can end to one stderr line and one exit status."""

    def main(self, args: Sequence[str] | None = None,  # type: ignore[override]
             prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        io.interrupt_handled()  # a Ctrl-C of an earlier run in this process is history
        try:
            status = super().main(args, prog_name or io.PROG, complete_var,
                                  standalone_mode=False, **extra)
            status = status if isinstance(status, int) else 0
        except EmbedcliError as exc:
            if io.interrupted():  # see _on_ctrl_c
                status = ExitStatus.INTERRUPTED
            else:
                io.report_error(exc)
                status = exc.status
        except typer.TyperException as exc:  # click's usage errors (typer vendors click)
            status = _usage(exc)
        except SystemExit:
            # rich's and typer's own answer to a closed pipe while they print help: exit
            # 1 (rich points stdout at /dev/null first). Ours is 141, as for answers.
            if not _stdout_was_closed():
                raise
            status = io.the_reader_left()
        except (KeyboardInterrupt, typer.Abort):
            sys.stderr.write("\n")
            status = ExitStatus.INTERRUPTED
        except Exception as exc:  # a bug: still one line, no traceback (EMBEDCLI_DEBUG=1 shows it)
            if io.interrupted():  # see _on_ctrl_c
                status = ExitStatus.INTERRUPTED
            elif os.environ.get("EMBEDCLI_DEBUG"):
                raise
            else:
                io.say("internal error", f"{type(exc).__name__}: {shown(str(exc))} (please "
                       "report this; EMBEDCLI_DEBUG=1 shows the traceback)")
                status = ExitStatus.INTERNAL
        sys.exit(int(status))


def _usage(exc: typer.TyperException) -> int:
    if type(exc).__name__ == "NoArgsIsHelpError":
        try:
            sys.stdout.write(exc.format_message() + "\n")
            sys.stdout.flush()
            return ExitStatus.OK
        except BrokenPipeError:
            return io.the_reader_left()
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and type(exc).__name__ == "NoSuchOption" and \
            ctx.command.name in ("analogy", "neighbors", "explain"):
        message += (" (a query that starts with '-' goes after '--': "
                    f"{ctx.command_path} -- \"-king + woman\")")
    elif ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    io.say("error", message)
    return int(getattr(exc, "exit_code", ExitStatus.USAGE))


def _stdout_was_closed() -> bool:
    if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # typer's wrapper
        return True
    try:  # rich's: stdout's descriptor now leads to /dev/null
        here, null = os.fstat(1), os.stat(os.devnull)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (null.st_dev, null.st_ino)


app = typer.Typer(
    cls=EmbedcliGroup,
    name=io.PROG,
    help="Word-embedding arithmetic at the command line: analogies, neighbours, similarity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"{io.PROG} {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Word-embedding arithmetic at the command line: analogies, neighbours, similarity.

    Example: embedcli analogy "king - man + woman"
    """


for _area in AREAS:
    app.add_typer(importlib.import_module(_area).app)


def main() -> None:
    """Console-script entry point (``embedcli``, ``python -m embedcli``)."""
    # An answer that the terminal's encoding cannot show is escaped, not a crash
    # (PYTHONIOENCODING=ascii); JSON then escapes non-ASCII itself (see io.emit).
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    signal.signal(signal.SIGINT, _on_ctrl_c)
    try:
        app()
    except SystemExit as exit:
        if exit.code == ExitStatus.INTERRUPTED:
            _exit_interrupted()
        raise


def _on_ctrl_c(signum: int, frame: Any) -> None:
    """Python's own Ctrl-C (a KeyboardInterrupt), remembered: an interrupt that lands while
    an extension module initialises comes out as an ImportError ("initialization
    failed", seen in CI), which must end as Ctrl-C (130), not as an internal error."""
    io.INTERRUPTS.append(signum)
    raise KeyboardInterrupt


def _exit_interrupted() -> None:
    """Exit 130 after Ctrl-C, every time.

    By now the interrupted work has cleaned up after itself (a half-written cache entry is
    removed as the interrupt unwinds). A plain ``sys.exit(130)`` is not enough: when the
    interrupt lands while an extension module is importing, CPython sets its flag for an
    unhandled KeyboardInterrupt even though typer caught it, and at exit kills the process
    with SIGINT instead (status -2, seen in CI). Ending without the interpreter's shutdown
    gives the documented status.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(ExitStatus.INTERRUPTED)
