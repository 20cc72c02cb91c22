"""Local NLU for channels without Lex: intent + confidence + slots, trained from the intent specs.

How it decides, in order:
1. Attachments: a photo means DescribePhoto (GenerateImage when the text asks to draw), a PDF means
   AskCoursePdfs (add it to the course) unless the text asks to summarize, a text file SummarizeText.
2. The message is split into an *instruction* and a *payload* ("summarize: <payload>",
   quoted text, a first line followed by more lines). Only the instruction is classified, so a
   pasted paragraph about Rekognition does not turn "summarize:" into a course question.
3. The instruction is scored against every intent's sample utterances by two signals: cosine
   similarity of offline sentence embeddings (all-MiniLM-L6-v2, int8 ONNX) and character
   trigram TF-IDF similarity (robust to typos). A few keyword rules cover other languages.
4. Below the confidence threshold the answer is Fallback.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bot.specs import IntentSpec

FALLBACK = "Fallback"
EMBED_WEIGHT = 0.7
CHAR_WEIGHT = 0.3
TOP_K = 2  # an intent's score is the mean of its best TOP_K sample similarities
HEAD_CHARS = 400  # only the head of a long message is classified
LONG_TEXT_CHARS = 300  # a long message with no instruction is a text to summarize
QUESTION_BONUS = 0.08  # a question about a concept leans to the course PDFs
VERB_BONUS = 0.10  # a leading action verb ("say ...", "draw ...") leans to its intent


@dataclass(frozen=True)
class NluResult:
    intent: str
    confidence: float
    slots: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    rule: str | None = None  # which rule decided, when one did

    def to_dict(self) -> dict[str, Any]:
        return {"intent": self.intent, "confidence": round(self.confidence, 4),
                "slots": {k: v for k, v in self.slots.items() if not k.startswith("_")}}


# --- text helpers --------------------------------------------------------------------------------
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def normalize(text: str) -> str:
    """Lower-cased, accent-folded, zero-width/bidi controls removed, whitespace squeezed."""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))
    text = text.replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", text).strip().lower()


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


_QUOTED = re.compile(r"[\"“”«](.{2,}?)[\"“”»]", re.S)
_COLON = re.compile(r"^(?P<instr>[^:\n]{1,100}?)\s*:\s*(?P<payload>\S.*)$", re.S)
_SPLIT_STOPWORDS = ("http", "https", "ftp", "mailto")
_FIRST_SENTENCE = re.compile(r"^(?P<instr>[^.!?\n]{3,120}[?!.])\s+(?P<payload>\S.*)$", re.S)
_INSTRUCTION_WORDS = re.compile(r"\b(summar\w*|tl;?dr|sum up|gist|key (points|phrases|takeaways)|sentiment|read (this|it|the following)|"
                                r"say this|aloud|out loud|the following|this text|this paragraph|this passage|this email)\b")


def split_payload(text: str) -> tuple[str, str | None]:
    """(instruction, payload) — payload is None when the message carries no separate text."""
    stripped = text.strip()
    m = _COLON.match(stripped)
    if m and len(m["instr"].split()) <= 12 and not m["instr"].lower().endswith(_SPLIT_STOPWORDS):
        return m["instr"].strip(), m["payload"].strip()
    q = _QUOTED.search(stripped)
    if q and len(q.group(1)) >= 3:
        instr = (stripped[:q.start()] + " " + stripped[q.end():]).strip(" ,.")
        if instr and len(instr.split()) <= 14:
            return instr, q.group(1).strip()
    first = _FIRST_SENTENCE.match(stripped)
    if first and len(first["instr"].split()) <= 12 and _INSTRUCTION_WORDS.search(first["instr"].lower()) \
            and len(first["payload"]) >= 40:
        return first["instr"].strip(), first["payload"].strip()
    if "\n" in stripped:
        first, rest = stripped.split("\n", 1)
        if len(first.split()) <= 12 and rest.strip():
            return first.strip(), rest.strip()
    return stripped, None


# --- keyword rules -------------------------------------------------------------------------------
_GREET_WORDS = (
    "hi|hello|helo|hallo|hullo|hey|heya|hiya|howdy|yo|sup|greetings|good morning|good afternoon|good evening|morning|evening|"
    "hola|buenos dias|buenas tardes|buenas noches|bonjour|bonsoir|salut|hallo|guten tag|guten morgen|servus|moin|"
    "ciao|buongiorno|ola|bom dia|boa tarde|hej|hei|ahoj|czesc|merhaba|namaste|konnichiwa|privet|"
    "привет|здравствуйте|こんにちは|你好|안녕하세요|مرحبا|שלום|thanks|thank you|thx|cheers|gracias|merci|danke|grazie|"
    "obrigado|obrigada|bye|goodbye|see you|see ya|good night|adios|au revoir|tschuss|tschuess|arrivederci"
)
_GREETING = re.compile(rf"^(?:(?:{_GREET_WORDS})[\s,!.?]*)+(?:there|bot|coursebot|everyone|all|again|so much|a lot|very much|you|friend)?[\s!.?]*$")
_MULTILINGUAL = (
    ("SummarizeText", re.compile(r"\b(resume|resumir|resumeme|resumen de|resumer|resume ce|zusammenfass|fasse .*zusammen|riassumi|riassunto|resumo|resuma)\b")),
    ("SpeakAnswer", re.compile(r"(en voz alta|a voix haute|vorlesen|lies .* vor|ad alta voce|em voz alta|lee esto|lis ceci|leelo|lisez)")),
    ("GenerateImage", re.compile(r"\b(dibuja|dibujame|dessine|zeichne|disegna|desenhe|genera una imagen|genere une image|cree une image|crea una imagen|erstelle ein bild)\b")),
    ("DescribePhoto", re.compile(r"\b(describe esta (foto|imagen)|decris cette (photo|image)|beschreibe (dieses|das) (bild|foto)|que hay en (esta|la) (foto|imagen)|qu'y a-t-il sur cette photo)\b")),
    ("Help", re.compile(r"^(ayuda|aide|hilfe|aiuto|ajuda|socorro|que puedes hacer|que peux-tu faire|was kannst du)[\s!?.]*$")),
    ("AskCoursePdfs", re.compile(r"^(que es|qu'est-ce que|qu'est ce que|was ist|cos'e|o que e|como funciona|comment fonctionne|wie funktioniert)\b")),
)
_DRAW = re.compile(r"\b(draw|generate|paint|sketch|render|illustrate|imagine|create (an? )?(image|picture|drawing|illustration|painting|artwork)|make (an? )?(image|picture|drawing|illustration|painting)|(make|turn) (it|this|that|(this|the|my) (photo|picture|image|pic)) (look like|into)|cartoon|anime style)\b")
_SUMMARIZE = re.compile(r"\b(summar|tl;?dr|sum up|gist|key phrases?|key points|takeaways|sentiment|condense|recap|shorten|entities)\w*")
_PHOTO_WORDS = re.compile(r"\b(photo|picture|pic|image|selfie|snapshot|who is (this|in)|face)s?\b")
_SPEAK = re.compile(r"\b(read|say|speak|aloud|out loud|pronounce|narrate|voice|audio|listen|hear|text to speech|mp3)\b")
_OUT_OF_SCOPE = re.compile(r"\b(weather|rain|forecast|flight|pizza|stock price|joke|music|song|alarm|football|soccer|"
                           r"restaurant|movie|tv tonight|lights|taxi|uber|remind me to|reminder|email to|call my|buy me)\b")

_QUESTION = re.compile(r"^(?:and |so |but |ok |okay )?(?:how|what|what's|whats|why|when|where|which|who|explain|define|describe how|describe what|tell me about|is there|are there|can i|should i|do i|does|is|are|qu[eé]|c[oó]mo|comment|pourquoi|warum|wie|was)\b")
_DEICTIC = re.compile(r"\b(this|that|these|those|it|her|his|she|he|him|they|them|their|my|me|you|your|yourself|photo|picture|pic|image|bot|chatbot|coursebot)\b")
_COURSE_TERMS = re.compile(r"\b(amazon|aws|lex|polly|rekognition|comprehend|bedrock|sagemaker|lambda|s3|api gateway|cloudwatch|"
                           r"knowledge base|jumpstart|docker|container|titan|claude|llm|rag|embeddings?|vectors?|foundation models?|"
                           r"text to speech|speech synthesis|ocr|transcribe|iam|dynamodb|course|lecture|module|syllabus|pdf|notes|"
                           r"in r|r language|data ?frames?|regression|machine learning|ml|models?|endpoints?|serverless|"
                           r"cloud|computing|api|database|neural|network|training|dataset|algorithm|classifier|classification|"
                           r"matrix|accuracy|inference|pipeline|deploy\w*|python|function|bucket|chatbot|intent|slot|prompt|"
                           r"token|chunk\w*|fine.?tun\w*|generative|ai|nlp|sentiment analysis|computer vision)\b")
COURSE_QUESTION_BONUS = 0.16
_CONCEPT_QUESTION = re.compile(r"^(?:and |so )?(?:what is|what are|what's|whats|what does|how does|how do|how is|how are|how can|why|explain|define|which|what)\b")
# lead-ins before a question: "remind me what RAG stands for", "I was wondering how Lex handles slots"
_LEAD_IN = re.compile(r"^(?:(?:please|ok|okay|so|hey|quick question|one more thing)[\s,:]+)*(?:remind me|tell me|can you tell me|could you tell me|do you know|i was wondering|i wonder|i'd like to know|i want to know)[\s,]+")
_PAYLOAD_VERBS = ("summarize", "summarise", "summary", "condense", "shorten", "recap", "tldr", "tl;dr")
_LEAD_VERBS = {
    "say": "SpeakAnswer", "read": "SpeakAnswer", "speak": "SpeakAnswer", "pronounce": "SpeakAnswer",
    "narrate": "SpeakAnswer", "recite": "SpeakAnswer",
    "draw": "GenerateImage", "paint": "GenerateImage", "sketch": "GenerateImage", "illustrate": "GenerateImage",
    "render": "GenerateImage", "generate": "GenerateImage", "design": "GenerateImage", "imagine": "GenerateImage",
    "help": "Help",
}


# verbs that mean one thing at the start of a message ("say goodbye class" is speech, not a greeting)
_DECISIVE_VERBS = {"say", "speak", "pronounce", "narrate", "recite"}


def _edit1(a: str, b: str) -> bool:
    """True when a and b differ by at most one insertion, deletion, substitution or transposition."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if la > lb:
        a, b = b, a
    return any(a == b[:i] + b[i + 1:] for i in range(len(b)))


