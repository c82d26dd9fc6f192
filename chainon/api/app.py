"""The FastAPI application: routes, problem details, middleware, and the runtime's life."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from chainon import __version__, console
from chainon.api import (
    agents,
    analytics,
    analytics_flows,
    audit_log,
    batch,
    campaigns,
    consent,
    consent_settings,
    contacts,
    conversations,
    flows,
    keys,
    messages,
    openapi,
    ops,
    problems,
    queue,
    rbm_webhook,
    routing,
    sandbox,
    sending_limits,
    unsubscribe,
    webhooks,
)
from chainon.api.middleware import RequestContext
from chainon.observability import configure_logging
from chainon.roles import EVERY_ROLE, Role
from chainon.runtime import Runtime
from chainon.settings import BusKind, Settings, warn_unknown_variables


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Builds the app; with no runtime given, it starts (and stops) its own."""
    settings = settings or (runtime.settings if runtime else Settings())
    owns_runtime = runtime is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal runtime
        if runtime is None:
            configure_logging(
                settings.log_level, json=settings.log_json, personal_data=settings.log_personal_data
            )
            warn_unknown_variables()
            # Embedded: every role in this process. Distributed: the workers run apart
            # (`chainon worker …`); the API keeps its views.
            embedded = settings.bus is BusKind.EMBEDDED
            runtime = Runtime(settings, roles=EVERY_ROLE if embedded else {Role.VIEWS})
        app.state.runtime = runtime
        if owns_runtime:
            await runtime.start()
        try:
            yield
        finally:
            if owns_runtime:
                await runtime.stop()
                runtime.close()

    # /docs and /redoc with their scripts and styles served from the installed package, not
    # a CDN: the docs of a self-hosted service work where it runs, offline or firewalled.
    app = FastAPIOffline(
        title="Chainon",
        version=__version__,
        summary="Two-way conversations between brands and consumers over SMS, RCS and email.",
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    problems.install(app)
    openapi.describe_errors(app)
    routers = (
        batch,
        campaigns,
        messages,
        conversations,
        contacts,
        consent,
        consent_settings,
        sending_limits,
        routing,
        sandbox,
        ops,
        analytics,
        analytics_flows,
        queue,
        agents,
        webhooks,
        flows,
        unsubscribe,
        keys,
        audit_log,
    )
    for module in (*routers, rbm_webhook):
        app.include_router(module.router)
    console.install(app)
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.max_request_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    return app
