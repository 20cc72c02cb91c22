"""Word lists shared by lexical search and answer extraction (no heavy imports)."""

from __future__ import annotations

import functools
import unicodedata
from typing import Callable

# Words too common to help BM25 find a passage (with contractions as students type them, apostrophe or not).
STOPWORDS = frozenset("""
a about above after again all also am an and any are as at be been before being below between both but by can
could did do does doing down during each few for from further had has have having he her here hers him his how
i if in into is it its itself just me more most my no nor not now of off on once only or other our out over own
same she should so some such than that the their them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours tell explain
please describe give show course notes pdf pdfs say says said according
whats hows wheres whos thats pls plz ur myself yourself ourselves themselves
dont doesnt didnt cant wont isnt arent wasnt werent couldnt wouldnt shouldnt hasnt havent im ive youre theyre
don doesn didn isn aren wasn weren couldn wouldn shouldn hasn haven
lol lmao rofl wtf omg idk tbh btw imo imho afaik fyi thx ty ugh hmm wanna gonna gotta kinda sorta dunno
yeah yep nope okay hey guys asap prof professor uni homework hw classmate
""".split())


def folded(text: str) -> str:
    """``text`` in lower case without its accents ("Opción" -> "opcion", "Straße" -> "strasse"), as the
    search index stores words: a student's "versión" meets the manual's "version"."""
    text = text.lower()
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text.replace("\u00df", "ss"))
    return "".join(c for c in text if not unicodedata.combining(c))


# The system's English word list (Debian: wamerican, `make install` installs it): lowercase entries only, so
# "coworker", "mainframes" and "chokes" are everyday words while "WiFi", "LibreOffice" and "docx" are not.
WORD_LISTS = ("/usr/share/dict/words", "/usr/share/dict/american-english")


@functools.lru_cache(maxsize=1)
def dictionary() -> frozenset[str]:
    """The lowercase words of the first word list installed here (empty when there is none)."""
    for path in WORD_LISTS:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return frozenset(w for w in (ln.strip() for ln in f) if w.isalpha() and w.islower())
        except OSError:
            continue
    return frozenset()


def is_everyday(word: str, vocabulary: Callable[[str], bool] | None = None) -> bool:
    """A word of everyday English, not a product, a code name or a typo: a whole token of the
    embedding model's ``vocabulary`` or a word of the system's dictionary."""
    return (vocabulary is not None and vocabulary(word)) or word.lower() in dictionary()
