"""End-to-end throughput (issue 17): generated articles served on loopback, ingested whole.

    .venv/bin/python bench/bench_e2e.py [--articles N] [--processes P] [--airflow] [--celery]

Generates N articles (default 2,000) of realistic news HTML -- sentences built from templates
with figures, quotes, named and anonymous speakers, hedges, dates and money -- in a handful of
outlets, each with an RSS feed listing its articles, and serves them on 127.0.0.1 with
pipeline.samples (real ETag / Last-Modified / Content-Type). Then, in this one run, on the same
documents, it measures articles/s of:

- a bare single-process loop: ``trafilatura.extract`` then the spaCy model on the text, nothing
  else (no fetch, no warehouse, no rules); model loading not counted;
- ``mediamon run`` with ``MEDIAMON_PROCESSES=1`` (everything in one process, as before issue 17)
  and with P processes (default ``os.cpu_count()``): every stage, from polling the feeds to the
  ledger, start-up and process pools included, into a fresh SQLite warehouse. Its figure is the
  articles published over the whole command's wall time; the extract + analyse share is shown
  too (from the command's per-stage times);
- for the bare loop and each ``mediamon run``, the CPU seconds used (user + system, pool
  workers included), and for a run what that work allows at best: with every core busy from
  start to end, articles / (CPU seconds / cores). A goal above that figure needs less work per
  article, not more parallelism;
- behind flags, because each takes minutes more: ``--airflow``, the scheduler with the
  LocalExecutor, and ``--celery``, CeleryExecutor with one and with two workers
  (tests/integration/celery_cluster.py), twice: workers with 2 task slots sharing the host's
  cores, then workers pinned to a core each with 1 slot, standing for one-core machines of
  their own (the only way one host can show what a second machine adds). Modes not asked
  for, or not measured, print "not measured"; no figure is ever estimated.

Prints the command, the CPU count and ``os.getloadavg()`` before each mode: the host may be
shared, and a loaded host slows every mode (the bare loop included) but not alike.
Goals (issue 17): ``mediamon run`` >= 1.5x the bare loop on a 2-core host; Airflow overhead
<= 10 %; two Celery workers >= 1.5x one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.samples import PLACEHOLDER, serving  # noqa: E402

BIN = Path(sys.executable).parent

# --- the generator ------------------------------------------------------------------------

OUTLETS = [
    "Northgate Courier",
    "Riverside Ledger",
    "Coastal Dispatch",
    "Highland Chronicle",
    "Valley Tribune",
    "Metro Observer",
    "Eastport Wire",
    "Lakeshore Times",
]
FIRST = ["Anna", "Tomas", "Leila", "Marek", "Sofia", "Daniel", "Irena", "Pavel", "Grace", "Omar",
         "Helen", "Viktor", "Nadia", "Samuel", "Ruth", "Karim", "Elena", "Jonas", "Maya", "Felix"]
LAST = ["Kovar", "Lindqvist", "Ramirez", "Okafor", "Brennan", "Hadzic", "Moreau", "Tanaka",
        "Novak", "Castillo", "Weber", "Petrov", "Adeyemi", "Sato", "Fischer", "Haddad"]
ROLES = ["the interior minister", "a spokesperson for the regional council", "the mayor",
         "the head of the health authority", "a senior economist at the central bank",
         "the chief of police", "the union's general secretary", "the finance minister",
         "a professor of public policy", "the director of the port authority"]
ORGS = ["the statistics office", "the health ministry", "the regional council", "the Red Cross",
        "the central bank", "the national audit office", "the farmers' union",
        "the transport authority", "the United Nations refugee agency", "the electoral commission"]
PLACES = ["Dravna", "Kestrel Bay", "Orvik", "the northern province", "Saltmarsh", "Veldhoven",
          "the capital", "Port Amsel", "the eastern districts", "Lindmark"]
UNITS = [("households", "lost power"), ("patients", "been treated"), ("families", "been displaced"),
         ("workers", "walked out"), ("soldiers", "deserted"), ("students", "enrolled"),
         ("homes", "been damaged"), ("jobs", "been cut"), ("migrants", "crossed the border"),
         ("cases", "been reported")]
TOPICS = ["flooding", "the strike", "the budget", "the ceasefire", "fuel prices", "the outbreak",
          "the election", "housing", "the drought", "rail services"]
HEDGES = ["as many as", "about", "more than", "nearly", "at least", "an estimated", "up to"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
QUOTES = [
    "We are doing everything we can, but the numbers are still rising",
    "This is the worst situation we have seen in a decade",
    "Nobody should have to wait this long for help",
    "The figures speak for themselves",
    "We warned about this months ago and nobody listened",
    "It will take years to rebuild what was lost",
    "There is no money left in the budget for this",
    "Our teams have been working around the clock",
]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _number(rng: random.Random) -> str:
    n = rng.choice([rng.randint(12, 95), rng.randint(100, 990), rng.randint(1000, 98000)])
    return f"{n:,}"


def _sentence(rng: random.Random, topic: str, place: str) -> str:
    unit, event = rng.choice(UNITS)
    who, role, org = _person(rng), rng.choice(ROLES), rng.choice(ORGS)
    month = rng.choice(MONTHS)
    templates = [
        lambda: f"{who}, {role}, said {_number(rng)} {unit} had {event} in {place} since {month}.",
        lambda: f"According to {org}, {rng.choice(HEDGES)} {_number(rng)} {unit} have {event} "
        f"in {place} this year.",
        lambda: f'"{rng.choice(QUOTES)}," {who} told reporters on {rng.choice(MONTHS)} '
        f"{rng.randint(1, 28)}.",
        lambda: f"{org.capitalize()} estimated that {rng.randint(2, 68)} percent of {unit} in "
        f"{place} were affected by {topic}.",
        lambda: f"The plan will cost {rng.choice(['$', '€', '£'])}{rng.randint(2, 900)} million "
        f"over {rng.randint(2, 10)} years, {who} said.",
        lambda: f"Officials in {place} said the number of {unit} rose from {_number(rng)} to "
        f"{_number(rng)} between {month} and {rng.choice(MONTHS)}.",
        lambda: f"A diplomat who asked not to be named said talks on {topic} could resume "
        f"within {rng.randint(2, 9)} weeks.",
        lambda: f"Court records show {_number(rng)} {unit} filed complaints about {topic} in "
        f"{place}.",
        lambda: f"{who} said {org} would publish new figures on {topic} by {month}.",
        lambda: f"Residents of {place} described long queues and rising prices as {topic} "
        f"dragged into its {rng.choice(['second', 'third', 'fifth', 'tenth'])} week.",
    ]
    return rng.choice(templates)()


@dataclass
class Article:
    outlet: str
    slug: str
    title: str
    published: datetime
    author: str
    paragraphs: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        outlet = self.outlet.lower().replace(" ", "-")
        return f"{outlet}/{self.published:%Y/%m}/{self.slug}.html"


def make_article(rng: random.Random, outlet: str, index: int, start: datetime) -> Article:
    """One article: a headline, a byline, 6-12 paragraphs of 2-4 template sentences."""
    topic, place = rng.choice(TOPICS), rng.choice(PLACES)
    unit, event = rng.choice(UNITS)
    title = f"{_number(rng)} {unit} {event} in {place} as {topic} drags on"
    title = title[0].upper() + title[1:]
    words = f"{topic} {place}".lower().replace("'", "").split()
    slug = "-".join([*words, str(index)])
    art = Article(
        outlet, slug, title, start - timedelta(minutes=17 * index), _person(rng)
    )
    for _ in range(rng.randint(6, 12)):
        art.paragraphs.append(
            " ".join(_sentence(rng, topic, place) for _ in range(rng.randint(2, 4)))
        )
    return art


def article_html(art: Article) -> str:
    """The article as a news site serves it: head metadata, navigation, the article, related
    links and a footer (the boilerplate extraction has to strip)."""
    iso = art.published.isoformat()
    nav = "".join(f'<li><a href="{PLACEHOLDER}/{s}/">{s.title()}</a></li>'
                  for s in ("world", "politics", "business", "health", "sport", "opinion"))
    body = "\n".join(f"<p>{escape(p)}</p>" for p in art.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(art.title)} | {escape(art.outlet)}</title>
<meta name="description" content="{escape(art.paragraphs[0][:150])}">
<meta property="og:title" content="{escape(art.title)}">
<meta property="og:type" content="article">
<meta property="article:published_time" content="{iso}">
<meta name="author" content="{escape(art.author)}">
<link rel="canonical" href="{PLACEHOLDER}/{art.path}">
</head><body>
<header class="site-header"><a class="logo" href="{PLACEHOLDER}/">{escape(art.outlet)}</a>
<nav><ul>{nav}</ul></nav><form class="search"><input name="q"></form></header>
<main><article>
<h1>{escape(art.title)}</h1>
<p class="byline">By <span class="author">{escape(art.author)}</span> ·
<time datetime="{iso}">{art.published:%d %B %Y, %H:%M}</time></p>
{body}
</article>
<aside class="related"><h2>Related stories</h2><ul>
<li><a href="{PLACEHOLDER}/world/">More from the region</a></li>
<li><a href="{PLACEHOLDER}/opinion/">Opinion: what the figures do not say</a></li></ul></aside>
</main>
<footer><p>&copy; 2026 {escape(art.outlet)}. All rights reserved.</p>
<p><a href="{PLACEHOLDER}/about/">About us</a> · <a href="{PLACEHOLDER}/contact/">Contact</a></p>
</footer></body></html>
"""


