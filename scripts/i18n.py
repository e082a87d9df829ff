"""The pages' translation catalogs: extract the words, update each language, check that none is missing.

    python -m scripts.i18n extract     # messages.pot from the templates and node/web, then merge into each .po
    python -m scripts.i18n check       # fails if the .pot is stale or French/English miss or fuzz an entry
    python -m scripts.i18n new nl      # start a catalog for a new language (then translate its .po)

The node reads every ``node/web/locales/<lang>/LC_MESSAGES/messages.po`` at start: a new language needs no code.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT: Final = Path(__file__).resolve().parents[1]
CONFIG: Final = ROOT / "babel.cfg"
LOCALES: Final = ROOT / "node" / "web" / "locales"
TEMPLATE: Final = LOCALES / "messages.pot"
#: the languages that must be complete (the network's own); others may be partial and read in English where empty
COMPLETE: Final = ("fr", "en")
KEYWORDS: Final = {**DEFAULT_KEYWORDS, "P_": ((1, "c"), 2)}


def extract() -> Catalog:
    """A fresh template catalog from the sources named in babel.cfg."""
    with CONFIG.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    catalog = Catalog(project="Bigre", msgid_bugs_address="", charset="utf-8")
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS, comment_tags=("NOTE:",))
    for filename, lineno, message, comments, context in found:
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=120, sort_output=True, omit_header=False, include_lineno=False)
    path.write_bytes(buffer.getvalue())


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def catalog_paths() -> dict[str, Path]:
    return {p.parent.parent.name: p for p in sorted(LOCALES.glob("*/LC_MESSAGES/messages.po"))}


def update() -> list[str]:
    """Write messages.pot and merge it into every language's catalog; returns what was written."""
    template = extract()
    _write(template, TEMPLATE)
    written = [str(TEMPLATE.relative_to(ROOT))]
    for code, path in catalog_paths().items():
        catalog = _read(path, code)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        _write(catalog, path)
        written.append(str(path.relative_to(ROOT)))
    return written


def _ids(messages: Iterable[object]) -> set[tuple[object, object]]:
    return {(m.id, m.context) for m in messages if m.id}  # type: ignore[attr-defined]


def problems() -> list[str]:
    """Why the catalogs are not ready to ship: a stale template, a required language missing or fuzzy entries."""
    found: list[str] = []
    fresh = _ids(extract())
    if not TEMPLATE.exists() or _ids(_read(TEMPLATE)) != fresh:
        found.append("node/web/locales/messages.pot is stale: run `python -m scripts.i18n extract`")
    paths = catalog_paths()
    for code in COMPLETE:
        if code not in paths:
            found.append(f"no catalog for {code}")
            continue
        catalog = _read(paths[code], code)
        if _ids(catalog) != fresh:
            found.append(f"{code}: the catalog does not match the sources: run `python -m scripts.i18n extract`")
        for message in catalog:
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
            if message.fuzzy or not all(s for s in strings):
                found.append(f"{code}: untranslated or fuzzy: {message.context or ''} {message.id!r}")
            for error in message.check(catalog):
                found.append(f"{code}: {message.id!r}: {error}")
    return found


def new(code: str) -> Path:
    """Start the catalog of a new language from the template."""
    template = _read(TEMPLATE)
    catalog = Catalog(locale=code, project="Bigre", charset="utf-8")
    for message in template:
        if message.id:
            catalog.add(message.id, None, message.locations, context=message.context, flags=message.flags)
    path = LOCALES / code / "LC_MESSAGES" / "messages.po"
    if path.exists():
        raise SystemExit(f"{path} exists already")
    _write(catalog, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract", help="write messages.pot and merge it into every catalog")
    sub.add_parser("check", help="fail if a catalog is stale or incomplete")
    start = sub.add_parser("new", help="start the catalog of a new language")
    start.add_argument("code", help="a language code such as nl")
    args = parser.parse_args(argv)
    if args.command == "extract":
        for path in update():
            print("wrote", path)
        return 0
    if args.command == "new":
        print("wrote", new(args.code))
        return 0
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
