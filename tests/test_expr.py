"""The query language, without a model: forms, splitting rules, errors and round-trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedcli.errors import ExpressionError
from embedcli.expr import Term, format_terms, parse

VOCAB = {"king", "man", "woman", "queen", "paris", "e-mail", "x-ray", "c++", "1990", "2",
         "nan", ":)", "letter"}


def is_word(w: str) -> bool:
    return w in VOCAB


def words(query):
    return [(t.word, t.weight) for t in query.terms]


KING = [("king", 1.0), ("man", -1.0), ("woman", 1.0)]


@pytest.mark.parametrize("text,form", [
    ("king - man + woman", "expression"),
    ("king man woman", "words"),
    ("man : king :: woman : ?", "proportion"),
    ("man:king::woman:?", "proportion"),
    ("man : king :: woman :", "proportion"),
    ("king-man+woman", "expression"),
    ("  king   -man   +woman  ", "expression"),
])
def test_three_forms_are_the_same_query(text, form):
    query = parse(text, is_word)
    assert words(query) == KING
    assert query.form == form
    assert str(query) == "king - man + woman"


def test_weights():
    assert words(parse("0.5*paris + 2 * king - 1e-1*man", is_word)) == [
        ("paris", 0.5), ("king", 2.0), ("man", -0.1)]
    assert words(parse("-king + woman", is_word)) == [("king", -1.0), ("woman", 1.0)]


def test_vocabulary_words_with_operators_are_not_split():
    assert words(parse("e-mail + x-ray - c++", is_word)) == [
        ("e-mail", 1.0), ("x-ray", 1.0), ("c++", -1.0)]
    assert words(parse("e-mail+letter", is_word)) == [("e-mail", 1.0), ("letter", 1.0)]
    assert words(parse("c++-king", is_word)) == [("c++", 1.0), ("king", -1.0)]
    assert words(parse(":)", is_word)) == [(":)", 1.0)]


def test_a_non_word_token_is_split_only_when_it_is_not_a_word():
    assert words(parse("king-man+woman", is_word)) == KING
    # the same token, once it is a word, stays whole
    assert words(parse("king-man+woman", lambda w: w == "king-man+woman")) == [
        ("king-man+woman", 1.0)]


def test_numbers_are_words_unless_they_weigh_something():
    assert words(parse("1990 + 2", is_word)) == [("1990", 1.0), ("2", 1.0)]
    assert words(parse("2*2", is_word)) == [("2", 2.0)]


@pytest.mark.parametrize("text,column,message", [
    ("", 1, "empty"),
    ("   ", 4, "empty"),
    ("king + + man", 8, "expected a word after '+'"),
    ("- ", 3, "expected a word after '-'"),
    ("king +", 7, "expected a word after '+'"),
    ("0.5*", 5, "expected a word after '*'"),
    ("king + 0.5 *", 13, "expected a word after '*'"),
    ("* king", 1, "weight before '*'"),
    ("abc*king", 1, "not a number"),
    ("nan*king", 1, "not a finite number"),
    ("inf * king", 1, "not a finite number"),
    ("king man", 6, "expected '+' or '-' between words"),
    ("king man woman queen", 6, "expected '+' or '-' between words"),
    ("king + man woman", 12, "expected '+' or '-' before 'woman'"),
    ("man : king", 5, "belongs in a proportion"),
    ("man : king :: woman : queen", 23, "must be '?'"),
    ("man : king :: woman", 20, "a proportion reads"),
    ("man king :: woman : ?", 5, "expected ':'"),
    ("king ?", 6, "belongs in a proportion"),
])
def test_malformed_queries_point_at_the_problem(text, column, message):
    with pytest.raises(ExpressionError) as info:
        parse(text, is_word)
    error = info.value
    assert message in error.message
    assert error.position + 1 == column
    query_line, caret_line = error.caret_lines()
    assert query_line == "  " + text
    assert caret_line.index("^") - 2 == error.position


# ---------------------------------------------------------------- properties

word_st = st.sampled_from(sorted(VOCAB - {"nan"}))
weight_st = st.one_of(st.just(1.0), st.floats(min_value=1e-6, max_value=1e6))
term_st = st.builds(lambda w, x, neg: Term(w, -x if neg else x), word_st, weight_st,
                    st.booleans())


@given(st.lists(term_st, min_size=1, max_size=8))
def test_printing_then_parsing_round_trips(terms):
    text = format_terms(terms)
    assert list(parse(text, is_word).terms) == terms


@given(st.lists(st.sampled_from(list("kingmawo+-*:?. 0125e") + ["c++", "e-mail", " king "]),
                max_size=30).map("".join))
def test_parser_raises_only_its_own_error(text):
    try:
        query = parse(text, is_word)
    except ExpressionError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert query.terms
        assert all(t.word.strip() for t in query.terms)


@given(st.text(max_size=60))
def test_parser_never_crashes_on_any_text(text):
    try:
        parse(text, is_word)
    except ExpressionError:
        pass


# ---------------------------------------------------------------- parentheses

VOCAB_PARENS = VOCAB | {"(800)", ":("}


def test_parentheses_group_terms_with_their_sign_and_weight():
    assert words(parse("(king - man) + woman", is_word)) == KING
    assert words(parse("king - (man - woman)", is_word)) == KING
    assert words(parse("king-(man-woman)", is_word)) == KING
    assert words(parse("((king)) - ((man) - (woman))", is_word)) == KING
    assert words(parse("0.5*(paris - king) - 2*(man)", is_word)) == [
        ("paris", 0.5), ("king", -0.5), ("man", -2.0)]
    assert words(parse("-(king + man)", is_word)) == [("king", -1.0), ("man", -1.0)]
    assert str(parse("king - (man - woman)", is_word)) == "king - man + woman"


def test_a_vocabulary_word_with_parentheses_stays_whole():
    known = VOCAB_PARENS.__contains__
    assert words(parse("(800)", known)) == [("(800)", 1.0)]
    assert words(parse("king-(800)", known)) == [("king", 1.0), ("(800)", -1.0)]
    assert words(parse("king + :(", known)) == [("king", 1.0), (":(", 1.0)]
    # a lone parenthesis is grouping, even where the vocabulary has it as a word
    with pytest.raises(ExpressionError, match="not closed"):
        parse("(", lambda w: w in {"(", ")"})


@pytest.mark.parametrize("text,column,message", [
    ("(king - man", 1, "this '(' is not closed"),
    ("king - (man - woman", 8, "this '(' is not closed"),
    ("2*(king", 3, "this '(' is not closed"),
    ("king - man)", 11, "this ')' closes no '('"),
    ("()", 2, "inside '( )'"),
    ("king + ()", 9, "inside '( )'"),
    ("(king) (man)", 8, "expected '+' or '-' before '('"),
    ("(king man woman)", 7, "expected '+' or '-' before 'man'"),
    ("king + ( * man)", 8, "expected a weight before '*', found '('"),
    ("(man : king :: woman : ?)", 1, "expected a word here"),
])
def test_parentheses_out_of_place_point_at_the_problem(text, column, message):
    with pytest.raises(ExpressionError) as info:
        parse(text, is_word)
    assert message in info.value.message
    assert info.value.position + 1 == column


group_st = st.tuples(st.booleans(), st.sampled_from([1.0, 0.5, 2.0, 1e-3]),
                     st.lists(term_st, min_size=1, max_size=4))


@given(st.lists(group_st, min_size=1, max_size=4))
def test_a_grouped_expression_is_its_terms_distributed(groups):
    parts, expected = [], []
    for k, (negative, weight, terms) in enumerate(groups):
        sign = "- " if negative else ("+ " if k else "")
        scale = "" if weight == 1.0 else f"{weight!r}*"
        parts.append(f"{sign}{scale}({format_terms(terms)})")
        expected += [Term(t.word, (-1.0 if negative else 1.0) * weight * t.weight)
                     for t in terms]
    assert list(parse(" ".join(parts), is_word).terms) == expected


def test_a_query_holds_at_most_max_words_different_words():
    from embedcli.expr import MAX_WORDS

    many = " + ".join(f"w{k}" for k in range(MAX_WORDS + 1))
    with pytest.raises(ExpressionError, match="at most 1,000 different words, not 1,001") as info:
        parse(many)
    assert many[info.value.position:].startswith(f"w{MAX_WORDS}")
    assert len(parse(" + ".join(["king"] * 5000), is_word).terms) == 5000  # one word
