"""The published form of a recorded event: what Kafka carries and what projections fold.

Stored state uses the eventsourcing transcoder's ``{"_type_": …, "_data_": …}`` wrappers; the
published form unwraps them into plain JSON (dates as ISO strings, decisions as objects), so
subscribers need no knowledge of the library. Amounts stay JSON integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from .chain import unseal

#: Prefix of CloudEvents ``type`` values: ``vn.capledger.Project.CompletedWorkPaid.v1``.
TYPE_PREFIX = "vn.capledger"


@dataclass(frozen=True)
class PublishedEvent:
    position: int
    stream: UUID
    stream_version: int
    topic: str
    name: str  # e.g. "Project.CompletedWorkPaid"
    class_version: int
    subject: str | None  # e.g. "project:HP-001"
    recorded_at: str  # ISO 8601 timestamp of recording
    data: dict[str, Any]
    meta: dict[str, Any]
    hash: str
    prev: str

    @property
    def ce_type(self) -> str:
        return f"{TYPE_PREFIX}.{self.name}.v{self.class_version}"

    @property
    def subject_code(self) -> str | None:
        """The code part of the subject ("HP-001" of "project:HP-001")."""
        return None if self.subject is None else self.subject.partition(":")[2]

    @property
    def kind(self) -> str | None:
        """The kind part of the subject ("project", "plan" or "command")."""
        return None if self.subject is None else self.subject.partition(":")[0]


def event_name(topic: str) -> str:
    """``capledger.domain.project:Project.CompletedWorkPaid`` → ``Project.CompletedWorkPaid``."""
    return topic.rpartition(":")[2]


def plain(value: Any) -> Any:
    """Unwrap transcoder wrappers recursively into plain JSON values."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return plain(value["_data_"])
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def publish(
    position: int, stream: UUID, stream_version: int, topic: str, state: bytes
) -> PublishedEvent:
    unsealed = unseal(state)
    data = plain(unsealed.data)
    class_version = int(data.pop("class_version", 1))
    recorded_at = str(data.pop("timestamp", ""))
    data.pop("originator_topic", None)
    return PublishedEvent(
        position=position,
        stream=stream,
        stream_version=stream_version,
        topic=topic,
        name=event_name(topic),
        class_version=class_version,
        subject=unsealed.meta.get("subject"),
        recorded_at=recorded_at,
        data=data,
        meta=unsealed.meta,
        hash=unsealed.hash,
        prev=unsealed.prev,
    )
