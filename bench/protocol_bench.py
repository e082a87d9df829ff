"""Protocol benchmark: what it costs to take in signed records, as ratios measured in the same run.

    python -m bench.protocol_bench [--records 10000] [--rounds 5] [--window 1.5]

Machines here are shared and noisy, so every figure is a ratio between two measurements taken back to back, and
the reported ratio is the median over several rounds (each round times every side once, for ``--window`` seconds
each: windows of 0.3 s swung the ratios between 0.5 and 1.5 on a loaded machine; 1.5 s keep two runs within 10%).

1. single-record pipeline (decode + schema check + verify, ``open_record``) against the fastest bare Ed25519
   verify of the same envelope bytes available here: libsodium's (PyNaCl, about twice ``cryptography``'s, which
   the protocol uses and which is printed for information): target >= 0.8;
2. chain verification of a run of N entries (decode every entry, check every link and body hash, verify one
   signature: ``decode_entry`` + ``verify_chain``) against the single-record pipeline, per record: target >= 5;
3. the same chain verification against Matrix's ``signedjson`` (JSON parse + canonical JSON + libsodium verify,
   per record), which does not check a schema either: target >= 3.

For honesty it also prints the full run pipeline (``open_run``: chain verification plus the schema check of
every body), which is what a node pays to take in a run, against the same two baselines.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.common import load_average, result
from protocol.envelope import Entry, KeyInfo, Keyring, decode_entry, sign_entry, verify_chain
from protocol.keys import SigningKey
from protocol.records import RECORD_TYPES, open_record, open_run

T0 = 1_790_000_000_000


def profile_body(i: int) -> dict[str, Any]:
    """A realistic member profile of about one kilobyte once enveloped."""
    return {
        "display_name": f"Amélie Durand {i}",
        "bio": (
            "Menuisière ébéniste installée à Montreuil depuis 2015, je fabrique du mobilier sur mesure en bois "
            "massif et je restaure des meubles anciens. J'accompagne aussi des projets d'agencement de boutiques "
            "et d'ateliers partagés, avec une attention particulière aux essences locales et au réemploi. "
            "Disponible pour des collaborations avec des architectes, designers et autres artisans du réseau."
        ),
        "trades": [{"rome": "H2206", "label": "menuisière"}, {"rome": "H2207", "label": "ébéniste"}],
        "skills": ["agencement", "restauration", "bois massif", "CNC", "dessin technique", "réemploi"],
        "languages": ["fr", "en", "es"],
        "place": {
            "town": "Montreuil",
            "postcode": "93100",
            "departement": "93",
            "region": "Île-de-France",
            "lat_e6": 48_863_812,
            "lon_e6": 2_448_451,
        },
        "availability": {"status": "partly", "from": "2027-03-01", "until": "2027-06-30", "days_per_week": 3},
        "stage": "established",
        "coop_status": "associate",
        "links": [f"https://portfolio.example/amelie-{i}"],
        "contact_preference": "message",
        "public": ["display_name", "trades"],
    }


def build_chain(key: SigningKey, n: int) -> list[Entry]:
    entries: list[Entry] = []
    prev = None
    for seq in range(1, n + 1):
        e = sign_entry(
            key,
            type="profile",
            type_version=RECORD_TYPES["profile"].version,
            origin="coopaname",
            id=f"m-{seq}",
            seq=seq,
            created=T0,
            ts=T0 + seq,
            prev=prev,
            body=profile_body(seq),
        )
        entries.append(e)
        prev = e.hash
    return entries


def rate(fn: Callable[[], int], min_seconds: float) -> float:
    """Items per second: repeat ``fn`` (which returns how many items it processed) for at least min_seconds."""
    items = 0
    start = time.perf_counter()
    while True:
        items += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return items / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=float, default=1.5, help="seconds per measurement (default 1.5)")
    args = parser.parse_args(argv)
    window = args.window

    import nacl.signing
    import signedjson.key
    import signedjson.sign

    key = SigningKey.from_seed(bytes(range(32)))
    ring = Keyring()
    ring.add("coopaname", KeyInfo(key.verify_key))
    entries = build_chain(key, args.records)
    blobs = [e.encode() for e in entries]
    sample = blobs[len(blobs) // 2]
    bare_signature = key.sign(sample)
    bare_key = key.verify_key._key
    sodium_key = nacl.signing.VerifyKey(key.verify_key.public_bytes)

    json_key = signedjson.key.decode_signing_key_base64("ed25519", "1", "nJ1hsd7i/PCfwWOa8jqlw6iH0e7kk5zJfR1uLUiU2ZY")
    json_verify_key = signedjson.key.get_verify_key(json_key)
    json_blobs = []
    for e in entries[: min(2000, len(entries))]:
        doc = {
            "type": "profile",
            "origin": "coopaname",
            "id": e.header.id,
            "seq": e.header.seq,
            "ts": e.header.ts,
            "content": profile_body(e.header.seq),
        }
        json_blobs.append(json.dumps(signedjson.sign.sign_json(copy.deepcopy(doc), "coopaname", json_key)).encode())

    def bare_verify() -> int:
        for _ in range(100):
            bare_key.verify(bare_signature, sample)
        return 100

    def sodium_verify() -> int:
        for _ in range(100):
            sodium_key.verify(sample, bare_signature)
        return 100

    def single_pipeline() -> int:
        for _ in range(100):
            open_record(sample, ring)
        return 100

    def chain_verification() -> int:
        verify_chain([decode_entry(b) for b in blobs], ring)
        return len(blobs)

    def run_pipeline() -> int:
        open_run(blobs, ring)
        return len(blobs)

    def signedjson_pipeline() -> int:
        for blob in json_blobs:
            signedjson.sign.verify_signed_json(json.loads(blob), "coopaname", json_verify_key)
        return len(json_blobs)

    r1: list[float] = []
    r2: list[float] = []
    r3: list[float] = []
    r4: list[float] = []
    r5: list[float] = []
    r6: list[float] = []
    raw: dict[str, list[float]] = {"sodium": [], "bare": [], "single": [], "chain": [], "run": [], "signedjson": []}
    for _ in range(args.rounds):
        sodium, bare, single = rate(sodium_verify, window), rate(bare_verify, window), rate(single_pipeline, window)
        chain, run, sj = rate(chain_verification, window), rate(run_pipeline, window), rate(signedjson_pipeline, window)
        for name, value in (
            ("sodium", sodium),
            ("bare", bare),
            ("single", single),
            ("chain", chain),
            ("run", run),
            ("signedjson", sj),
        ):
            raw[name].append(value)
        r1.append(single / sodium)
        r6.append(single / bare)
        r2.append(chain / single)
        r3.append(chain / sj)
        r4.append(run / single)
        r5.append(run / sj)

    print(
        f"envelope size: {len(sample)} bytes; run of {len(blobs)} entries; {args.rounds} rounds of {window:g} s "
        f"windows (medians); load average {load_average()}"
    )
    for name, label in (
        ("sodium", "bare libsodium Ed25519 verify (PyNaCl)"),
        ("bare", "bare cryptography Ed25519 verify"),
        ("single", "single-record pipeline (open_record)"),
        ("chain", f"chain verification, run of {len(blobs)}"),
        ("run", "run pipeline with schema checks (open_run)"),
        ("signedjson", "signedjson per-record verify (Matrix)"),
    ):
        print(f"  {label:<46} {statistics.median(raw[name]):>10,.0f} records/s")
    for label, ratios, target in (
        ("single pipeline / libsodium verify", r1, 0.8),
        ("single pipeline / cryptography", r6, None),
        ("chain / single pipeline", r2, 5.0),
        ("chain / signedjson", r3, 3.0),
        ("open_run / single pipeline", r4, None),
        ("open_run / signedjson", r5, None),
    ):
        median = statistics.median(ratios)
        spread = f"min {min(ratios):.2f}, max {max(ratios):.2f}"
        if target is None:
            print(f"  {label:<36} {median:6.2f}  ({spread}; no target, for information)")
        else:
            verdict = "ok" if median >= target else "BELOW TARGET"
            print(f"  {label:<36} {median:6.2f}  (target >= {target}, {spread}) {verdict}")
            result("protocol_bench", label, f"{median:.2f} ({spread})", f">= {target}", median >= target)
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
