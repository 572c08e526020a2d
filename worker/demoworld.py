"""The demo world: seeded, synthetic parallel corpora and instruction data for three made-up languages that differ
from English the way real languages do, small enough for a tiny model to learn on two CPU cores.

Nothing here is a real language and no score measured on it is a measurement of one: every table, plot, plan and
report that shows a ``demo-*`` language says it is synthetic (the catalogue lists them under the family
"Synthetic (demo world)").

English sentences come from one small grammar: ``DET [ADJ] SUBJECT VERB DET [ADJ] OBJECT [PREP DET [ADJ] NOUN].``
with singular and plural subjects (the verb agrees). Each language renders the same parse:

``demo_lex``   Cyrillic script, English word order; every English morpheme swapped for one of its own (a word for
               each word, a plural suffix for English's -s). Only the words and the script differ.
``demo_sov``   Latin script; subject-object-verb order, adjectives after the noun, no articles but a definite suffix,
               an object (accusative) suffix, verb agreement, and postpositions fronted to the start of the sentence.
``demo_kana``  Katakana syllables with no spaces between words; verb-subject-object order, particles after each
               noun phrase, a definite prefix; the sentence ends with 。.

The languages were designed once from these typological choices; nothing was tuned to make a given one win.
Splits are fixed by a hash of the English sentence (5% test), so the held-out test pairs never occur in training, and
the training pool is a fixed order: a pilot of n pairs (``train.subset = "prefix"``) contains every smaller pilot.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

GENERATOR = "demo-world"
WORLD_SEED = 20261202
POOL_SIZE = 20_000  # training pairs per language (the catalogue's cap of a demo language)
TEST_SIZE = 200
INSTRUCTIONS = 60  # instruction records per language (fixed across pilots, as in the paper's pilot runs)

LANGUAGES = ("demo_lex", "demo_sov", "demo_kana")
NAMES = {"demo_lex": "Demo Lexical", "demo_sov": "Demo Inflecting", "demo_kana": "Demo Syllabic"}

# The lexicon: content words in order of frequency. Sentences draw them with Zipf weights (rank r has weight 1/r),
# as words are drawn in natural text, so a larger training set keeps meeting words a smaller one never saw, with
# diminishing returns: the mechanism behind data scaling laws, not a curve put in by hand.
ANIMATE = ("cat", "dog", "child", "friend", "farmer", "teacher", "bird", "horse", "doctor", "king", "girl", "boy",
           "baker", "sailor", "wolf", "fox", "queen", "soldier", "student", "mother", "father", "brother", "sister",
           "cook", "driver", "singer", "painter", "hunter", "fisher", "miller", "judge", "guard", "monk", "priest",
           "nurse", "pilot", "tailor", "weaver", "shepherd", "merchant", "prince", "princess", "rabbit",
           "mouse", "goat", "sheep", "cow", "bear", "lion", "tiger", "eagle", "owl", "duck", "frog", "snake",
           "donkey", "camel", "monkey", "deer", "pig")
THINGS = ("apple", "book", "river", "house", "tree", "stone", "letter", "boat", "bread", "song", "door", "field",
          "cup", "hat", "road", "star", "table", "chair", "window", "garden", "bridge", "wall", "basket", "coat",
          "shoe", "ring", "key", "lamp", "bell", "drum", "flag", "map", "box", "bag", "knife", "spoon", "plate",
          "bowl", "bottle", "candle", "mirror", "clock", "picture", "blanket", "pillow", "rope", "ladder", "wheel",
          "cart", "ship", "tower", "castle", "church", "market", "shop", "school", "village", "city", "forest",
          "hill", "mountain", "lake", "island", "cave", "flower", "leaf", "seed", "nut", "egg", "cake", "cheese",
          "soup", "fish", "honey", "milk", "coin", "gift", "shell", "feather", "sword", "shield", "crown", "fence",
          "gate", "pot", "pan", "oven", "stove", "bench", "bed", "roof", "floor", "step", "path", "well",
          "barn", "tent", "kite", "ball", "doll", "pen", "paper", "page", "story", "poem", "dream", "cloud",
          "moon", "sun", "wind", "storm", "fire", "snow", "rain", "horn", "pipe", "net", "rock")
VERBS = ("see", "like", "find", "take", "make", "want", "carry", "paint", "follow", "hear", "open", "sell",
         "buy", "bring", "hold", "keep", "draw", "build", "clean", "cook", "help", "meet", "call", "visit", "watch",
         "leave", "move", "pull", "push", "lift", "drop", "break", "fix", "hide", "show", "give", "send", "read",
         "write", "count", "guard", "love", "fear", "miss", "greet", "thank", "answer", "remember", "forget",
         "choose")
ADJECTIVES = ("big", "small", "red", "old", "young", "happy", "quiet", "green", "warm", "dark", "bright", "cold",
              "new", "tall", "short", "long", "heavy", "light", "soft", "hard", "clean", "dirty", "rich", "poor",
              "brave", "kind", "proud", "shy", "wise", "clever", "lazy", "busy", "strong", "weak", "sweet", "bitter",
              "round", "sharp", "empty", "full")
PREPOSITIONS = ("near", "in", "with", "under", "behind", "on", "beside", "above")
# Words of the instruction data (the tasks' own vocabulary).
TASK_WORDS = ("repeat", "name", "sentence", "subject", "object", "this")
_PLURAL = {"child": "children", "wolf": "wolves", "fox": "foxes", "mouse": "mice", "sheep": "sheep",
           "deer": "deer", "fish": "fish", "knife": "knives", "leaf": "leaves", "box": "boxes",
           "princess": "princesses", "church": "churches", "city": "cities", "story": "stories",
           "bench": "benches", "brush": "brushes", "glass": "glasses"}
_THIRD = {"carry": "carries", "fix": "fixes", "watch": "watches", "push": "pushes", "miss": "misses"}
ZIPF_EXPONENT = 1.0


def _zipf(rng: random.Random, words: tuple[str, ...]) -> str:
    """A word drawn with weight 1/rank**ZIPF_EXPONENT (the first word of the tuple is the most frequent)."""
    return rng.choices(words, cum_weights=_cumulative(len(words)))[0]


@lru_cache(maxsize=None)
def _cumulative(n: int) -> list[float]:
    total, out = 0.0, []
    for rank in range(1, n + 1):
        total += rank ** -ZIPF_EXPONENT
        out.append(total)
    return out


@dataclass(frozen=True)
class Phrase:
    definite: bool
    adjective: str | None
    noun: str
    plural: bool = False

    def english(self) -> str:
        det = "the" if self.definite else ("some" if self.plural else "a")
        noun = _PLURAL.get(self.noun, self.noun + "s") if self.plural else self.noun
        return " ".join(w for w in (det, self.adjective, noun) if w)


@dataclass(frozen=True)
class Clause:
    subject: Phrase
    verb: str
    obj: Phrase
    preposition: str | None = None
    place: Phrase | None = None

    def english(self) -> str:
        verb = self.verb if self.subject.plural else _THIRD.get(self.verb, self.verb + "s")
        words = [self.subject.english(), verb, self.obj.english()]
        if self.preposition and self.place:
            words += [self.preposition, self.place.english()]
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."


# ---------------------------------------------------------------------------------------------------------------
# Lexicons: pseudo-words drawn once per language from its own syllable inventory (seeded, so stable forever)
# ---------------------------------------------------------------------------------------------------------------
_SYLLABLES = {
    "demo_lex": [c + v for c in "бвгдзклмнпрстф" for v in "аеиоуя"],
    "demo_sov": [c + v + e for c in "bdgklmnprstvz" for v in "aeiouä" for e in ("", "n", "r")],
    "demo_kana": list("カキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"),
}
_AFFIXES = {
    # demo_lex: plural suffix (English -s), 3rd-person verb suffix (English -s)
    "demo_lex": {"plural": "ы", "third": "ет"},
    # demo_sov: definite, plural, accusative, plural agreement on adjectives and verbs
    "demo_sov": {"definite": "a", "plural": "ir", "accusative": "um", "agree": "en", "verb_plural": "ot"},
    # demo_kana: definite prefix, plural suffix, particles
    "demo_kana": {"definite": "ソノ", "plural": "ラ", "subject": "ガ", "object": "ヲ", "place": "ニ", "end": "。"},
}


@lru_cache(maxsize=None)
def lexicon(lang: str) -> dict[str, str]:
    """English word (lemma) → the language's word, for every word of the grammar and the tasks."""
    _check(lang)
    rng = random.Random(f"{WORLD_SEED}:{lang}")
    syllables = _SYLLABLES[lang]
    out: dict[str, str] = {}
    used: set[str] = set()
    for word in ANIMATE + THINGS + VERBS + ADJECTIVES + PREPOSITIONS + TASK_WORDS + ("the", "a", "some"):
        while True:
            n = rng.choice((2, 2, 3)) if lang != "demo_kana" else rng.choice((2, 3, 3))
            form = "".join(rng.choice(syllables) for _ in range(n))
            if form not in used:
                break
        used.add(form)
        out[word] = form
    return out


