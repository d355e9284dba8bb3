"""Generator for the demo corpus in samples/ (texts live in articles.txt). Run: python samples/build/build.py"""
import html, re, shutil, datetime as dt
from pathlib import Path
from email.utils import format_datetime

SRC = Path(__file__).with_name("articles.txt")
OUT = Path(__file__).resolve().parents[1]  # samples/
SITE = OUT / "site"
B = "{{BASE_URL}}"
UTM = "?utm_source=rss&utm_medium=feed"

OUTLETS = {
    "mp": dict(name="Meridian Post", slug="meridian-post", feed="feeds/meridian-post.rss", tags=["politics", "war"]),
    "ew": dict(name="Eastern Wire", slug="eastern-wire", feed="feeds/eastern-wire.atom", tags=["war", "world"]),
    "hg": dict(name="Harbor Gazette", slug="harbor-gazette", feed="feeds/harbor-gazette.rss", tags=["war", "economy", "shipping"]),
    "lc": dict(name="Lakeside Courier", slug="lakeside-courier", feed="feeds/lakeside-courier.rss", tags=["regional", "world"]),
    # Ostrelian, pro-government (English edition); the only outlet on Ostrel's side.
    "dh": dict(name="Dravsk Herald", slug="dravsk-herald", feed="feeds/dravsk-herald.rss", tags=["war", "politics"]),
}

# ---------------------------------------------------------------- parse texts
def parse():
    arts = {}
    for block in SRC.read_text(encoding="utf-8").split("=== ")[1:]:
        head, body = block.split("\n---\n", 1)
        lines = head.strip().splitlines()
        aid = lines[0].strip()
        meta = dict(l.split(": ", 1) for l in lines[1:])
        paras = [p.strip() for p in body.strip().split("\n\n") if p.strip()]
        meta.update(id=aid, paras=paras)
        arts[aid] = meta
    return arts

ARTS = parse()
for a in ARTS.values():
    a["role"] = "hard_negative" if a["id"].startswith("H") else "original"
    a["variant_of"] = None
    a["variant"] = None

HARD_NEG = {"H1": "S8", "H2": "S5", "H3": "S1", "H4": "S10"}

