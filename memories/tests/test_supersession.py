"""Supersession as data (memories.supersession): found by the worker from the text alone, used by the ranking,
undone by the person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts import services as account_services
from core.exceptions import NotFound
from memories import services, supersession, tasks
from memories.embedding import pending
from memories.models import Memory
from memories.search import context

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 27, 9, 0, tzinfo=UTC)
JUNE = JAN + timedelta(days=130)
OLD = (
    "My flour supplier Kitano Seifun in Higashiosaka raised the price again: a 25 kg bag of bread flour is "
    "7,800 yen now. Should I negotiate?"
)
NEW = (
    "Decision made: I switched my bread flour from Kitano Seifun in Higashiosaka to Tokachi Milling in Obihiro, "
    "a Kitanokaori blend, 7,200 yen per 25 kg bag, delivered every 14 days."
)
BACKGROUND = [
    "My sourdough starter smells like acetone after two days in the fridge.",
    "Write a short thank-you note to the regulars for our fifth anniversary.",
    "Our oven's steam injector leaks; what should I ask the technician?",
    "How do I price a box of six croissants for a wedding order?",
]


def save(user, text, *, when, kind="prompt", prompt="", space=None):
    return services.memory_save(
        user=user, kind=kind, provider="chatgpt", text=text, prompt=prompt, created_at=when, space=space
    ).stored


def with_background(user):
    for i, text in enumerate(BACKGROUND):
        save(user, text, when=JAN - timedelta(days=10 + i))


def test_it_links_a_new_prompt_to_the_earlier_one_it_restates_with_a_new_value(alice):
    old = save(alice, OLD, when=JAN)
    new = save(alice, NEW, when=JUNE)  # the save embeds inline (test settings), as the worker would
    old.refresh_from_db()
    assert old.superseded_by_id == new.pk
    new.refresh_from_db()
    assert new.superseded_by_id is None


def test_it_is_the_workers_job_after_it_writes_the_vectors(alice, settings):
    settings.MEMORY_EMBED_INLINE = False
    old, new = save(alice, OLD, when=JAN), save(alice, NEW, when=JUNE)
    assert not Memory.objects.exclude(superseded_by=None).exists()  # no vectors yet: nothing to compare
    tasks.embed_pending()  # the queue's embedding job
    old.refresh_from_db()
    assert old.superseded_by_id == new.pk


def test_an_import_does_not_look_for_links(alice, settings):
    settings.MEMORY_EMBED_INLINE = False
    old, new = save(alice, OLD, when=JAN), save(alice, NEW, when=JUNE)
    report = pending.chunks_embed_pending(memory_ids=[old.pk, new.pk])  # what an import's own batch calls
    assert set(report.memory_ids) == {old.pk, new.pk}
    assert not Memory.objects.exclude(superseded_by=None).exists()


def test_it_also_marks_the_answer_saved_with_the_old_prompt(alice):
    old = save(alice, OLD, when=JAN)
    answer = save(alice, "Ask for a volume discount first.", kind="response", prompt=OLD, when=JAN)
    new = save(alice, NEW, when=JUNE)
    assert set(Memory.objects.filter(superseded_by=new).values_list("pk", flat=True)) == {old.pk, answer.pk}


def test_it_leaves_unrelated_memories_alone(alice):
    with_background(alice)
    save(alice, NEW, when=JUNE)
    assert not Memory.objects.exclude(superseded_by=None).exists()


def test_it_needs_a_new_value_not_only_a_close_topic(alice):
    save(alice, OLD, when=JAN)
    save(alice, OLD.replace("Should I negotiate?", "Is that normal now?"), when=JUNE)
    assert not Memory.objects.exclude(superseded_by=None).exists()


def test_it_leaves_a_transcript_of_several_speakers_alone(alice):
    save(alice, f"Caroline: {OLD}", when=JAN)
    save(alice, f"Caroline: {NEW}", when=JUNE)
    assert not Memory.objects.exclude(superseded_by=None).exists()


def test_a_prompt_that_opens_with_a_one_off_label_is_the_persons_own_words(alice):
    """ "Update: ..." or "News: ..." once is the person speaking, not a speaker of a transcript."""
    old = save(alice, OLD, when=JAN)
    new = save(alice, f"Update: {NEW}", when=JUNE)
    old.refresh_from_db()
    assert old.superseded_by_id == new.pk


def test_it_never_links_two_people(alice, bob):
    save(bob, OLD, when=JAN)
    save(alice, NEW, when=JUNE)
    assert not Memory.objects.exclude(superseded_by=None).exists()


def test_it_never_links_two_spaces_of_one_person(alice):
    work = account_services.space_create(user=alice, name="Work")
    save(alice, OLD, when=JAN)
    new = save(alice, NEW, when=JUNE, space=work)
    assert not Memory.objects.exclude(superseded_by=None).exists()
    old = Memory.objects.get(user=alice, text=OLD)
    with pytest.raises(ValueError):
        supersession.memory_supersede_link(user_id=alice.pk, old_id=old.pk, new_id=new.pk)


def test_it_refuses_a_link_to_an_earlier_memory_or_across_people(alice, bob):
    old, new = save(alice, OLD, when=JAN), save(alice, "Unrelated: my oven is 12 years old.", when=JUNE)
    with pytest.raises(ValueError):
        supersession.memory_supersede_link(user_id=alice.pk, old_id=new.pk, new_id=old.pk)
    bobs = save(bob, NEW, when=JUNE)
    with pytest.raises(NotFound):
        supersession.memory_supersede_link(user_id=alice.pk, old_id=old.pk, new_id=bobs.pk)


@pytest.mark.parametrize("side", ["old", "new"])
def test_it_unlinks_from_either_side(alice, side):
    old = save(alice, OLD, when=JAN)
    new = save(alice, NEW, when=JUNE)
    removed = supersession.memory_supersede_unlink(user=alice, memory_id=(old if side == "old" else new).pk)
    assert removed == 1
    assert not Memory.objects.exclude(superseded_by=None).exists()


def test_it_does_not_unlink_another_persons_memory(alice, bob):
    save(alice, OLD, when=JAN)
    new = save(alice, NEW, when=JUNE)
    with pytest.raises(NotFound):
        supersession.memory_supersede_unlink(user=bob, memory_id=new.pk)
    assert Memory.objects.filter(superseded_by=new).count() == 1


def _order(user, query):
    return [r.memory_id for r in context.context_search(user=user, query=query, top_k=5, now=JUNE + timedelta(1))]


def test_it_puts_the_replacement_first_for_a_question_about_the_present(alice):
    with_background(alice)
    old = save(alice, OLD, when=JAN)
    new = save(alice, NEW, when=JUNE)
    query = "Kitano Seifun Higashiosaka price of a 25 kg bag, should I negotiate?"
    assert _order(alice, query).index(new.pk) < _order(alice, query).index(old.pk)
    supersession.memory_supersede_unlink(user=alice, memory_id=new.pk)
    assert _order(alice, query).index(old.pk) < _order(alice, query).index(new.pk)


def test_it_keeps_the_old_version_first_when_asked_what_was_said_before(alice):
    with_background(alice)
    old = save(alice, OLD, when=JAN)
    new = save(alice, NEW, when=JUNE)
    query = "What did Kitano Seifun in Higashiosaka charge before for a 25 kg bag, should I negotiate?"
    order = _order(alice, query)
    assert order.index(old.pk) < order.index(new.pk)


def test_it_links_a_close_restatement_with_one_new_value_and_a_looser_one_only_with_several(settings):
    one_new_price = OLD.replace("7,800", "8,100").replace("raised the price again", "switched the price now")
    close = supersession.evidence(old=OLD, new=one_new_price, cosine=0.9)
    assert close.cue and close.new_values == 1 and close.shared_names >= settings.SUPERSEDE_CLOSE_MIN_SHARED_NAMES
    assert supersession.restates(close, supersession.rules())
    loose = supersession.evidence(old=OLD, new=one_new_price, cosine=settings.SUPERSEDE_CLOSE_MIN_COSINE - 0.01)
    assert loose.cosine >= settings.SUPERSEDE_MIN_COSINE and not supersession.restates(loose, supersession.rules())
    several = supersession.evidence(old=OLD, new=NEW, cosine=settings.SUPERSEDE_CLOSE_MIN_COSINE - 0.01)
    assert several.new_values >= settings.SUPERSEDE_MIN_NEW_VALUES
    assert supersession.restates(several, supersession.rules())


def test_it_reads_values_and_names_from_the_text():
    assert supersession.values("We buy from Kitano Seifun at 7,800 yen.") == {"kitano", "seifun", "7800 yen"}
    # a sentence's first word is capitalised whatever it is: not a name
    assert supersession.names("Yes, I moved. Now I live in Utrecht.") == {"Utrecht"}