def _check(lang: str) -> None:
    if lang not in LANGUAGES:
        raise KeyError(f"{lang!r} is not a demo-world language ({', '.join(LANGUAGES)})")


def render(clause: Clause, lang: str) -> str:
    """The clause in ``lang`` (``en`` or a demo-world language)."""
    if lang == "en":
        return clause.english()
    lex, aff = lexicon(lang), _AFFIXES[lang]
    if lang == "demo_lex":
        def np(p: Phrase) -> list[str]:
            det = lex["the" if p.definite else ("some" if p.plural else "a")]
            noun = lex[p.noun] + (aff["plural"] if p.plural else "")
            return [det] + ([lex[p.adjective]] if p.adjective else []) + [noun]
        verb = lex[clause.verb] + ("" if clause.subject.plural else aff["third"])
        words = np(clause.subject) + [verb] + np(clause.obj)
        if clause.preposition and clause.place:
            words += [lex[clause.preposition]] + np(clause.place)
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."
    if lang == "demo_sov":
        def np(p: Phrase, case: str = "") -> list[str]:
            noun = lex[p.noun] + (aff["definite"] if p.definite else "") + (aff["plural"] if p.plural else "")
            noun += aff["accusative"] if case == "acc" else ""
            adj = [lex[p.adjective] + (aff["agree"] if p.plural else "")] if p.adjective else []
            return [noun] + adj
        words: list[str] = []
        if clause.preposition and clause.place:
            words += np(clause.place) + [lex[clause.preposition]]
        verb = lex[clause.verb] + (aff["verb_plural"] if clause.subject.plural else "")
        words += np(clause.subject) + np(clause.obj, "acc") + [verb]
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."
    # demo_kana
    def np(p: Phrase, particle: str) -> str:
        return ((aff["definite"] if p.definite else "") + (lex[p.adjective] if p.adjective else "") + lex[p.noun]
                + (aff["plural"] if p.plural else "") + particle)
    parts = [lex[clause.verb], np(clause.subject, aff["subject"]), np(clause.obj, aff["object"])]
    if clause.preposition and clause.place:
        parts += [np(clause.place, aff["place"]), lex[clause.preposition]]
    return "".join(parts) + aff["end"]


