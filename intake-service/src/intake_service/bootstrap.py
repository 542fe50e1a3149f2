"""Composition root of the intake service: the only place that wires adapters together."""

from __future__ import annotations

from fastapi import FastAPI
from redress_shared.clock import Clock
from redress_shared.runtime import ServiceRuntime, create_app

from intake_service import tables
from intake_service.api import LEAN_ROUTES, PROBLEMS, ROUTERS, SCOPES
from intake_service.channels.service import SubmissionQueue
from intake_service.config import IntakeSettings
from intake_service.email.api import IntakeSmtpHandler
from intake_service.workers import (
    keep_rules_current,
    load_language_models,
    run_smtp_listener,
)


def build_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The intake application with its runtime (nothing connects until it starts)."""
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime.build(settings, tables.platform, clock)
    runtime.add_background("language-models", load_language_models)
    runtime.add_background(
        "classification-rules",
        lambda: keep_rules_current(runtime.session_factory, settings.intake_rules_refresh_seconds),
    )
    if settings.intake_smtp_port:
        handler = IntakeSmtpHandler(runtime.session_factory, runtime.clock, settings.policy())
        runtime.add_background(
            "smtp-listener",
            lambda: run_smtp_listener(
                handler,
                settings.intake_smtp_host,
                settings.intake_smtp_port,
                settings.intake_smtp_max_message_bytes,
                shared_port=settings.http_workers > 1,
            ),
        )
    app = create_app(
        runtime,
        title="Redress intake service",
        description=(
            "Receives complaints from other systems (JSON), e-mail (SMTP and raw HTTP), phone "
            "calls, chats and social-media posts; stores the raw submission, normalises it "
            "(customer identity, language, category, references) and publishes "
            "`redress.complaint.received.v1`. What cannot be normalised waits in quarantine."
        ),
        routers=ROUTERS,
        scopes=SCOPES,
        problems=PROBLEMS,
        lean_routes=LEAN_ROUTES,
    )
    app.state.submission_queue = SubmissionQueue(
        runtime.session_factory,
        runtime.clock,
        settings.policy(),
        writers=settings.intake_submission_writers,
        max_batch=settings.intake_submission_batch_max,
    )
    return app
