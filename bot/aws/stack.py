"""The SAM/CloudFormation template of the AWS stack, generated from code so the Lex bot's intents
come from the same intent specs as the local NLU. ``infra/template.yaml`` is this function's output;
a test fails when the checked-in file and the code disagree (regenerate with ``coursebot lex template``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

LEX_HANDLER = "bot.channels.lex.lambda_handler"
SLACK_HANDLER = "bot.channels.slack.lambda_handler"
LINKS_HANDLER = "bot.channels.links.lambda_handler"
WEB_HANDLER = "bot.channels.web.lambda_handler"
# the web chat (Lex mode) on the HTTP API: the page, its scripts and the API it calls
WEB_ROUTES = (("GET", "/"), ("GET", "/static/{proxy+}"), ("GET", "/healthz"), ("GET", "/api/config"),
              ("POST", "/api/turn"), ("POST", "/api/voice"), ("POST", "/api/new"))
LINK_PATH = "/l/{id}"  # short links (bot/shortlinks.py) on the HTTP API
PDF_PREFIX = "course-pdfs/"
UPLOAD_PREFIX = "uploads/"  # students' private PDFs, uploads/<conversation hash>/, expired by a lifecycle rule
LEX_TIMEOUT_SECONDS = 30  # Lex waits 30 s for a code hook; the handler answers within its budget
SLACK_TIMEOUT_SECONDS = 60  # Slack gets its 200 within 3 s (Bolt acks first); the lazy work has longer
LINKS_TIMEOUT_SECONDS = 10  # one DynamoDB read, one S3 HEAD and a local signature
WEB_TIMEOUT_SECONDS = 29  # the HTTP API waits 30 s; Lex waits 30 s for its own code hook


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def _att(resource: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [resource, attribute]}


def _model_arn(param: str) -> dict[str, str]:
    return _sub("arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/${%s}" % param)


PARAMETERS: dict[str, dict[str, Any]] = {
    "TextModelId": {"Type": "String", "Default": "anthropic.claude-3-haiku-20240307-v1:0",
                    "Description": "Bedrock model for summaries and generated text (COURSEBOT_TEXT_MODEL_ID)."},
    "KbModelId": {"Type": "String", "Default": "anthropic.claude-3-haiku-20240307-v1:0",
                  "Description": "Bedrock model that writes Knowledge Base answers (COURSEBOT_KB_MODEL_ARN)."},
    "ImageModelId": {"Type": "String", "Default": "amazon.titan-image-generator-v2:0",
                     "Description": "Bedrock image model (COURSEBOT_IMAGE_MODEL_ID)."},
    "EmbeddingModelId": {"Type": "String", "Default": "amazon.titan-embed-text-v2:0",
                         "Description": "Bedrock embedding model of the Knowledge Base."},
    "EmbeddingDimension": {"Type": "Number", "Default": 1024, "AllowedValues": [256, 512, 1024],
                           "Description": "Vector size of the embedding model (Titan Text Embeddings V2: 256, 512 or 1024)."},
    "PollyVoice": {"Type": "String", "Default": "Joanna", "Description": "Polly voice for spoken answers."},
    "LexTimeBudgetSeconds": {"Type": "Number", "Default": 20, "MinValue": 1, "MaxValue": 28,
                             "Description": "Seconds the Lex code hook may take before it answers 'still working' (Lex waits 30)."},
    "UploadTtlDays": {"Type": "Number", "Default": 1, "MinValue": 1, "MaxValue": 365,
                      "Description": "A student's private PDF is answered from for this many days, then deleted "
                                     "(COURSEBOT_UPLOAD_TTL_DAYS and the PDF bucket's lifecycle rule)."},
    "MediaExpiryDays": {"Type": "Number", "Default": 1, "MinValue": 1, "MaxValue": 365,
                        "Description": "Generated audio and images are deleted after this many days."},
    "LogRetentionDays": {"Type": "Number", "Default": 30,
                         "AllowedValues": [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365],
                         "Description": "CloudWatch Logs retention of the functions."},
    "SlackBotToken": {"Type": "String", "Default": "", "NoEcho": True,
                      "Description": "Slack bot token (xoxb-...); empty until you connect Slack."},
    "SlackSigningSecret": {"Type": "String", "Default": "", "NoEcho": True,
                           "Description": "Slack app signing secret; empty until you connect Slack."},
    "SlackInstructors": {"Type": "String", "Default": "",
                         "Description": "Slack user ids of the instructors, comma-separated (COURSEBOT_SLACK_INSTRUCTORS)."},
    "SlackCourses": {"Type": "String", "Default": "",
                     "Description": "Slack channel -> course, e.g. C0123=ml101,C0456=stats (COURSEBOT_SLACK_COURSES)."},
    "InstructorToken": {"Type": "String", "Default": "", "NoEcho": True,
                        "Description": "The token an instructor's Lex client sends as the request attribute "
                                       "coursebot_instructor (COURSEBOT_INSTRUCTOR_TOKEN); empty: no instructor in Lex."},
    "AlarmTopicArn": {"Type": "String", "Default": "",
                      "Description": "SNS topic ARN that receives alarm notifications (empty: alarms without actions)."},
}


def _base_environment() -> dict[str, Any]:
    """The settings every function reads: backend, state table and buckets."""
    return {
        "COURSEBOT_BACKEND": "aws",
        "COURSEBOT_HOME": "/tmp/coursebot",  # the only writable path on Lambda
        "COURSEBOT_LOG_LEVEL": "INFO",
        "COURSEBOT_AWS_REGION": _ref("AWS::Region"),
        "COURSEBOT_STATE_TABLE": _ref("StateTable"),
        "COURSEBOT_PDF_BUCKET": _ref("PdfBucket"),
        "COURSEBOT_PDF_PREFIX": PDF_PREFIX,
        "COURSEBOT_MEDIA_BUCKET": _ref("MediaBucket"),
        "COURSEBOT_UPLOAD_TTL_DAYS": _ref("UploadTtlDays"),
    }


def _environment(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings the Lex and Slack functions read (bot/settings.py); a test checks every name is a setting."""
    env: dict[str, Any] = {
        **_base_environment(),
        "COURSEBOT_KB_ID": _att("KnowledgeBase", "KnowledgeBaseId"),
        "COURSEBOT_KB_DATA_SOURCE_ID": _att("KnowledgeBaseDataSource", "DataSourceId"),
        "COURSEBOT_KB_MODEL_ARN": _model_arn("KbModelId"),
        "COURSEBOT_TEXT_MODEL_ID": _ref("TextModelId"),
        "COURSEBOT_IMAGE_MODEL_ID": _ref("ImageModelId"),
        "COURSEBOT_POLLY_VOICE": _ref("PollyVoice"),
        "COURSEBOT_LEX_TIME_BUDGET_SECONDS": _ref("LexTimeBudgetSeconds"),
        # signs the conversation keys handed to clients: one secret for every instance of every function
        "COURSEBOT_SECRET_KEY": _sub("{{resolve:secretsmanager:${ServerSecret}:SecretString}}"),
    }
    env.update(extra or {})
    return {"Variables": env}