def render_phrase(phrase: Phrase, lang: str) -> str:
    """A noun phrase on its own (its citation form: no case ending, no particle)."""
    if lang == "en":
        return phrase.english()
    lex, aff = lexicon(lang), _AFFIXES[lang]
    if lang == "demo_lex":
        det = lex["the" if phrase.definite else ("some" if phrase.plural else "a")]
        return " ".join([det] + ([lex[phrase.adjective]] if phrase.adjective else [])
                        + [lex[phrase.noun] + (aff["plural"] if phrase.plural else "")])
    if lang == "demo_sov":
        noun = lex[phrase.noun] + (aff["definite"] if phrase.definite else "") + (aff["plural"] if phrase.plural else "")
        return " ".join([noun] + ([lex[phrase.adjective] + (aff["agree"] if phrase.plural else "")]
                                  if phrase.adjective else []))
    return ((aff["definite"] if phrase.definite else "") + (lex[phrase.adjective] if phrase.adjective else "")
            + lex[phrase.noun] + (aff["plural"] if phrase.plural else ""))


# ---------------------------------------------------------------------------------------------------------------
# Sentences and splits
# ---------------------------------------------------------------------------------------------------------------
def _phrase(rng: random.Random, nouns: tuple[str, ...], *, allow_plural: bool) -> Phrase:
    return Phrase(definite=rng.random() < 0.6, adjective=_zipf(rng, ADJECTIVES) if rng.random() < 0.5 else None,
                  noun=_zipf(rng, nouns), plural=allow_plural and rng.random() < 0.3)


