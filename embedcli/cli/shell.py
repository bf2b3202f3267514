"""``embedcli shell``: queries at a prompt, on a model loaded once.

Two modes, chosen by whether standard input is a terminal:

* interactive: a prompt with GNU readline's line editing, history kept across sessions
  in the user's data directory, Tab completion of vocabulary words; answers as tables.
  Ctrl-C cancels the line, Ctrl-D (or ``:quit``) leaves.
* driven by a program (stdin a pipe or a file): no banner and no prompts; each query line
  gives exactly one JSON line on stdout, the object ``embedcli batch`` writes for it
  (``{"line": N, ...}``, or ``{"line", "input", "error"}`` for a line that failed, whose
  message also goes to stderr). Settings lines print nothing. Output is flushed after
  every answer, so a program can write a line and read its answer.

A line is read by ``embedcli.lines.read_shell_line`` into the spec its command would make
(the settings are the spec's defaults), and answered on the one path of
``embedcli.queries``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from embedcli.cli.io import (
    console,
    emit,
    interrupt_handled,
    is_terminal,
    json_for_stdout,
    load_model,
    make_resolver,
    report_error,
    require_stdin,
    say,
    too_long,
    write,
    write_console,
)
from embedcli.cli.options import (
    AS_GIVEN,
    CaseOpt,
    ModelOpt,
    Reading,
    RestrictOpt,
    TopOpt,
    reads_model,
)
from embedcli.cli.prompt import History, history_path, read_lines, setup_readline
from embedcli.errors import EmbedcliError, UsageError, safe
from embedcli.formats import Format, Method

if TYPE_CHECKING:
    from embedcli.lines import Setting
    from embedcli.models import Model
    from embedcli.queries import Spec

app = typer.Typer()

PROMPT = "embedcli> "

HELP = """\
Queries (the same language as the commands):
  cat                          nearest neighbours of a word
  king - man + woman           an analogy: any + and - terms (weights: 0.5*paris)
  king man woman               the same: A B C means A - B + C
  man : king :: woman : ?      man is to king as woman is to ?
  cat ~ dog                    cosine similarity (cat ~ dog ~ car: the matrix)
Commands:
  :top N            how many answers
  :method add|mul   3CosAdd or 3CosMul for analogies
  :restrict N|off   only the N most frequent words are candidates
  :model NAME       another model (a registered name, a file, a gensim-data name)
  :explain QUERY    an analogy with the figures of 'embedcli explain'
  :axis A B WORD... where the words lie from A to B (as 'embedcli axis'; --pair, --top)
  :settings         the current settings
  :help             this help
  :quit             leave (Ctrl-D too); Ctrl-C cancels the line being typed