def lead_verb_intent(words: list[str]) -> str | None:
    """The intent a message's first action word points to ("say ...", "drw a house"), typos allowed."""
    polite = {"please", "pls", "can", "could", "would", "will", "you", "now", "ok", "hey", "just"}
    for w in words[:4]:
        w = w.strip(",.!?:;")
        if w in polite:
            continue
        if w in _LEAD_VERBS:
            return _LEAD_VERBS[w]
        if len(w) >= 3:
            for verb, intent in _LEAD_VERBS.items():
                if len(verb) >= 4 and _edit1(w, verb):
                    return intent
        return None
    return None


# --- slot extraction -----------------------------------------------------------------------------
_POLITE = r"(?:(?:please|pls|kindly|can you|could you|would you|will you|hey|ok|now)[\s,]+)*"
_SPEAK_TRIGGER = re.compile(rf"^{_POLITE}(?:say|read|speak|pronounce|narrate|voice|recite)\b\s*(?:(?:this|the following|out loud|aloud|to me|for me|back|again|it|that)\b\s*)*", re.I)
_SUM_TRIGGER = re.compile(rf"^{_POLITE}(?:summari[sz]e|tl;?dr|sum up|condense|shorten|recap)\b\s*(?:(?:this|the following|for me|text|please)\b\s*)*", re.I)
_DRAW_TRIGGER = re.compile(
    rf"^{_POLITE}(?:draw|generate|create|make|paint|sketch|render|illustrate|imagine|design|produce|picture|show)\b\s*(?:me\s+)?"
    r"(?:(?:(?:an?|the|some)\s+)?(?:image|picture|photo|drawing|illustration|painting|sketch|artwork|art|poster|logo|cartoon|wallpaper|render|diagram)s?\b\s*(?:(?:of|showing|with|for)\b\s*)?)?",
    re.I,
)
_REFERENCE = re.compile(r"^(?:that|it|this|those|them|the answer|that answer|this answer|your answer|your last answer|the last answer|"
                        r"the previous answer|the last reply|what you (?:just )?said|your reply|the above|last message)?$")
