"""memories.search.query: what a query says about itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from memories.search import query

ASKED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "personal"),
    [
        ("what's my accountant's name again?", True),
        ("Where do I live now?", True),
        ("what did you suggest for the leak?", True),
        ("remind me of the plumber's number", True),
        ("Why do zebras have stripes?", False),
        ("history of azulejo tiles", False),
    ],
)
def test_it_tells_a_prompt_about_the_person_from_a_general_one(text, personal):
    assert query.is_personal(text) is personal


def test_it_finds_names_inside_the_query_but_not_its_first_word():
    assert query.names("When did Caroline go to the support group?") == ("Caroline",)
    assert query.names("It's Joost's birthday on Saturday") == ("Joost",)
    assert query.names("Why is R called R?") == ()


def test_it_finds_code_like_tokens():
    assert query.code_tokens("status of ticket XQ-7731 and order 4417?") == ["XQ-7731", "4417"]
    assert query.code_tokens("what is a 10K race") == ["10K"]
    assert query.code_tokens("no codes here") == []


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        (
            "what did I ask about my knee last month?",
            datetime(2026, 9, 28, tzinfo=UTC),
            datetime(2026, 11, 4, tzinfo=UTC),
        ),
        ("back in March, what was the plan?", datetime(2026, 2, 26, tzinfo=UTC), datetime(2026, 4, 4, tzinfo=UTC)),
        ("in December 2025 I asked", datetime(2025, 11, 28, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC)),
        ("in 2025", datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_it_reads_months_and_years_relative_to_when_the_query_is_asked(text, start, end):
    window = query.time_window(text, ASKED)
    assert window is not None and (window.start, window.end) == (start, end)


def test_a_month_later_in_the_year_than_now_is_last_year():
    window = query.time_window("the trip in December", ASKED.replace(month=3))
    assert window is not None and window.start.year == 2025


def test_it_reads_relative_days_weeks_and_years():
    two_weeks = query.time_window("what did I say two weeks ago?", ASKED)
    assert two_weeks is not None and two_weeks.start < datetime(2026, 11, 6, tzinfo=UTC) < two_weeks.end
    assert query.time_window("3 days ago", ASKED) is not None
    assert query.time_window("yesterday", ASKED) is not None
    this_week = query.time_window("this week", ASKED)
    assert this_week is not None and this_week.end == ASKED
    assert query.time_window("what may I eat?", ASKED) is None  # "may" alone is not a month
    assert query.time_window("plan my dinners", ASKED) is None


def test_questions_about_the_present_are_recognised():
    assert query.asks_current("Where do we live now?")
    assert query.asks_current("which car do I currently drive")
    assert not query.asks_current("Where did we live in 2024?")


def test_when_questions_are_recognised():
    assert query.asks_when("When did we move to Utrecht?")
    assert query.asks_when("what date is the race?")
    assert not query.asks_when("where do we live now?")


@pytest.mark.parametrize(
    "text",
    [
        "From now on keep it short, bullets please.",
        "I'm vegetarian, so no meat in any recipe.",
        "Please don't put things in tables for me.",
        "Always give me distances in kilometres.",
        "I only use pytest.",
        # Ways the chat set's tuning people said it (bench/data/chatset: bogdan, hana, noor).
        "what do i do now. and pls no tables in your answers, I read on the phone",
        "So from now when you give me meals, make them low carb.",
        "Quick thing to remember for any food stuff: I'm Muslim and eat halal.",
        "Stop giving me Illustrator instructions please. I do everything in Figma.",
        "I'm halal, so no pork in any recipe.",
        "Please no emojis.",
    ],
)
def test_it_recognises_standing_preferences(text):
    assert query.is_standing(text)


def test_ordinary_prompts_are_not_standing_preferences():
    assert not query.is_standing("How long do I boil an egg?")
    assert not query.is_standing("My landlord's plumber is called Dave.")
    assert not query.is_standing("The race is three weeks from now. What should I eat the night before?")
    assert not query.is_standing("There is no use in fixing it twice, is there?")


def test_the_standing_sentence_is_cut_out_of_a_longer_prompt():
    text = "I bought a Garmin. And from now on, always give paces in min/km. Now: how do I pair it?"
    assert query.standing_sentence(text) == "And from now on, always give paces in min/km."


@pytest.mark.parametrize(
    ("text", "labelled"),
    [
        ("Caroline: I went to the support group.", True),
        ("Jolene:  I'm always on the lookout for new routines.", True),  # two spaces, as some LoCoMo turns
        ("Mary Ann: we met in Lisbon.", True),
        ("Caroline:I went", False),
        ("I went to the support group: it helped.", False),
    ],
)
def test_it_tells_a_turn_that_names_its_speaker(text, labelled):
    assert bool(query.SPEAKER_LABEL.match(text)) is labelled


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("What dish did Nate make on 9 November, 2022?", datetime(2022, 11, 9, tzinfo=UTC)),
        ("What did she show me on October 13, 2023?", datetime(2023, 10, 13, tzinfo=UTC)),
        ("what did I say on the 3rd of March", datetime(2026, 3, 3, tzinfo=UTC)),
        ("the plan we made on Dec 24", datetime(2025, 12, 24, tzinfo=UTC)),  # later this year than now: last year
    ],
)
def test_it_reads_a_named_day_a_few_days_wide(text, day):
    window = query.time_window(text, ASKED)
    assert window is not None
    assert window.start < day < day + timedelta(days=1) < window.end
    assert window.end - window.start == timedelta(days=7)


def test_a_number_before_a_lowercase_may_is_not_a_day():
    assert query.time_window("what may 3 people eat?", ASKED) is None
    assert query.time_window("order 31 February 2023", ASKED) is None  # no such day
