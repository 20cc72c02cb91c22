"""Short links (bot/shortlinks.py): the local and DynamoDB stores, the web and Lambda redirects, and Lex
answers that carry them instead of ~1.3 KB presigned S3 URLs."""

from __future__ import annotations

import copy
import json
import re
import time
import urllib.request
from typing import Any

import pytest

from bot import shortlinks
from bot.channels import lex
from bot.errors import InputError, NotAvailable
from bot.shortlinks import LinkError
from test_lex_channel import RecordingIntent, assert_valid, load, router_with

BASE = "http://127.0.0.1:8000"
API = "https://abc123defg.execute-api.us-east-1.amazonaws.com"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
# What a Lambda role's session token looks like in length: it is what makes presigned URLs ~1.3 KB.
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ" + "A" * 900
SHORT = re.compile(r"/l/([A-Za-z0-9_-]{22})$")


def link_id(url: str) -> str:
    m = SHORT.search(url)
    assert m, url
    return m.group(1)


# ==================================================================================================
# local store (SQLite) and the web redirect
# ==================================================================================================
@pytest.fixture
def local(home):
    from bot.services import Services
    from bot.settings import load as load_settings

    return Services(load_settings(home=home, backend="local", public_url=BASE))


def test_local_store_round_trip_and_fresh_signature(local):
    blob = local.blobs.put("audio/c1/answer.ogg", b"OggS spoken", "audio/ogg")
    store = local.links
    assert type(store).__name__ == "SqliteLinkStore"  # the services row for the local backend
    for source in ("audio/c1/answer.ogg", blob.url):
        url = store.shorten(source)
        assert url.startswith(BASE + "/l/") and len(url) == len(BASE) + 3 + 22
        link = store.resolve(link_id(url))
        assert link.target == {"blob": "audio/c1/answer.ogg"} and link.expires_at > time.time() + 86000
        fresh = store.target_url(link)
        q = dict(p.split("=", 1) for p in fresh.split("?", 1)[1].split("&"))
        assert local.blobs.verify("audio/c1/answer.ogg", q["expires"], q["sig"])
    ids = {link_id(store.shorten("audio/c1/answer.ogg")) for _ in range(50)}
    assert len(ids) == 50  # a new random id every time


def test_local_store_keeps_a_page_fragment(local):
    local.blobs.put("pdfs/notes.pdf", b"%PDF-1.4 notes", "application/pdf")
    url = local.links.shorten(local.blobs.url("pdfs/notes.pdf") + "#page=3")
    assert local.links.target_url(local.links.resolve(link_id(url))).endswith("#page=3")


def test_local_store_refuses_foreign_and_forged_urls(local):
    local.blobs.put("generated/a/b.png", PNG, "image/png")
    good = local.blobs.url("generated/a/b.png")
    forged = good.replace("generated/a/b.png", "generated/a/c.png")  # another key, same signature
    for url in ("https://evil.example.com/x.png", forged, good.replace("sig=", "sig=0"), BASE + "/files/generated/a/b.png"):
        with pytest.raises(InputError) as e:
            local.links.shorten(url)
        assert e.value.code == "not_linkable", url
    with pytest.raises(InputError) as e:
        local.links.shorten("../secret.key")
    assert e.value.code == "bad_key"


def test_unknown_malformed_and_expired_ids(local, monkeypatch):
    store = local.links
    local.blobs.put("x/y.txt", b"text", "text/plain")
    for bad in ("A" * 22, "short", "A" * 23, "../../etc/passwd", "", None, "A" * 21 + "!"):
        with pytest.raises(LinkError) as e:
            store.resolve(bad)
        assert e.value.code == "link_not_found"
    url = store.shorten("x/y.txt", expires_in=60)
    store.resolve(link_id(url))
    real = time.time
    monkeypatch.setattr(shortlinks.time, "time", lambda: real() + 61)
    with pytest.raises(LinkError) as e:
        store.resolve(link_id(url))
    assert e.value.code == "link_expired" and "expired" in e.value.user_message
    with pytest.raises(InputError):
        store.shorten("x/y.txt", expires_in=0)