def _statement(sid: str, actions: list[str], resources: list[Any], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def _bot_policy() -> dict[str, Any]:
    """What the router's capabilities call, on this stack's resources only. Actions are listed one
    by one; Resource is "*" only for actions that have no resource type (Comprehend's and
    Rekognition's detect calls, Polly without lexicons, Translate, RetrieveAndGenerate)."""
    return {"Version": "2012-10-17", "Statement": [
        _statement("ConversationState", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
                                         "dynamodb:UpdateItem"],
                   [_att("StateTable", "Arn")]),
        _statement("GeneratedMedia", ["s3:GetObject", "s3:PutObject"], [_sub("${MediaBucket.Arn}/*")]),
        _statement("CoursePdfObjects", ["s3:GetObject", "s3:PutObject"], [_sub("${PdfBucket.Arn}/%s*" % PDF_PREFIX)]),
        _statement("PrivateUploads", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                   [_sub("${PdfBucket.Arn}/%s*" % UPLOAD_PREFIX)]),
        _statement("CoursePdfList", ["s3:ListBucket"], [_att("PdfBucket", "Arn")],
                   Condition={"StringLike": {"s3:prefix": [f"{PDF_PREFIX}*", f"{UPLOAD_PREFIX}*"]}}),
        _statement("KnowledgeBase", ["bedrock:Retrieve", "bedrock:StartIngestionJob", "bedrock:GetIngestionJob"],
                   [_att("KnowledgeBase", "KnowledgeBaseArn")]),
        _statement("KnowledgeBaseAnswers", ["bedrock:RetrieveAndGenerate"], ["*"]),
        _statement("Models", ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                   [_model_arn("TextModelId"), _model_arn("KbModelId"), _model_arn("ImageModelId")]),
        _statement("TextAnalysis", ["comprehend:DetectDominantLanguage", "comprehend:DetectEntities",
                                    "comprehend:DetectKeyPhrases", "comprehend:DetectSentiment",
                                    "translate:TranslateText"], ["*"]),
        _statement("Speech", ["polly:SynthesizeSpeech"], ["*"]),
        _statement("Vision", ["rekognition:DetectLabels", "rekognition:DetectFaces", "rekognition:DetectText",
                              "rekognition:RecognizeCelebrities", "rekognition:DetectModerationLabels"], ["*"]),
        _statement("KnownFaces", ["rekognition:SearchFacesByImage"],
                   [_sub("arn:${AWS::Partition}:rekognition:${AWS::Region}:${AWS::AccountId}:collection/*")]),
    ]}


