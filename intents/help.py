"""Help: what the bot can do, built from the registered intents and this backend's capabilities."""

from __future__ import annotations

from bot.specs import IntentContext, IntentSpec
from bot.turn import Reply, Turn

SPEC = IntentSpec(
    name="Help",
    description="Explains what the bot can do and how to ask for it.",
    samples=(
        "help", "help me", "I need help", "what can you do", "what can you do for me", "what are your features",
        "how do I use this bot", "how do I use coursebot", "how does this work", "what commands do you understand", "show me the commands",
        "what are you able to do", "what kind of questions can I ask", "what are your capabilities",
        "can you help me", "I'm lost", "I'm confused, how does this work", "give me some examples",
        "what should I ask you", "how can you help me", "what do you do", "tell me about yourself",
        "who are you", "what are you", "list your skills", "menu", "options", "what services do you support",
        "instructions please", "how do I get started", "what can I do here", "ayuda", "aide",
    ),
)

_LINES = {
    "AskCoursePdfs": "Ask a question about the course (\"What is Amazon Lex?\") and I answer from the course PDFs with page citations. Attach a PDF to add it to the course.",
    "SummarizeText": "\"Summarize: <text>\" (or attach a .txt/.pdf) gives a summary, key phrases, entities, sentiment and language.",
    "DescribePhoto": "Attach a photo and I describe it: objects, faces, where people are looking, and any text in it.",
    "SpeakAnswer": "\"Read that aloud\" speaks my last answer; \"read this aloud: <text>\" speaks your text.",
    "GenerateImage": "\"Draw a robot teaching a class\" generates an image (needs the AWS backend or an endpoint).",
}


def capabilities() -> list[str]:
    """One line per registered intent that does something for the user (the Help answer, Slack's App Home)."""
    from intents import registry

    return [_LINES[name] for name in registry() if name in _LINES]


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    lines = [f"- {line}" for line in capabilities()]
    backend = ctx.settings.backend
    text = "Here is what I can do:\n" + "\n".join(lines) + f"\n(Running on the {backend} backend.)"
    return Reply(text=text, intent=SPEC.name,
                 suggestions=("What is Amazon Polly?", "Read that aloud", "What can you see in this photo?"))
