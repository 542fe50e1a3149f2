"""The ops team's front door over the real stack: the API docs work with no internet, show every
service on one page, and what they show can be acted on.

The browser is Debian's chromium driven by Playwright, with the network limited to loopback: a
resolver rule fails every name but ``localhost``, every request is routed through the test,
which lets only loopback addresses through and records the rest, and the test asserts there
were none. Screenshots of the front door (``front-door.png``: the page as it opens;
``front-door-case.png``: the case found through it) are kept under the pytest base temp folder
(``--basetemp``), in ``front-door*/``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from redress_shared.errors import PROBLEM_TYPE_PREFIX
from redress_shared.web import page_security_headers
from redress_stack.contract import build_asyncapi
from redress_testing import eventually

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No host name but the loopback ones resolves: nothing can leave this machine.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]
REJECTED_AS_INVALID = {
    PROBLEM_TYPE_PREFIX + "validation-error",
    PROBLEM_TYPE_PREFIX + "malformed-json",
}


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0:
        pytest.fail(
            "chromium is not installed, so the API docs cannot be tested in a browser: "
            "`make chromium` installs Debian's package (`make test` runs it first)"
        )
    pytest.skip(
        "!!! API DOCS BROWSER TEST NOT RUN: chromium is not installed and we are not root; "
        "install it with `sudo apt-get install chromium` (Debian) !!!"
    )


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def test_the_front_door_in_a_browser(stack, chromium, tmp_path_factory):
    """Every service's operations on one page; authorise once, send the example complaint
    (202) and find its case on the case service's part of the page."""
    from playwright.async_api import async_playwright

    front_door = stack["front_door"]
    artefacts = tmp_path_factory.mktemp("front-door")
    requested: list[str] = []
    blocked: list[str] = []
    console_errors: list[str] = []

    async def loopback_only(route):  # noqa: ANN001
        if _is_loopback(route.request.url):
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("addressunreachable")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 1800})
            await context.route("**/*", loopback_only)
            page = await context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on(
                "console",
                lambda message: message.type == "error" and console_errors.append(message.text),
            )
            await page.goto(front_door)
            await page.wait_for_selector(".opblock", timeout=30_000)

            # Every operation of every service is on the page, under its service's tags.
            shown = set()
            for block in await page.locator(".opblock-summary-path").all():
                method = await block.evaluate(
                    "e => e.closest('.opblock').querySelector('.opblock-summary-method').textContent"
                )
                shown.add((method.lower(), await block.get_attribute("data-path")))
            expected = set()
            async with httpx.AsyncClient() as client:
                for url in stack["services"].values():
                    document = (await client.get(f"{url}/openapi.json")).json()
                    expected |= {(m, p) for p, item in document["paths"].items() for m in item}
            assert expected <= shown, f"missing on the front door: {sorted(expected - shown)}"
            for service in ("intake", "case", "notification", "analytics"):
                assert await page.locator(f'h3[data-tag^="{service}: "]').count() > 0, service
            overview = artefacts / "front-door.png"
            await page.screenshot(path=overview)

            # Authorise once.
            await page.click("button.authorize")
            await page.fill("#auth-bearer-value", stack["admin_key"])
            await page.click(".auth-btn-wrapper button.authorize")
            await page.click(".auth-btn-wrapper button.btn-done")

            # The example complaint, as the page fills it in, sent from the page.
            submit = _operation(page, "post", "/v1/complaints")
            await submit.locator(".opblock-summary").click()
            await submit.locator("button.execute").click()
            status = submit.locator(".live-responses-table tr.response .response-col_status")
            await status.wait_for(timeout=30_000)
            answer = await submit.locator(".live-responses-table .microlight").first.text_content()
            assert (await status.text_content()).strip() == "202", answer
            complaint_id = json.loads(answer)["complaint_id"]

            # Its case, on the case service's part of the page (the same authorisation).
            cases = _operation(page, "get", "/v1/cases")
            await cases.locator(".opblock-summary").click()
            await cases.locator('tr[data-param-name="complaint_id"] input').fill(complaint_id)

            async def case_listed() -> bool:
                await cases.locator("button.execute").click()
                body = cases.locator(".live-responses-table .microlight").first
                await body.wait_for(timeout=30_000)
                text = await body.text_content() or ""
                return f'"complaint_id": "{complaint_id}"' in text

            await eventually(case_listed, timeout=60, interval=0.5)
            sent_to = await cases.locator(".request-url pre").first.text_content()
            assert sent_to.startswith(stack["services"]["case-service"] + "/v1/cases"), sent_to
            case_answer = artefacts / "front-door-case.png"
            await page.screenshot(path=case_answer)
            print(f"\nfront door screenshots: {overview}, {case_answer}")
        finally:
            await browser.close()

    assert not blocked, f"the page tried to leave loopback: {blocked}"
    assert requested and all(_is_loopback(url) for url in requested)
    assert not console_errors, console_errors  # CSP refusals show here too
    assert overview.stat().st_size > 10_000 and case_answer.stat().st_size > 10_000