def _api_url() -> dict[str, str]:
    """The base URL of the HTTP API SAM creates for the functions' HttpApi events."""
    return _sub("https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}")


def _web_environment() -> dict[str, Any]:
    """The web chat function's settings: Lex mode on this stack's bot alias, and the shared secret
    that signs browser sessions (every instance must agree)."""
    return {"Variables": {
        "COURSEBOT_BACKEND": "aws",
        "COURSEBOT_HOME": "/tmp/coursebot",
        "COURSEBOT_LOG_LEVEL": "INFO",
        "COURSEBOT_AWS_REGION": _ref("AWS::Region"),
        "COURSEBOT_LEX_BOT_ID": _ref("LexBot"),
        "COURSEBOT_LEX_BOT_ALIAS_ID": _att("LexBotAlias", "BotAliasId"),
        "COURSEBOT_LEX_LOCALE": lex_locale_id(),
        "COURSEBOT_SECRET_KEY": _sub("{{resolve:secretsmanager:${ServerSecret}:SecretString}}"),
    }}


def _web_policy() -> dict[str, Any]:
    """The web chat only talks to this stack's Lex bot alias."""
    return {"Version": "2012-10-17", "Statement": [
        _statement("TalkToTheBot", ["lex:RecognizeText", "lex:RecognizeUtterance"], [_att("LexBotAlias", "Arn")]),
    ]}


def lex_locale_id() -> str:
    from bot.channels.lex import definition as lex_definition

    return lex_definition.LOCALE_ID


def _links_environment() -> dict[str, Any]:
    """The few settings the short-link redirect reads (it builds only the link store)."""
    return {"Variables": _base_environment()}


def _links_policy() -> dict[str, Any]:
    """The redirect reads link items (and nothing else of the table) and signs GETs of our objects."""
    return {"Version": "2012-10-17", "Statement": [
        _statement("ReadShortLinks", ["dynamodb:GetItem"], [_att("StateTable", "Arn")],
                   Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["link#*"]}}),
        _statement("GeneratedMedia", ["s3:GetObject"], [_sub("${MediaBucket.Arn}/*")]),
        _statement("CoursePdfObjects", ["s3:GetObject"], [_sub("${PdfBucket.Arn}/%s*" % PDF_PREFIX)]),
    ]}


