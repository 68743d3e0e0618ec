"""fbocli throughput and memory benchmark (see docs/performance.md).

Generates N synthetic Segment ``track`` events and measures, in one run:

* ``dry-run``: ``fbocli upload --dry-run --output FILE`` as a subprocess (JSON lines in,
  request bodies out), events/s and peak RSS;
* ``upload``: ``fbocli upload`` to the local fake Graph API (``tests.fakegraph --no-store``
  in its own process), events/s and peak RSS;
* ``peer``: the same job written with Meta's ``facebook-business`` SDK (UserData,
  CustomData, Content, Event, EventRequest.get_params(): the SDK normalizes and hashes,
  no network), in-process, single core, events/s;
* peak RSS of the dry run again at ``--rss-n`` events (default 1,000,000) unless
  ``--rss-n 0``, to show memory does not grow with N.

Usage: ``python benchmarks/bench.py -n 100000 [--repeat 3] [--json out.json]``.
The best of ``--repeat`` runs is reported (the machine may be shared). Needs the ``bench``
extra for the peer (``pip install -e '.[bench]'``); without it the peer is skipped.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Midnight UTC today: the fake Graph API checks Meta's 62-day window against the clock.
NOW_S = int(time.time()) // 86400 * 86400
NOW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW_S))
TOKEN = "bench-fake-token-not-a-secret"
DATASET_A = "1234567890123456"
DATASET_B = "6543210987654321"

CONFIG = f"""
[destination]
upload_tag = "fbocli bench"

[events]
"Product Viewed"  = "{DATASET_A}"
"Product Added"   = "{DATASET_A}"
"Checkout Started" = "{DATASET_A}"
"Order Completed" = "{DATASET_A}"
"Store Visit"     = "{DATASET_B}"

[lead_events]
"Lead Captured" = "{DATASET_B}"

[registration_events]
"Signed Up" = "{DATASET_B}"