def _operation(page, method: str, path: str):  # noqa: ANN001, ANN202
    return page.locator(f".opblock-{method}").filter(
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]')
    )


def _fill(parameters: list[dict], location: str) -> dict[str, str]:
    values = {}
    for parameter in parameters:
        if parameter["in"] != location:
            continue
        schema = parameter.get("schema", {})
        example = parameter.get("example", (schema.get("examples") or [None])[0])
        if example is None and location == "path":
            example = str(uuid.uuid4())
        if example is not None and (parameter.get("required") or location == "path"):
            values[parameter["name"]] = str(example)
    return values


def test_every_documented_request_example_is_accepted(stack):
    """Each request body example the docs show, sent as the page sends it, passes the
    service's validation (an unknown id in the path may still answer 404)."""
    rejected = []
    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    sent = 0
    for url in stack["services"].values():
        document = httpx.get(f"{url}/openapi.json").json()
        for path, item in document["paths"].items():
            for method, operation in item.items():
                content = operation.get("requestBody", {}).get("content", {})
                for media_type, body in content.items():
                    assert "example" in body, f"{method} {path}: no example"
                    parameters = operation.get("parameters", [])
                    target = path.format(**_fill(parameters, "path"))
                    data = body["example"]
                    answer = httpx.request(
                        method,
                        url + target,
                        params=_fill(parameters, "query"),
                        headers={
                            **headers,
                            **_fill(parameters, "header"),
                            "Content-Type": media_type,
                        },
                        content=data if isinstance(data, str) else json.dumps(data),
                        timeout=30,
                    )
                    sent += 1
                    problem_type = (
                        answer.json().get("type")
                        if answer.headers.get("content-type", "").startswith("application/problem")
                        else None
                    )
                    if answer.status_code >= 500 or problem_type in REJECTED_AS_INVALID:
                        rejected.append(
                            f"{method.upper()} {path}: {answer.status_code} {answer.text}"
                        )
    assert sent >= 30
    assert not rejected, "\n".join(rejected)


def test_every_page_serves_its_own_assets_under_the_dashboard_policy(stack):
    """No CDN: every script, style sheet and icon a docs page names is served by the service
    itself, under the dashboard's content security policy (plus the services it calls)."""
    services = stack["services"]
    peers = [url for url in services.values()]
    policy = page_security_headers(peers)["Content-Security-Policy"]
    analytics = services["analytics-service"]
    assert (
        httpx.get(f"{analytics}/dashboard").headers["content-security-policy"]
        == (page_security_headers()["Content-Security-Policy"])
    )
    for url in services.values():
        for page in ("/docs", "/docs/all"):
            answer = httpx.get(url + page)
            assert answer.status_code == 200
            assert answer.headers["content-security-policy"] == policy
            assets = [
                part.split('"', 1)[0]
                for part in answer.text.split('src="')[1:] + answer.text.split('href="')[1:]
            ]
            assert "<script>" not in answer.text and "http" not in "".join(assets), assets
            for asset in assets:
                if asset.startswith("/docs/assets/"):
                    served = httpx.get(url + asset)
                    assert served.status_code == 200 and len(served.content) > 100, asset
    assert httpx.get(f"{peers[0]}/docs/assets/nothing.js").status_code == 404


def test_the_services_let_the_front_door_call_them_and_no_one_else(stack):
    front_door_origin = stack["services"]["intake-service"]
    for url in stack["services"].values():
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        }
        allowed = httpx.options(
            f"{url}/v1/api-keys", headers={"Origin": front_door_origin, **preflight}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == front_door_origin
        twin = front_door_origin.replace("127.0.0.1", "localhost")
        assert (
            httpx.options(f"{url}/v1/api-keys", headers={"Origin": twin, **preflight}).status_code
            == 200
        )
        stranger = httpx.options(
            f"{url}/v1/api-keys", headers={"Origin": "http://attacker.example", **preflight}
        )
        assert "access-control-allow-origin" not in stranger.headers
        # An error answer (no key) is readable by the front door too.
        refused = httpx.get(f"{url}/v1/api-keys", headers={"Origin": front_door_origin})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == front_door_origin


def test_the_docs_link_the_events_and_the_dashboard_and_the_banner_names_the_front_door(stack):
    services = stack["services"]
    combined = httpx.get(f"{services['case-service']}/docs/all/openapi.json").json()
    overview = combined["info"]["description"]
    assert f"({services['analytics-service']}/dashboard)" in overview
    assert f"({services['case-service']}/docs/events/asyncapi.json)" in overview
    for url in services.values():
        assert httpx.get(f"{url}/docs/events/asyncapi.json").json() == build_asyncapi()
        assert 'href="/docs/all"' in httpx.get(f"{url}/docs").text
    dashboard = httpx.get(f"{services['analytics-service']}/dashboard").text
    assert 'href="docs/all"' in dashboard and 'href="docs/events/asyncapi.json"' in dashboard
    banner = Path(stack["data_dir"], "runner.log").read_text()
    first_url = next(line for line in banner.splitlines() if "http://" in line)
    assert first_url.strip() == f"Open {stack['front_door']}"