_TRAILING = re.compile(r"\s*\b(?:again|please|out loud|aloud|for me|to me|now|slowly|(?:in|with|using) (?:a |an |the )?[\w-]+(?: [\w-]+)? (?:voice|accent)|in [a-z]+)\s*[.!?]*$", re.I)
LANGUAGES = {
    "english": "en", "spanish": "es", "french": "fr", "german": "de", "italian": "it", "portuguese": "pt",
    "japanese": "ja", "chinese": "zh", "korean": "ko", "arabic": "ar", "hindi": "hi", "dutch": "nl",
    "russian": "ru", "polish": "pl", "swedish": "sv", "turkish": "tr", "danish": "da", "norwegian": "no",
}
_LANG = re.compile(r"\bin (" + "|".join(LANGUAGES) + r")\b", re.I)
_VOICE = re.compile(r"\b(?:with|using|in) (?:a |an |the )?([\w-]+(?: [\w-]+)?) (?:voice|accent)\b", re.I)


def _strip_trailing(text: str) -> str:
    prev = None
    while prev != text:
        prev, text = text, _TRAILING.sub("", text).strip()
    return text.strip(" .,!?:;")


def extract_slots(intent: str, text: str, instruction: str, payload: str | None) -> dict[str, Any]:
    """Slot values for the recognized intent, from the message (not from the conversation)."""
    slots: dict[str, Any] = {}
    low = normalize(instruction)
    if intent in ("SummarizeText", "SpeakAnswer"):
        if payload:
            slots["text"] = payload
            slots["_explicit_payload"] = True
        else:
            trigger = _SPEAK_TRIGGER if intent == "SpeakAnswer" else _SUM_TRIGGER
            m = trigger.match(instruction.strip())
            rest = instruction.strip()[m.end():] if m else None
            if rest is not None:
                cleaned = _strip_trailing(rest)
                if _REFERENCE.match(cleaned.lower()):
                    slots["_refers_to_previous"] = True
                elif intent == "SpeakAnswer" or len(cleaned) > 40:
                    slots["text"] = cleaned
                    slots["_explicit_payload"] = True
            if re.search(r"\b(that|it|last answer|previous answer|your answer|what you said)\b", low) and "text" not in slots:
                slots["_refers_to_previous"] = True
        if intent == "SpeakAnswer":
            lang = _LANG.search(instruction)
            if lang:
                slots["language"] = LANGUAGES[lang.group(1).lower()]
            voice = _VOICE.search(instruction)
            if voice:
                slots["voice"] = voice.group(1)
    elif intent == "GenerateImage":
        if payload:
            slots["prompt"] = payload
        else:
            m = _DRAW_TRIGGER.match(instruction.strip())
            rest = instruction.strip()[m.end():] if m else instruction.strip()
            rest = rest.strip(" .,!?:;")
            if rest and rest.lower() not in ("something", "it", "this", "one", "an image", "a picture"):
                slots["prompt"] = rest
    elif intent == "AskCoursePdfs":
        question = text.strip() if payload is None else f"{instruction} {payload}".strip()
        if question:
            slots["question"] = question
    return slots


