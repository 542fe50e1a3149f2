"""The committed event contract: ``docs/events/asyncapi.json`` and one JSON Schema per event.

``python -m redress_stack.contract write`` regenerates the files from the code (the payload
models in ``redress_shared.events`` and the service catalog); ``check`` exits 1 if the
committed files differ from what the code generates. Run both from the repository root.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from redress_shared.contract import (
    ContractError,
    asyncapi_document,
    channel_message_refs,
    channel_ref,
    event_schemas,
)
from redress_shared.events import dead_letter_topic

from redress_stack.catalog import KAFKA_PORT, SERVICES, TOPIC_PARTITIONS, ServiceSpec

CONTRACT_DIR = Path("docs") / "events"
ASYNCAPI_FILE = CONTRACT_DIR / "asyncapi.json"
SCHEMAS_DIR = CONTRACT_DIR / "schemas"


def operations(services: tuple[ServiceSpec, ...] = SERVICES) -> dict[str, Any]:
    """AsyncAPI operations from the catalog: what each service sends, receives and dead-letters."""
    result: dict[str, Any] = {}

    def add(operation_id: str, operation: dict[str, Any]) -> None:
        if operation_id in result:
            raise ContractError(f"operation {operation_id!r} is derived twice from the catalog")
        result[operation_id] = operation

    for spec in services:
        tags = [{"name": spec.name}]
        for topic in spec.publishes:
            add(
                f"{spec.name}.send.{topic}",
                {
                    "action": "send",
                    "channel": channel_ref(topic),
                    "messages": channel_message_refs(topic),
                    "summary": f"{spec.name} publishes to {topic} (through its outbox).",
                    "tags": tags,
                },
            )
        for group, topics in spec.consumer_groups.items():
            group_binding = {
                "kafka": {
                    "groupId": {"type": "string", "enum": [group]},
                    "bindingVersion": "0.5.0",
                }
            }
            for topic in topics:
                add(
                    f"{spec.name}.receive.{topic}",
                    {
                        "action": "receive",
                        "channel": channel_ref(topic),
                        "messages": channel_message_refs(topic),
                        "summary": (
                            f"{spec.name} consumes {topic} in consumer group {group} "
                            "(idempotently, through its inbox)."
                        ),
                        "bindings": group_binding,
                        "tags": tags,
                    },
                )
                dlq = dead_letter_topic(topic)
                add(
                    f"{spec.name}.dead-letter.{topic}",
                    {
                        "action": "send",
                        "channel": channel_ref(dlq),
                        "messages": channel_message_refs(dlq),
                        "summary": (
                            f"{spec.name} parks records from {topic} it cannot process on {dlq}."
                        ),
                        "bindings": group_binding,
                        "tags": tags,
                    },
                )
    return result


def build_asyncapi() -> dict[str, Any]:
    """The complete AsyncAPI document: topics and messages plus the catalog's operations."""
    return asyncapi_document(
        operations(),
        servers={
            "local": {
                "host": f"localhost:{KAFKA_PORT}",
                "protocol": "kafka",
                "description": "The broker of `make run` (Tansu, Kafka protocol).",
            }
        },
        partitions=TOPIC_PARTITIONS,
    )


def render(document: dict[str, Any]) -> str:
    """The committed text form of a JSON document: sorted keys, indent 2, trailing newline."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Every contract file, relative to the repository root, with its expected content."""
    files = {ASYNCAPI_FILE: render(build_asyncapi())}
    for event_type, schema in event_schemas().items():
        files[SCHEMAS_DIR / f"{event_type}.json"] = render(schema)
    return files


def find_root(start: Path | None = None) -> Path:
    """The workspace root: ``start`` (default: the working directory) or its nearest parent
    whose ``pyproject.toml`` declares the uv workspace; ``start`` itself if none does."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text("utf-8"):
            return folder
    return start


def write(root: Path) -> list[Path]:
    """Write every contract file under ``root`` and delete stale schemas; return what changed."""
    changed: list[Path] = []
    expected = generated_files()
    for relative, text in expected.items():
        path = root / relative
        if path.is_file() and path.read_text("utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        changed.append(relative)
    schemas = root / SCHEMAS_DIR
    for path in sorted(schemas.glob("*.json")) if schemas.is_dir() else ():
        relative = path.relative_to(root)
        if relative not in expected:
            path.unlink()
            changed.append(relative)
    return changed


def drift(root: Path) -> list[str]:
    """How the committed files under ``root`` differ from the generated ones (empty: none)."""
    problems: list[str] = []
    expected = generated_files()
    for relative, text in expected.items():
        path = root / relative
        if not path.is_file():
            problems.append(f"missing: {relative}")
        elif path.read_text("utf-8") != text:
            problems.append(f"out of date: {relative}")
    schemas = root / SCHEMAS_DIR
    for path in sorted(schemas.glob("*.json")) if schemas.is_dir() else ():
        relative = path.relative_to(root)
        if relative not in expected:
            problems.append(f"not generated by the code (stale?): {relative}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``write`` the contract files or ``check`` that the committed ones are current."""
    parser = argparse.ArgumentParser(prog="redress_stack.contract", description=__doc__)
    parser.add_argument("command", choices=("write", "check"))
    parser.add_argument(
        "--root", type=Path, default=None, help="repository root (default: found from the cwd)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve() if args.root else find_root()
    try:
        if args.command == "write":
            for relative in write(root):
                print(f"wrote {relative}")
            return 0
        problems = drift(root)
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            "the event contract is out of date: run `make contract` "
            "(python -m redress_stack.contract write) and commit the result",
            file=sys.stderr,
        )
        return 1
    print("event contract is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
