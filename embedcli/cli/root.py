"""The Typer app: the group and its callback, built from the command areas that a run
needs (``embedcli.cli.app`` says which). Every way a run can end becomes one stderr line
and one exit status here, in one place.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup

from embedcli import __version__
from embedcli.cli import io
from embedcli.errors import EmbedcliError, ExitStatus, StreamError, UsageError, shown


class EmbedcliGroup(TyperGroup):
    """Maps every way a run can end to one stderr line and one exit status."""

    def main(self, args: Sequence[str] | None = None,  # type: ignore[override]
             prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        io.interrupt_handled()  # a Ctrl-C of an earlier run in this process is history
        try:
            try:
                status = super().main(args, prog_name or io.PROG, complete_var,
                                      standalone_mode=False, **extra)
                status = status if isinstance(status, int) else 0
            except typer.TyperException as exc:  # click's usage errors (typer vendors click)
                status = _usage(exc)  # (NoArgsIsHelp writes the help: that may fail too)
        except EmbedcliError as exc:
            if io.interrupted():  # see _on_signal
                status = stopped()
            else:
                io.report_error(exc)
                status = exc.status
        except StreamError as exc:  # stdin cannot be read, or stdout written
            if io.interrupted():
                status = stopped()
            else:
                io.say("error", str(exc))
                status = exc.status
        except BrokenPipeError:  # the reader left while typer wrote (--show-completion | head)
            status = io.the_reader_left()
        except SystemExit:
            # click's and rich's own answer to a closed pipe while they write (click's help,
            # rich's tables): exit 1 (rich points stdout at /dev/null first). Ours is 141,
            # as for answers.
            if not _stdout_was_closed():
                raise
            status = io.the_reader_left()
        except (KeyboardInterrupt, typer.Abort):
            io.to_stderr("\n")
            status = stopped()
        except io.Stopped:  # SIGTERM, SIGHUP: the work has unwound as for Ctrl-C
            status = stopped()
        except Exception as exc:  # a bug: still one line, no traceback (EMBEDCLI_DEBUG=1 shows it)
            if io.interrupted():  # see _on_signal
                status = stopped()
            elif os.environ.get("EMBEDCLI_DEBUG"):
                raise
            else:
                io.say("internal error", f"{type(exc).__name__}: {shown(str(exc))} (please "
                       "report this; EMBEDCLI_DEBUG=1 shows the traceback)")
                status = ExitStatus.INTERNAL
        sys.exit(int(status))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and not ctx.resilient_parsing:
            _glued_after_a_query(command, rest, f"{ctx.command_path} {name}")
        return name, command, rest


def _glued_after_a_query(command: Any, args: list[str], path: str) -> None:
    """``embedcli analogy king -man +woman``: click reads ``-man`` as ``-m an`` (a model
    named 'an'). A short option glued to letters, after a word of the query, is taken for
    a word of the query: a usage error that says how to write it. Options whose value is
    itself a word (``--expect``, ``-equeen``) are taken as written."""
    short = {}
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option" or param.is_flag or param.count:
            continue
        for opt in param.opts:
            if len(opt) == 2 and opt[0] == "-" and opt[1] != "-" and param.metavar != "WORD":
                short[opt] = param
    if not short:
        return
    options = {opt for p in command.params if getattr(p, "param_type_name", "") == "option"
               for opt in [*p.opts, *p.secondary_opts]}
    takes_value = {opt for p in command.params if getattr(p, "param_type_name", "") == "option"
                   and not (p.is_flag or p.count) for opt in p.opts}
    after_word = False
    words: list[str] = []
    k = 0
    while k < len(args):
        arg = args[k]
        k += 1
        if arg == "--":
            return
        if not arg.startswith("-") or arg == "-" or any(c.isspace() for c in arg):
            after_word = True
            words.append(arg)
            continue
        param = short.get(arg[:2])
        value = arg[2:]
        if after_word and param is not None and value.isalpha() and \
                value not in getattr(param.type, "choices", ()):
            query = [*words, arg]
            for more in args[k:]:  # the query's words up to the next option
                if more.startswith("--") or more in options:
                    break
                query.append(more)
            query_text = " ".join(query)
            long = max(param.opts, key=len)
            raise UsageError(
                f"'{arg}' after the query is read as the option {arg[:2]} ({long}) with the "
                f"value '{value}'; to write the query word '{arg[1:]}' with a minus, quote "
                f"the query ({path} \"{query_text}\") or put it after '--' (options first: "
                f"{path} [OPTIONS] -- {query_text})")
        if arg in takes_value:
            k += 1


def stopped() -> ExitStatus:
    """The status of the interrupting signals recorded (130 if none is: a Ctrl-C that
    typer saw as an Abort); SIGTERM and SIGHUP say so in one line (Ctrl-C's newline is
    enough at a terminal)."""
    status = io.interrupt_status()
    if status != ExitStatus.INTERRUPTED:
        io.say("", f"stopped by {signal.Signals(status - 128).name}")
    return status


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
    if io.closed_at_start(sys.stdout):  # (its descriptor leads to /dev/null, from the start)
        return False
    if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # typer's wrapper
        return True
    try:  # rich's: stdout's descriptor now leads to /dev/null
        here, null = os.fstat(1), os.stat(os.devnull)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (null.st_dev, null.st_ino)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"{io.PROG} {__version__}\n")
        raise typer.Exit()


def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Word-embedding arithmetic at the command line: analogies, neighbours, similarity.

    Example: embedcli analogy "king - man + woman"
    """