# --- the classifier ------------------------------------------------------------------------------
def _trigrams(text: str) -> list[str]:
    t = f"  {_fold(normalize(text))}  "
    return [t[i:i + 3] for i in range(len(t) - 2)]


class CharNgramIndex:
    """TF-IDF over character trigrams, cosine similarity by one matrix product."""

    def __init__(self, texts: Sequence[str]):
        grams = [_trigrams(t) for t in texts]
        vocab: dict[str, int] = {}
        for g in grams:
            for x in g:
                vocab.setdefault(x, len(vocab))
        df = np.zeros(len(vocab), dtype=np.float32)
        for g in grams:
            for x in set(g):
                df[vocab[x]] += 1
        self.vocab = vocab
        self.idf = np.log((1 + len(texts)) / (1 + df)) + 1.0
        self.matrix = np.stack([self._vector(g) for g in grams]) if texts else np.zeros((0, len(vocab)), np.float32)

    def _vector(self, grams: list[str]) -> np.ndarray:
        v = np.zeros(len(self.vocab), dtype=np.float32)
        for x in grams:
            i = self.vocab.get(x)
            if i is not None:
                v[i] += 1.0
        v *= self.idf
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def similarities(self, text: str) -> np.ndarray:
        counts: dict[int, float] = {}
        for g in _trigrams(text):
            i = self.vocab.get(g)
            if i is not None:
                counts[i] = counts.get(i, 0.0) + 1.0
        if not counts:
            return np.zeros(self.matrix.shape[0], dtype=np.float32)
        idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
        w = np.fromiter(counts.values(), dtype=np.float32, count=len(counts)) * self.idf[idx]
        # unseen trigrams still count in the query's norm, as in a full TF-IDF vector
        unseen = sum(1 for g in _trigrams(text) if g not in self.vocab)
        norm = float(np.sqrt((w * w).sum() + unseen * float(self.idf.max()) ** 2))
        return (self.matrix[:, idx] @ w) / norm if norm else np.zeros(self.matrix.shape[0], np.float32)