def feed_xml(outlet: str, articles: list[Article]) -> str:
    """An RSS 2.0 feed listing ``articles``."""
    items = "\n".join(
        f"<item><title>{escape(a.title)}</title><link>{PLACEHOLDER}/{a.path}</link>"
        f"<guid isPermaLink=\"true\">{PLACEHOLDER}/{a.path}</guid>"
        f"<pubDate>{format_datetime(a.published)}</pubDate>"
        f"<description>{escape(a.paragraphs[0][:200])}</description></item>"
        for a in articles
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(outlet)}</title><link>{PLACEHOLDER}/</link>"
        f"<description>News from {escape(outlet)}</description>\n{items}\n</channel></rss>\n"
    )


def generate(site: Path, n: int, seed: int = 17) -> tuple[list[Path], Path]:
    """Write ``n`` articles and one feed per outlet under ``site``; return the article files and
    a feeds.yaml (with the placeholder for the base URL)."""
    rng = random.Random(seed)
    start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    by_outlet: dict[str, list[Article]] = {o: [] for o in OUTLETS}
    files: list[Path] = []
    for i in range(n):
        outlet = OUTLETS[i % len(OUTLETS)]
        art = make_article(rng, outlet, i, start)
        by_outlet[outlet].append(art)
        path = site / art.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article_html(art), encoding="utf-8")
        files.append(path)
    lines = ["feeds:"]
    for outlet, arts in by_outlet.items():
        slug = outlet.lower().replace(" ", "-")
        feed = site / "feeds" / f"{slug}.rss"
        feed.parent.mkdir(parents=True, exist_ok=True)
        feed.write_text(feed_xml(outlet, arts), encoding="utf-8")
        lines += [f"  - url: {PLACEHOLDER}/feeds/{slug}.rss", f"    source: {outlet}",
                  "    language: en"]
    feeds = site.parent / "feeds.yaml.in"
    feeds.write_text("\n".join(lines) + "\n")
    return files, feeds