# ---------------------------------------------------------------- reposts
CPA, NP = "Continental Press Agency", "Nordpress"
REPOSTS = [
    dict(id="R1", orig="S1", outlet="ew", slug="aldmoor-talks-end-without-deal", date="2026-10-06T11:25:00Z",
         author=CPA, credit=("prefix", CPA),
         title="Aldmoor talks end without deal as Varnia and Ostrel dispute prisoner numbers",
         summary="Calder-brokered talks broke up without a joint statement, with Kelmor and Dravsk giving very different counts of prisoners held by Ostrel.",
         edits=[("ended on Monday evening", "broke up on Monday evening"), ("The stakes are high.", "The stakes remain high."),
                ("expectations had been low from the start", "expectations had been modest from the outset")],
         variant=["headline_changed", "wire_credit", "words_edited"]),
    dict(id="R2", orig="S1", outlet="hg", slug="varnia-ostrel-talks-no-breakthrough", date="2026-10-07T08:00:00Z",
         author="Harbor Gazette staff",
         title="No breakthrough in Varnia–Ostrel talks as Calder promises new round",
         summary="Talks in Aldmoor ended without agreement on a prisoner exchange; Calder's envoy says another round will follow within weeks.",
         drop=[7], order=[0, 1, 6, 2, 3, 4, 5], variant=["headline_changed", "paragraph_trimmed", "reordered"]),
    dict(id="R3", orig="S2", outlet="mp", slug="september-casualty-claims", date="2026-10-03T06:00:00Z",
         author=NP, credit=("suffix", NP),
         title="Rival casualty claims: Kelmor says 20,000 Ostrelian losses, Dravsk says 6,000",
         summary="Varnia and Ostrel have released conflicting casualty figures for September that cannot be independently verified.",
         drop=[6], variant=["headline_changed", "wire_credit", "paragraph_trimmed"]),
    dict(id="R4", orig="S4", outlet="lc", slug="winter-displacement-warning", date="2026-10-13T07:00:00Z",
         author="Petra Lindqvale",
         title="Refugee office warns of winter exodus from eastern Varnia",
         summary="Up to half a million people could leave eastern Varnia this winter, the Continental Refugee Office says.",
         edits=[("warned on Sunday", "said on Sunday"), ("Many of those arriving", "Most of those arriving"),
                ("Aid groups say funding has not kept up.", "Aid groups say funding has lagged behind.")],
         variant=["headline_changed", "words_edited"]),
    dict(id="R5", orig="S4", outlet="hg", slug="refugee-office-winter-appeal", date="2026-10-13T09:30:00Z",
         author=CPA, credit=("prefix", CPA), title=None,
         summary="The Continental Refugee Office says between 300,000 and 500,000 people could leave front-line regions of Varnia this winter.",
         drop=[6], variant=["wire_credit", "paragraph_trimmed"]),
    dict(id="R6", orig="S5", outlet="ew", slug="port-ilsen-terminal-strike", date="2026-10-09T09:15:00Z",
         author="Eastern Wire staff",
         title="At least 11 dead after missiles hit Port Ilsen grain terminal",
         summary="Missiles struck the grain terminal in Port Ilsen overnight; Ostrel says it hit a weapons depot, which the city's mayor denies.",
         order=[0, 1, 3, 2, 4, 5, 6],
         edits=[("Firefighters were still working at the site", "Firefighters were still battling the blaze"),
                ("rose nearly 3%", "climbed nearly 3%")],
         variant=["headline_changed", "reordered", "words_edited"]),
    dict(id="R7", orig="S6", outlet="mp", slug="war-crimes-cases-140000", date="2026-10-17T07:30:00Z",
         author=CPA, credit=("prefix", CPA),
         title="More than 140,000 alleged war crimes registered, Varnian prosecutor says",
         summary="Prosecutor General Danuta Krell says the number of registered war crimes cases has passed 140,000.",
         drop=[5], variant=["headline_changed", "wire_credit", "paragraph_trimmed"]),
    dict(id="R8", orig="S7", outlet="hg", slug="blackouts-return-varnia", date="2026-11-05T06:45:00Z",
         author="Jonah Merrivale",
         title="Blackouts of up to 15 hours a day return to Varnian cities",
         summary="Rolling outages were introduced across Varnia after weekend strikes on power plants and substations.",
         edits=[("introduced rolling blackouts", "imposed rolling blackouts"),
                ("cafés ran generators on the pavement", "cafés ran diesel generators on the pavement"),
                ("residents said they were buying", "residents said they had been buying")],
         variant=["headline_changed", "words_edited"]),
    dict(id="R9", orig="S9", outlet="lc", slug="council-widens-tanker-blacklist", date="2026-09-30T10:00:00Z",
         author=NP, credit=("suffix", NP),
         title="Council widens tanker blacklist in Resolution 4417",
         summary="The Continental Council added 118 tankers to its blacklist and called for monitors at prisoner exchanges.",
         variant=["headline_changed", "wire_credit"]),
    dict(id="R10", orig="S10", outlet="ew", slug="prisoner-swap-180-observers", date="2026-10-25T08:10:00Z",
         author="Katya Lorne",
         title="180-for-180: first prisoner swap since August watched by Council observers",
         summary="Varnia and Ostrel exchanged 180 prisoners each at the Calderan border in the first swap since August.",
         drop=[7], order=[0, 1, 2, 5, 3, 4, 6], variant=["headline_changed", "paragraph_trimmed", "reordered"]),
    dict(id="R11", orig="S12", outlet="mp", slug="luhren-villages-dispute", date="2026-11-07T08:00:00Z",
         author=CPA, credit=("prefix", CPA),
         title="How many villages has Ostrel taken near Luhren? The two sides disagree",
         summary="Ostrel claims 14 villages near Luhren since October; Varnia concedes three, and independent analysts count six.",
         edits=[("reached by the Harbor Gazette", "reached by reporters")],
         variant=["headline_changed", "wire_credit", "words_edited"]),
    dict(id="R12", orig="S13", outlet="ew", slug="korvanets-detentions", date="2026-09-26T06:20:00Z",
         author="Tereza Holm",
         title="Rights group counts 312 detained at Korvanets draft protest",
         summary="Open Cell says more than 300 people were held after a protest against call-ups in Korvanets; police say about 40.",
         drop=[6],
         edits=[("told the Meridian Post by phone", "said by phone"), ("one of the largest protests", "one of the biggest protests")],
         variant=["headline_changed", "paragraph_trimmed", "words_edited"]),
    dict(id="R13", orig="S3", outlet="mp", slug="ostrel-contract-recruitment", date="2026-09-23T07:00:00Z",
         author=NP, credit=("suffix", NP),
         title="Ostrel signing up to 30,000 contract soldiers monthly, says Kelmor",
         summary="Varnian intelligence says Ostrel is signing 25,000 to 30,000 contract soldiers a month; Dravsk says the real figure is higher and voluntary.",
         order=[0, 1, 2, 3, 5, 4, 6],
         edits=[("seen by the Harbor Gazette", "seen by Nordpress"), ("The Harbor Gazette was unable", "Nordpress was unable")],
         variant=["headline_changed", "wire_credit", "reordered", "words_edited"]),
    dict(id="R14", orig="S14", outlet="hg", slug="ilsen-corridor-grain-slump", date="2026-11-11T10:00:00Z",
         author="Oona Pettersby",
         title="Ilsen corridor grain shipments slump by a third after port strikes",
         summary="Grain exports through the Ilsen Gulf dropped to about 1.5 million tonnes in October, the agriculture ministry says.",
         drop=[6], edits=[("fell to about 1.5 million tonnes", "dropped to about 1.5 million tonnes")],
         variant=["headline_changed", "paragraph_trimmed", "words_edited"]),
    dict(id="R15", orig="S17", outlet="mp", slug="kelmor-ostrel-desertions-estimate", date="2026-11-19T11:55:00Z",
         author=CPA, credit=("prefix", CPA),
         title="Kelmor puts Ostrelian desertions at 300,000 to 500,000 since start of war",
         summary="Varnian security sources say between 300,000 and 500,000 Ostrelian soldiers have deserted; Dravsk calls such reports a fantasy.",
         drop=[6],
         edits=[("the pace had picked up after", "the pace had accelerated after"),
                ("did not reply to a request for comment", "did not respond to a request for comment"),
                ("Varnia is not immune to the problem.", "Varnia has a desertion problem of its own.")],
         variant=["headline_changed", "wire_credit", "paragraph_trimmed", "words_edited"]),
]