def _function(handler: str, name_suffix: str, description: str, timeout: int, log_group: str,
              extra_env: dict[str, Any] | None = None, extra_statements: list[dict[str, Any]] | None = None,
              events: dict[str, Any] | None = None, policy: dict[str, Any] | None = None,
              environment: dict[str, Any] | None = None, memory: int = 1024) -> dict[str, Any]:
    policy = policy or _bot_policy()
    policy["Statement"].extend(extra_statements or [])
    props: dict[str, Any] = {
        "FunctionName": _sub("${AWS::StackName}-%s" % name_suffix),
        "Description": description,
        "PackageType": "Image",
        "ImageConfig": {"Command": [handler]},
        "Architectures": ["x86_64"],
        "MemorySize": memory,
        "Timeout": timeout,
        "Environment": environment or _environment(extra_env),
        "LoggingConfig": {"LogGroup": _ref(log_group)},
        "Policies": [policy],
    }
    if events:
        props["Events"] = events
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": props,
        # `sam build` builds one image from the repository root (infra/Dockerfile) for every function.
        "Metadata": {"Dockerfile": "infra/Dockerfile", "DockerContext": "..", "DockerTag": "coursebot"},
    }


def _log_group(name_suffix: str) -> dict[str, Any]:
    return {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": _sub("/aws/lambda/${AWS::StackName}-%s" % name_suffix),
                           "RetentionInDays": _ref("LogRetentionDays")}}


def _bucket(lifecycle: dict[str, Any] | None = None, retain: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    }
    if lifecycle:
        props["LifecycleConfiguration"] = lifecycle
    policy = "Retain" if retain else "Delete"
    return {"Type": "AWS::S3::Bucket", "DeletionPolicy": policy, "UpdateReplacePolicy": policy, "Properties": props}


def _alarms(function: str, label: str, duration_ms: int) -> dict[str, Any]:
    """Errors, throttles and slow runs of one function (the CloudWatch notes: alarm on what matters)."""
    def alarm(metric: str, description: str, threshold: float, statistic: dict[str, Any]) -> dict[str, Any]:
        return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmDescription": description,
            "Namespace": "AWS/Lambda", "MetricName": metric,
            "Dimensions": [{"Name": "FunctionName", "Value": _ref(function)}],
            **statistic, "Period": 300, "EvaluationPeriods": 1, "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
            "AlarmActions": {"Fn::If": ["HasAlarmTopic", [_ref("AlarmTopicArn")], _ref("AWS::NoValue")]},
        }}

    return {
        f"{label}ErrorsAlarm": alarm("Errors", f"coursebot {label} function raised errors", 1, {"Statistic": "Sum"}),
        f"{label}ThrottlesAlarm": alarm("Throttles", f"coursebot {label} function was throttled", 1, {"Statistic": "Sum"}),
        f"{label}DurationAlarm": alarm("Duration", f"coursebot {label} p95 duration is close to its limit",
                                       duration_ms, {"ExtendedStatistic": "p95"}),
    }