class LocalNlu:
    """Recognizes intents from the specs' samples. Build once; ``parse`` is thread-safe (~3-5 ms)."""

    def __init__(self, specs: Sequence[IntentSpec], embedder: Any, threshold: float = 0.52,
                 cache_dir: Path | None = None):
        self.specs = {s.name: s for s in specs}
        self.threshold = threshold
        self.embedder = embedder
        self.texts: list[str] = []
        labels: list[str] = []
        for s in specs:
            for u in s.samples:
                self.texts.append(normalize(u))
                labels.append(s.name)
        self.intents = list(self.specs)
        self.label_idx = np.array([self.intents.index(x) for x in labels])
        self.vectors = self._sample_vectors(cache_dir)
        self.chars = CharNgramIndex(self.texts)
        self.vocabulary = {w.strip(",.!?:;") for t in self.texts for w in t.split()}

    def _sample_vectors(self, cache_dir: Path | None) -> np.ndarray:
        digest = hashlib.sha256(("\n".join(self.texts) + getattr(self.embedder, "model_id", "")).encode()).hexdigest()[:16]
        path = cache_dir / f"nlu-{digest}.npy" if cache_dir else None
        if path is not None and path.exists():
            try:
                vecs = np.load(path)
                if vecs.shape[0] == len(self.texts):
                    return vecs
            except (OSError, ValueError):
                pass
        vecs = self.embedder.embed(self.texts)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{threading.get_ident()}.tmp.npy")
                np.save(tmp, vecs)
                tmp.replace(path)
            except OSError:
                pass
        return vecs

    def _known(self, word: str) -> bool:
        """A word of the samples, or one typo away from one (for words of 4+ letters)."""
        if word in self.vocabulary:
            return True
        return len(word) >= 4 and any(len(v) >= 4 and _edit1(word, v) for v in self.vocabulary)

    # -- scoring --
    def scores(self, instruction: str) -> dict[str, float]:
        text = normalize(instruction)[:HEAD_CHARS]
        emb = self.vectors @ self.embedder.embed_one(text)
        chars = self.chars.similarities(text)
        combined = EMBED_WEIGHT * emb + CHAR_WEIGHT * chars
        out = {}
        for i, name in enumerate(self.intents):
            vals = np.sort(combined[self.label_idx == i])[::-1][:TOP_K]
            out[name] = float(vals.mean()) if len(vals) else 0.0
        return out

    def parse(self, text: str, attachment_kinds: Sequence[str] = ()) -> NluResult:
        instruction, payload = split_payload(text or "")
        low = _fold(normalize(instruction))
        kinds = set(attachment_kinds)

        def done(intent: str, confidence: float, rule: str | None = None, scores: dict[str, float] | None = None) -> NluResult:
            return NluResult(intent, round(min(max(confidence, 0.0), 1.0), 4),
                             extract_slots(intent, text or "", instruction, payload), scores or {}, rule)

        # 1. attachments decide most of it
        if "image" in kinds:
            return done("GenerateImage" if _DRAW.search(low) else "DescribePhoto", 0.97, "attachment:image")
        if "pdf" in kinds:
            if _PHOTO_WORDS.search(low) and not _SUMMARIZE.search(low):
                # "describe this photo" with a PDF: the photo handler explains it got a PDF, not a photo
                return done("DescribePhoto", 0.9, "attachment:pdf-as-photo")
            return done("SummarizeText" if _SUMMARIZE.search(low) else "AskCoursePdfs", 0.95, "attachment:pdf")
        if "text" in kinds:
            if _SPEAK.search(low) and not _SUMMARIZE.search(low):
                return done("SpeakAnswer", 0.9, "attachment:text")
            return done("SummarizeText", 0.9, "attachment:text")
        if not low:
            return NluResult(FALLBACK, 0.0, {}, {}, "empty")

        # 2. short greetings and other languages
        if len(low) <= 60 and (_GREETING.match(low) or _GREETING.match(re.sub(r"(\w)\1{2,}|(\w)\2+$", r"\1\2", low))):
            return done("Greeting", 0.97, "greeting")
        for intent, rx in _MULTILINGUAL:
            if rx.search(low):
                return done(intent, 0.9, "multilingual")

        # 3. a long pasted text with no instruction is something to summarize
        if (payload is None and len(text) > LONG_TEXT_CHARS and not text.rstrip().endswith("?")
                and len(re.findall(r"[.!?](\s|$)", text)) >= 3):
            return NluResult("SummarizeText", 0.7, {"text": text.strip(), "_explicit_payload": True}, {}, "long-text")

        # 4. similarity to the samples, nudged by the shape of the message
        scores = self.scores(instruction)
        words = low.split()
        verb_intent = lead_verb_intent(words)
        if verb_intent is not None and (len(words) == 1 or (words[0] in _DECISIVE_VERBS and not low.endswith("?"))):
            return done(verb_intent, 0.85, "lead-verb", scores)
        if verb_intent and not low.endswith("?"):
            scores[verb_intent] += VERB_BONUS
        elif payload is None and _QUESTION.match(question := _LEAD_IN.sub("", low)) and not _DEICTIC.search(question):
            if _CONCEPT_QUESTION.match(question) and _COURSE_TERMS.search(low) and not _OUT_OF_SCOPE.search(low):
                # "what is text to speech?" asks about a concept, it does not ask to speak
                scores["AskCoursePdfs"] = max(scores.values()) + 0.05
                return done("AskCoursePdfs", max(0.75, _calibrate(scores["AskCoursePdfs"], 0.05)), "concept-question", scores)
            else:
                scores["AskCoursePdfs"] += COURSE_QUESTION_BONUS if _COURSE_TERMS.search(low) else QUESTION_BONUS
        if payload is not None and words and any(_edit1(words[0].strip(",.!?:;"), v) for v in _PAYLOAD_VERBS):
            scores["SummarizeText"] += VERB_BONUS
        if len(words) == 1 and verb_intent is None and not self._known(words[0].strip("!?.,")):
            return NluResult(FALLBACK, 0.6, {}, scores, "unknown-word")
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        best, top = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        if best != FALLBACK and _OUT_OF_SCOPE.search(low) and scores[FALLBACK] > top - 0.15:
            best, top = FALLBACK, max(top, scores[FALLBACK])
        confidence = _calibrate(top, top - second)
        if best != FALLBACK and confidence < self.threshold:
            return NluResult(FALLBACK, round(1 - confidence, 4), {}, scores, "below-threshold")
        return done(best, confidence, None, scores)


def _calibrate(top: float, margin: float) -> float:
    """Map a raw similarity and its margin over the runner-up to a 0..1 confidence."""
    z = 9.0 * (top - 0.42) + 12.0 * margin
    return 1.0 / (1.0 + math.exp(-z))


_nlu: LocalNlu | None = None
_lock = threading.Lock()


def build(settings: Any, services: Any) -> LocalNlu:
    """Services factory: the NLU trained from the registered intents' specs (built once per process)."""
    global _nlu
    with _lock:
        if _nlu is None or _nlu.threshold != settings.nlu_threshold:
            from intents import specs

            _nlu = LocalNlu(specs(), services.embedder, threshold=settings.nlu_threshold,
                            cache_dir=settings.data_dir / "cache")
        return _nlu