DATELINE = re.compile(r"^([A-Z][A-Z ]+) — ")

def make_repost(r):
    o = ARTS[r["orig"]]
    paras = list(o["paras"])
    for old, new in r.get("edits", []):
        hits = [i for i, p in enumerate(paras) if old in p]
        assert len(hits) == 1, (r["id"], old)
        paras[hits[0]] = paras[hits[0]].replace(old, new)
    drop = set(r.get("drop", []))
    keep = [i for i in range(len(paras)) if i not in drop]
    order = r.get("order", keep)
    assert sorted(order) == keep, (r["id"], order, keep)
    paras = [paras[i] for i in order]
    cred = r.get("credit")
    if cred and cred[0] == "prefix":
        m = DATELINE.match(paras[0])
        if m:
            paras[0] = f"{m.group(1)} ({cred[1]}) — " + paras[0][m.end():]
        else:
            paras[0] = f"({cred[1]}) — " + paras[0]
    elif cred:
        paras.append(f"— {cred[1]}")
    assert o["date"] < r["date"]
    return dict(id=r["id"], outlet=r["outlet"], story=o["story"], slug=r["slug"], date=r["date"],
                author=r["author"], title=r["title"] or o["title"], summary=r["summary"], paras=paras,
                role="repost", variant_of=o["id"], variant=r["variant"])

for r in REPOSTS:
    ARTS[r["id"]] = make_repost(r)

GALLERY = dict(id="G1", outlet="mp", story="gallery-luhren", slug="luhren-in-pictures", date="2026-10-28T10:00:00Z",
               author="Meridian Post picture desk", title="In pictures: Luhren after a month of shelling",
               summary="Video and photographs from Luhren.", paras=None, role="special", variant_of=None, variant=None,
               expected="no_text")
ARTS["G1"] = GALLERY

def path_of(a):
    d = a["date"]
    return f"{OUTLETS[a['outlet']]['slug']}/{d[:4]}/{d[5:7]}/{a['slug']}.html"

for a in ARTS.values():
    a["path"] = path_of(a)
    a.setdefault("expected", "ok")

# ---------------------------------------------------------------- HTML
esc = lambda s: html.escape(s, quote=False)
attr = lambda s: html.escape(s, quote=True)

def human_date(iso):
    d = dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")
    return f"{d.day} {d.strftime('%B %Y')}, {d.strftime('%H:%M')} UTC"

def most_read(a):
    same = sorted((x for x in ARTS.values() if x["outlet"] == a["outlet"] and x["id"] != a["id"]),
                  key=lambda x: x["date"], reverse=True)[:5]
    return "\n".join(f'          <li><a href="{B}/{x["path"]}">{esc(x["title"])}</a></li>' for x in same)

def body_html(a, indent="        "):
    if a["paras"] is None:
        return gallery_body(a)
    return "\n".join(f"{indent}<p>{esc(p)}</p>" for p in a["paras"])

