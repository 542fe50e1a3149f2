"""Channels: how each channel's submission becomes a complaint draft (pure, no I/O).

One ``to_draft`` per channel, chosen by the type of the request: the JSON API, a phone call,
a chat, a social-media post. (E-mail, over HTTP and SMTP, is drafted from the raw message
by :func:`intake_service.email.model.parse_email`.) Everything after the draft is one path
for every channel (see :func:`intake_service.channels.service.submit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

from pydantic import BaseModel

from intake_service.channels.schemas import (
    ChatCreate,
    ComplaintDetails,
    PhoneCallCreate,
    SocialPostCreate,
)
from intake_service.complaints.model import (
    ComplaintDraft,
    SocialIdentity,
    build_customer,
    normalise_phone,
    require_text,
)
from intake_service.complaints.schemas import ComplaintCreate, ProductCreate


@dataclass(frozen=True)
class ChannelDraft:
    """A channel's submission as a draft, with text that counts for the category and the
    references but not for the language (e.g. a call agent's notes)."""

    draft: ComplaintDraft
    extra_text: str | None = None


@singledispatch
def to_draft(request: BaseModel) -> ChannelDraft:
    """The complaint draft of a channel's request; raises InvalidComplaint."""
    raise TypeError(f"no channel takes {type(request).__name__}")


def _product(product: ProductCreate | None) -> dict | None:
    return product.model_dump(exclude_none=True) if product else None


def _details(request: ComplaintDetails) -> dict:
    """What the submitter already knows; it wins over what the text suggests."""
    return {
        "subject": request.subject,
        "category": request.category,
        "product": _product(request.product),
        "supplier": request.supplier,
        "order_ref": request.order_ref,
    }


def _present(context: dict, absent: tuple = (None,)) -> dict:
    return {key: value for key, value in context.items() if value not in absent}


@to_draft.register
def api_to_draft(request: ComplaintCreate) -> ChannelDraft:
    """A complaint posted as JSON to ``POST /v1/complaints``; ``external_id`` dedupes."""
    customer = build_customer(
        name=request.customer.name,
        email=request.customer.email,
        phone=request.customer.phone,
        language=request.customer.language,
        time_zone=request.customer.time_zone,
    )
    draft = ComplaintDraft(
        channel="api",
        customer=customer,
        body=request.body,
        subject=request.subject,
        channel_message_id=request.external_id,
        category=request.category,
        product=_product(request.product),
        supplier=request.supplier,
        order_ref=request.order_ref,
    )
    return ChannelDraft(draft)


@to_draft.register
def phone_to_draft(call: PhoneCallCreate) -> ChannelDraft:
    """A phone call, registered at once (no written confirmation awaited); the call id dedupes.

    The complaint text is the transcript when there is one (the customer's words), else the
    agent's notes; the notes, IVR path and recording stay in the context.
    """
    caller = call.caller
    customer = build_customer(
        name=caller.name if caller else None,
        email=caller.email if caller else None,
        phone=call.caller_number,
        language=caller.language if caller else None,
        phone_region=call.default_region,
        phone_field="caller_number",
    )
    called_line = normalise_phone(call.called_line, call.default_region, "called_line")
    body = require_text(call.transcript or call.agent_notes, "transcript")
    notes = call.agent_notes if call.transcript else None
    context = {
        "call_id": call.call_id,
        "called_line": called_line,
        "started_at": call.started_at.isoformat(),
        "duration_seconds": call.duration_seconds,
        "agent": call.agent,
        "ivr_selections": call.ivr_selections,
        "agent_notes": notes,
        "recording_url": str(call.recording_url) if call.recording_url else None,
    }
    draft = ComplaintDraft(
        channel="phone",
        customer=customer,
        body=body,
        channel_message_id=call.call_id,
        context=_present(context, (None, [])),
        **_details(call),
    )
    return ChannelDraft(draft, extra_text=notes)


@to_draft.register
def chat_to_draft(chat: ChatCreate) -> ChannelDraft:
    """A chat conversation; the chat id dedupes.

    Messages are put in time order (stable, so equal timestamps keep the sender's order);
    the customer's lines make the complaint text, the whole conversation is the context.
    """
    customer_in = next(p for p in chat.participants if p.role == "customer")
    customer = build_customer(
        name=customer_in.name,
        email=customer_in.email,
        phone=customer_in.phone,
        language=customer_in.language,
        phone_field="participants.phone",
    )
    roles = {p.id: p for p in chat.participants}
    ordered = sorted(chat.messages, key=lambda m: m.sent_at)
    body = "\n".join(
        m.text.strip() for m in ordered if m.participant_id == customer_in.id and m.text.strip()
    )
    transcript = [
        {
            "role": roles[m.participant_id].role,
            "name": roles[m.participant_id].name,
            "sent_at": m.sent_at.isoformat(),
            "text": m.text,
        }
        for m in ordered
    ]
    draft = ComplaintDraft(
        channel="chat",
        customer=customer,
        body=body,
        channel_message_id=chat.chat_id,
        context={"chat_id": chat.chat_id, "transcript": transcript},
        **_details(chat),
    )
    return ChannelDraft(draft)


@to_draft.register
def social_to_draft(post: SocialPostCreate) -> ChannelDraft:
    """A social-media post or private message; platform + post id dedupes.

    The author's handle on the platform is a customer identity of its own; a public post is
    flagged reputation-sensitive (others read it, so the answer is urgent in practice).
    """
    author = post.author
    social = SocialIdentity.of(post.platform, author.handle)
    customer = build_customer(
        name=author.display_name,
        email=author.email,
        phone=author.phone,
        language=author.language,
        social=social,
        phone_field="author.phone",
    )
    context = {
        "platform": post.platform,
        "post_id": post.post_id,
        "handle": social.handle,
        "visibility": post.visibility,
        "url": str(post.url) if post.url else None,
        "in_reply_to": post.in_reply_to,
        "posted_at": post.posted_at.isoformat() if post.posted_at else None,
    }
    draft = ComplaintDraft(
        channel="social",
        customer=customer,
        body=post.text,
        # Post ids are unique per platform only.
        channel_message_id=f"{post.platform}:{post.post_id}",
        reputation_sensitive=post.visibility == "public",
        context=_present(context),
        **_details(post),
    )
    return ChannelDraft(draft)
