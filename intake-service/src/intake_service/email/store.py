"""SQL of reply threading: which registered complaint an e-mail answers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service import tables
from intake_service.complaints.model import ComplaintDraft, references_in
from intake_service.email.model import ThreadMatch, message_ids


async def find_thread(session: AsyncSession, draft: ComplaintDraft) -> ThreadMatch | None:
    """The complaint ``draft`` replies to: first by a Message-ID of the complaint's mail (or of
    an earlier reply) in In-Reply-To/References, then by a reference in the subject.

    A reference alone (they are sequential, so guessable) only counts when the sender is the
    complaint's customer; a Message-ID proves the sender saw the thread.
    """
    complaints, messages = tables.complaints, tables.complaint_messages
    columns = (complaints.c.id, complaints.c.reference, complaints.c.customer_key)
    if draft.replies_to:
        in_reply_to = set(message_ids((draft.context or {}).get("in_reply_to")))
        direct = (
            await session.execute(
                select(*columns, complaints.c.channel_message_id.label("matched")).where(
                    complaints.c.channel == "email",
                    complaints.c.channel_message_id.in_(draft.replies_to),
                )
            )
        ).all()
        via_reply = (
            await session.execute(
                select(*columns, messages.c.channel_message_id.label("matched"))
                .join(messages, messages.c.complaint_id == complaints.c.id)
                .where(
                    messages.c.channel == "email",
                    messages.c.channel_message_id.in_(draft.replies_to),
                )
            )
        ).all()
        found = {row.matched: row for row in (*direct, *via_reply)}
        for candidate in draft.replies_to:  # In-Reply-To first, then the newest reference
            row = found.get(candidate)
            if row is not None:
                how = "in_reply_to" if candidate in in_reply_to else "references"
                return ThreadMatch(row.id, row.reference, row.customer_key, how)
    quoted = references_in(draft.subject)
    if quoted:
        row = (
            await session.execute(
                select(*columns)
                .where(
                    complaints.c.reference.in_(quoted),
                    complaints.c.customer_key == draft.customer.key,
                )
                .order_by(complaints.c.received_at.desc())
                .limit(1)
            )
        ).first()
        if row is not None:
            return ThreadMatch(row.id, row.reference, row.customer_key, "reference")
    return None