def gallery_body(a):
    caps = [""] * 6
    figs = "\n".join(
        f'''        <figure class="gallery-item">
          <img src="/media/luhren-2026-10/{i+1:02d}.jpg" alt="" width="1200" height="800" loading="lazy">
          <figcaption>{i+1}/6{c}</figcaption>
        </figure>''' for i, c in enumerate(caps))
    return f'''        <div class="video-player" data-video-id="mp-vid-88213">
          <video controls preload="none" poster="/media/luhren-2026-10/poster.jpg" width="1280" height="720">
            <source src="/media/luhren-2026-10/luhren.mp4" type="video/mp4">
          </video>
          <button class="vp-play" aria-label="Play">▶</button>
          <span class="vp-duration">03:42</span>
        </div>
        <div class="gallery" data-count="6">
{figs}
        </div>'''

def head(a, site):
    return f'''<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{esc(a["title"])} | {site}</title>
  <link rel="canonical" href="{B}/{a["path"]}">
  <meta name="description" content="{attr(a["summary"])}">
  <meta property="og:type" content="article">
  <meta property="og:site_name" content="{site}">
  <meta property="og:title" content="{attr(a["title"])}">
  <meta property="og:url" content="{B}/{a["path"]}">
  <meta name="author" content="{attr(a["author"])}">
  <meta property="article:published_time" content="{a["date"]}">
  <link rel="stylesheet" href="/static/{OUTLETS[a["outlet"]]["slug"]}.css">
</head>'''

def byline(a):
    au = a["author"]
    return au if au.lower().startswith(("continental", "nordpress")) or "staff" in au or "desk" in au else au

def page_mp(a):
    s = "meridian-post"
    return f'''{head(a, "Meridian Post")}
<body class="article-page">
  <div id="cookie-banner" class="cookie-banner" role="dialog">
    <p>We use cookies and similar technologies to personalise content, measure audiences and show relevant advertising. You can change your choices at any time under Privacy settings.</p>
    <button type="button">Accept all</button> <button type="button">Manage preferences</button>
  </div>
  <header class="masthead">
    <a class="logo" href="{B}/{s}/">Meridian Post</a>
    <p class="tagline">Independent reporting since 1921</p>
    <p class="edition">International edition · Subscribe from 1.99 a week</p>
  </header>
  <nav class="main-nav" aria-label="Sections">
    <ul>
      <li><a href="{B}/{s}/">Home</a></li>
      <li><a href="{B}/{s}/world/">World</a></li>
      <li><a href="{B}/{s}/politics/">Politics</a></li>
      <li><a href="{B}/{s}/business/">Business</a></li>
      <li><a href="{B}/{s}/opinion/">Opinion</a></li>
      <li><a href="{B}/{s}/culture/">Culture</a></li>
      <li><a href="{B}/{s}/sport/">Sport</a></li>
    </ul>
  </nav>
  <main class="layout">
    <article class="story">
      <header class="story-head">
        <p class="kicker">War in Varnia</p>
        <h1>{esc(a["title"])}</h1>
        {'' if a["paras"] is None else '<p class="byline">By <span class="author">' + esc(byline(a)) + '</span></p>'}
        <p class="dateline"><time datetime="{a["date"]}">{human_date(a["date"])}</time></p>
      </header>
      <div class="story-body">
{body_html(a)}
      </div>
      <footer class="story-foot">
        <p class="share">Share this article: Email · Copy link · Print</p>
      </footer>
    </article>
    <aside class="sidebar">
      <section class="most-read">
        <h2>Most read</h2>
        <ol>
{most_read(a)}
        </ol>
      </section>
      <section class="newsletter">
        <h2>The Morning Brief</h2>
        <p>The day's essential stories in your inbox at 7 a.m. Sign up for free.</p>
      </section>
    </aside>
  </main>
  <footer class="site-footer">
    <p>© 2026 Meridian Post Media Group Ltd. All rights reserved. Registered office: 14 Quayside Row, Kelmor 01123. Company No. 0482213.</p>
    <p><a href="{B}/{s}/about/">About us</a> · <a href="{B}/{s}/contact/">Contact</a> · <a href="{B}/{s}/privacy/">Privacy policy</a> · <a href="{B}/{s}/terms/">Terms</a></p>
  </footer>
</body>
</html>
'''