def _clauses(stream: str) -> Iterator[Clause]:
    rng = random.Random(f"{WORLD_SEED}:{stream}")
    while True:
        subject = _phrase(rng, ANIMATE, allow_plural=True)
        obj = _phrase(rng, THINGS if rng.random() < 0.7 else ANIMATE, allow_plural=True)
        if rng.random() < 0.35:
            yield Clause(subject, _zipf(rng, VERBS), obj, _zipf(rng, PREPOSITIONS),
                         _phrase(rng, THINGS, allow_plural=False))
        else:
            yield Clause(subject, _zipf(rng, VERBS), obj)


def _is_test(sentence: str) -> bool:
    return hashlib.blake2b(sentence.encode(), digest_size=2).digest()[0] < 13  # ~5% of sentences


@lru_cache(maxsize=4)
def clauses(split: str) -> tuple[Clause, ...]:
    """The English clauses of a split (``train``: POOL_SIZE, ``test``: TEST_SIZE), distinct, in a fixed order;
    no test sentence occurs in ``train``."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown demo-world split {split!r} (train, test)")
    want = POOL_SIZE if split == "train" else TEST_SIZE
    seen: set[str] = set()
    out: list[Clause] = []
    for clause in _clauses("sentences"):
        text = clause.english()
        if text in seen or _is_test(text) != (split == "test"):
            continue
        seen.add(text)
        out.append(clause)
        if len(out) == want:
            return tuple(out)
    raise AssertionError("unreachable")


def pairs(lang: str, split: str = "train", limit: int | None = None) -> list[tuple[str, str]]:
    """(English, ``lang``) sentence pairs of a split, in the pool's fixed order."""
    _check(lang)
    chosen = clauses(split)[:limit]
    return [(c.english(), render(c, lang)) for c in chosen]


_TASKS = (
    (("repeat", "this", "sentence"), "Repeat this sentence.", lambda c: c, "sentence"),
    (("name", "the", "subject"), "Name the subject of this sentence.", lambda c: c.subject, "phrase"),
    (("name", "the", "object"), "Name the object of this sentence.", lambda c: c.obj, "phrase"),
)


def instructions(lang: str) -> list[dict[str, str]]:
    """Alpaca-format records {instruction, input, output} in ``lang`` (``en`` or a demo language): the same
    INSTRUCTIONS tasks in every language (repeat a sentence, name its subject, name its object), on sentences
    outside both splits."""
    if lang != "en":
        _check(lang)
    taken = set(c.english() for c in clauses("train")) | set(c.english() for c in clauses("test"))
    out = []
    stream = _clauses("instructions")
    while len(out) < INSTRUCTIONS:
        clause = next(stream)
        if clause.english() in taken:
            continue
        words, english_instruction, part, kind = _TASKS[len(out) % len(_TASKS)]
        if lang == "en":
            instruction = english_instruction
        else:
            glue, end = ("", "。") if lang == "demo_kana" else (" ", ".")
            instruction = glue.join(lexicon(lang)[w] for w in words)
            instruction = instruction[0].upper() + instruction[1:] + end
        target = part(clause)
        output = render(target, lang) if kind == "sentence" else render_phrase(target, lang)
        out.append({"instruction": instruction, "input": render(clause, lang), "output": output})
    return out