Tab completes words; Up and Down recall earlier lines, also from earlier sessions."""


class Session:
    """A model loaded once and the settings; reads and answers lines. Never prints.

    The settings are the defaults of every query's spec (top, method, restrict), so a
    shell line is answered exactly as the command or batch line it stands for.
    """

    def __init__(self, load: Callable[[str | None], Model], model_spec: str | None,
                 defaults: Spec, case_sensitive: bool, reading: Reading = AS_GIVEN):
        self._load = load
        self.defaults = defaults
        self.case_sensitive = case_sensitive
        self.reading = reading  # (its no_subwords: how words are resolved)
        self.model = load(model_spec)
        self.resolver = make_resolver(self.model, case_sensitive, reading=reading)

    def describe(self) -> str:
        s = self.defaults
        return (f"model {self.model.name} ({len(self.model):,} words, {self.model.dim} "
                f"dimensions); top {s.top}; method {s.method}; restrict "
                f"{'off' if s.restrict is None else f'{s.restrict:,}'}")

    def settings(self) -> dict[str, Any]:
        s = self.defaults
        return {"model": self.model.name, "top": s.top, "method": s.method,
                "restrict": s.restrict}

    def read(self, line: str) -> Spec | Setting | None:
        from embedcli.lines import read_shell_line

        return read_shell_line(line, self.defaults, self.resolver.is_word)

    def answer(self, spec: Spec) -> Any:
        from embedcli.queries import answer

        return answer(self.model, spec, self.resolver)

    def change(self, setting: Setting) -> str:
        """Apply a ``:top``, ``:method``, ``:restrict`` or ``:model`` line; what it did."""
        name, value, s = setting.name, setting.value, self.defaults
        if name == "top":
            if not value.isdigit() or int(value) < 1:
                raise UsageError(f":top takes a whole number of at least 1, not '{value}'")
            self.defaults = replace(s, top=int(value))
            return f"top {int(value)}"
        if name == "method":
            if value.lower() not in ("add", "mul"):
                raise UsageError(f":method takes add or mul, not '{value}'")
            self.defaults = replace(s, method=value.lower())
            return f"method {value.lower()}"
        if name == "restrict":
            if value.lower() in ("off", "none", "0"):
                self.defaults = replace(s, restrict=None)
                return "restrict off"
            if not value.isdigit():
                raise UsageError(f":restrict takes a whole number or off, not '{value}'")
            self.defaults = replace(s, restrict=int(value))
            return f"restrict {int(value):,}"
        if name == "model":
            model = self._load(value)  # an error leaves the current model in place
            self.model = model
            self.resolver = make_resolver(model, self.case_sensitive, reading=self.reading)
            return f"model {model.name} ({len(model):,} words, {model.dim} dimensions)"
        raise UsageError(f"':{name}' changes no setting")


def interactive(session: Session, answer: Callable[[int, Any], None],
                show: Callable[[str], None]) -> int:
    """The prompt loop on a terminal; returns the exit status (0).

    ``answer(line_number, result)`` writes an answer; ``show`` writes messages (the
    banner, help, settings) where the person reads them: on stderr when stdout is a pipe,
    which then gets the answers alone.
    """
    from embedcli.lines import Setting

    readline = None
    history = None
    prompt_here = sys.stdout.isatty()
    person = sys.stdout if prompt_here else sys.stderr  # where the person is looking
    try:
        readline = setup_readline(session)
        history = History(readline, history_path())
    except ImportError:  # a Python without readline: a plain prompt still works
        pass
    show(f"embedcli shell: {session.describe()}\n"
         "A word gives its neighbours, 'cat ~ dog' a similarity, 'king - man + woman' an "
         "analogy. :help for more, Tab completes, Ctrl-D leaves.")
    number = 0
    while True:
        try:
            if prompt_here:
                line = input(PROMPT)
            else:  # stdout is a pipe: the prompt goes where the person is looking
                sys.stderr.write(PROMPT)
                sys.stderr.flush()
                line = input()
        except KeyboardInterrupt:  # Ctrl-C: the line is dropped, a new prompt
            interrupt_handled()
            person.write("\n")
            continue
        except EOFError:  # Ctrl-D
            person.write("\n")
            person.flush()
            return 0
        number += 1
        if history is not None:
            history.added()
        try:
            item = session.read(line)
            if item is None:
                continue
            if not isinstance(item, Setting):
                answer(number, session.answer(item))
            elif item.name == "quit":
                return 0
            elif item.name == "help":
                show(HELP)
            elif item.name == "settings":
                show(session.describe())
            else:
                show(session.change(item))
        except EmbedcliError as exc:
            report_error(exc)
        except KeyboardInterrupt:  # Ctrl-C during a long answer (:model converting)
            interrupt_handled()
            sys.stderr.write("\n")
            say("", "cancelled")


def driven(session: Session, lines: Iterator[str | None], answer: Callable[[int, Any], None],
           failure: Callable[[int, str, EmbedcliError], None]) -> int:
    """Answer lines from a program: ``answer(line_number, result)`` for each query (and for
    ``:settings``, a record of them), ``failure(line_number, line, error)`` for a line
    that failed, after its message went to stderr. Other settings lines give nothing.

    Returns 0, or 1 when some line failed (as ``embedcli batch`` does).
    """
    from embedcli.lines import Setting
    from embedcli.render.records import Records

    failed = answered = 0
    for number, raw in enumerate(lines, 1):
        line = "" if raw is None else raw.rstrip("\r\n")
        try:
            if raw is None:
                raise too_long()
            item = session.read(line)
            if item is None:
                continue
            if not isinstance(item, Setting):
                result = session.answer(item)
                answered += 1
                answer(number, result)
            elif item.name == "quit":
                break
            elif item.name == "help":
                sys.stderr.write(HELP + "\n")
            elif item.name == "settings":
                answer(number, Records("settings", [session.settings()], single=True))
            else:
                session.change(item)
        except EmbedcliError as exc:
            failed += 1
            report_error(exc)
            failure(number, line, exc)
    if failed:
        say("error", f"{failed:,} of {answered + failed:,} lines failed (their output lines "
                     "carry the error)")
        return 1
    return 0


# --------------------------------------------------------------------------- the command


@app.command()
@reads_model
def shell(
    model_spec: ModelOpt = None,
    top: TopOpt = 10,
    method: Annotated[Method, typer.Option(
        "--method", case_sensitive=False, help="The analogy method to start with (:method "
                                               "changes it).")] = Method.add,
    restrict: RestrictOpt = None,
    case_sensitive: CaseOpt = False,
    format: Annotated[Format | None, typer.Option(
        "--format", "-f", case_sensitive=False,
        help="table or jsonl. Default: table on a terminal, jsonl when driven by a "
             "program.")] = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """An interactive prompt for queries, on a model loaded once.

    Example: embedcli shell --top 5

    At the prompt: 'cat' (neighbours), 'cat ~ dog' (similarity), 'king - man + woman'
    or 'man : king :: woman : ?' (analogies); ':top 5', ':method mul', ':model NAME',
    ':explain QUERY', ':help', ':quit'. Tab completes words; history is kept across
    sessions (in the user's data directory, or $EMBEDCLI_DATA_DIR); Ctrl-C cancels the
    line, Ctrl-D leaves.

    With standard input not a terminal there are no prompts: each query line gives one
    JSON line on stdout (the object 'embedcli batch' writes for it), for example

    printf 'cat\\nking - man + woman\\n' | embedcli shell
    """
    from embedcli.queries import Spec, check_options
    from embedcli.render import batch as lines_out

    if format not in (None, Format.table, Format.jsonl):
        raise UsageError(f"the shell writes table or jsonl, not {format.value}")
    defaults = Spec("", (), top, method.value, restrict)
    check_options(defaults)
    require_stdin()  # a closed stdin is said before the model loads
    session = Session(lambda spec: load_model(spec, reading), model_spec, defaults, case_sensitive,
                      reading)
    fmt = format or (Format.table if is_terminal(sys.stdout) else Format.jsonl)
    carry = json_for_stdout()

    def answer(number: int, result: Any) -> None:
        if fmt is Format.table:
            emit(result, Format.table)
        else:
            write(carry(lines_out.jsonl(number, result)))

    if sys.stdin.isatty():
        person = console(highlight=False, stderr=not is_terminal(sys.stdout))

        def show(text: str) -> None:  # a model's name, a setting: escaped, line by line
            write_console(person, "\n".join(safe(line) for line in text.split("\n")))

        status = interactive(session, answer, show)
    else:
        def failure(number: int, line: str, error: EmbedcliError) -> None:
            if fmt is Format.jsonl:  # (in a table, the stderr line says it)
                write(carry(lines_out.error_jsonl(number, line, str(error), error.status)))

        status = driven(session, read_lines(sys.stdin), answer, failure)
    if status:
        raise typer.Exit(status)