def page_ew(a):
    s = "eastern-wire"
    return f'''{head(a, "Eastern Wire")}
<body>
  <div class="topbar"><span class="ticker-label">Live</span> Markets · Weather · Newsletters · Log in</div>
  <header class="site-header">
    <div class="brand"><a href="{B}/{s}/">Eastern Wire</a></div>
    <nav class="primary">
      <a href="{B}/{s}/">Front page</a>
      <a href="{B}/{s}/conflict/">Conflict</a>
      <a href="{B}/{s}/diplomacy/">Diplomacy</a>
      <a href="{B}/{s}/economy/">Economy</a>
      <a href="{B}/{s}/analysis/">Analysis</a>
      <a href="{B}/{s}/video/">Video</a>
    </nav>
  </header>
  <div class="consent-notice">
    <p>This site uses cookies. By continuing to browse you agree to our use of cookies for analytics and advertising. <a href="{B}/{s}/cookies/">Find out more</a>.</p>
  </div>
  <div class="page-grid">
    <main id="content">
      <article class="ew-article">
        <h1 class="headline">{esc(a["title"])}</h1>
        <div class="meta">
          <span class="byline">{esc(byline(a))}</span> |
          <time datetime="{a["date"]}">Published {human_date(a["date"])}</time>
        </div>
        <div class="article-text">
{body_html(a, "          ")}
        </div>
        <p class="corrections">Spotted an error? Write to corrections@easternwire.example.</p>
      </article>
    </main>
    <aside class="rail">
      <div class="widget most-read">
        <h3>Most read</h3>
        <ul>
{most_read(a)}
        </ul>
      </div>
      <div class="widget ad-slot">Advertisement</div>
    </aside>
  </div>
  <footer>
    <p>Eastern Wire © 2026. Newsroom: 3 Telegraph Lane, Aldmoor. Tel. +00 41 555 0199.</p>
    <p>Terms of use · Privacy · Cookie settings · Careers</p>
  </footer>
</body>
</html>
'''

def page_hg(a):
    s = "harbor-gazette"
    return f'''{head(a, "Harbor Gazette")}
<body class="hg">
  <div class="cookie-wall">
    <h2>Your privacy</h2>
    <p>The Harbor Gazette and our 212 partners use cookies to store and access information on your device. Select “I agree” to continue, or review your options.</p>
    <button>I agree</button>
  </div>
  <div class="weather-strip">Port Ilsen 11°C · Wind NW 24 km/h · High tide 06:12</div>
  <header>
    <h1 class="site-title"><a href="{B}/{s}/">Harbor Gazette</a></h1>
    <nav>
      <ul class="menu">
        <li><a href="{B}/{s}/news/">News</a></li>
        <li><a href="{B}/{s}/shipping/">Shipping</a></li>
        <li><a href="{B}/{s}/war/">War</a></li>
        <li><a href="{B}/{s}/business/">Business</a></li>
        <li><a href="{B}/{s}/letters/">Letters</a></li>
        <li><a href="{B}/{s}/puzzles/">Puzzles</a></li>
      </ul>
    </nav>
  </header>
  <div class="ad-slot leaderboard">Advertisement</div>
  <div class="container">
    <article itemscope itemtype="https://schema.org/NewsArticle">
      <h2 class="article-title" itemprop="headline">{esc(a["title"])}</h2>
      <p class="byline">By <span itemprop="author">{esc(byline(a))}</span> · <time itemprop="datePublished" datetime="{a["date"]}">{human_date(a["date"])}</time></p>
      <section class="article-body" itemprop="articleBody">
{body_html(a)}
      </section>
      {'<p class="author-note">Jonah Merrivale, 34, is the Harbor Gazette' + "'" + 's defence correspondent. He has reported from Luhren since 2025.</p>' if a["author"] == "Jonah Merrivale" else ''}
    </article>
    <aside class="sidebar">
      <h3>Most read</h3>
      <ol class="most-read">
{most_read(a)}
      </ol>
      <div class="subscribe-box">Get the Gazette delivered: 30 issues for 9.90.</div>
    </aside>
  </div>
  <footer class="site-footer">
    <p>© 2026 Harbor Gazette Publishing Co., 88 Harbour Street, Port Ilsen. Registered as a newspaper, licence 77/1954.</p>
    <p>Contact the newsroom · Advertise · Privacy · Terms</p>
  </footer>
</body>
</html>
'''

def page_lc(a):
    s = "lakeside-courier"
    return f'''{head(a, "Lakeside Courier")}
<body>
  <header id="top">
    <div class="logo"><a href="{B}/{s}/">Lakeside Courier</a></div>
    <nav id="menu">
      <a href="{B}/{s}/local/">Local</a> | <a href="{B}/{s}/world/">World</a> | <a href="{B}/{s}/events/">Events</a> | <a href="{B}/{s}/obituaries/">Obituaries</a>
    </nav>
  </header>
  <p class="cookie-note">Cookies help us deliver our services. By using our site you accept our use of cookies. OK</p>
  <div id="wrap">
    <article class="post">
      <h1>{esc(a["title"])}</h1>
      <div class="post-meta">Posted by {esc(byline(a))} on <time datetime="{a["date"]}">{human_date(a["date"])}</time></div>
      <div class="entry-content">
{body_html(a)}
      </div>
    </article>
    <div id="sidebar">
      <h4>Most read</h4>
      <ul>
{most_read(a)}
      </ul>
    </div>
  </div>
  <footer id="bottom">Copyright © 2026 Lakeside Courier · 5 Mill Road, Vessa · Page 1 of 1</footer>
</body>
</html>
'''