# --- the modes ----------------------------------------------------------------------------


@dataclass
class Figure:
    mode: str
    articles: int | None = None
    seconds: float | None = None
    load: tuple[float, float, float] | None = None
    note: str = ""
    stages: dict[str, float] = field(default_factory=dict)
    # CPU seconds (user + system) of the mode's processes, pool workers included, when known.
    cpu: float | None = None

    @property
    def rate(self) -> float | None:
        if self.articles is None or not self.seconds:
            return None
        return self.articles / self.seconds

    def __post_init__(self) -> None:
        # As measured, so a run cut short still shows what it had.
        shown = f"{self.articles} articles in {self.seconds:.1f} s" if self.rate else self.note
        load = f"; load before {self.load}" if self.load else ""
        print(f"  measured: {self.mode}: {shown}{load}", flush=True)


BARE_LOOP = """
import sys, time, json
import spacy, trafilatura
nlp = spacy.load(sys.argv[1])
paths = open(sys.argv[3]).read().split()
docs = [open(p, 'rb').read().decode('utf-8').replace('{{BASE_URL}}', sys.argv[2]) for p in paths]
nlp('warm up the model.')
trafilatura.extract(docs[0])
done = 0
started = time.perf_counter()
for html in docs:
    text = trafilatura.extract(html)
    if text:
        nlp(text)
        done += 1
print(json.dumps({"articles": done, "seconds": time.perf_counter() - started}))
"""


