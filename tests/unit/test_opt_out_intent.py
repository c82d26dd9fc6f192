"""Opt-outs in the consumer's own words (issue 24): a corpus both ways, typos, evidence.

``test_precision_and_recall_on_the_corpus`` prints the detector's figures on this corpus
(``pytest -s``): the closing note quotes them.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainon.domain.keywords import DEFAULT_BOOK, normalise
from chainon.domain.opt_out_intent import (
    IntentOutcome,
    OptOutIntent,
    _collapse_repeats,
    detect,
    detect_words,
)
from tests.unit.test_keywords import DRESSINGS, OPT_OUT, casings

PHRASES_EN = [
    "Stop texting me",
    "please stop texting me!!",
    "STOP SENDING ME MESSAGES",
    "Quit messaging me",
    "Don't text me again",
    "do not contact me",
    "Never text this number again",
    "Unsubscribe me please",
    "opt me out",
    "Remove me from your list",
    "take my number off your list",
    "Delete my number from your database",
    "No more texts",
    "no more messages please",
    "Leave me alone",
    "I want to unsubscribe",
    "I'd like to opt out",
    "I would like to stop receiving these",
    "stop it",
    "Please stop.",
    "stop this now",
    "Wrong number, stop",
    "Not interested, please remove me",
    "Stop spamming me",
]
PHRASES_FR = [
    "Arrêtez de m'envoyer des SMS",
    "arretez de m ecrire",
    "Stoppez les messages svp",
    "Cessez de me contacter",
    "Ne m'envoyez plus rien",
    "ne m'écrivez plus",
    "Je ne veux plus recevoir vos messages",
    "je ne souhaite plus être contacté",
    "Désinscrivez-moi",
    "je veux me désabonner",
    "Supprimez mon numéro",
    "retirez moi de votre liste",
    "Plus de SMS merci",
    "plus jamais",
    "Laissez-moi tranquille",
    "stop pub",
    "STOP aux SMS",
]
PHRASES_ES = [
    "No más",
    "no mas mensajes por favor",
    "Dejen de enviarme mensajes",
    "deja de escribirme",
    "No me envíen más",
    "no me manden mas mensajes",
    "Quiero darme de baja",
    "dame de baja",
    "BAJA",
    "No quiero recibir más mensajes",
    "Paren de molestar",
]
OPT_OUTS = PHRASES_EN + PHRASES_FR + PHRASES_ES

ORDINARY = [
    "ne stoppez pas la livraison",
    "Ne stoppez pas ma commande svp",
    "n'arrêtez pas, j'adore vos offres",
    "don't stop",
    "Please don't cancel my appointment",
    "can you stop by tomorrow?",
    "I'll stop at the shop on my way",
    "I want to cancel my order 1234",
    "Cancel my reservation for Friday please",
    "can I cancel the delivery?",
    "The package arrived at the end of the day",
    "see you at the end of the month",
    "Is the offer valid until the weekend?",
    "Where is the nearest bus stop?",
    "Non-stop flights only please",
    "My order never arrived, when will it end?",
    "J'ai raté l'arrêt de bus",
    "Je suis en arrêt maladie, livrez samedi",
    "Je voudrais annuler ma commande",
    "annuler le rendez-vous de mardi",
    "À la fin du mois je passerai",
    "fin de semaine c'est possible ?",
    "Merci pour la livraison rapide",
    "Bonjour, où est mon colis ?",
    "Oui",
    "START",
    "HELP",
    "Quelle est la taille de ce modèle ?",
    "Thanks, that works for me",
    "Can you send me the invoice?",
    "Quiero cancelar mi pedido",
    "no pares, me gusta",
    "¿Cuándo llega mi paquete?",
    "Gracias por todo",
    "the stopwatch is broken",
    "Is the store open on Sunday?",
    "step 2 didn't work",
    "The top is too small",
    "send it to my office",
    "I ended up buying two",
    "Quite good, thanks",
    "What time do you close?",
    "Stopover in Paris, deliver Tuesday",
    "my card ends in 4242",
]

TYPOS = [
    "STPO", "STOPP", "SSTOP", "TSOP", "UNSUSCRIBE", "UNSUBSCRIBEE", "UNSUBSRCIBE", "CANCLE",
    "CANCELL", "QIUT", "QUITT", "REVOEK", "OPTOTU", "ARERT", "ARRETT", "DESABONER",
]  # fmt: skip


@pytest.mark.parametrize("text", OPT_OUTS)
def test_plain_language_opt_outs_are_detected(text: str) -> None:
    found = detect(text)
    assert found.outcome is IntentOutcome.OPT_OUT, (text, found)
    assert found.rule
    assert found.matched


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_sentences_and_negations_are_not_opt_outs(text: str) -> None:
    assert detect(text).outcome is IntentOutcome.NONE, (text, detect(text))


@pytest.mark.parametrize("word", [*OPT_OUT, "STOPALL", "STOP ALL"])
def test_every_keyword_in_every_casing_and_dressing_is_an_opt_out(word: str) -> None:
    for casing in casings(word):
        for dressing in DRESSINGS:
            found = detect(dressing.format(casing))
            assert found.outcome is IntentOutcome.OPT_OUT, dressing.format(casing)
            assert found.rule.startswith("keyword.")
            assert found.stops_service is ("ALL" in word)


@pytest.mark.parametrize("typo", TYPOS)
def test_one_letter_typos_of_the_keywords_are_opt_outs(typo: str) -> None:
    found = detect(typo)
    assert found.revokes, typo
    assert found.rule.startswith("typo."), found


def test_a_typo_that_is_an_ordinary_word_is_not_one() -> None:
    for word in ("step", "shop", "top", "and", "send", "start", "quite", "store"):
        assert detect(word).outcome is IntentOutcome.NONE, word


def test_a_reply_opening_on_stop_without_a_phrase_is_uncertain() -> None:
    found = detect("Stop! Who is this?")
    assert found.outcome is IntentOutcome.UNCERTAIN
    assert found.rule == "loose.stop"
    assert found.revokes  # the documented default: marketing stops, a person confirms


def test_the_rule_that_fired_is_named_for_the_evidence() -> None:
    assert detect("Stop texting me").rule == "en.phrase.stop_texting"
    assert detect("Arrêtez de m'envoyer des SMS").rule == "fr.phrase.arretez_envoyer"
    assert detect("no más").rule == "es.phrase.no_mas"
    assert detect("STOP").rule == "keyword.stop"
    assert detect("STOP SMS").rule == "keyword.stop_sms"
    assert detect("STPO").rule == "typo.stop"


@given(st.sampled_from(OPT_OUTS), st.sampled_from(["", "!", " 🙏", "...", " !!!", "\n"]))
def test_punctuation_and_emoji_around_a_phrase_change_nothing(text: str, tail: str) -> None:
    assert detect(text + tail).outcome is IntentOutcome.OPT_OUT


@given(st.sampled_from(OPT_OUTS), st.integers(2, 4))
def test_a_repeated_keyword_is_still_the_keyword(text: str, times: int) -> None:
    word = normalise(text).split()[0]
    if detect(word).rule.startswith("keyword."):
        assert detect(" ".join([word] * times)).outcome is IntentOutcome.OPT_OUT


def test_precision_and_recall_on_the_corpus() -> None:
    positives = OPT_OUTS + TUNED_OPT_OUTS + SECOND_OPT_OUTS + TYPOS + OPT_OUT
    negatives = ORDINARY + TUNED_ORDINARY + SECOND_ORDINARY
    detected = [t for t in positives if detect(t).revokes]
    false_alarms = [t for t in negatives if detect(t).revokes]
    recall = len(detected) / len(positives)
    precision = len(detected) / (len(detected) + len(false_alarms))
    print(
        f"\nopt-out detector on its corpus: {len(positives)} opt-outs, {len(negatives)} ordinary;"
        f" recall {recall:.1%}, precision {precision:.1%}"
    )
    assert len(OPT_OUTS) >= 40
    assert len(ORDINARY) >= 40
    assert recall == 1.0
    assert precision == 1.0


# The first held-out set: written after the rules, measured once (recall 75 %, precision
# 83 %), then the rules were widened for what it missed; it is part of the corpus since.
TUNED_OPT_OUTS = [
    "stop messaging me please",
    "Please remove me from this list",
    "I don't want these texts anymore",
    "unsubscribe!!!",
    "STOP STOP STOP",
    "cease and desist texting me",
    "Take me off your mailing list",
    "who is this? stop texting",
    "Arrête de m'écrire",
    "ne me contactez plus svp",
    "je veux plus de messages de votre part",
    "STOP PUB",
    "désinscription svp",
    "Merci de ne plus m'envoyer de SMS",
    "Deja de mandarme mensajes",
    "no me escribas más",
    "por favor dame de baja",
    "ya no quiero mensajes",
    "basta",
    "Stop it now",
]
TUNED_ORDINARY = [
    "Can we stop the delivery for a week while I'm away?",
    "When does the sale end?",
    "I had to cancel my card, can I pay another way?",
    "Please don't stop sending the newsletters, I love them",
    "Stop by the store to pick it up?",
    "Ma commande est à l'arrêt depuis lundi",
    "Le colis est resté à l'arrêt relais",
    "Fin de série ?",
    "quit my job, new address soon",
    "Is there a stop-loss option?",
    "no problem",
    "Más info por favor",
    "Cancelar la cita del martes",
    "the end",
    "thanks, all good",
    "Où en est ma commande ?",
    "The stop button on the blender is broken",
    "I will end my subscription box next month",
    "Can you cancel order 5567?",
    "alto de gama, ¿tienen otro?",
]


# The second held-out set: measured once (recall 40 %, precision 89 %: phrase lists were too
# literal), then the rules became "a stopping verb, then something we send"; corpus since.
SECOND_OPT_OUTS = [
    "pls stop msging me",
    "Remove my number",
    "I never signed up for this, stop",
    "Stop sending these",
    "I'm done with these texts, unsubscribe",
    "do not send me any more messages",
    "You can stop now",
    "no thanks, remove me",
    "OPT-OUT",
    "Halt",
    "Arrêtez svp",
    "Je ne veux plus rien recevoir",
    "STOP merci",
    "Retirez-moi de vos listes",
    "vous pouvez arrêter les SMS",
    "no quiero recibir nada más",
    "bórrenme de su lista",
    "Por favor no me manden más",
    "Ya basta de mensajes",
    "Stop txt",
]
SECOND_ORDINARY = [
    "Can I stop my subscription box for the summer?",
    "The app keeps saying end of session",
    "I cancelled by mistake, can you restore my order?",
    "stop-motion video attached",
    "Will the offer end soon?",
    "Je voudrais arrêter mon abonnement à la box, pas les SMS",
    "L'arrêt du bus est devant chez moi, livrez là",
    "J'ai fini, merci !",
    "No sé si mi pedido llegó",
    "Alto, medio o bajo? Qué tallas hay",
    "please cancel the second item only",
    "stopwatch arrived broken",
    "Why did the tracking stop updating?",
    "ok perfect",
    "How do I end a return request?",
    "Can you quit charging me twice?",
    "please keep sending me the promos",
    "Envoyez-moi la facture",
    "Quiero más información",
    "the end of my street, blue door",
]


# Written after the last change to the rules and never tuned against: the honest figures
# (first and only measurement: recall 80 %, precision 94 %; missed "I don't want to hear from
# you again", "Je souhaite être retiré de votre liste", "arrêter", "no more of this please";
# false alarm "fin août ça me va"). Tuning on it would make it a corpus: write a new one.
HELD_OUT_OPT_OUTS = [
    "Please stop contacting me",
    "Take me off this list",
    "I asked you to stop",
    "no more of this please",
    "STOP!!! I said STOP",
    "Enough, unsubscribe",
    "cancel these texts",
    "I don't want to hear from you again",
    "quit it",
    "Ne plus me contacter",
    "Stop stop stop",
    "Je souhaite être retiré de votre liste",
    "Merci d'arrêter vos envois",
    "arrêter",
    "Désabonnez-moi de vos SMS",
    "No me contacten más",
    "quiero que dejen de escribirme",
    "Basta ya",
    "no más por favor",
    "Stop with the messages",
]
HELD_OUT_ORDINARY = [
    "We'll stop by the store Saturday",
    "Cancel my order please, I found it cheaper",
    "did the sale end already?",
    "how do I stop the auto-renewal of my box?",
    "My parcel stopped moving in Lyon",
    "Bonjour, je voudrais annuler ma réservation",
    "Je passe à l'arrêt de la navette",
    "fin août ça me va",
    "Pouvez-vous arrêter la livraison de demain ? je suis absent",
    "¿Puedo cancelar mi cita?",
    "no hay problema",
    "thank you, that's everything",
    "Stop the press, I love it!",
    "where do I send the return?",
    "Tell me when the promotion ends",
    "Can I pause my subscription?",
    "Do you have it in red?",
    "Quelle est la fin de la garantie ?",
    "The end date on my card is 05/28",
    "please send me the tracking number",
]


def test_figures_on_a_held_out_set() -> None:
    found = [t for t in HELD_OUT_OPT_OUTS if detect(t).revokes]
    alarms = [t for t in HELD_OUT_ORDINARY if detect(t).revokes]
    recall = len(found) / len(HELD_OUT_OPT_OUTS)
    precision = len(found) / max(1, len(found) + len(alarms))
    missed = sorted(set(HELD_OUT_OPT_OUTS) - set(found))
    print(
        f"\nheld out: recall {recall:.0%}, precision {precision:.0%}; missed {missed};"
        f" false alarms {alarms}"
    )
    assert recall >= 0.8  # a change to the rules must not make these worse
    assert precision >= 0.9


def _detect_in_plain_order(text: str) -> OptOutIntent:
    """The precedence spelt out step by step, as ``detect`` read before it skipped the
    negations and guards for replies that fire nothing: its answers must not change."""
    from chainon.domain import opt_out_intent as intent
    from chainon.domain.keywords import normalise

    normalised = intent._collapse_repeats(normalise(text))
    if not normalised:
        return intent.NONE
    book = intent.DEFAULT_BOOK
    keyword = book.keyword_of(normalised)
    if keyword is not None:
        return intent.detect(text)  # keywords come first in both: not what changed
    if any(r.pattern.search(normalised) for r in intent._negations(intent.GUARDS)):
        return intent.NONE
    for rule in intent._ordered(intent.PHRASES):
        found = rule.pattern.search(normalised)
        if found:
            return OptOutIntent(IntentOutcome.OPT_OUT, rule.name, found.group(0).strip())
    typo = intent._typo(normalised, book)
    if typo is not None:
        return typo
    if any(r.pattern.search(normalised) for r in intent._ordered(intent.GUARDS)):
        return intent.NONE
    return intent._loose(normalised)


_FRAGMENTS = [
    *("stop", "stopp", "stpo", "stup", "end", "quit", "cancel", "unsubscribe", "arret"),
    *("don't stop", "do not cancel", "never quit", "stop texting me", "stop sending"),
    *("no paren", "no mas", "n'arretez pas", "ne stoppez pas", "arretez de m'envoyer des sms"),
    *("can you stop by", "cancel my order", "when will it end", "please", "the newsletter"),
    *("bonjour", "merci", "oui", "ok then", "tomorrow", "unsubscribe me", "opt me out"),
]


@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=5), st.sampled_from(["", "!"]))
def test_the_negations_and_guards_looked_for_last_answer_as_in_plain_order(
    fragments: list[str], end: str
) -> None:
    text = " ".join(fragments) + end
    assert detect(text) == _detect_in_plain_order(text)


@given(st.text(max_size=80))
def test_words_normalised_once_read_as_the_text_normalised_at_each_reading(text: str) -> None:
    """A decision normalises a message once (``detect_words``, ``keyword_of_words``): the
    same as normalising it again at each reading, because normalised words normalise to
    themselves, repeats collapsed or not."""
    words = normalise(text)
    assert normalise(words) == words
    collapsed = _collapse_repeats(words)
    assert normalise(collapsed) == collapsed
    assert DEFAULT_BOOK.keyword_of(collapsed) == DEFAULT_BOOK.keyword_of_words(collapsed)
    assert detect(text) == detect_words(words)