def page_dh(a):
    """Dravsk Herald: Ostrelian pro-government daily, English edition."""
    s = "dravsk-herald"
    return f'''{head(a, "Dravsk Herald")}
<body class="dh-article">
  <div id="gdpr-bar" class="gdpr-bar" role="dialog">
    <p>The Dravsk Herald uses cookies to count visits and to keep you signed in. By continuing to read you agree to this. Read our cookie rules.</p>
    <button type="button">Continue</button>
  </div>
  <header class="dh-header">
    <a class="dh-logo" href="{B}/{s}/">Dravsk Herald</a>
    <p class="dh-motto">The newspaper of the capital since 1958 · English edition</p>
    <nav class="dh-nav" aria-label="Main sections">
      <ul>
        <li><a href="{B}/{s}/">Main</a></li>
        <li><a href="{B}/{s}/country/">Country</a></li>
        <li><a href="{B}/{s}/defence/">Defence</a></li>
        <li><a href="{B}/{s}/world/">World</a></li>
        <li><a href="{B}/{s}/economy/">Economy</a></li>
        <li><a href="{B}/{s}/society/">Society</a></li>
      </ul>
    </nav>
  </header>
  <main class="dh-main">
    <article class="dh-story">
      <h1>{esc(a["title"])}</h1>
      <div class="dh-meta">
        <span class="dh-author">{esc(byline(a))}</span> ·
        <time datetime="{a["date"]}">{human_date(a["date"])}</time>
      </div>
      <div class="dh-text">
{body_html(a)}
      </div>
    </article>
    <aside class="dh-sidebar">
      <h2>Most read</h2>
      <ul>
{most_read(a)}
      </ul>
      <div class="dh-promo">Subscribe to the print edition: 12 months for 4,800 korun.</div>
    </aside>
  </main>
  <footer class="dh-footer">
    <p>© 2026 Dravsk Herald Publishing House, 22 Foundry Street, Dravsk. Press registry certificate PR-0417.</p>
    <p>About the paper · Advertising · Privacy · Contacts</p>
  </footer>
</body>
</html>
'''

def page_gallery(a):
    """Client-rendered 'immersive' gallery: no visible text outside <aside>/<footer>, so the
    pipeline's trafilatura call (2.3.1) finds no main text -> no_text. Titles and captions live
    in attributes; the menu and the consent banner are filled in by JavaScript."""
    s = "meridian-post"
    figs = "\n".join(
        f'          <figure class="gallery-item" data-caption="Photo {i} of 6 · Luhren, October 2026 · Meridian Post">\n'
        f'            <img src="/media/luhren-2026-10/{i:02d}.jpg" alt="" width="1200" height="800" loading="lazy">\n'
        f'          </figure>' for i in range(1, 7))
    return f'''{head(a, "Meridian Post")}
<body class="gallery-immersive">
  <div id="cmp-root" class="consent-root"></div>
  <script src="/static/consent-manager.js" async></script>
  <script>
    window.cmpConfig = {{
      text: "We use cookies and similar technologies to personalise content, measure audiences and show relevant advertising.",
      buttons: ["Accept all", "Manage preferences"]
    }};
  </script>
  <header class="immersive-header">
    <a class="logo" href="{B}/{s}/"><img src="/static/meridian-post-logo.svg" alt="Meridian Post" width="180" height="32"></a>
    <button class="menu-toggle" aria-label="Open menu" aria-controls="site-menu"></button>
  </header>
  <nav id="site-menu" class="main-nav" data-menu-src="{B}/{s}/menu.json" hidden></nav>
  <main class="layout">
    <article class="story gallery-page">
      <h1 class="title-card"><img src="/media/luhren-2026-10/title.svg" alt="{attr(a["title"])}" width="1280" height="200"></h1>
      <time datetime="{a["date"]}"></time>
      <div class="video-player" data-video-id="mp-vid-88213" data-title="{attr(a["title"])}" data-duration="222">
        <video controls preload="none" poster="/media/luhren-2026-10/poster.jpg" width="1280" height="720">
          <source src="/media/luhren-2026-10/luhren.mp4" type="video/mp4">
        </video>
        <button class="vp-play" aria-label="Play video"></button>
      </div>
      <div class="gallery" data-count="6">
{figs}
      </div>
    </article>
    <aside class="sidebar">
      <section class="most-read">
        <h2>Most read</h2>
        <ol>
{most_read(a)}
        </ol>
      </section>
    </aside>
  </main>
  <footer class="site-footer">
    <p>© 2026 Meridian Post Media Group Ltd. All rights reserved. Registered office: 14 Quayside Row, Kelmor 01123. Company No. 0482213.</p>
    <p><a href="{B}/{s}/about/">About us</a> · <a href="{B}/{s}/privacy/">Privacy policy</a></p>
  </footer>
</body>
</html>
'''