def build(areas: Sequence[str], command: str | None = None, *,
          listing: bool = False) -> typer.Typer:
    """The app with the commands of ``areas`` (``app.AREAS``: the whole CLI); with
    ``command``, of those only that one (typer turns each command it holds into a click
    command, parameter by parameter, on every run); with ``listing``, the commands'
    names and help texts without their parameters, for the list ``embedcli --help``
    prints (a test checks it prints what the whole app prints)."""
    built = typer.Typer(
        cls=EmbedcliGroup,
        name=io.PROG,
        help="Word-embedding arithmetic at the command line: analogies, neighbours, "
             "similarity.",
        no_args_is_help=True,
        rich_markup_mode=None,  # plain help: see _keep_examples
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    built.callback()(_root)
    for area in areas:
        app = importlib.import_module(area).app
        _keep_examples(app)
        built.add_typer(_listed(app) if listing else _only(app, command))
    return built


def _listed(area: typer.Typer) -> typer.Typer:
    """``area``'s app with each command's name and help, and no parameters."""
    listed = typer.Typer(help=area.info.help)
    listed.registered_commands = [copy.copy(info) for info in area.registered_commands]
    for info in listed.registered_commands:
        if info.help is None:
            info.help = inspect.getdoc(info.callback)
        if info.name is None:
            info.name = typer.main.get_command_name(getattr(info.callback, "__name__", ""))
        info.callback = _nothing
    listed.registered_groups = [copy.copy(group) for group in area.registered_groups]
    for group in listed.registered_groups:
        if group.typer_instance is not None:
            group.typer_instance = _listed(group.typer_instance)
    return listed


def _nothing() -> None:
    """A listed command's stand-in (never run: a run of a command builds it whole)."""


# Help is click's plain text, not rich's panels: rich's help formatter imports rich's
# markdown and syntax modules and costs more than typer itself at every --help (measured:
# 0.12 s against 0.07 s), and plain text never reads a word of the help as markup. Click
# rewraps each paragraph to the terminal's width; the paragraphs that show commands keep
# their lines (click's "\b" marker).
_SHOWS_COMMANDS = re.compile(r"^(?:embedcli |printf |if embedcli )|\S  +\S", re.MULTILINE)


def _keep_examples(app: typer.Typer) -> None:
    """Mark the paragraphs of ``app``'s help texts that show commands (idempotent)."""
    for info in app.registered_commands:
        text = info.help if info.help is not None else inspect.getdoc(info.callback)
        if text and "\b" not in text:
            info.help = "\n\n".join("\b\n" + p if _SHOWS_COMMANDS.search(p) else p
                                    for p in text.split("\n\n"))
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _keep_examples(group.typer_instance)


def _only(area: typer.Typer, command: str | None) -> typer.Typer:
    """``area``'s app with only ``command`` in it, if it is one of its commands (a group,
    such as ``models``, is kept whole)."""
    if command is None:
        return area
    kept = [info for info in area.registered_commands
            if (info.name or typer.main.get_command_name(getattr(info.callback, "__name__", "")))
            == command]
    if not kept:
        return area
    alone = typer.Typer()
    alone.registered_commands = kept
    return alone
