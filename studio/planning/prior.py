"""The default, uncalibrated prior: a power law per language when no pilot measurements have been fitted.

The paper fits a decreasing power law per language but its constants are not available (REFERENCE.md), so these
numbers are ours and illustrative only. They make curves of a plausible shape in COMET x 100 units: a language close
to English (g = 1) is predicted about 55 at 1,000 pairs and about 85 at 1,000,000; distant languages need more pairs
for the same score. Fit laws from your own measurements (``linguatune fit``) before trusting a plan.

The shape is shared; only the efficiency factor g differs between languages. It comes from the catalogue's
typological similarity s to English (lang2vec cosine, 0.59 to 0.87 in the catalogue):

    g = min(1, (s / SIMILARITY_ENGLISH_LIKE) ** SIMILARITY_EXPONENT)

so Germanic neighbours of English (s >= 0.85) get g = 1 and, e.g., Turkish (s = 0.62) gets g = 0.28, i.e. it needs
about 3.5 times the pairs of an English-like language for the same predicted score. A language without a similarity
value is treated as having the catalogue's median similarity, SIMILARITY_UNKNOWN.
"""

from __future__ import annotations

from studio.planning.laws import PowerLaw

PRIOR_CEILING = 90.0
"""c: the predicted COMET x 100 ceiling (illustrative)."""
PRIOR_SCALE = 240.0
"""a: with b, puts an English-like language near 55 at 1k pairs and 85 at 1M pairs (illustrative)."""
PRIOR_EXPONENT = 0.28
"""b: the decay of returns (illustrative)."""
SIMILARITY_ENGLISH_LIKE = 0.85
"""Similarity at and above which a language counts as English-like (g = 1)."""
SIMILARITY_EXPONENT = 4.0
"""How strongly dissimilarity to English lowers g."""
SIMILARITY_UNKNOWN = 0.73
"""Similarity assumed when the catalogue has none (the catalogue's median)."""

PRIOR_NOTE = (
    "UNCALIBRATED PRIOR: these predictions do not come from measurements. The paper's fitted scaling-law constants "
    "are not available, so LinguaTune uses an illustrative power law, score = c - a*(g*x)^(-b) in COMET x 100 units "
    f"with c = {PRIOR_CEILING:g}, a = {PRIOR_SCALE:g}, b = {PRIOR_EXPONENT:g} for every language (about 55 at 1k "
    "pairs and 85 at 1M for a language close to English), and g = min(1, (s/"
    f"{SIMILARITY_ENGLISH_LIKE:g})^{SIMILARITY_EXPONENT:g}) from the language's typological similarity s to English "
    f"(s = {SIMILARITY_UNKNOWN:g} when unknown), so distant languages need more pairs for the same score. The "
    "split it suggests only reflects those assumptions; measure a few pilot points per language and run "
    "`linguatune fit` to plan with real laws."
)


def efficiency_from_similarity(similarity: float | None) -> float:
    """The prior's g for a typological similarity to English (None: the catalogue median is assumed)."""
    s = SIMILARITY_UNKNOWN if similarity is None else float(similarity)
    s = max(s, 1e-6)
    return min(1.0, (s / SIMILARITY_ENGLISH_LIKE) ** SIMILARITY_EXPONENT)


def prior_law(language) -> PowerLaw:
    """The uncalibrated prior power law for a catalogue ``Language`` (see the module docstring)."""
    return PowerLaw(
        c=PRIOR_CEILING, a=PRIOR_SCALE, b=PRIOR_EXPONENT, g=efficiency_from_similarity(language.similarity)
    )