PAGE = dict(mp=page_mp, ew=page_ew, hg=page_hg, lc=page_lc, dh=page_dh)

# ---------------------------------------------------------------- feeds
FEED_LINK_UTM = {"S4", "R13", "S12", "R6"}
MISSING = dict(outlet="ew", path="eastern-wire/2026/11/deleted-story.html", date="2026-11-15T09:00:00Z",
               title="Ostrel reshuffles commanders in southern sector, Kelmor says",
               summary="Varnian intelligence says two Ostrelian generals have been replaced after setbacks near Port Ilsen.",
               author="Idris Vaheed")

def rfc822(iso):
    d = dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return format_datetime(d, usegmt=True)

def feed_items(o):
    return sorted((a for a in ARTS.values() if a["outlet"] == o), key=lambda a: a["date"], reverse=True)

def link(a):
    return f"{B}/{a['path']}" + (UTM if a["id"] in FEED_LINK_UTM else "")

def rss_mp():
    items = []
    for a in feed_items("mp"):
        permalink = a["id"] not in ("R3",)
        guid = (f'<guid isPermaLink="true">{B}/{a["path"]}</guid>' if permalink
                else f'<guid isPermaLink="false">meridian-post-{a["slug"]}</guid>')
        items.append(f'''    <item>
      <title>{esc(a["title"])}</title>
      <link>{esc(link(a))}</link>
      {guid}
      <pubDate>{rfc822(a["date"])}</pubDate>
      <dc:creator>{esc(a["author"])}</dc:creator>
      <category>War in Varnia</category>
      <description>{esc(a["summary"])}</description>
    </item>''')
    return f'''<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Meridian Post – World</title>
    <link>{B}/meridian-post/</link>
    <atom:link href="{B}/feeds/meridian-post.rss" rel="self" type="application/rss+xml"/>
    <description>World news and analysis from the Meridian Post.</description>
    <language>en</language>
    <lastBuildDate>{rfc822(feed_items("mp")[0]["date"])}</lastBuildDate>
{chr(10).join(items)}
  </channel>
</rss>
'''

def atom_ew():
    entries = []
    rows = feed_items("ew") + [dict(MISSING, id="MISSING", slug="deleted-story")]
    rows.sort(key=lambda a: a["date"], reverse=True)
    for a in rows:
        entries.append(f'''  <entry>
    <title>{esc(a["title"])}</title>
    <link rel="alternate" type="text/html" href="{attr(link(a))}"/>
    <id>tag:easternwire.example,2026:{a["slug"]}</id>
    <published>{a["date"]}</published>
    <updated>{a["date"]}</updated>
    <author><name>{esc(a["author"])}</name></author>
    <summary type="text">{esc(a["summary"])}</summary>
  </entry>''')
    return f'''<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Eastern Wire</title>
  <subtitle>Conflict, diplomacy and economy from the eastern front</subtitle>
  <link rel="alternate" type="text/html" href="{B}/eastern-wire/"/>
  <link rel="self" type="application/atom+xml" href="{B}/feeds/eastern-wire.atom"/>
  <id>tag:easternwire.example,2026:feed</id>
  <updated>{rows[0]["date"]}</updated>
{chr(10).join(entries)}
</feed>
'''

def rss_hg():
    # Deliberately bozo: raw "&" in one title, undefined &nbsp; entity in descriptions.
    items = []
    for i, a in enumerate(feed_items("hg")):
        title = a["title"] if "&" in a["title"] else esc(a["title"])  # S9 title keeps a raw &
        desc = esc(a["summary"])
        if i % 3 == 0:
            desc = desc.replace(". ", ".&nbsp;", 1) if ". " in desc else desc + "&nbsp;"
        items.append(f'''  <item>
    <title>{title}</title>
    <link>{esc(link(a))}</link>
    <guid isPermaLink="false">hg-{a["date"][:10]}-{a["slug"]}</guid>
    <pubDate>{rfc822(a["date"])}</pubDate>
    <author>newsdesk@harborgazette.example ({esc(a["author"])})</author>
    <description>{desc}</description>
  </item>''')
    return f'''<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
<channel>
  <title>Harbor Gazette – News &amp; Shipping</title>
  <link>{B}/harbor-gazette/</link>
  <description>The Harbor Gazette: news from Port Ilsen and the wider war.</description>
  <language>en</language>
{chr(10).join(items)}
</channel>
</rss>
'''

