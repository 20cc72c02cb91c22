"""A local stand-in for the Lex V2 runtime over real HTTP (tests; never on a request path).

Speaks the REST shapes boto3's ``lexv2-runtime`` client sends and parses (point it here with
``endpoint_url``): ``POST .../sessions/{id}/text`` (JSON) and ``POST .../sessions/{id}/utterance``
(raw audio in, gzip+base64 ``x-amz-lex-*`` headers and an audio body out). Like Lex, it recognizes
the intent (here with our own NLU), calls our code hook (``bot.channels.lex.handle_event``) with a
real code-hook event, keeps the session attributes per session, and speaks the answer (espeak-ng,
MP3). It has no speech recognizer: an utterance is checked (16 kHz 16-bit mono PCM, a plausible
length) and "heard" as the transcript the test set in ``heard`` (silence is heard as nothing).
"""

from __future__ import annotations

import html
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from bot.aws.lex_runtime import decode_header, encode_header

_PATH = re.compile(r"^/bots/(?P<bot>[^/]+)/botAliases/(?P<alias>[^/]+)/botLocales/(?P<locale>[^/]+)"
                   r"/sessions/(?P<session>[^/]+)/(?P<op>text|utterance)$")
PCM_TYPE = "audio/l16; rate=16000; channels=1"


@dataclass
class Request:
    """One recorded runtime call."""

    op: str  # text | utterance
    bot: str
    alias: str
    locale: str
    session: str
    headers: dict[str, str]
    text: str | None = None
    pcm: bytes = field(default=b"", repr=False)
    request_attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """The utterance's length at 16 kHz, 16-bit mono."""
        return len(self.pcm) / 32000


def pcm_rms(pcm: bytes) -> float:
    """Root mean square of 16-bit little-endian samples, 0..32768 (silence is under ~30)."""
    import numpy as np

    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0


