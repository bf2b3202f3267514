"""`embedcli evaluate`: analogy accuracy and word-pair correlations, as gensim computes them.

The work is in ``embedcli.evaluate``, which never prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from embedcli.cli.io import (
    console,
    emit,
    is_terminal,
    load_model,
    note_skipped,
    os_path,
    progress_columns,
)
from embedcli.cli.options import AS_GIVEN, FormatOpt, ModelOpt, Reading, reads_model
from embedcli.errors import safe
from embedcli.formats import Method

if TYPE_CHECKING:
    pass

app = typer.Typer()
evaluate_app = typer.Typer(
    help="Score a model on benchmark datasets: analogy accuracy and correlation with human "
         "similarity judgements, with gensim's figures.",
    no_args_is_help=True)
app.add_typer(evaluate_app, name="evaluate")

DEFAULT_RESTRICT = 300_000  # gensim's restrict_vocab (evaluate.DEFAULT_RESTRICT; kept light)

EvalRestrictOpt = Annotated[int, typer.Option(
    "--restrict", min=1, metavar="N",
    help="Only the N most frequent words count, as gensim's restrict_vocab: entries with "
         "another word are skipped, and only these words are candidate answers.")]
CaseInsensitiveOpt = Annotated[bool, typer.Option(
    "--case-insensitive/--case-sensitive",
    help="Compare words upper-cased, as gensim does by default (a word then stands for its "
         "most frequent case variant).")]


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr when it is a terminal; ``(done, total)`` updates."""
    if not is_terminal(sys.stderr):
        yield lambda _done, _total: None
        return
    from rich.progress import Progress

    err = console(stderr=True)
    with Progress(*progress_columns(err.width, safe(description), None, "percent"),
                  console=err, transient=True) as progress:
        task = progress.add_task(safe(description), total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


@evaluate_app.command()
@reads_model(words=False)
def analogies(
    datasets: Annotated[list[str] | None, typer.Argument(
        metavar="[DATASET|FILE|DIR]...", show_default=False,
        help="google (the Google analogy set, gensim's questions-words.txt; the default), "
             "files of ': section' lines and 'a b c d' questions, or directories of such "
             ".txt files (in sorted order); several are evaluated together, their sections "
             "one after the other. A file with no ': section' line is one section named "
             "after the file, as in GloVe's eval/question-data.")] = None,
    model_spec: ModelOpt = None,
    restrict: EvalRestrictOpt = DEFAULT_RESTRICT,
    method: Annotated[Method, typer.Option(
        "--method", case_sensitive=False,
        help="add: 3CosAdd (gensim's evaluate_word_analogies); mul: 3CosMul.")] = Method.add,
    case_insensitive: CaseInsensitiveOpt = True,
    show_errors: Annotated[int, typer.Option(
        "--show-errors", min=0, metavar="N",
        help="Also list N wrong answers, spread over the set (table and json).")] = 0,
    semantic_sections: Annotated[int | None, typer.Option(
        "--semantic-sections", min=0, metavar="N", show_default=False,
        help="Split semantic from syntactic by position, as word2vec's compute-accuracy "
             "does (with 5, the Google file's): the first N sections are semantic, the rest "
             "syntactic. Default: by name, a section whose name starts with 'gram' being "
             "syntactic.")] = None,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Accuracy on an analogy test set (a is to b as c is to d), as gensim scores it.

    Prints semantic, syntactic and total accuracy, a row per section, and how many
    questions were skipped for a word outside the first --restrict words.

    Examples:

    embedcli evaluate analogies

    embedcli evaluate analogies --restrict 30000 --show-errors 5

    embedcli evaluate analogies my-questions.txt --method mul --format json

    embedcli evaluate analogies GloVe/eval/question-data --semantic-sections 5
    """
    from embedcli.evaluate import ANALOGY_LINES, evaluate_analogies, read_analogy_datasets

    questions = read_analogy_datasets(
        [os_path(spec) for spec in datasets or ["google"]],
        lambda one: note_skipped(one, ANALOGY_LINES))
    m = load_model(model_spec, reading)
    count = questions.questions
    with _progress(f"{count:,} analogy question{'s' if count != 1 else ''}") as progress:
        result = evaluate_analogies(m, questions, restrict=restrict, method=method.value,
                                    case_insensitive=case_insensitive,
                                    show_errors=show_errors,
                                    semantic_sections=semantic_sections, progress=progress)
    emit(result, format)


@evaluate_app.command()
@reads_model(words=False)
def similarity(
    datasets: Annotated[list[str] | None, typer.Argument(
        metavar="[DATASET|FILE]...", show_default=False,
        help="wordsim353, simlex999 (both by default; shipped with gensim) or files of "
             "'word<TAB>word<TAB>score' lines ('#' starts a comment).")] = None,
    model_spec: ModelOpt = None,
    restrict: EvalRestrictOpt = DEFAULT_RESTRICT,
    case_insensitive: CaseInsensitiveOpt = True,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Correlation of the model's cosine similarities with human scores, as gensim computes it.

    Prints Pearson's r, Spearman's rho and the share of pairs skipped for an unknown word.

    Examples:

    embedcli evaluate similarity

    embedcli evaluate similarity simlex999 my-pairs.tsv --format json
    """
    from embedcli.evaluate import DEFAULT_SIMILARITY, evaluate_pairs, locate, read_pairs

    sets = []
    for spec in datasets or DEFAULT_SIMILARITY:
        name, path = locate(os_path(spec), "similarity")
        pairs = read_pairs(path, name)
        note_skipped(pairs, "'word<TAB>word<TAB>score'")
        sets.append(pairs)
    m = load_model(model_spec, reading)
    result = evaluate_pairs(m, sets, restrict=restrict, case_insensitive=case_insensitive)
    emit(result, format)
