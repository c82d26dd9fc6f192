"""Does this reply ask to stop? Opt-outs in the consumer's own words, not only keywords.

The US FCC's revocation rule (47 CFR 64.1200(a)(10), in force since 11 April 2025) makes
stop, quit, end, revoke, opt out, cancel and unsubscribe revocations per se, and asks that a
reply in other words be honoured when a reasonable person would read it as a wish to stop;
France's codes of conduct ask the same of "STOP" mentions. So three outcomes:

- **opt_out**: a keyword (``keywords``), a one-letter typo of one that is no ordinary word
  (``STPO``, ``STOPP``, ``UNSUSCRIBE``), or a phrase of a language's list ("stop texting
  me", "arrêtez de m'envoyer des SMS", "no más");
- **uncertain**: a message that opens (or, short, closes) on an opt-out word without being
  one of the phrases ("Stop, who is this?"), or a typo other than a swap or a doubled letter
  ("STUP"): the brand's default treats it as an opt-out for marketing and asks a person to
  confirm;
- **none**: everything else, notably sentences where the word means something else
  ("ne stoppez pas la livraison", "can you stop by tomorrow", "I want to cancel my order
  1234"): a guard pattern that matches takes precedence over the loose rules, and a
  negation of the word itself ("please don't stop sending") over the phrases too; nothing
  outranks a keyword.

Rules are data, per language (``en``, ``fr``, ``es``), each with a name the consent
evidence records ("rule ``en.phrase.stop_texting``"). Pure: no model, no network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from chainon.domain.keywords import DEFAULT_BOOK, KeywordAction, KeywordBook, normalise


class IntentOutcome(StrEnum):
    OPT_OUT = "opt_out"
    UNCERTAIN = "uncertain"
    NONE = "none"


@dataclass(frozen=True)
class OptOutIntent:
    outcome: IntentOutcome
    rule: str  # e.g. "keyword.stop", "en.phrase.stop_texting", "typo.stop"; "" for none
    matched: str = ""  # the normalised words that fired the rule
    stops_service: bool = False  # STOPALL / STOP ALL: service messages too

    @property
    def revokes(self) -> bool:
        """Whether marketing stops (the documented default for an uncertain reply)."""
        return self.outcome is not IntentOutcome.NONE


NONE = OptOutIntent(IntentOutcome.NONE, "")


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]


def _rules(language: str, kind: str, table: Mapping[str, str]) -> tuple[Rule, ...]:
    return tuple(
        Rule(f"{language}.{kind}.{name}", re.compile(pattern)) for name, pattern in table.items()
    )


# Phrases, on normalised text (lower case, no accents, punctuation as single spaces).
# Mostly "a stopping verb, then within a few words something we send", so that the wording
# may vary: "stop sending these", "arrêtez les SMS", "dejen de mandarme mensajes".
_EN_SENT = r"(text\w*|txt\w*|msg\w*|messag\w*|sms|e ?mail\w*|send\w*|contact\w*|spam\w*"
_EN_SENT += r"|bother\w*|call\w*|promo\w*|these|them)"
_FR_SENT = r"(sms|messages?|mails?|e ?mails?|pubs?|publicites?|spams?|envo\w*|ecri\w*"
_FR_SENT += r"|contact\w*|harcel\w*|textos?|relanc\w*)"
_ES_SENT = r"(envi\w*|mand\w*|escrib\w*|molest\w*|contact\w*|mensajes?|sms|correos?)"
PHRASES: Mapping[str, tuple[Rule, ...]] = {
    "en": _rules(
        "en",
        "phrase",
        {
            "stop_texting": rf"\b(stop|quit|cease|halt)( \w+){{0,3}} {_EN_SENT}\b",
            "do_not_contact": r"\b(don t|dont|do not|never) (text|message|contact|email|sms|txt"
            r"|send|call)\w*( \w+){0,3} (me|us|this number|messages|texts|anything)\b",
            "unsubscribe": r"\b(unsubscribe|unsubscribing|unsub|opt ?out|optout|opt me out)\b",
            "remove_me": r"\b(remove|delete|take|erase|drop)( \w+)? (me|my number|this number"
            r"|my email|my phone|my details)\b",
            "no_more": rf"\bno more( \w+){{0,2}} {_EN_SENT}\b",
            "leave_alone": r"\bleave me alone\b",
            "wrong_number_stop": r"\bwrong (number|person)\b.*\b(stop|remove|unsubscribe)\b",
            "dont_want": r"\b(don t|dont|do not) want( \w+){0,3} (texts|messages|sms|emails|txts"
            r"|promos)\b",
            "want_out": r"\b(i want|i d like|i would like|i wish) to (stop receiving|be removed)\b",
            "stop_it": r"^((please|pls|just|ok|okay|now) )?(stop|quit)"
            r"( it| this| now| please| pls| already| asap)*$",
        },
    ),
    "fr": _rules(
        "fr",
        "phrase",
        {
            "arretez_envoyer": rf"\b(arret\w*|stopp\w*|cess\w*|stop)( \w+){{0,3}} {_FR_SENT}\b",
            "ne_plus": r"\bne (m |me |nous )?(envoyez|ecrivez|contactez|relancez) plus\b",
            "de_ne_plus": r"\bne plus (m |me |nous )?(envoyer|ecrire|contacter|recevoir"
            r"|relancer)\b",
            "ne_veux_plus": r"\bne (veux|souhaite|desire) plus( \w+){0,2} (recevoir|de vos|vos"
            r"|de sms|de messages|etre contacte)\b",
            "desinscrire": r"\b(desinscri\w*|desabonne\w*|desabonnement)\b",
            "supprimez_moi": r"\b(supprimez|retirez|enlevez|effacez)( \w+)? (moi|mon numero"
            r"|mon mail)\b",
            "plus_de": r"\bplus (de sms|de messages|de pub|de publicite|jamais)\b",
            "laissez_tranquille": r"\blaissez moi tranquille\b",
        },
    ),
    "es": _rules(
        "es",
        "phrase",
        {
            "no_mas": r"^(no mas|ya no mas)( mensajes| sms)?( por favor| gracias)?$",
            "dejen_de": rf"\b(dejen|deja|dejar|paren|para|pare|basta) de( \w+)? {_ES_SENT}\b",
            "no_me_envien": r"\bno (me )?(envi|mand|escrib|contact)\w*( \w+)? mas\b",
            "dar_de_baja": r"\bde baja\b",
            "borrar_de_lista": r"\b(borr|elimin|sac|quit)\w*( \w+)? de (su|la|tu|sus|vuestra)"
            r" (lista|base)\b",
            "baja": r"^(baja|cancelar suscripcion|desuscribir\w*|anular suscripcion)$",
            "no_quiero": r"\bno quiero (recibir|(mas )?(mensajes|sms|correos))\b",
        },
    ),
}

# Where an opt-out word means something else; these outrank only the loose rules.
GUARDS: Mapping[str, tuple[Rule, ...]] = {
    "en": _rules(
        "en",
        "guard",
        {
            "negated": r"\b(don t|dont|do not|never|didn t|won t|can t|cannot) (stop|cancel|end"
            r"|quit)\b",
            "stop_by": r"\bstop (by|at|in|over|off|for|on)\b",
            "cancel_something": r"\bcancel\w* (my|the|this|our|an|a|that) (order|appointment"
            r"|booking|reservation|delivery|subscription box|payment|card|transaction|flight)\b",
            "end_of": r"\b(end of|the end|weekend|end date|ends on|at the end)\b",
            # An object that is no message of ours ("quit my job"); ours were phrases above.
            "own_object": r"^(quit|end|cancel|stop|halt) (my|the|our|his|her|your|a|an)\b",
            "non_stop": r"\b(non stop|nonstop|bus stop|last stop|next stop|stopover|stop motion"
            r"|stop loss|pit stop)\b",
        },
    ),
    "fr": _rules(
        "fr",
        "guard",
        {
            "negated": r"\bn (arretez|stoppez|annulez|arrete)\w* (pas|jamais)\b",
            "ne_pas": r"\bne (stoppez|arretez|annulez)\w* pas\b",
            "annuler_commande": r"\bannul\w* (ma|la|mon|le|cette|ce) (commande|livraison"
            r"|rendez vous|reservation|rdv)\b",
            "fin_de": r"\b(fin (de|du|d)|a la fin|en fin)\b",
            "arret_de_bus": r"\b(arret de bus|arret de tram|a l arret|arret maladie)\b",
        },
    ),
    "es": _rules(
        "es",
        "guard",
        {
            "negated": r"\bno (paren|pares|cancelen|canceles|dejen)\b",
            "cancelar_pedido": r"\bcancelar (mi|el|la) (pedido|cita|reserva|orden)\b",
        },
    ),
}

NEGATIONS = frozenset({"negated", "ne_pas"})

# Words that open or close an uncertain reply; a guard keeps them out.
LOOSE_WORDS = frozenset(
    {"stop", "unsubscribe", "cancel", "quit", "end", "revoke", "optout", "arret", "arretez"}
    | {"stoppez", "desabonner", "basta", "fin", "halt"}
)

LOOSE_LAST_WORDS = 3
# Words that end a reply of any length as an opt-out would ("…, stop"), and that a short
# reply (up to LOOSE_SHORT words) containing them anywhere is uncertain ("you can stop now").
FIRM_WORDS = frozenset({"stop", "unsubscribe", "arret", "arretez", "basta", "halt"})
LOOSE_SHORT = 5

# One-letter typos that are ordinary words: never an opt-out on their own.
ORDINARY_WORDS = frozenset(
    {"step", "shop", "top", "stomp", "stoop", "atop", "sop", "slop", "spot", "post", "stock"}
    | {"and", "ed", "send", "lend", "bend", "mend", "tend", "fend", "ends", "quiz", "quite"}
    | {"quilt", "suit", "quits", "stat", "star", "start", "store", "story", "stow", "soap"}
    | {"stap", "stip", "stoa", "stops", "arrets", "arete", "canal", "candle", "cancer", "dancel"}
)
# Typos are looked for on opt-out keywords of at least this length: "end" is too close to
# "and", "send", "ed" to read anything into a one-letter difference.
TYPO_MIN_LENGTH = 4


def detect(
    text: str,
    book: KeywordBook = DEFAULT_BOOK,
    phrases: Mapping[str, tuple[Rule, ...]] = PHRASES,
    guards: Mapping[str, tuple[Rule, ...]] = GUARDS,
) -> OptOutIntent:
    return detect_words(normalise(text), book, phrases, guards)


def detect_words(
    words: str,
    book: KeywordBook = DEFAULT_BOOK,
    phrases: Mapping[str, tuple[Rule, ...]] = PHRASES,
    guards: Mapping[str, tuple[Rule, ...]] = GUARDS,
) -> OptOutIntent:
    """``detect`` for words ``normalise`` already gave (collapsing repeats keeps them so)."""
    normalised = _collapse_repeats(words)
    if not normalised:
        return NONE
    keyword = book.keyword_of_words(normalised)
    if keyword is not None and keyword.action in (KeywordAction.OPT_OUT, KeywordAction.OPT_OUT_ALL):
        return OptOutIntent(
            IntentOutcome.OPT_OUT,
            f"keyword.{keyword.word.replace(' ', '_')}",
            keyword.word,
            stops_service=keyword.action is KeywordAction.OPT_OUT_ALL,
        )
    if keyword is not None:
        return NONE  # START, HELP: a keyword of its own, never an opt-out
    # The precedence: a negation of the word itself ("please don't stop sending the
    # newsletters") over everything below; a phrase, then a typo; a guard over the loose
    # rules. Negations and guards only ever answer NONE, so they are looked for only once
    # something else would fire: most replies fire nothing, and skip both.
    for rule in _ordered(phrases):
        found = rule.pattern.search(normalised)
        if found:
            if _negated(normalised, guards):
                return NONE
            return OptOutIntent(IntentOutcome.OPT_OUT, rule.name, found.group(0).strip())
    typo = _typo(normalised, book)
    if typo is not None:
        return NONE if _negated(normalised, guards) else typo
    loose = _loose(normalised)
    if loose is NONE or _negated(normalised, guards):
        return NONE
    if any(rule.pattern.search(normalised) for rule in _ordered(guards)):
        return NONE
    return loose


def _negated(normalised: str, guards: Mapping[str, tuple[Rule, ...]]) -> bool:
    return any(rule.pattern.search(normalised) for rule in _negations(guards))


def _loose(normalised: str) -> OptOutIntent:
    """An opt-out word where a reply opens or (short) closes, or anywhere in a short one:
    uncertain."""
    words = normalised.split()
    # The first word, or the last of a short reply ("ok then stop"): at the end of a longer
    # sentence the word is more often part of it ("when will it end").
    edges = [words[0]] + ([words[-1]] if len(words) <= LOOSE_LAST_WORDS else [])
    for edge in edges:
        if edge in LOOSE_WORDS:
            return OptOutIntent(IntentOutcome.UNCERTAIN, f"loose.{edge}", edge)
    if words[-1] in FIRM_WORDS:
        return OptOutIntent(IntentOutcome.UNCERTAIN, f"loose.{words[-1]}", words[-1])
    if len(words) <= LOOSE_SHORT:
        firm = next((word for word in words if word in FIRM_WORDS), None)
        if firm is not None:
            return OptOutIntent(IntentOutcome.UNCERTAIN, f"loose.{firm}", firm)
    return NONE


def _ordered(table: Mapping[str, tuple[Rule, ...]]) -> Sequence[Rule]:
    return _listed("ordered", table)


def _negations(table: Mapping[str, tuple[Rule, ...]]) -> Sequence[Rule]:
    """The guards that negate the opt-out word itself: they outrank phrases too."""
    return _listed("negations", table)


# Each table's rules in order, by the table's identity (the table is held, so its id is
# not reused): listing them on every message was a tenth of its reading.
_LISTED: dict[tuple[str, int], tuple[Mapping[str, tuple[Rule, ...]], tuple[Rule, ...]]] = {}


def _listed(kind: str, table: Mapping[str, tuple[Rule, ...]]) -> tuple[Rule, ...]:
    held = _LISTED.get((kind, id(table)))
    if held is not None and held[0] is table:
        return held[1]
    rules = [rule for language in sorted(table) for rule in table[language]]
    if kind == "negations":
        rules = [rule for rule in rules if rule.name.split(".")[-1] in NEGATIONS]
    if len(_LISTED) > 64:
        _LISTED.clear()
    _LISTED[(kind, id(table))] = (table, tuple(rules))
    return tuple(rules)


def _collapse_repeats(normalised: str) -> str:
    """ "stop stop stop" → "stop": insistence is still one word."""
    words: list[str] = []
    for word in normalised.split():
        if not words or words[-1] != word:
            words.append(word)
    return " ".join(words)


def _typo(normalised: str, book: KeywordBook) -> OptOutIntent | None:
    """A whole message one edit away from an opt-out keyword: a swap or a doubled letter
    is plainly the keyword (opt_out); another edit is uncertain; an ordinary word neither."""
    if normalised in ORDINARY_WORDS or " " in normalised:
        return None
    keywords = book.words(KeywordAction.OPT_OUT) | book.words(KeywordAction.OPT_OUT_ALL)
    for keyword in sorted(keywords):
        if " " in keyword or len(keyword) < TYPO_MIN_LENGTH:
            continue
        kind = _one_edit(normalised, keyword)
        if kind in ("swap", "double"):
            return OptOutIntent(IntentOutcome.OPT_OUT, f"typo.{keyword}", normalised)
        if kind is not None:
            return OptOutIntent(IntentOutcome.UNCERTAIN, f"typo.{keyword}", normalised)
    return None


def _one_edit(word: str, keyword: str) -> str | None:
    """Which single edit turns ``keyword`` into ``word``: swap (adjacent letters), double
    (a letter repeated), insert, delete, replace; None when it takes none or more."""
    if word == keyword:
        return None
    if len(word) == len(keyword):
        diffs = [i for i, (a, b) in enumerate(zip(word, keyword, strict=True)) if a != b]
        if len(diffs) == 1:
            return "replace"
        if (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and word[diffs[0]] == keyword[diffs[1]]
            and word[diffs[1]] == keyword[diffs[0]]
        ):
            return "swap"
        return None
    if len(word) == len(keyword) + 1:
        for i in range(len(word)):
            if word[:i] + word[i + 1 :] == keyword:
                doubled = (i > 0 and word[i] == word[i - 1]) or (
                    i + 1 < len(word) and word[i] == word[i + 1]
                )
                return "double" if doubled else "insert"
        return None
    if len(word) + 1 == len(keyword):
        for i in range(len(keyword)):
            if keyword[:i] + keyword[i + 1 :] == word:
                return "delete"
    return None
