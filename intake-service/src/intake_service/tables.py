"""Intake's tables (schema ``intake``)."""

from __future__ import annotations

from redress_shared.db import PlatformTables
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Sequence,
    Table,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "intake"
metadata = MetaData(schema=SCHEMA)
platform = PlatformTables(metadata)

reference_sequence = Sequence("complaint_reference_seq", metadata=metadata)

raw_submissions = Table(
    "raw_submissions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("channel", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("submitted_by", Text, comment="API key name, or the SMTP peer"),
    Column(
        "status",
        Text,
        nullable=False,
        comment="received | accepted | duplicate | attached | quarantined | ignored",
    ),
    Column("error", Text, comment="why normalisation failed (quarantined) or was skipped"),
    Column("corrected_payload", LargeBinary, comment="an operator's fix, used on replay"),
    Column("complaint_id", UUID(as_uuid=True), comment="the complaint it became or repeated"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True)),
    Index(
        "ix_raw_submissions_quarantined",
        "received_at",
        postgresql_where=text("status = 'quarantined'"),
    ),
)

complaints = Table(
    "complaints",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("reference", Text, nullable=False, unique=True),
    Column(
        "raw_submission_id", UUID(as_uuid=True), ForeignKey(raw_submissions.c.id), nullable=False
    ),
    Column("channel", Text, nullable=False),
    Column("channel_message_id", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("customer_key", Text, nullable=False),
    Column("customer", JSONB, nullable=False),
    Column("subject", Text),
    Column("body", Text, nullable=False),
    Column("language", Text),
    Column("category", Text),
    Column("product", JSONB),
    Column("supplier", Text),
    Column("order_ref", Text),
    Column("priority_hint", Text),
    Column("reputation_sensitive", Boolean, nullable=False, server_default=false()),
    Column("context", JSONB, comment="channel context: call record, chat transcript, post"),
    Column("classification", JSONB, comment="the rules that chose category and priority"),
    Column("content_fingerprint", Text, comment="customer key + normalised text, hashed"),
    Index(
        "ux_complaints_channel_message_id",
        "channel",
        "channel_message_id",
        unique=True,
        postgresql_where=text("channel_message_id IS NOT NULL"),
    ),
    Index("ix_complaints_customer_key", "customer_key"),
    Index("ix_complaints_fingerprint", "customer_key", "content_fingerprint", "received_at"),
)

complaint_messages = Table(
    "complaint_messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("complaint_id", UUID(as_uuid=True), ForeignKey(complaints.c.id), nullable=False),
    Column(
        "raw_submission_id", UUID(as_uuid=True), ForeignKey(raw_submissions.c.id), nullable=False
    ),
    Column("channel", Text, nullable=False),
    Column("channel_message_id", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("sender", JSONB, nullable=False),
    Column("subject", Text),
    Column("body", Text, nullable=False, comment="the new words, quoted history removed"),
    Column("language", Text),
    Column("matched_by", Text, nullable=False, comment="reference | in_reply_to | references"),
    Column("context", JSONB),
    Index(
        "ux_complaint_messages_channel_message_id",
        "channel",
        "channel_message_id",
        unique=True,
        postgresql_where=text("channel_message_id IS NOT NULL"),
    ),
    Index("ix_complaint_messages_complaint_id", "complaint_id"),
)

attachment_contents = Table(
    "attachment_contents",
    metadata,
    Column("sha256", Text, primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("complaint_id", UUID(as_uuid=True), ForeignKey(complaints.c.id), nullable=False),
    Column(
        "message_id",
        UUID(as_uuid=True),
        ForeignKey(complaint_messages.c.id),
        comment="set when a reply carried it",
    ),
    Column("sha256", Text, ForeignKey(attachment_contents.c.sha256), nullable=False),
    Column("filename", Text),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("position", Integer, nullable=False),
    Index("ix_attachments_complaint_id", "complaint_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("client", Text, nullable=False, comment="the API key id the key belongs to"),
    Column("key", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("complaint_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("client", "key"),
)

classification_rules = Table(
    "classification_rules",
    metadata,
    Column("language", Text, primary_key=True, comment="ISO 639-1 code"),
    Column("rules", JSONB, nullable=False, comment="categories, signals, disabled keywords"),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", Text, nullable=False),
)

classification_rule_changes = Table(
    "classification_rule_changes",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("language", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("rules", JSONB, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", Text, nullable=False),
    Index("ix_classification_rule_changes_language", "language", "version", unique=True),
)