def corpus_text() -> Iterator[str]:
    """Every text of the world (for building its tokenizer): both sides of the pairs and the instructions."""
    for lang in LANGUAGES:
        for en, xx in pairs(lang, "train"):
            yield en
            yield xx
        for rec in instructions(lang):
            yield from rec.values()
    for rec in instructions("en"):
        yield from rec.values()


# ---------------------------------------------------------------------------------------------------------------
# The world's tokenizer: byte-level BPE trained on the world's texts and the prompt scaffold, shipped as
# resources/demo-world/tokenizer.json (rebuild: python -m worker.demoworld --write-tokenizer)
# ---------------------------------------------------------------------------------------------------------------
TOKENIZER_FILE = "demo-world/tokenizer.json"
TOKENIZER_VOCAB = 1536


def scaffold_text() -> list[str]:
    """The prompt texts every example carries (the Alpaca scaffold and the translation instructions)."""
    from worker.data import TRANSLATION_PHRASINGS, alpaca_prompt, language_name

    out = [alpaca_prompt("x"), alpaca_prompt("x", "y")]
    for lang in LANGUAGES:
        for template in TRANSLATION_PHRASINGS:
            out.append(template.format(src=language_name("en"), tgt=language_name(lang)))
            out.append(template.format(src=language_name(lang), tgt=language_name("en")))
    return out


def build_tokenizer_json() -> str:
    """The world's tokenizer as tokenizer.json text (deterministic: the same text on every machine)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = ["<s>", "</s>", "<pad>", "<unk>"]
    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TOKENIZER_VOCAB, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    texts = list(corpus_text()) + scaffold_text() * 200
    core.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return core.to_str()


CATALOGUE_FILE = "demo-world/languages.tsv"
SCRIPTS = {"demo_lex": "Cyrillic", "demo_sov": "Latin", "demo_kana": "Katakana"}
# ISO 639-2 reserves qaa-qtz for local use: the demo languages take three of them, so no real code is shadowed.
LOCAL_USE_CODES = {"demo_lex": "qaa", "demo_sov": "qab", "demo_kana": "qac"}


def catalogue_tsv() -> str:
    """The demo languages as rows of the studio's catalogue format (code ... pairs similarity)."""
    lines = [
        "# LinguaTune demo world: SYNTHETIC languages made by worker/demoworld.py (python -m worker.demoworld",
        "# --write-catalogue rebuilds this file). They can be planned, piloted and trained like real languages, but",
        "# every score on them is a measurement of the synthetic world, never of a real language. pairs: the pool.",
        "code\tiso639_1\tiso639_3\tname\tscript\tfamily\tpairs\tsimilarity",
    ]
    for lang in LANGUAGES:
        lines.append("\t".join([lang, "", LOCAL_USE_CODES[lang], NAMES[lang], SCRIPTS[lang],
                                "Synthetic (demo world)", str(POOL_SIZE), ""]))
    return "\n".join(lines) + "\n"


def _main(argv: list[str] | None = None) -> int:
    import argparse

    from worker.resources import resource_path

    parser = argparse.ArgumentParser(prog="python -m worker.demoworld", description=__doc__.splitlines()[0])
    parser.add_argument("--write-tokenizer", action="store_true", help=f"rebuild resources/{TOKENIZER_FILE}")
    parser.add_argument("--write-catalogue", action="store_true", help=f"rebuild resources/{CATALOGUE_FILE}")
    args = parser.parse_args(argv)
    if args.write_catalogue:
        target = resource_path(*CATALOGUE_FILE.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(catalogue_tsv(), encoding="utf-8")
        print(f"wrote {target}")
    if args.write_tokenizer:
        target = resource_path(*TOKENIZER_FILE.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(build_tokenizer_json(), encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