def bare_loop(work: Path, files: list[Path], base_url: str, model: str) -> Figure:
    """trafilatura + spaCy, one document after another, in a process of its own."""
    listing = work / "documents.txt"
    listing.write_text("\n".join(map(str, files)))
    load = os.getloadavg()
    cpu = _children_cpu()
    proc = subprocess.run(
        [sys.executable, "-c", BARE_LOOP, model, base_url, str(listing)],
        capture_output=True, text=True, check=True,
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # The whole process (model loading included), so a little more than the timed loop.
    return Figure("bare loop (trafilatura + spaCy, 1 process)", out["articles"], out["seconds"],
                  load, cpu=_children_cpu() - cpu)


def _clean_env(home: Path, feeds: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MEDIAMON_"))}
    env.update(
        {
            "MEDIAMON_HOME": str(home),
            "MEDIAMON_FEEDS_FILE": str(feeds),
            "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "true",
            "MEDIAMON_HOST_MIN_INTERVAL": "0",
            "MEDIAMON_FEED_POLL_ALL": "true",
        }
    )
    return env


def _children_cpu() -> float:
    """CPU seconds used so far by this process's finished children and their waited-for
    descendants (a ``mediamon run`` and its process pools)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _mediamon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(BIN / "mediamon"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"mediamon {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc


def _stage_seconds(progress: str) -> dict[str, float]:
    """Stage -> seconds, from ``mediamon run --progress`` lines ("extract   12.3 s  ...")."""
    stages: dict[str, float] = {}
    for line in progress.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "s":
            with contextlib.suppress(ValueError):
                stages[parts[0]] = float(parts[1])
    return stages


def mediamon_run(work: Path, feeds: Path, processes: int) -> Figure:
    """``mediamon run`` into a fresh warehouse; the wall time of the whole command."""
    home = work / f"run-p{processes}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = _clean_env(home, feeds) | {"MEDIAMON_PROCESSES": str(processes)}
    _mediamon(env, "db", "upgrade")
    _mediamon(env, "feeds", "import", str(feeds))
    load = os.getloadavg()
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = _mediamon(env, "run", "--format", "json", "--progress")
    seconds = time.perf_counter() - started
    cpu = _children_cpu() - cpu
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    stages = _stage_seconds(proc.stderr)
    published = int(result["stages"]["gate"].get("published") or 0)
    return Figure(f"mediamon run, MEDIAMON_PROCESSES={processes}", published, seconds, load,
                  stages=stages, cpu=cpu)


def not_measured(mode: str, why: str) -> Figure:
    return Figure(mode, note=f"not measured ({why})")


def _published(url: str) -> int:
    import sqlalchemy as sa

    from pipeline.warehouse import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            n: int = conn.execute(
                sa.text("select count(*) from article where status = 'published'")
            ).scalar_one()
    finally:
        engine.dispose()
    return n


def _dag_run(cluster: Any, mode: str) -> Figure:
    """One triggered run of mediamon_ingest on a fresh warehouse, timed from the trigger to
    the run's end as the REST API reports it."""
    cluster.reset_warehouse()
    load = os.getloadavg()
    started = time.perf_counter()
    run_id = cluster.trigger()
    state = cluster.wait_run(run_id, timeout=4 * 3600)
    seconds = time.perf_counter() - started
    if state != "success":
        return Figure(mode, note=f"not measured (the run ended {state}; logs: {cluster.root})")
    return Figure(mode, _published(cluster.warehouse_url), seconds, load)


def _reference_run(cluster: Any, work: Path, processes: int) -> Figure:
    """``mediamon run`` on the cluster's own warehouse (PostgreSQL) and archive (S3), so the
    Airflow figure is compared like for like; the ledger stage (its own DAG under Airflow) is
    left out of its time."""
    cluster.reset_warehouse()
    home = work / "reference"
    home.mkdir(parents=True, exist_ok=True)
    env = cluster.base_env() | {
        "MEDIAMON_HOME": str(home),
        "MEDIAMON_PROCESSES": str(processes),
    }
    load = os.getloadavg()
    started = time.perf_counter()
    proc = _mediamon(env, "run", "--format", "json", "--progress")
    seconds = time.perf_counter() - started
    stages = _stage_seconds(proc.stderr)
    seconds -= stages.get("ledger", 0.0)
    return Figure(
        f"mediamon run on the same PG + S3, P={processes}, no ledger",
        _published(cluster.warehouse_url), seconds, load, stages=stages,
    )


# What the benches' clusters run with: loopback feeds, no politeness delay, every feed polled.
CLUSTER_ENV = {
    "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "true",
    "MEDIAMON_HOST_MIN_INTERVAL": "0",
    "MEDIAMON_FEED_POLL_ALL": "true",
}


def prepare_cluster_host() -> None:
    """Before importing tests.integration.celery_cluster: a Redis database of the benches' own
    (the cluster flushes its broker database, which must not be one a test's cluster on this
    host is using at the same time; tests use 7), and moto's S3 server quiet (it logs every
    request through werkzeug: thousands of lines per run)."""
    import logging

    os.environ.setdefault("MEDIAMON_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def airflow_modes(
    work: Path, feeds: Path, *, local: bool, celery: bool, processes: int
) -> list[Figure]:
    """The scheduler with the LocalExecutor, and with Celery (two workers, then one), each on
    a real Airflow deployment on loopback (tests/integration/celery_cluster.py: PostgreSQL,
    Redis, moto's S3 server), one triggered run each."""
    prepare_cluster_host()
    from tests.conftest import PG_ADMIN_URL
    from tests.integration.celery_cluster import Cluster

    class LocalCluster(Cluster):
        """The same deployment with the LocalExecutor: the scheduler runs the tasks."""

        def base_env(self) -> dict[str, str]:
            return super().base_env() | {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}

        def start_worker(self, name: str) -> Any:
            # No Celery worker: a stand-in that reports ready, stopped once the rest is up.
            script = "print(' ready.', flush=True); import time; time.sleep(86400)"
            return self._spawn(name, [sys.executable, "-c", script], self.base_env())

    env = dict(CLUSTER_ENV)
    figures: list[Figure] = []
    if local:
        cluster = LocalCluster(
            root=work / "airflow-local", feeds_file=feeds, mediamon_env=env,
            pg_admin_url=PG_ADMIN_URL,
        )
        try:
            cluster.start()
            for name in ("w1", "w2"):
                cluster.kill_machine(name)
            figures.append(_reference_run(cluster, work, processes))
            figures.append(_dag_run(cluster, "Airflow scheduler, LocalExecutor"))
        except Exception as exc:  # noqa: BLE001 - report the mode as not measured, go on
            figures.append(not_measured("Airflow scheduler, LocalExecutor", repr(exc)[:300]))
        finally:
            cluster.stop()
    if celery:
        class OneCoreWorkers(Cluster):
            """Each worker stands for a one-core machine of its own: pinned to a core nobody
            else's worker has (w1 -> the first, w2 -> the second), one task slot. Only so does
            a second worker add what a second machine would; unpinned, two workers share the
            same two cores as one (the scheduler, PostgreSQL and the rest stay unpinned)."""

            def start_worker(self, name: str, **_: Any) -> Any:
                cores = sorted(os.sched_getaffinity(0))
                core = cores[(int(name.lstrip("w")) - 1) % len(cores)]
                return super().start_worker(name, concurrency=1, cpus={core})

        for kind, label, root in (
            (Cluster, "", "airflow-celery"),
            (OneCoreWorkers, " of 1 core", "airflow-celery-pinned"),
        ):
            cluster = kind(
                root=work / root, feeds_file=feeds, mediamon_env=env, pg_admin_url=PG_ADMIN_URL
            )
            try:
                cluster.start()
                two = _dag_run(cluster, f"Airflow CeleryExecutor, 2 worker(s){label}")
                cluster.kill_machine("w2")
                figures += [_dag_run(cluster, f"Airflow CeleryExecutor, 1 worker(s){label}"), two]
            except Exception as exc:  # noqa: BLE001
                figures.append(not_measured(f"Airflow CeleryExecutor{label}", repr(exc)[:300]))
            finally:
                cluster.stop()
    return figures


# --- report -------------------------------------------------------------------------------


def report(figures: list[Figure], bare: Figure) -> str:
    rows = ["mode                                            articles  seconds  art/s  x bare  "
            "load (1/5/15 min)"]
    for f in figures:
        if f.rate is None:
            rows.append(f"{f.mode:<48}{f.note}")
            continue
        ratio = f"{f.rate / bare.rate:6.2f}" if bare.rate else "     -"
        load = "/".join(f"{x:.2f}" for x in f.load) if f.load else "-"
        rows.append(
            f"{f.mode:<48}{f.articles:>8} {f.seconds:8.1f} {f.rate:6.1f} {ratio}  {load}"
        )
        if f.stages:
            core = f.stages.get("extract", 0.0) + f.stages.get("analyse", 0.0)
            shown = " ".join(f"{k} {v:.1f}" for k, v in f.stages.items())
            rows.append(f"    stages (s): {shown}")
            if core and f.articles and bare.rate:
                rows.append(
                    f"    extract + analyse stages alone: {f.articles / core:.1f} art/s "
                    f"({f.articles / core / bare.rate:.2f} x bare)"
                )
        if f is not bare and f.cpu and f.articles and bare.rate:
            rows.append(f"    {work_bound(f, bare)}")
    return "\n".join(rows)


def work_bound(f: Figure, bare: Figure) -> str:
    """The mode's CPU time, and the most its work allows: even with every core busy all the
    time, a run cannot take less wall time than its CPU seconds over the cores."""
    assert f.cpu and f.articles and bare.rate
    cores = os.cpu_count() or 1
    best = f.articles / (f.cpu / cores) / bare.rate
    return (
        f"cpu {f.cpu:.1f} s (user + system, pool workers included): with all {cores} cores "
        f"busy from start to end it could reach at most {best:.2f} x bare"
    )


def overhead(figures: list[Figure]) -> str:
    """The Airflow overhead share: how much lower the LocalExecutor's rate is than
    ``mediamon run``'s with the same processes (the last mediamon run measured)."""
    local = next((f for f in figures if f.mode.startswith("Airflow scheduler")), None)
    reference = next((f for f in figures if "same PG + S3" in f.mode), None)
    lines = []
    if local is None or not local.rate or reference is None or not reference.rate:
        lines.append("airflow overhead share: not measured")
    else:
        share = 1 - local.rate / reference.rate
        lines.append(f"airflow overhead share (LocalExecutor vs {reference.mode}): {share:.1%}")
    for label, how in (
        ("", "2 task slots each, both on the same 2 cores"),
        (" of 1 core", "each pinned to a core of its own, 1 task slot: one machine each"),
    ):
        one = next((f for f in figures if f.mode.endswith(f"1 worker(s){label}") and f.rate), None)
        two = next((f for f in figures if f.mode.endswith(f"2 worker(s){label}") and f.rate), None)
        if one and two and one.rate and two.rate:
            lines.append(f"two Celery workers / one ({how}): {two.rate / one.rate:.2f}x")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--airflow", action="store_true", help="also the LocalExecutor scheduler")
    parser.add_argument("--celery", action="store_true", help="also Celery, 1 and 2 workers")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"cpu count: {os.cpu_count()}  load average at start: {os.getloadavg()}")
    from pipeline.config import Settings

    model = Settings().spacy_model
    work = Path(tempfile.mkdtemp(prefix="mm-bench-e2e-"))
    try:
        site = work / "site"
        files, feeds_in = generate(site, args.articles)
        print(f"generated {len(files)} articles in {len(OUTLETS)} outlets under {site}")
        with serving(site) as base_url:
            feeds = work / "feeds.yaml"
            feeds.write_text(feeds_in.read_text().replace(PLACEHOLDER, base_url))
            bare = bare_loop(work, files, base_url, model)
            figures = [bare]
            for processes in dict.fromkeys([1, args.processes]):
                figures.append(mediamon_run(work, feeds, processes))
            figures += airflow_modes(
                work, feeds, local=args.airflow, celery=args.celery, processes=args.processes
            )
            if not args.airflow:
                figures.append(
                    not_measured("Airflow scheduler, LocalExecutor", "--airflow not given")
                )
            if not args.celery:
                figures += [
                    not_measured(f"Airflow CeleryExecutor, {n} worker(s)", "--celery not given")
                    for n in (1, 2)
                ]
        print(report(figures, bare))
        print(overhead(figures))
        print(f"load average at end: {os.getloadavg()}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
