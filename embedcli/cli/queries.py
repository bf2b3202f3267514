"""The query commands: analogy, neighbors, similarity, doesnt-match, vector, rank, axis,
vocab.

Each turns its arguments into the :class:`embedcli.queries.Spec` that a batch line or a
shell line would make (``io.run`` makes it), answered on the one path they all share.
"""

from __future__ import annotations

from typing import Annotated

import typer

from embedcli.cli import complete
from embedcli.cli.io import emit, load_model, run
from embedcli.cli.options import (
    AS_GIVEN,
    CaseOpt,
    FormatOpt,
    IncludeOpt,
    MethodOpt,
    ModelOpt,
    QueryArg,
    QueryCommand,
    Reading,
    RestrictOpt,
    TopOpt,
    reads_model,
)
from embedcli.errors import ExitStatus
from embedcli.formats import Format, Method

app = typer.Typer()


@app.command(cls=QueryCommand)
@reads_model
def analogy(
    query: QueryArg,
    model_spec: ModelOpt = None,
    top: TopOpt = 10,
    method: MethodOpt = Method.add,
    restrict: RestrictOpt = None,
    include_inputs: IncludeOpt = False,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Solve an analogy: which word is to C as A is to B?

    QUERY takes three forms, all the same query:

    embedcli analogy "king - man + woman"      (weights too: 0.5*paris)

    embedcli analogy king man woman            (A B C means A - B + C, as in fastText)

    embedcli analogy "man : king :: woman : ?"   (man is to king as woman is to ?)

    Quote an expression whose words start with '-', or put -- before it.
    The input words are left out of the answers (as gensim does); the output
    says where each would have ranked.
    """
    run("analogy", query, model_spec, reading, case_sensitive, format, top=top,
        method=method.value, restrict=restrict, include_inputs=include_inputs)


@app.command(cls=QueryCommand)
@reads_model
def neighbors(
    query: QueryArg,
    model_spec: ModelOpt = None,
    top: TopOpt = 10,
    restrict: RestrictOpt = None,
    include_inputs: IncludeOpt = False,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Nearest neighbours of a word (or of an expression) by cosine similarity.

    Examples:

    embedcli neighbors cat

    embedcli neighbors "paris - france + italy" --top 5 --format json
    """
    run("neighbors", query, model_spec, reading, case_sensitive, format, top=top,
        restrict=restrict, include_inputs=include_inputs)


@app.command(cls=QueryCommand)
@reads_model
def similarity(
    sides: Annotated[list[str], typer.Argument(
        metavar="A B [C...]", show_default=False, autocompletion=complete.words,
        help="Two words or expressions, or more for a matrix; or one text with '~' "
             "between them.")],
    model_spec: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Cosine similarity of two words; with three or more, the similarity matrix.

    Each side may be an expression, compared by its query vector (as analogy builds it).

    Examples:

    embedcli similarity cat dog

    embedcli similarity cat dog car truck

    embedcli similarity "king - man + woman" queen     (or "king - man + woman ~ queen")
    """
    run("similarity", sides, model_spec, reading, case_sensitive, format)


WordsArg = Annotated[list[str], typer.Argument(
    metavar="W1 W2 W3...", help="Three or more words.", show_default=False,
    autocompletion=complete.words)]


@app.command("doesnt-match")
@reads_model
def doesnt_match(
    words: WordsArg,
    model_spec: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Which word does not go with the others? (gensim's doesnt_match)

    The odd one out is the word farthest from the mean of the words' unit vectors;
    every word is shown with its cosine distance to that mean, farthest first.

    Example: embedcli doesnt-match breakfast cereal dinner lunch
    """
    run("doesnt-match", words, model_spec, reading, case_sensitive, format)


@app.command()
@reads_model
def vector(
    word: Annotated[list[str], typer.Argument(metavar="WORD", help="The word.",
                                              show_default=False, autocompletion=complete.words)],
    model_spec: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """A word's vector, as the model's file holds it (fastText's print-word-vectors).

    --format plain prints the word and its values on one line, separated by spaces
    (a line of a GloVe or word2vec text file); json prints {"word", "vector"}.

    Examples:

    embedcli vector cat --format plain

    embedcli vector cat --format json
    """
    run("vector", word, model_spec, reading, case_sensitive, format)


@app.command()
@reads_model
def rank(
    words: Annotated[list[str], typer.Argument(
        metavar="A B", show_default=False, autocompletion=complete.words,
        help="A, the word whose neighbours count, and B, the word to place among them.")],
    model_spec: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Where B stands among A's neighbours (gensim's rank): 1 is the nearest.

    It is B's place in 'embedcli neighbors A --top N'.

    Example: embedcli rank cat dog
    """
    run("rank", words, model_spec, reading, case_sensitive, format)


@app.command(cls=QueryCommand)
@reads_model
def axis(
    args: Annotated[list[str] | None, typer.Argument(
        metavar="A B WORD...", show_default=False,
        help="The two ends (each a word or an expression), then the words to place; or "
             "\"A -> B\" as one argument; with --pair, the words alone.")] = None,
    pair: Annotated[list[str] | None, typer.Option(
        "--pair", metavar="A:B", show_default=False,
        help="A pair of ends (man:woman); several make the direction their mean "
             "difference. Replaces the ends A B.")] = None,
    top: Annotated[int | None, typer.Option(
        "--top", "-n", metavar="N", show_default=False,
        help="Also the N words furthest toward each end (default 10 when no WORD is "
             "given).")] = None,
    restrict: Annotated[int | None, typer.Option(
        "--restrict", metavar="N", show_default=False,
        help="--top looks among the N most frequent words only.")] = None,
    model_spec: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Where words lie along the direction from A to B: cos(word, unit(B) - unit(A)).

    Negative scores lie toward A, positive toward B; the table sorts the words from
    the A end to the B end.

    Examples:

    embedcli axis man woman doctor nurse engineer teacher

    embedcli axis --pair man:woman --pair he:she doctor nurse     (the mean of the pairs)

    embedcli axis small big --top 5 --restrict 20000
    """
    run("axis", args or [], model_spec, reading, case_sensitive, format,
        pairs=tuple(pair or ()), furthest=top, restrict=restrict)


@app.command()
@reads_model(words=False)
def vocab(
    prefix: Annotated[str | None, typer.Option(
        "--prefix", metavar="TEXT", help="Only words that start with TEXT.")] = None,
    contains: Annotated[str | None, typer.Option(
        "--contains", metavar="TEXT", help="Only words that contain TEXT.")] = None,
    top: Annotated[int | None, typer.Option(
        "--top", "-n", min=1, metavar="N",
        help="Only the first N (most frequent) words that match.")] = None,
    has: Annotated[str | None, typer.Option(
        "--has", metavar="WORD",
        help="Print nothing; exit 0 if a query can use WORD, 1 if not.")] = None,
    model_spec: ModelOpt = None,
    case_sensitive: Annotated[bool, typer.Option(
        "--case-sensitive",
        help="Match case exactly (filters, and --has without the lower-case fallback).")]
    = False,
    format: Annotated[Format | None, typer.Option(
        "--format", "-f", case_sensitive=False,
        help="Output format. Default: plain (one word a line).")] = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """List the vocabulary in frequency order, or test whether it has a word.

    Examples:

    embedcli vocab --top 20

    embedcli vocab --prefix photo --top 5

    if embedcli vocab --has e-mail; then echo known; fi
    """
    from embedcli.engine.ranking import vocabulary
    from embedcli.engine.words import Resolver
    from embedcli.errors import UsageError

    if has is not None and (prefix is not None or contains is not None or top is not None):
        raise UsageError("--has answers by its exit status alone; it takes no "
                         "--prefix, --contains or --top")
    m = load_model(model_spec, reading)
    if has is not None:
        # the lower-case fallback of queries, without its note
        known = Resolver(m, case_sensitive=case_sensitive).is_word(has)
        raise typer.Exit(ExitStatus.OK if known else ExitStatus.NO_ANSWER)
    emit(vocabulary(m, prefix=prefix, contains=contains, top=top,
                    case_sensitive=case_sensitive), format or Format.plain)