def test_an_id_collision_never_overwrites_a_link(local, monkeypatch):
    local.blobs.put("a/1.txt", b"one", "text/plain")
    local.blobs.put("a/2.txt", b"two", "text/plain")
    ids = iter(["A" * 22, "A" * 22, "B" * 22])
    monkeypatch.setattr(shortlinks, "new_id", lambda: next(ids))
    first = local.links.shorten("a/1.txt")
    second = local.links.shorten("a/2.txt")
    assert link_id(first) == "A" * 22 and link_id(second) == "B" * 22
    assert local.links.resolve("A" * 22).target == {"blob": "a/1.txt"}


def test_web_redirect(local, monkeypatch):
    from fastapi.testclient import TestClient

    from bot.channels.web import create_app

    local.blobs.put("generated/c/pic.png", PNG, "image/png")
    url = local.links.shorten("generated/c/pic.png")
    with TestClient(create_app(local), base_url=BASE) as client:
        r = client.get(url.removeprefix(BASE), follow_redirects=False)
        assert r.status_code == 302 and r.headers["location"].startswith("/files/generated/c/pic.png?expires=")
        assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
        assert client.head(url.removeprefix(BASE), follow_redirects=False).status_code == 302
        r = client.get(url.removeprefix(BASE))  # followed: the picture itself
        assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"

        r = client.get("/l/" + "Z" * 22, follow_redirects=False)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain")
        assert "not valid" in r.text and "Traceback" not in r.text
        assert client.get("/l/..%2F..%2Fsecret.key", follow_redirects=False).status_code == 404

        (local.blobs.root / "generated/c/pic.png").unlink()  # the file is gone: 410
        r = client.get(url.removeprefix(BASE), follow_redirects=False)
        assert r.status_code == 410 and "no longer exists" in r.text
        local.blobs.put("x.txt", b"x", "text/plain")
        gone_later = local.links.shorten("x.txt")
        real = time.time
        monkeypatch.setattr(shortlinks.time, "time", lambda: real() + 2 * 86400)
        r = client.get(gone_later.removeprefix(BASE), follow_redirects=False)
        assert r.status_code == 410 and "expired" in r.text