def build_template() -> dict[str, Any]:
    """The whole SAM template as a dict (see infra/template.yaml)."""
    from bot.channels.lex import definition as lex_definition

    locale = lex_definition.cfn_bot_locale()
    # A new bot version is only cut when the BotVersion resource changes: tie it to the intents.
    digest = hashlib.sha256(json.dumps(locale, sort_keys=True).encode()).hexdigest()[:12]
    lex_code_hook = {"LambdaCodeHook": {"CodeHookInterfaceVersion": "1.0", "LambdaArn": _att("LexFunction", "Arn")}}
    alias_locale = [{"LocaleId": lex_definition.LOCALE_ID,
                     "BotAliasLocaleSetting": {"Enabled": True, "CodeHookSpecification": lex_code_hook}}]

    resources: dict[str, Any] = {
        # --- storage ------------------------------------------------------------------------------
        "PdfBucket": _bucket(retain=True, lifecycle={"Rules": [{
            "Id": "expire-private-uploads", "Status": "Enabled", "Prefix": UPLOAD_PREFIX,
            "ExpirationInDays": _ref("UploadTtlDays"), "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]}),
        "MediaBucket": _bucket(lifecycle={"Rules": [{
            "Id": "expire-generated-media", "Status": "Enabled", "ExpirationInDays": _ref("MediaExpiryDays"),
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]}),
        "StateTable": {
            "Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
        },
        "ServerSecret": {"Type": "AWS::SecretsManager::Secret", "DeletionPolicy": "Delete",
                         "UpdateReplacePolicy": "Delete", "Properties": {
            "Description": "coursebot: signs the conversation keys the bot hands to clients (COURSEBOT_SECRET_KEY)",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True}}},
        # --- knowledge base: S3 Vectors costs nothing while idle ----------------------------------
        "VectorBucket": {"Type": "AWS::S3Vectors::VectorBucket",
                         "Properties": {"EncryptionConfiguration": {"SseType": "AES256"}}},
        "VectorIndex": {"Type": "AWS::S3Vectors::Index", "Properties": {
            "VectorBucketArn": _att("VectorBucket", "VectorBucketArn"),
            "DataType": "float32", "Dimension": _ref("EmbeddingDimension"), "DistanceMetric": "cosine",
            # Bedrock stores the chunk text and its metadata with each vector; they are too large to filter on.
            "MetadataConfiguration": {"NonFilterableMetadataKeys": ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]},
        }},
        "KnowledgeBaseRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": _ref("AWS::AccountId")}}}]},
            "Policies": [{"PolicyName": "knowledge-base", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                _statement("Embed", ["bedrock:InvokeModel"], [_model_arn("EmbeddingModelId")]),
                _statement("ReadPdfs", ["s3:GetObject"], [_sub("${PdfBucket.Arn}/%s*" % PDF_PREFIX),
                                                          _sub("${PdfBucket.Arn}/%s*" % UPLOAD_PREFIX)]),
                _statement("ListPdfs", ["s3:ListBucket"], [_att("PdfBucket", "Arn")]),
                _statement("Vectors", ["s3vectors:PutVectors", "s3vectors:GetVectors", "s3vectors:DeleteVectors",
                                       "s3vectors:QueryVectors", "s3vectors:GetIndex"], [_att("VectorIndex", "IndexArn")]),
            ]}}],
        }},
        "KnowledgeBase": {"Type": "AWS::Bedrock::KnowledgeBase", "Properties": {
            "Name": _sub("${AWS::StackName}-course-pdfs"),
            "Description": "The course PDFs, answered with page citations.",
            "RoleArn": _att("KnowledgeBaseRole", "Arn"),
            "KnowledgeBaseConfiguration": {"Type": "VECTOR", "VectorKnowledgeBaseConfiguration": {
                "EmbeddingModelArn": _model_arn("EmbeddingModelId")}},
            "StorageConfiguration": {"Type": "S3_VECTORS",
                                     "S3VectorsConfiguration": {"IndexArn": _att("VectorIndex", "IndexArn")}},
        }},
        "KnowledgeBaseDataSource": {"Type": "AWS::Bedrock::DataSource", "Properties": {
            "Name": "course-pdfs",
            "KnowledgeBaseId": _att("KnowledgeBase", "KnowledgeBaseId"),
            "DataDeletionPolicy": "DELETE",
            "DataSourceConfiguration": {"Type": "S3", "S3Configuration": {
                # the whole bucket: course-pdfs/<course>/ and uploads/<conversation hash>/ (one prefix is the
                # most a data source takes); each document's .metadata.json says its course and owner
                "BucketArn": _att("PdfBucket", "Arn")}},
            "VectorIngestionConfiguration": {"ChunkingConfiguration": {
                "ChunkingStrategy": "FIXED_SIZE",
                "FixedSizeChunkingConfiguration": {"MaxTokens": 300, "OverlapPercentage": 20}}},
        }},
        # --- functions ----------------------------------------------------------------------------
        "LexLogGroup": _log_group("lex"),
        "LexFunction": _function(LEX_HANDLER, "lex", "coursebot Lex V2 code hook (dialog and fulfillment)",
                                 LEX_TIMEOUT_SECONDS, "LexLogGroup",
                                 # Lex messages hold 1,024 characters: links go out as <api>/l/<id>
                                 extra_env={"COURSEBOT_SHORT_LINK_BASE_URL": _api_url(),
                                            "COURSEBOT_INSTRUCTOR_TOKEN": _ref("InstructorToken")}),
        "SlackLogGroup": _log_group("slack"),
        "SlackFunction": _function(
            SLACK_HANDLER, "slack", "coursebot Slack events (slack-bolt)", SLACK_TIMEOUT_SECONDS, "SlackLogGroup",
            extra_env={"SLACK_BOT_TOKEN": _ref("SlackBotToken"), "SLACK_SIGNING_SECRET": _ref("SlackSigningSecret"),
                       "COURSEBOT_SLACK_INSTRUCTORS": _ref("SlackInstructors"),
                       "COURSEBOT_SLACK_COURSES": _ref("SlackCourses")},
            # Bolt's lazy listeners acknowledge Slack within 3 s, then invoke this function again for the work.
            extra_statements=[_statement("LazyListeners", ["lambda:InvokeFunction", "lambda:GetFunction"], [
                _sub("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-slack")])],
            events={"SlackEvents": {"Type": "HttpApi", "Properties": {"Path": "/slack/events", "Method": "POST"}}},
        ),
        "LinksLogGroup": _log_group("links"),
        "LinksFunction": _function(
            LINKS_HANDLER, "links", "coursebot short links: GET /l/{id} redirects to a fresh presigned S3 URL",
            LINKS_TIMEOUT_SECONDS, "LinksLogGroup", policy=_links_policy(), environment=_links_environment(),
            memory=512, events={"ShortLinks": {"Type": "HttpApi", "Properties": {"Path": LINK_PATH, "Method": "GET"}}},
        ),
        "WebLogGroup": _log_group("web"),
        "WebFunction": _function(
            WEB_HANDLER, "web", "coursebot web chat and push-to-talk in front of the Lex bot (RecognizeText, "
            "RecognizeUtterance)", WEB_TIMEOUT_SECONDS, "WebLogGroup", policy=_web_policy(),
            environment=_web_environment(), memory=512,
            events={f"Web{i}": {"Type": "HttpApi", "Properties": {"Path": path, "Method": method}}
                    for i, (method, path) in enumerate(WEB_ROUTES)},
        ),
        # --- the Lex bot --------------------------------------------------------------------------
        "LexBotRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lexv2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "lex-voice", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                _statement("Voice", ["polly:SynthesizeSpeech"], ["*"])]}}],
        }},
        "LexBot": {"Type": "AWS::Lex::Bot", "Properties": {
            "Name": _sub("${AWS::StackName}-coursebot"),
            "Description": "coursebot: course questions with citations, summaries, photos, speech and images.",
            "RoleArn": _att("LexBotRole", "Arn"),
            "DataPrivacy": {"ChildDirected": False},
            "IdleSessionTTLInSeconds": lex_definition.IDLE_SESSION_TTL_SECONDS,
            "AutoBuildBotLocales": True,
            "BotLocales": [locale],
            # The console's Test window uses TestBotAlias: give it the code hook too.
            "TestBotAliasSettings": {"BotAliasLocaleSettings": alias_locale},
        }},
        "LexBotVersion": {"Type": "AWS::Lex::BotVersion", "Properties": {
            "BotId": _ref("LexBot"),
            "Description": f"coursebot intents {digest}",
            "BotVersionLocaleSpecification": [{"LocaleId": lex_definition.LOCALE_ID,
                                               "BotVersionLocaleDetails": {"SourceBotVersion": "DRAFT"}}],
        }},
        "LexBotAlias": {"Type": "AWS::Lex::BotAlias", "Properties": {
            "BotId": _ref("LexBot"), "BotAliasName": "live",
            "BotVersion": _att("LexBotVersion", "BotVersion"),
            "BotAliasLocaleSettings": alias_locale,
            "SentimentAnalysisSettings": {"DetectSentiment": False},
        }},
        "LexInvokePermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": _att("LexFunction", "Arn"),
            "Principal": "lexv2.amazonaws.com", "SourceArn": _att("LexBotAlias", "Arn")}},
        "LexTestAliasInvokePermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": _att("LexFunction", "Arn"),
            "Principal": "lexv2.amazonaws.com",
            "SourceArn": _sub("arn:${AWS::Partition}:lex:${AWS::Region}:${AWS::AccountId}:bot-alias/${LexBot}/TSTALIASID")}},
    }
    resources.update(_alarms("LexFunction", "Lex", 15_000))
    resources.update(_alarms("SlackFunction", "Slack", 30_000))
    resources.update(_alarms("LinksFunction", "Links", 3_000))
    resources.update(_alarms("WebFunction", "Web", 20_000))

    outputs = {
        "WebChatUrl": {"Description": "Open this: the web chat (typed and push-to-talk) answered by the Lex bot",
                       "Value": _sub("https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/")},
        "SlackEventsUrl": {"Description": "Request URL for the Slack app (Event Subscriptions, Interactivity, slash command)",
                           "Value": _sub("https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/slack/events")},
        "ShortLinkBaseUrl": {"Description": "Short links the Lex bot sends: <this>/l/<id> redirects to the file",
                             "Value": _api_url()},
        "LexBotId": {"Description": "Lex V2 bot id", "Value": _ref("LexBot")},
        "LexBotAliasId": {"Description": "Lex V2 alias 'live' (with the code hook)", "Value": _att("LexBotAlias", "BotAliasId")},
        "LexFunctionName": {"Description": "Lex code hook function", "Value": _ref("LexFunction")},
        "SlackFunctionName": {"Description": "Slack function", "Value": _ref("SlackFunction")},
        "PdfBucketName": {"Description": f"Upload course PDFs under s3://<bucket>/{PDF_PREFIX}", "Value": _ref("PdfBucket")},
        "MediaBucketName": {"Description": "Generated audio and images (expire automatically)", "Value": _ref("MediaBucket")},
        "KnowledgeBaseId": {"Description": "Bedrock Knowledge Base id", "Value": _att("KnowledgeBase", "KnowledgeBaseId")},
        "KnowledgeBaseDataSourceId": {"Description": "Its S3 data source id (start an ingestion job after uploading PDFs)",
                                      "Value": _att("KnowledgeBaseDataSource", "DataSourceId")},
        "StateTableName": {"Description": "DynamoDB conversation state", "Value": _ref("StateTable")},
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": "coursebot: Lex V2 bot, its web chat and the Slack app on Lambda, Bedrock Knowledge Base on S3 Vectors, "
                       "S3, DynamoDB and CloudWatch alarms. Generated by bot/aws/stack.py; do not edit by hand.",
        "Parameters": PARAMETERS,
        "Conditions": {"HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [_ref("AlarmTopicArn"), ""]}]}},
        "Resources": resources,
        "Outputs": outputs,
    }


HEADER = ("# Generated by bot/aws/stack.py from the intent specs -- do not edit by hand.\n"
          "# Regenerate: .venv/bin/coursebot lex template --out infra/template.yaml\n")


def render_yaml(template: dict[str, Any] | None = None) -> str:
    """The template as YAML (intrinsic functions in their long form, which YAML and JSON share)."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # no &anchors: every node written in full
            return True

    body = yaml.dump(template or build_template(), Dumper=_Dumper, sort_keys=False, width=120,
                     allow_unicode=True, default_flow_style=False)
    return HEADER + body
