"""The options the commands share, as Typer parameter types, and how a command reads its
model (:class:`Reading`). A leaf of the CLI: it imports nothing of embedcli but the
formats, ``reading`` and ``complete`` (shell completion), so that every command module
can use it and none imports another."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import fields
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from embedcli.cli import complete
from embedcli.cli.reading import AS_GIVEN as AS_GIVEN  # (the commands import both from here)
from embedcli.cli.reading import Reading as Reading
from embedcli.formats import Format, Method

ModelOpt = Annotated[str | None, typer.Option(
    "--model", "-m", show_default=False, autocompletion=complete.models,
    help="A registered name, the bundled glove-6b-50d (alias glove-wiki-gigaword-50), a "
         "vector file (GloVe, word2vec, fastText .vec or .bin, gensim save; .gz/.bz2; "
         "archive.zip:member) or a gensim-data name. Default: $EMBEDCLI_MODEL, else the "
         "registered default, else glove-6b-50d.")]
LimitOpt = Annotated[int | None, typer.Option(
    "--limit", min=1, metavar="N",
    help="Load only the first N (most frequent) words, as gensim's limit=.")]
TrustOpt = Annotated[bool, typer.Option(
    "--trust",
    help="Load a gensim save (.kv, .model): a pickle, which runs code from the file.")]
UnicodeOpt = Annotated[str, typer.Option(
    "--unicode-errors", metavar="strict|replace",
    help="What to do with invalid UTF-8 in a vector file.")]
DtypeOpt = Annotated[str | None, typer.Option(
    "--dtype", metavar="float32|float16", show_default=False,
    help="How the cache stores vectors; float16 halves its size (scores stay float32).")]
NoSubwordsOpt = Annotated[bool, typer.Option(
    "--no-subwords",
    help="A fastText model with subwords gives a word outside its vocabulary the vector of "
         "its character n-grams; with this, such a word is unknown (with suggestions).")]
# --top and --restrict are checked by embedcli.queries.check, as on every entry point
TopOpt = Annotated[int, typer.Option("--top", "-n", help="How many answers.")]
RestrictOpt = Annotated[int | None, typer.Option(
    "--restrict", metavar="N",
    help="Only the N most frequent words are candidates (both methods).")]
FormatOpt = Annotated[Format | None, typer.Option(
    "--format", "-f", case_sensitive=False,
    help="Output format. Default: table on a terminal, tsv otherwise.")]
CaseOpt = Annotated[bool, typer.Option(
    "--case-sensitive", help="Do not fall back to a word's lower-case form.")]
IncludeOpt = Annotated[bool, typer.Option(
    "--include-inputs", help="Keep the query's own words among the answers.")]
MethodOpt = Annotated[Method, typer.Option(
    "--method", case_sensitive=False,
    help="add: 3CosAdd (gensim most_similar); mul: 3CosMul (gensim most_similar_cosmul).")]
QueryArg = Annotated[list[str], typer.Argument(
    metavar="QUERY...", autocompletion=complete.words,
    help="The query, quoted or as separate words.", show_default=False)]


_READING_OPTIONS = [  # the options behind Reading, in its order, as Typer parameters
    inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default,
                      annotation=annotation)
    for f, annotation in zip(fields(Reading),
                             [LimitOpt, TrustOpt, UnicodeOpt, DtypeOpt, NoSubwordsOpt],
                             strict=True)]


def reads_model(command: Callable[..., Any] | None = None, *,
                words: bool = True) -> Any:
    """Give a command the options that say how to read its model, after its own, and hand
    them to it as one ``reading: Reading`` argument (Typer has no groups of options, and
    most commands take these). ``words=False``: a command that looks up no word a user
    typed (``models add``, ``evaluate``) has no ``--no-subwords``, which would do nothing
    there. As ``@reads_model`` or ``@reads_model(words=False)``."""
    if command is None:
        return functools.partial(reads_model, words=words)
    options = [p for p in _READING_OPTIONS if words or p.name != "no_subwords"]
    own = inspect.signature(command, eval_str=True)
    params = [p for p in own.parameters.values() if p.name != "reading"]

    @functools.wraps(command)
    def with_reading(*args: Any, **kwargs: Any) -> Any:
        reading = Reading(**{p.name: kwargs.pop(p.name) for p in options})
        return command(*args, reading=reading, **kwargs)

    signature = own.replace(parameters=[*params, *options])
    with_reading.__signature__ = signature  # type: ignore[attr-defined]
    with_reading.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    return with_reading


class QueryCommand(TyperCommand):
    """Commands whose argument is a query: an argument that starts with '-' but holds a
    space, such as "- king + queen", can be no option, so it is read as the query (after
    a '--' put in for it) instead of failing as "No such option"."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" not in args and any(_is_dashed_query(a) for a in args):
            args = _queries_after_dashes(self, args)
        return super().parse_args(ctx, args)


def _is_dashed_query(arg: str) -> bool:
    return arg.startswith("-") and any(c.isspace() for c in arg)


def _queries_after_dashes(command: Any, args: list[str]) -> list[str]:
    """The options first, then '--' and the positional arguments, each in its order."""
    takes_value = {name: not (p.is_flag or p.count) for p in command.params
                   if getattr(p, "opts", None) and p.param_type_name == "option"
                   for name in [*p.opts, *p.secondary_opts]}
    options: list[str] = []
    words: list[str] = []
    rest = iter(args)
    for arg in rest:
        if _is_dashed_query(arg) or not arg.startswith("-") or arg == "-":
            words.append(arg)
            continue
        options.append(arg)
        if takes_value.get(arg):  # "--top 3": the value goes along
            value = next(rest, None)
            if value is not None:
                options.append(value)
    return [*options, "--", *words]
