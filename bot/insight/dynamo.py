"""The aws insight store: items in the state DynamoDB table (partition key ``pk``, TTL attribute ``expires``).

Key spaces: ``insight#answer#<answer id>``, ``insight#rating#<answer id>#<conversation hash>`` (one per
answer and conversation: the last rating overwrites), ``insight#curated#<course>`` (one item holding
the course's pinned answers, so the bot reads them with one GetItem). Answers and ratings expire after
COURSEBOT_INSIGHT_DAYS; curated answers do not. The functions need only Get/PutItem; the report
(an instructor's command) reads answers with a filtered Scan.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bot.capabilities import AnswerRecord, CuratedAnswer, Rating
from bot.errors import ServiceError

ANSWER = "insight#answer#"
RATING = "insight#rating#"
CURATED = "insight#curated#"
MAX_CURATED = 200  # DynamoDB items hold 400 KB; 200 pins of <= 1.5 KB stay well under it


class DynamoInsightStore:
    """Implements :class:`bot.capabilities.InsightStore` on the state table.

    Args:
        table: the state table's name.
        client: a boto3 DynamoDB client.
        keep_days: the TTL of answers and ratings.
    """

    def __init__(self, table: str, client: Any, keep_days: int = 180):
        self.table = table
        self.client = client
        self.keep = keep_days * 86400

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        from bot.aws.clients import call

        return call(getattr(self.client, op), TableName=self.table, what="the insight store", **kwargs)

    def record(self, record: AnswerRecord) -> None:
        at = record.at or time.time()
        item: dict[str, Any] = {
            "pk": {"S": ANSWER + record.answer_id}, "conversation": {"S": record.conversation},
            "course": {"S": record.course}, "intent": {"S": record.intent}, "question": {"S": record.question or " "},
            "answer": {"S": record.answer or " "}, "citations": {"S": json.dumps([list(c) for c in record.citations])},
            "at": {"N": repr(at)}, "expires": {"N": str(int(at + self.keep))},
        }
        if record.found is not None:
            item["found"] = {"BOOL": record.found}
        self._call("put_item", Item=item)

    def get(self, answer_id: str) -> AnswerRecord | None:
        item = self._call("get_item", Key={"pk": {"S": ANSWER + answer_id}}, ConsistentRead=True).get("Item")
        if not item or float(item["expires"]["N"]) < time.time():  # TTL deletes lag by up to days
            return None
        return _answer(item)

    def rate(self, rating: Rating) -> None:
        at = rating.at or time.time()
        self._call("put_item", Item={
            "pk": {"S": f"{RATING}{rating.answer_id}#{rating.conversation}"}, "answer_id": {"S": rating.answer_id},
            "conversation": {"S": rating.conversation}, "rating": {"S": rating.rating},
            "comment": {"S": rating.comment}, "at": {"N": repr(at)}, "expires": {"N": str(int(at + self.keep))},
        })

    def _scan(self, prefix: str, since: float, extra: str = "", values: dict[str, Any] | None = None) -> list[dict]:
        now = time.time()
        kwargs: dict[str, Any] = {
            "FilterExpression": "begins_with(pk, :p) AND #at >= :since AND #exp > :now" + extra,
            "ExpressionAttributeNames": {"#at": "at", "#exp": "expires", **({"#c": "course"} if extra else {})},
            "ExpressionAttributeValues": {":p": {"S": prefix}, ":since": {"N": repr(max(since, now - self.keep))},
                                          ":now": {"N": str(int(now))}, **(values or {})},
        }
        items: list[dict] = []
        while True:
            page = self._call("scan", **kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def answers(self, *, since: float = 0.0, course: str | None = None) -> list[AnswerRecord]:
        if course is None:
            items = self._scan(ANSWER, since)
        else:
            items = self._scan(ANSWER, since, " AND #c = :c", {":c": {"S": course}})
        return sorted((_answer(i) for i in items), key=lambda a: a.at)

    def ratings(self, *, since: float = 0.0) -> list[Rating]:
        items = self._scan(RATING, since)
        return sorted((Rating(i["answer_id"]["S"], i["conversation"]["S"], i["rating"]["S"], i["comment"]["S"],
                              float(i["at"]["N"])) for i in items), key=lambda r: r.at)

    # curated answers: one item per course, written with an optimistic version check
    def _curated_item(self, course: str) -> tuple[list[dict[str, Any]], int]:
        item = self._call("get_item", Key={"pk": {"S": CURATED + course}}, ConsistentRead=True).get("Item")
        if not item:
            return [], 0
        return json.loads(item["data"]["S"]), int(item["version"]["N"])

    def _write_curated(self, course: str, change: Any) -> bool:
        for _ in range(5):
            entries, version = self._curated_item(course)
            entries, changed = change(entries)
            if not changed:
                return False
            condition = "attribute_not_exists(pk)" if version == 0 else "version = :v"
            values = {} if version == 0 else {"ExpressionAttributeValues": {":v": {"N": str(version)}}}
            try:
                self.client.put_item(TableName=self.table, ConditionExpression=condition, **values, Item={
                    "pk": {"S": CURATED + course}, "data": {"S": json.dumps(entries)},
                    "version": {"N": str(version + 1)}})
                return True
            except self.client.exceptions.ConditionalCheckFailedException:
                continue  # another instructor pinned at the same moment: read again
        raise ServiceError("The curated answers changed while saving; please try again.", code="conflict")

    def pin(self, curated: CuratedAnswer) -> None:
        def change(entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
            kept = [e for e in entries if e["id"] != curated.id]
            if len(kept) >= MAX_CURATED:
                raise ServiceError(f"A course holds at most {MAX_CURATED} curated answers; unpin one first.",
                                   code="too_many_curated")
            kept.append({"id": curated.id, "question": curated.question, "answer": curated.answer,
                         "at": curated.at or time.time()})
            return kept, True

        self._write_curated(curated.course, change)

    def unpin(self, course: str, curated_id: str) -> bool:
        def change(entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
            kept = [e for e in entries if e["id"] != curated_id]
            return kept, len(kept) != len(entries)

        return self._write_curated(course, change)

    def curated(self, course: str) -> list[CuratedAnswer]:
        entries, _ = self._curated_item(course)
        return [CuratedAnswer(e["id"], course, e["question"], e["answer"], float(e["at"])) for e in entries]


def _answer(item: dict[str, Any]) -> AnswerRecord:
    return AnswerRecord(
        answer_id=item["pk"]["S"][len(ANSWER):], conversation=item["conversation"]["S"], course=item["course"]["S"],
        intent=item["intent"]["S"], question=item["question"]["S"].strip(), answer=item["answer"]["S"].strip(),
        citations=tuple((s, p) for s, p in json.loads(item["citations"]["S"])),
        found=item["found"]["BOOL"] if "found" in item else None, at=float(item["at"]["N"]))


def build(settings: Any, services: Any) -> DynamoInsightStore:
    """Services factory (aws)."""
    from bot.aws.clients import make_client

    return DynamoInsightStore(settings.state_table, make_client("dynamodb", settings), keep_days=settings.insight_days)
