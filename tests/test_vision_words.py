"""Plain-language wording of face and photo analysis, shared by the AWS and local backends."""

from __future__ import annotations

import pytest

from bot.capabilities import PhotoDescription
from bot.vision_words import eye_direction_words, faces_summary, position_words
from intents.describe_photo import compose


@pytest.mark.parametrize("yaw,pitch,words", [
    (0, 0, "looking at the camera"),
    (-7.9, 7.9, "looking at the camera"),
    (-14.2, -2.1, "looking slightly to the left"),
    (12, 0, "looking slightly to the right"),
    (-25, 0, "looking to the left"),
    (40, 0, "looking far to the right"),
    (0, 15, "looking slightly up"),
    (0, -30, "looking down"),
    (-22, -12, "looking to the left and slightly down"),
    (None, None, "eye direction unknown"),
])
def test_eye_direction_words(yaw, pitch, words):
    assert eye_direction_words(yaw, pitch) == words


@pytest.mark.parametrize("box,words", [
    ({"left": 0.0, "top": 0.0, "width": 0.2, "height": 0.2}, "at the top left"),
    ({"left": 0.4, "top": 0.4, "width": 0.2, "height": 0.2}, "in the middle"),
    ({"left": 0.8, "top": 0.45, "width": 0.1, "height": 0.1}, "on the right"),
    ({"left": 0.4, "top": 0.8, "width": 0.2, "height": 0.2}, "at the bottom"),
])
def test_position_words(box, words):
    assert position_words(box) == words


TWO = (
    {"box": {"left": 0.05, "top": 0.3, "width": 0.2, "height": 0.3}, "eyes_open": True,
     "eye_direction": {"yaw": 25.0, "pitch": 0.0, "words": "looking to the right"}},
    {"box": {"left": 0.7, "top": 0.3, "width": 0.2, "height": 0.3}, "eyes_open": False},
)


def test_two_faces_summary_and_eye_answer():
    assert faces_summary(TWO) == ("I see two faces: person 1 on the left, looking to the right; "
                                  "person 2 on the right, with eyes closed.")
    d = PhotoDescription(summary=faces_summary(TWO), faces=TWO, notes=("limits of this engine",))
    assert compose(d, "where are they looking?") == ("Person 1 (on the left): looking to the right. "
                                                     "Person 2 (on the right): eyes closed.")
    assert compose(d, "how many faces are there?") == "I count two faces."


def test_unanswerable_question_falls_back_to_the_whole_description_with_limits():
    d = PhotoDescription(summary="I see one face: a person in the middle.", faces=TWO[:1],
                         notes=("I'm running offline, so I can't recognize celebrities.",))
    text = compose(d, "who is this?")
    assert text == "I see one face: a person in the middle. I'm running offline, so I can't recognize celebrities."
    assert compose(d, "how old is she?").startswith("I see one face")  # no age offline: say everything


def test_no_face_answers():
    d = PhotoDescription(summary="It shows coffee cup. I don't see any faces.")
    assert compose(d, "what about her eyes?") == "I don't see a face in this photo, so I can't tell."
    assert compose(d, "what does it say?") == "I don't see any readable text in this photo."


def test_declined_says_only_the_refusal():
    d = PhotoDescription(summary="I'd rather not describe this image.", notes=("declined",))
    assert compose(d, "what about her eyes?") == "I'd rather not describe this image."


def test_vision_bench_is_registered():
    from bot.bench.core import BENCHES, _resolve

    assert callable(_resolve(BENCHES["vision"]))