def rss_dh():
    # Valid RSS 2.0.
    items = []
    for a in feed_items("dh"):
        items.append(f'''    <item>
      <title>{esc(a["title"])}</title>
      <link>{esc(link(a))}</link>
      <guid isPermaLink="true">{B}/{a["path"]}</guid>
      <pubDate>{rfc822(a["date"])}</pubDate>
      <dc:creator>{esc(a["author"])}</dc:creator>
      <category>Defence</category>
      <description>{esc(a["summary"])}</description>
    </item>''')
    return f'''<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Dravsk Herald – English edition</title>
    <link>{B}/dravsk-herald/</link>
    <atom:link href="{B}/feeds/dravsk-herald.rss" rel="self" type="application/rss+xml"/>
    <description>News from Dravsk and Ostrel in English.</description>
    <language>en</language>
    <lastBuildDate>{rfc822(feed_items("dh")[0]["date"])}</lastBuildDate>
{chr(10).join(items)}
  </channel>
</rss>
'''

def rss_lc():
    # Deliberately broken: proxy error page spliced into a truncated feed; no <item> survives.
    return f'''<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
<channel>
<title>Lakeside Courier</title>
<link>{B}/lakeside-courier/</link>
<description>News from Vessa and the lakes</description>
<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
<!-- upstream response truncated after 412 bytes -->
<ite'''

# ---------------------------------------------------------------- write
def main():
    if SITE.exists():
        shutil.rmtree(SITE)
    (SITE / "feeds").mkdir(parents=True)
    for a in ARTS.values():
        p = SITE / a["path"]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text((page_gallery if a["paras"] is None else PAGE[a["outlet"]])(a), encoding="utf-8")
    (SITE / "feeds/meridian-post.rss").write_text(rss_mp(), encoding="utf-8")
    (SITE / "feeds/eastern-wire.atom").write_text(atom_ew(), encoding="utf-8")
    (SITE / "feeds/harbor-gazette.rss").write_text(rss_hg(), encoding="utf-8")
    (SITE / "feeds/lakeside-courier.rss").write_text(rss_lc(), encoding="utf-8")
    (SITE / "feeds/dravsk-herald.rss").write_text(rss_dh(), encoding="utf-8")

    fy = ["# Demo feed registry for the bundled sample corpus (samples/site).",
          "# {{BASE_URL}} is replaced with the loopback server's http://127.0.0.1:PORT at run time.",
          "feeds:"]
    for k in ("mp", "ew", "hg", "lc", "dh"):
        o = OUTLETS[k]
        fy += [f'  - url: "{B}/{o["feed"]}"', f"    source: {o['name']}", "    language: en",
               f"    tags: [{', '.join(o['tags'])}]"]
    (OUT / "feeds.yaml").write_text("\n".join(fy) + "\n", encoding="utf-8")

    m = ["# Ground truth for tests. Paths are relative to samples/site/.",
         "# feed: null means the page is on disk but not reachable from any parseable feed.",
         "# role: original | repost | hard_negative | special",
         "# Hard negatives are separate stories (own story id) that closely resemble another story;",
         "# the pairing is listed under hard_negative_pairs at the end of this file.",
         "articles:"]
    order = sorted(ARTS.values(), key=lambda a: (a["date"]))
    for a in order:
        o = OUTLETS[a["outlet"]]
        feed = None if a["outlet"] == "lc" else o["feed"]
        vo = ARTS[a["variant_of"]]["path"] if a["variant_of"] else None
        m += [f"  - path: {a['path']}",
              f"    outlet: {o['name']}",
              f"    feed: {feed if feed else 'null'}",
              f"    story: {a['story']}",
              f"    role: {a['role']}",
              f"    variant_of: {vo if vo else 'null'}",
              f"    variant: {('[' + ', '.join(a['variant']) + ']') if a['variant'] else 'null'}",
              f"    expected: {a['expected']}"]
    m += ["missing:",
          f"  - url_path: {MISSING['path']}",
          f"    feed: {OUTLETS['ew']['feed']}",
          "    expected: http_404",
          "hard_negative_pairs:"]
    for h, s in HARD_NEG.items():
        m += [f"  - hard_negative: {ARTS[h]['path']}", f"    resembles: {ARTS[s]['path']}"]
    (OUT / "manifest.yaml").write_text("\n".join(m) + "\n", encoding="utf-8")

if __name__ == "__main__":
    main()