# ==================================================================================================
# aws: DynamoDB (moto, the table as the template defines it) and S3, over real HTTP (moto server)
# ==================================================================================================
@pytest.fixture(scope="module")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, home, monkeypatch):
    """aws-backend services against moto in server mode: the state table, the media and PDF buckets."""
    import uuid

    import boto3

    from bot.aws.stack import build_template
    from bot.services import Services
    from bot.settings import load as load_settings

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # botocore caches the credentials an earlier test resolved
    suffix = uuid.uuid4().hex[:8]
    table, media, pdfs = f"state-{suffix}", f"media-{suffix}", f"pdfs-{suffix}"
    props = build_template()["Resources"]["StateTable"]["Properties"]
    ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server)
    ddb.create_table(TableName=table, BillingMode=props["BillingMode"],
                     AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"])
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification=props["TimeToLiveSpecification"])
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    for bucket in (media, pdfs):
        s3.create_bucket(Bucket=bucket)
    settings = load_settings(home=home, backend="aws", aws_endpoint_url=moto_server, state_table=table,
                             media_bucket=media, pdf_bucket=pdfs, short_link_base_url=API, aws_max_attempts=1)
    services = Services(settings)
    services.ddb, services.s3 = ddb, s3  # for the tests' own checks
    return services


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def redirect_event(link: str) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event for GET /l/{id}."""
    return {"version": "2.0", "routeKey": "GET /l/{id}", "rawPath": f"/l/{link}", "rawQueryString": "",
            "headers": {"host": "abc123defg.execute-api.us-east-1.amazonaws.com"},
            "requestContext": {"http": {"method": "GET", "path": f"/l/{link}"}},
            "pathParameters": {"id": link}, "isBase64Encoded": False}


@pytest.fixture
def handler(aws, monkeypatch):
    """bot.channels.links.lambda_handler with its process-wide services replaced by ``aws``."""
    from bot import services as services_module
    from bot.channels import links as channel

    monkeypatch.setattr(services_module, "default", lambda: aws)
    return channel.lambda_handler


def test_dynamodb_store_item_expiry_and_conditional_put(aws, monkeypatch):
    store = aws.links
    assert type(store).__name__ == "DynamoLinkStore"
    blob = aws.blobs.put("generated/c/pic.png", PNG, "image/png")
    assert len(blob.url) > 1024  # what Lex cannot carry
    url = store.shorten(blob.url, expires_in=600)
    assert url.startswith(API + "/l/") and len(url) < 100
    item = aws.ddb.get_item(TableName=aws.settings.state_table, Key={"pk": {"S": "link#" + link_id(url)}})["Item"]
    assert json.loads(item["target"]["S"]) == {"bucket": aws.settings.media_bucket, "key": "media/generated/c/pic.png"}
    assert abs(int(item["expires"]["N"]) - (time.time() + 600)) < 5  # the table's TTL attribute
    assert store.shorten("generated/c/pic.png").startswith(API + "/l/")  # a bare blob key works too

    ids = iter([link_id(url), "C" * 22])  # the first draw collides with the existing link
    monkeypatch.setattr(shortlinks, "new_id", lambda: next(ids))
    other = store.shorten("generated/c/other.png")
    assert link_id(other) == "C" * 22
    assert store.resolve(link_id(url)).target["key"] == "media/generated/c/pic.png"  # not overwritten

    with pytest.raises(LinkError) as e:
        store.resolve("D" * 22)
    assert e.value.code == "link_not_found"
    aws.ddb.put_item(TableName=aws.settings.state_table, Item={  # past its expiry, not yet deleted by TTL
        "pk": {"S": "link#" + "E" * 22}, "target": {"S": json.dumps({"bucket": aws.settings.media_bucket,
                                                                    "key": "media/generated/c/pic.png"})},
        "expires": {"N": str(int(time.time()) - 1)}})
    with pytest.raises(LinkError) as e:
        store.resolve("E" * 22)
    assert e.value.code == "link_expired"


def test_dynamodb_store_refuses_other_buckets_and_prefixes(aws):
    store = aws.links
    for url in (f"https://other-bucket.s3.amazonaws.com/media/x.png?X-Amz-Signature=ab",
                f"https://{aws.settings.media_bucket}.s3.amazonaws.com/uploads/x.png",  # outside media/
                f"https://{aws.settings.pdf_bucket}.s3.us-east-1.amazonaws.com/private/x.pdf",  # outside course-pdfs/
                "https://example.com/media/x.png"):
        with pytest.raises(InputError) as e:
            store.shorten(url)
        assert e.value.code == "not_linkable", url


def test_s3_location_reads_both_url_styles():
    from bot.aws.shortlinks import s3_location

    buckets = {"coursebot-media-1": "media/"}
    assert s3_location("https://coursebot-media-1.s3.amazonaws.com/media/a%20b.mp3?X-Amz-Signature=1", buckets) \
        == ("coursebot-media-1", "media/a b.mp3")
    assert s3_location("https://coursebot-media-1.s3.eu-west-1.amazonaws.com/media/a.mp3", buckets) == \
        ("coursebot-media-1", "media/a.mp3")
    assert s3_location("https://s3.us-east-1.amazonaws.com/coursebot-media-1/media/a.mp3", buckets) == \
        ("coursebot-media-1", "media/a.mp3")
    assert s3_location("http://127.0.0.1:5000/coursebot-media-1/media/a.mp3?x=1", buckets) == \
        ("coursebot-media-1", "media/a.mp3")
    assert s3_location("https://coursebot-media-1.example.com/media/a.mp3", buckets) is None
    assert s3_location("ftp://coursebot-media-1.s3.amazonaws.com/media/a.mp3", buckets) is None


def test_lambda_redirect_downloads_the_object(aws, handler):
    blob = aws.blobs.put("audio/c/answer.mp3", b"ID3 spoken bytes", "audio/mpeg")
    url = aws.links.shorten(blob.url)
    response = handler(redirect_event(link_id(url)), None)
    assert response["statusCode"] == 302 and response["body"] == ""
    location = response["headers"]["Location"]
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=3600" in location  # presigned at the redirect
    assert get(location) == b"ID3 spoken bytes"
    assert response["headers"]["Cache-Control"] == "no-store"

    aws.s3.put_object(Bucket=aws.settings.pdf_bucket, Key="course-pdfs/lex-guide.pdf", Body=b"%PDF-1.4 guide")
    cited = aws.s3.generate_presigned_url("get_object", Params={"Bucket": aws.settings.pdf_bucket,
                                                                "Key": "course-pdfs/lex-guide.pdf"}) + "#page=12"
    response = handler(redirect_event(link_id(aws.links.shorten(cited))), None)
    assert response["headers"]["Location"].endswith("#page=12")
    assert get(response["headers"]["Location"]) == b"%PDF-1.4 guide"


def test_lambda_redirect_unknown_expired_and_gone(aws, handler, monkeypatch):
    for bad in ("F" * 22, "nope", ""):
        event = redirect_event(bad)
        response = handler(event, None)
        assert response["statusCode"] == 404
        assert response["headers"]["Content-Type"].startswith("text/plain") and "not valid" in response["body"]
    assert handler({"garbage": True}, None)["statusCode"] == 404
    assert handler(None, None)["statusCode"] == 404

    aws.blobs.put("generated/c/gone.png", PNG, "image/png")
    gone = link_id(aws.links.shorten("generated/c/gone.png"))
    aws.s3.delete_object(Bucket=aws.settings.media_bucket, Key="media/generated/c/gone.png")  # the lifecycle rule
    response = handler(redirect_event(gone), None)
    assert response["statusCode"] == 410 and "no longer exists" in response["body"]

    aws.blobs.put("generated/c/old.png", PNG, "image/png")
    old = link_id(aws.links.shorten("generated/c/old.png", expires_in=30))
    real = time.time
    monkeypatch.setattr(shortlinks.time, "time", lambda: real() + 31)
    response = handler(redirect_event(old), None)
    assert response["statusCode"] == 410 and "expired" in response["body"]


def test_lambda_redirect_when_dynamodb_is_down(aws, handler):
    aws.ddb.delete_table(TableName=aws.settings.state_table)
    response = handler(redirect_event("G" * 22), None)
    assert response["statusCode"] == 503 and "try again" in response["body"]
    assert "arn:" not in response["body"] and "Traceback" not in response["body"]


# --- Lex: a 1.3 KB presigned URL becomes a short link ----------------------------------------------------
class FakeImages:
    model_id = "fake.image-model"

    def generate(self, prompt, **_):
        from bot.capabilities import GeneratedImage

        return GeneratedImage(data=PNG, mime="image/png", seed=7)


def image_event(mode: str = "Text") -> dict[str, Any]:
    event = copy.deepcopy(load("generate_image_speech_fulfillment"))
    event["inputMode"] = mode
    return event


def lex_router(aws):
    from bot.router import Router
    from bot.services import Services

    services = Services(aws.settings, overrides={"imagegen": FakeImages()})
    return Router(services)


def test_lex_image_answer_carries_a_working_short_link(aws, handler):
    presigned = aws.blobs.url("generated/0123456789abcdef/" + "0" * 24 + ".png")
    assert 1200 < len(presigned) < 1500  # what GenerateImage's link is on Lambda: over every Lex limit
    event = image_event("Text")
    response = lex.handle_event(event, router=lex_router(aws))
    assert_valid(response, event)
    texts = [m.get("content", "") for m in response["messages"]]
    assert not any("longer than this chat allows" in t for t in texts)
    assert not any("X-Amz-" in json.dumps(m) for m in response["messages"])  # no presigned URL reaches Lex
    card = next(m["imageResponseCard"] for m in response["messages"] if "imageUrl" in m.get("imageResponseCard", {}))
    assert card["imageUrl"].startswith(API + "/l/") and len(card["imageUrl"]) <= lex.CARD_TEXT_CHARS
    assert any(t.endswith(card["imageUrl"]) for t in texts)  # the link message, same short link
    redirect = handler(redirect_event(link_id(card["imageUrl"])), None)
    assert redirect["statusCode"] == 302 and get(redirect["headers"]["Location"]) == PNG


def test_lex_speech_answer_sends_the_short_link_and_never_reads_it(aws, handler):
    event = image_event("Speech")
    response = lex.handle_event(event, router=lex_router(aws))
    assert_valid(response, event)
    ssml, payload = response["messages"]
    assert "I&apos;ve sent you the link." in ssml["content"] and "http" not in ssml["content"]
    url = json.loads(payload["content"])["links"][0]["url"]
    assert url.startswith(API + "/l/")
    assert get(handler(redirect_event(link_id(url)), None)["headers"]["Location"]) == PNG


def test_lex_text_that_repeats_the_url_and_the_full_answer_link(aws, handler):
    from bot.turn import Media, Reply

    blob = aws.blobs.put("audio/c/a.mp3", b"ID3 audio", "audio/mpeg")
    long_text = "Here is the audio: " + blob.url + "\nThe link expires in 1 hour.\n\n" + " ".join(
        f"Sentence {i} explains how Amazon Lex uses intents, slots and code hooks." for i in range(200))
    reply = Reply(text=long_text, intent="AskCoursePdfs",
                  attachments=(Media("audio", "audio/mpeg", url=blob.url, title="Spoken text"),))
    event = load("ask_course_pdfs_text_fulfillment")
    response = lex.handle_event(event, router=router_with(lex_router(aws).services, "AskCoursePdfs",
                                                          RecordingIntent(reply)))
    assert_valid(response, event)
    texts = [m.get("content", "") for m in response["messages"]]
    assert "X-Amz-" not in json.dumps(response)
    first = re.search(r"Here is the audio: (\S+)", texts[0]).group(1)
    assert first.startswith(API + "/l/")
    assert f"Spoken text: {first}" in texts  # the same link in the media message
    full = next(t for t in texts if t.startswith("Full answer: ")).removeprefix("Full answer: ")
    assert full.startswith(API + "/l/")
    body = get(handler(redirect_event(link_id(full)), None)["headers"]["Location"]).decode()
    assert body == long_text  # the full text, with its original (long) link inside


def test_lex_without_a_link_base_url_explains_politely(aws):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load as load_settings

    settings = load_settings(**{**aws.settings.model_dump(), "short_link_base_url": None})
    with pytest.raises(NotAvailable):
        Services(settings).links.shorten("generated/x.png")
    router = Router(Services(settings, overrides={"imagegen": FakeImages()}))
    event = image_event("Text")
    response = lex.handle_event(event, router=router)
    assert_valid(response, event)
    assert any("longer than this chat allows" in m.get("content", "") for m in response["messages"])


def test_a_session_attribute_cannot_name_a_link_item():
    event = load("session_key_greeting_text_fulfillment")
    event["sessionState"]["sessionAttributes"]["coursebot_conversation"] = "link#" + "A" * 22
    assert lex.conversation_key(event).startswith("lex-")


# ==================================================================================================
# the stack: the redirect function on the HTTP API, least privilege, logs and alarms
# ==================================================================================================
def test_stack_has_the_redirect_route_with_least_privilege():
    from bot.aws.stack import LINKS_HANDLER, build_template

    template = build_template()
    res = template["Resources"]
    fn = res["LinksFunction"]["Properties"]
    assert fn["ImageConfig"]["Command"] == [LINKS_HANDLER] == ["bot.channels.links.lambda_handler"]
    assert fn["Events"] == {"ShortLinks": {"Type": "HttpApi", "Properties": {"Path": "/l/{id}", "Method": "GET"}}}
    statements = {s["Sid"]: s for s in fn["Policies"][0]["Statement"]}
    assert {sid: s["Action"] for sid, s in statements.items()} == {
        "ReadShortLinks": ["dynamodb:GetItem"], "GeneratedMedia": ["s3:GetObject"], "CoursePdfObjects": ["s3:GetObject"]}
    assert statements["ReadShortLinks"]["Resource"] == [{"Fn::GetAtt": ["StateTable", "Arn"]}]
    assert statements["ReadShortLinks"]["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["link#*"]}}
    assert statements["GeneratedMedia"]["Resource"] == [{"Fn::Sub": "${MediaBucket.Arn}/*"}]
    assert statements["CoursePdfObjects"]["Resource"] == [{"Fn::Sub": "${PdfBucket.Arn}/course-pdfs/*"}]
    assert res["LinksLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert fn["LoggingConfig"] == {"LogGroup": {"Ref": "LinksLogGroup"}}
    for m in ("Errors", "Throttles", "Duration"):
        assert res[f"Links{m}Alarm"]["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "LinksFunction"}}]
    lex_env = res["LexFunction"]["Properties"]["Environment"]["Variables"]
    api = {"Fn::Sub": "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert lex_env["COURSEBOT_SHORT_LINK_BASE_URL"] == api == template["Outputs"]["ShortLinkBaseUrl"]["Value"]
    lex_actions = {a for s in res["LexFunction"]["Properties"]["Policies"][0]["Statement"] for a in s["Action"]}
    assert "dynamodb:PutItem" in lex_actions  # the Lex function writes the links


def test_import_shortlinks_stays_light():
    import subprocess
    import sys

    code = ("import sys, bot.shortlinks, bot.channels.links, bot.local.shortlinks, bot.aws.shortlinks; "
            "print(any(m in sys.modules for m in ('boto3', 'botocore', 'fastapi')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