[upload]
workers = 4
"""

# (event name, weight): purchases dominate an offline-conversions upload.
EVENTS = [
    ("Order Completed", 50),
    ("Product Viewed", 15),
    ("Product Added", 10),
    ("Checkout Started", 8),
    ("Store Visit", 7),
    ("Lead Captured", 5),
    ("Signed Up", 5),
]
FIRST = [
    *("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda"),
    *("David", "Élodie", "Jürgen", "Siobhan", "Zoë", "Mohammed", "Wei", "Olga", "Luca"),
    *("Camille", "Noah", "Emma", "Liam", "Sophie", "Lukas", "Hannah", "Chloé", "Oliver"),
]
LAST = [
    *("Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis"),
    *("Müller", "Dubois", "O'Brien", "Martin", "Bernard", "Schmidt", "Schneider"),
    *("Fischer", "Taylor", "Wilson", "Evans", "Thomas", "Lefèvre", "Weber", "Murphy", "Kelly"),
]
# country -> (city, state, zip) choices: realistic repetition of addresses.
PLACES: dict[str, list[tuple[str, str, str]]] = {
    "US": [
        ("Austin", "TX", "78701"),
        ("New York", "NY", "10001-1234"),
        ("San Francisco", "CA", "94105"),
        ("Chicago", "IL", "60601"),
        ("Seattle", "Washington", "98101"),
        ("Miami", "FL", "33101"),
        ("Boston", "MA", "02108"),
    ],
    "CA": [
        ("Toronto", "ON", "M5V 2T6"),
        ("Montréal", "Quebec", "H2X 1Y4"),
        ("Vancouver", "BC", "V6B 1A1"),
    ],
    "GB": [("London", "", "SW1A 1AA"), ("Manchester", "", "M1 1AE"), ("Edinburgh", "", "EH1 1YZ")],
    "FR": [("Paris", "", "75001"), ("Lyon", "", "69001"), ("Marseille", "", "13001")],
    "DE": [("Berlin", "BE", "10115"), ("München", "BY", "80331"), ("Hamburg", "HH", "20095")],
}  # fmt: skip
COUNTRY_FORMS = {"US": ["US", "USA", "us", "United States"], "CA": ["CA", "Canada"]}
COUNTRIES = [("US", 55), ("CA", 15), ("GB", 12), ("FR", 9), ("DE", 9)]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "mail.example.co.uk", "web.de", "orange.fr"]
PRODUCTS = [(f"prd-{i:04d}", round(5 + (i * 7.31) % 300, 2)) for i in range(200)]


def _phone(rng: random.Random, country: str) -> str:
    """A unique-ish phone in one of the formats people type."""
    if country in ("US", "CA"):
        area = rng.choice(["512", "212", "415", "312", "206", "416", "514", "604"])
        mid, end = rng.randint(200, 999), rng.randint(0, 9999)
        form = rng.randrange(6)
        return [
            f"({area}) {mid}-{end:04d}",
            f"{area}-{mid}-{end:04d}",
            f"+1 {area} {mid} {end:04d}",
            f"{area}.{mid}.{end:04d}",
            f"1{area}{mid}{end:04d}",
            f"+1 ({area}) {mid}-{end:04d}",
        ][form]
    if country == "GB":
        n = rng.randint(1000000, 9999999)
        return rng.choice([f"+44 20 {n // 10000:04d} {n % 10000:04d}", f"07{n:09d}"])
    if country == "FR":
        n = rng.randint(10000000, 99999999)
        return rng.choice([f"+33 6 {n:08d}", f"06 {n // 1000000:02d} {n % 1000000:06d}"])
    n = rng.randint(1000000, 99999999)
    return rng.choice([f"+49 30 {n}", f"030 {n}"])


def _timestamp(rng: random.Random) -> str:
    seconds = NOW_S - rng.randint(3600, 50 * 86400)
    t = time.gmtime(seconds)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", t)
    form = rng.randrange(4)
    if form == 0:
        return base + "Z"
    if form == 1:
        return base + f".{rng.randint(0, 999):03d}Z"
    if form == 2:
        return base + "+00:00"
    return time.strftime("%Y-%m-%d %H:%M:%S", t)  # no offset: read in [mapping] tz (UTC)


def events(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """N deterministic synthetic Segment track events."""
    rng = random.Random(seed)
    names = [e for e, _ in EVENTS]
    name_w = [w for _, w in EVENTS]
    countries = [c for c, _ in COUNTRIES]
    country_w = [w for _, w in COUNTRIES]
    for i in range(n):
        event = rng.choices(names, name_w)[0]
        country = rng.choices(countries, country_w)[0]
        city, state, postal = rng.choice(PLACES[country])
        first, last = rng.choice(FIRST), rng.choice(LAST)
        address: dict[str, Any] = {
            "city": city,
            "postalCode": postal,
            "country": rng.choice(COUNTRY_FORMS.get(country, [country])),
        }
        if state:
            address["state"] = state
        traits: dict[str, Any] = {
            "email": f"{first.lower()}.{last.lower()}{i}@{rng.choice(DOMAINS)}",
            "phone": _phone(rng, country),
            "address": address,
            "gender": rng.choice(["m", "f", "male", "female", "F", ""]),
        }
        if rng.random() < 0.5:
            traits["name"] = f"{first} {last}"
        else:
            traits["firstName"], traits["lastName"] = first, last
        properties: dict[str, Any] = {"currency": rng.choice(["USD", "USD", "EUR", "GBP", "CAD"])}
        if event in ("Order Completed", "Checkout Started"):
            items = rng.sample(PRODUCTS, rng.randint(1, 4))
            quantities = [rng.randint(1, 3) for _ in items]
            properties["products"] = [
                {"product_id": p, "price": price, "quantity": q}
                for (p, price), q in zip(items, quantities, strict=True)
            ]
            revenue = sum(price * q for (_, price), q in zip(items, quantities, strict=True))
            properties["revenue"] = round(revenue, 2)
            properties["order_id"] = f"SO-{i:08d}"
            properties["coupon"] = rng.choice(["", "WELCOME5", "BF2026"])
        elif event in ("Product Viewed", "Product Added"):
            pid, price = rng.choice(PRODUCTS)
            properties.update(product_id=pid, price=price, value=price, category="Apparel")
        else:
            properties["store"] = f"store-{rng.randint(1, 40)}"
        msg: dict[str, Any] = {
            "type": "track",
            "event": event,
            "messageId": f"bench-{seed}-{i:09d}",
            "timestamp": _timestamp(rng),
            "properties": properties,
            "context": {"traits": traits, "library": {"name": "analytics-python"}},
        }
        if rng.random() < 0.6:
            msg["userId"] = f"usr_{i:09d}"
        yield msg  # fmt: skip


def write_input(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for msg in events(n):
            out.write(json.dumps(msg, ensure_ascii=False, separators=(",", ":")) + "\n")


# --- running fbocli ------------------------------------------------------------------


@dataclass
class Measure:
    name: str
    n: int
    seconds: float
    events_per_s: float
    peak_rss_mb: float | None = None
    runs: list[float] = field(default_factory=list)


def _env(state: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured run: fbocli imported from the sources."""
    env = dict(os.environ)
    env.update(
        FBOCLI_STATE_DIR=str(state / "state"),
        XDG_CONFIG_HOME=str(state / "xdg"),
        FBOCLI_ACCESS_TOKEN=TOKEN,
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.update(extra or {})
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one subprocess, via wait4. (``cwd`` outside the
    repository: ``python -m`` puts it first on sys.path, before PYTHONPATH.)"""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[3:5]} exited {proc.returncode}:\n{out[-2000:]}\n{err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024  # Linux: kilobytes


def _fbocli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fbocli", *args]


def dry_run(data: Path, config: Path, work: Path, n: int) -> tuple[float, float, int]:
    """One dry run; (seconds, peak RSS MB, events written to the output)."""
    out = work / "requests.jsonl"
    args = ["upload", str(data), "-c", str(config), "--now", NOW, "--dry-run", "--force"]
    cmd = _fbocli(*args, "--output", str(out), "--json")
    seconds, rss = _run(cmd, _env(work), work)
    with out.open("rb") as f:
        written = sum(line.count(b'"event_id"') for line in f)
    out.unlink()
    return seconds, rss, written


def upload(data: Path, config: Path, work: Path, url: str) -> tuple[float, float]:
    env = _env(work, {"FBOCLI_GRAPH_URL": url})
    args = ["upload", str(data), "-c", str(config), "--now", NOW, "--force", "--json"]
    return _run(_fbocli(*args), env, work)


class FakeGraph:
    """``python -m tests.fakegraph --no-store`` in its own process."""

    def __enter__(self) -> str:
        cmd = [sys.executable, "-m", "tests.fakegraph", "--port", "0", "--no-store"]
        cmd += ["--token", TOKEN, "--dataset", DATASET_A, "--dataset", DATASET_B]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# --- the facebook-business SDK peer ----------------------------------------------------


def peer(data: Path, batch_size: int = 1000) -> float | None:
    """Seconds for the SDK to build every request body from the same input; None if absent.

    The SDK does the match-key normalization and hashing itself (UserData.normalize), like
    a hand-written uploader built on it would; event names follow fbocli's mapping.
    """
    try:
        from facebook_business.adobjects.serverside.action_source import ActionSource
        from facebook_business.adobjects.serverside.content import Content
        from facebook_business.adobjects.serverside.custom_data import CustomData
        from facebook_business.adobjects.serverside.event import Event
        from facebook_business.adobjects.serverside.event_request import EventRequest
        from facebook_business.adobjects.serverside.gender import Gender
        from facebook_business.adobjects.serverside.user_data import UserData
    except ImportError:
        return None
    from datetime import datetime

    meta_names = {
        "Order Completed": "Purchase",
        "Product Viewed": "ViewContent",
        "Product Added": "AddToCart",
        "Checkout Started": "InitiateCheckout",
        "Lead Captured": "Lead",
        "Signed Up": "CompleteRegistration",
    }
    genders = {"m": Gender.MALE, "male": Gender.MALE, "f": Gender.FEMALE, "female": Gender.FEMALE}
    start = time.perf_counter()
    pending: list[Any] = []
    bodies = 0

    def flush() -> None:
        nonlocal bodies
        request = EventRequest(pixel_id=DATASET_A, events=list(pending), upload_tag="bench")
        params = request.get_params()
        json.dumps(params)  # the body as it would be posted
        bodies += 1
        pending.clear()

    with data.open("rb") as lines:
        for line in lines:
            msg = json.loads(line)
            traits = msg["context"]["traits"]
            addr = traits.get("address", {})
            first = traits.get("firstName")
            last = traits.get("lastName")
            if first is None and traits.get("name"):
                words = traits["name"].split()
                first, last = words[0], words[-1] if len(words) > 1 else None
            phone = "".join(c for c in traits["phone"] if c.isdigit())
            country = addr.get("country", "")
            user = UserData(
                emails=[traits["email"]],
                phones=[phone],
                first_name=first,
                last_name=last,
                city=addr.get("city"),
                state=addr.get("state") or None,
                zip_code=addr.get("postalCode"),
                country_code=country if len(country) == 2 else None,
                gender=genders.get(str(traits.get("gender", "")).lower()),
                external_ids=[msg["userId"]] if "userId" in msg else None,
            )
            props = msg["properties"]
            products = props.get("products") or (
                [{"product_id": props["product_id"], "price": props.get("price"), "quantity": 1}]
                if "product_id" in props
                else []
            )
            contents = [
                Content(product_id=p["product_id"], quantity=p["quantity"], item_price=p["price"])
                for p in products
            ]
            custom = CustomData(
                value=props.get("revenue", props.get("value")),
                currency=props["currency"].lower(),
                contents=contents or None,
                content_ids=[p["product_id"] for p in products] or None,
                content_type="product" if products else None,
                order_id=props.get("order_id"),
            )
            when = datetime.fromisoformat(msg["timestamp"].replace("Z", "+00:00"))
            pending.append(
                Event(
                    event_name=meta_names.get(msg["event"], msg["event"]),
                    event_time=int(when.timestamp()),
                    event_id=msg["messageId"],
                    user_data=user,
                    custom_data=custom,
                    action_source=ActionSource.PHYSICAL_STORE,
                )
            )
            if len(pending) >= batch_size:
                flush()
    if pending:
        flush()
    return time.perf_counter() - start


# --- report ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def best(name: str, n: int, runs: list[tuple[float, float]]) -> Measure:
    seconds = min(s for s, _ in runs)
    rss = max(r for _, r in runs) if runs and runs[0][1] else None
    return Measure(name, n, seconds, n / seconds, rss, [round(s, 3) for s, _ in runs])


def table(results: list[Measure], info: dict[str, Any], ratio: float | None) -> str:
    rows = [
        "| measure | events | best seconds | events/s | peak RSS MB | runs (s) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for m in results:
        rss = f"{m.peak_rss_mb:.0f}" if m.peak_rss_mb is not None else "–"
        runs = ", ".join(f"{s:.2f}" for s in m.runs)
        rows.append(
            f"| {m.name} | {m.n:,} | {m.seconds:.2f} | {m.events_per_s:,.0f} | {rss} | {runs} |"
        )
    text = "\n".join(rows)
    text += f"\n\nMachine: {info['cpu']}, {info['cores']} cores, Python {info['python']}."
    if ratio is not None:
        text += f"\nDry run / SDK peer: **{ratio:.1f}x**."
    return text + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="events (default 100,000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measure (best kept)")
    parser.add_argument(
        "--rss-n", type=int, default=0, help="also dry-run this many events for peak RSS"
    )
    parser.add_argument("--no-upload", action="store_true", help="skip the fake-API upload")
    parser.add_argument("--no-peer", action="store_true", help="skip the SDK peer")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--keep", type=Path, help="work in this directory (kept)")
    args = parser.parse_args(argv)

    # The bytecode an installed package has: with PYTHONDONTWRITEBYTECODE set (CI images,
    # containers) an editable checkout would otherwise recompile on every process start.
    compileall.compile_dir(ROOT / "fbocli", quiet=1)
    compileall.compile_file(ROOT / "tests" / "fakegraph.py", quiet=1)
    work = args.keep or Path(tempfile.mkdtemp(prefix="fbocli-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "fbocli.toml"
    config.write_text(CONFIG, encoding="utf-8")
    data = work / f"events-{args.n}-{NOW_S}.jsonl"
    if not data.exists():
        write_input(data, args.n)
    results: list[Measure] = []
    written = 0
    dry_runs: list[tuple[float, float]] = []
    upload_runs: list[tuple[float, float]] = []
    peer_times: list[float] = []
    with FakeGraph() if not args.no_upload else nullcontext(None) as url:
        for _ in range(args.repeat):
            # One run of each measure in turn, not all of one then all of the next: a host
            # that gets busier or quieter meanwhile then weighs on fbocli and the peer alike.
            seconds, rss, written = dry_run(data, config, work, args.n)
            dry_runs.append((seconds, rss))
            if url is not None:
                upload_runs.append(upload(data, config, work, url))
            if not args.no_peer and (took := peer(data)) is not None:
                peer_times.append(took)
    results.append(best("dry run (CLI, JSONL -> request bodies)", args.n, dry_runs))
    if upload_runs:
        results.append(best("upload to local fake Graph API", args.n, upload_runs))
    ratio = None
    if peer_times:
        runs = [(t, 0.0) for t in peer_times]
        results.append(best("peer: facebook-business SDK (in-process)", args.n, runs))
        ratio = results[0].events_per_s / results[-1].events_per_s
    if args.rss_n:
        big = work / f"events-{args.rss_n}-{NOW_S}.jsonl"
        if not big.exists():
            write_input(big, args.rss_n)
        seconds, rss, _ = dry_run(big, config, work, args.rss_n)
        results.append(best("dry run (CLI), large N", args.rss_n, [(seconds, rss)]))
    info = machine()
    print(table(results, info, ratio))
    print(f"dry-run events written: {written}")
    payload = {
        "machine": info,
        "n": args.n,
        "dry_run_events_written": written,
        "ratio_vs_peer": ratio,
        "results": [asdict(m) for m in results],
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if args.json:
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