class FakeLexRuntime:
    """``with FakeLexRuntime(router) as lex:`` then ``boto3.client("lexv2-runtime", endpoint_url=lex.url)``.

    Args:
        router: the Router the code hook answers with (tests pass one with fake capability intents).
        speak: text -> (audio bytes, mime) for utterance answers; default espeak-ng MP3.
        min_seconds / max_seconds: utterance lengths accepted (Lex takes at most 15 s).
    """

    def __init__(self, router: Any, *, speak: Callable[[str], tuple[bytes, str]] | None = None,
                 min_seconds: float = 0.3, max_seconds: float = 15.0):
        self.router, self.speak = router, speak or _espeak_mp3
        self.min_seconds, self.max_seconds = min_seconds, max_seconds
        self.heard = ""  # the transcript of the next utterances (the fake has no recognizer)
        self.requests: list[Request] = []
        self.errors: list[str] = []  # what the fake refused, for the test to show
        self.fail_next: list[tuple[int, str]] = []  # (HTTP status, AWS error code) to answer next
        self.sessions: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._post(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "FakeLexRuntime":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-lex")
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- HTTP ------------------------------------------------------------------------------------
    def _post(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        m = _PATH.match(h.path.split("?")[0])
        if not m:
            return self._error(h, 404, "ResourceNotFoundException", "no such route")
        if "Authorization" not in h.headers or "AWS4-HMAC-SHA256" not in h.headers["Authorization"]:
            return self._error(h, 403, "AccessDeniedException", "unsigned request")
        with self._lock:
            failure = self.fail_next.pop(0) if self.fail_next else None
        if failure:
            return self._error(h, failure[0], failure[1], "injected by the test")
        headers = {k.lower(): v for k, v in h.headers.items()}
        request = Request(op=m["op"], bot=m["bot"], alias=m["alias"], locale=m["locale"], session=m["session"],
                          headers=headers)
        if m["op"] == "text":
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                return self._error(h, 400, "ValidationException", "body is not JSON")
            request.text = data.get("text")
            request.request_attributes = data.get("requestAttributes") or {}
            self.requests.append(request)
            if not isinstance(request.text, str) or not 1 <= len(request.text) <= 1024:
                return self._error(h, 400, "ValidationException", "text must be 1-1024 characters")
            answer = self._answer(request, request.text, "Text")
            payload = {"messages": answer["messages"], "sessionState": answer["sessionState"],
                       "interpretations": answer["interpretations"], "sessionId": request.session,
                       "requestAttributes": request.request_attributes}
            return self._send(h, 200, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        request.pcm = body
        request.request_attributes = decode_header(headers.get("x-amz-lex-request-attributes")) or {}
        self.requests.append(request)
        problem = self._check_pcm(headers.get("content-type", ""), body)
        if problem:
            self.errors.append(problem)
            return self._error(h, 400, "ValidationException", problem)
        heard = self.heard if pcm_rms(body) >= 30 else ""  # like Lex: silence is heard as no words
        answer = self._answer(request, heard, "Speech")
        spoken = " ".join(_spoken(m) for m in answer["messages"]).strip()
        audio, mime = self.speak(spoken) if spoken else (b"", "audio/mpeg")
        out = {
            "Content-Type": mime,
            "x-amz-lex-session-id": request.session,
            "x-amz-lex-input-mode": "Speech",
            "x-amz-lex-messages": encode_header(answer["messages"]),
            "x-amz-lex-session-state": encode_header(answer["sessionState"]),
            "x-amz-lex-interpretations": encode_header(answer["interpretations"]),
            "x-amz-lex-input-transcript": encode_header(heard, as_json=False),
            "x-amz-lex-request-attributes": encode_header(request.request_attributes),
        }
        return self._send(h, 200, audio, out)

    def _check_pcm(self, content_type: str, pcm: bytes) -> str | None:
        kind, *params = [p.strip().lower() for p in content_type.split(";")]
        options = dict(p.partition("=")[::2] for p in params)
        if kind != "audio/l16" or options.get("rate") != "16000" or options.get("channels", "1") != "1":
            return f"unsupported content type {content_type!r}"
        if len(pcm) % 2:
            return "PCM must be whole 16-bit samples"
        seconds = len(pcm) / 32000
        if not self.min_seconds <= seconds <= self.max_seconds:
            return f"{seconds:.2f} s of audio is outside {self.min_seconds}-{self.max_seconds} s"
        return None

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("x-amzn-RequestId", "fake-lex-request")
        h.end_headers()
        h.wfile.write(body)

    def _error(self, h: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
        self._send(h, status, json.dumps({"message": message}).encode(),
                   {"Content-Type": "application/json", "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/"})

    # --- Lex's part: NLU, the code hook, the session ----------------------------------------------
    def _answer(self, request: Request, text: str, input_mode: str) -> dict[str, Any]:
        from bot.channels.lex import handle_event
        from bot.channels.lex.adapter import lex_intent_name

        nlu = self.router.services.nlu.parse(text or "", [])
        name = lex_intent_name(nlu.intent)
        slots = {k: {"value": {"originalValue": str(v), "interpretedValue": str(v), "resolvedValues": [str(v)]}}
                 for k, v in (nlu.slots or {}).items() if isinstance(v, (str, int, float)) and str(v)}
        interpretations = [{"intent": {"name": name, "slots": slots, "state": "ReadyForFulfillment",
                                       "confirmationState": "None"},
                            "nluConfidence": round(float(nlu.confidence or 0), 2)}]  # the code hook's shape
        event = {
            "messageVersion": "1.0", "invocationSource": "FulfillmentCodeHook", "inputMode": input_mode,
            "responseContentType": "audio/mpeg" if input_mode == "Speech" else "text/plain; charset=utf-8",
            "sessionId": request.session, "inputTranscript": text,
            "bot": {"id": request.bot, "name": "coursebot", "aliasId": request.alias, "aliasName": "live",
                    "localeId": request.locale, "version": "1"},
            "interpretations": interpretations,
            "requestAttributes": request.request_attributes,
            "sessionState": {"sessionAttributes": dict(self.sessions.get(request.session, {})),
                             "activeContexts": [],
                             "intent": {"name": name, "slots": slots, "state": "ReadyForFulfillment",
                                        "confirmationState": "None"}},
        }
        response = handle_event(event, router=self.router, budget=25)
        state = response.get("sessionState", {})
        self.sessions[request.session] = dict(state.get("sessionAttributes") or {})
        # the runtime API gives the confidence as {"score": n} (ConfidenceScore)
        runtime_interpretations = [{**i, "nluConfidence": {"score": i["nluConfidence"]}} for i in interpretations]
        return {"messages": response.get("messages", []), "sessionState": state,
                "interpretations": runtime_interpretations}


def _spoken(message: dict[str, Any]) -> str:
    """What Lex reads aloud of a message: SSML and plain text (never a custom payload or a card)."""
    if message.get("contentType") == "SSML":
        return html.unescape(re.sub(r"<[^>]*>", "", message.get("content", "")))
    if message.get("contentType") == "PlainText":
        return message.get("content", "")
    return ""


def _espeak_mp3(text: str) -> tuple[bytes, str]:
    from bot.local.speech import EspeakSpeech

    audio = EspeakSpeech(fmt="mp3").synthesize(text[:600])
    return audio.data, audio.mime
