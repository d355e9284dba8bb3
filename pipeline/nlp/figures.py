"""Which numbers are claimed figures, and what they count: filters for dates, times, addresses,
ages and reference numbers; the unit ("criminal cases", "%"); the rate ("a month")."""

from __future__ import annotations

import re

from spacy.tokens import Span, Token

from pipeline.nlp.attribution import CUE_FORMS
from pipeline.nlp.comparable import lexicon
from pipeline.nlp.numbers import FRACTIONS, ORDINAL_FRACTIONS, Quantity, may_hold, qualifier_before
from pipeline.nlp.tokens import children_of, doc_heads, doc_text, doc_tokens, tokens_in_chars

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_REF_WORDS = {
    "no",
    "no.",
    "number",
    "resolution",
    "article",
    "section",
    "decree",
    "law",
    "case",
    "flight",
    "route",
    "highway",
    "room",
    "platform",
    "gate",
    "chapter",
    "page",
    "unit",
    "order",
    "bill",
    "paragraph",
    "building",
    "block",
    "item",
    "file",
    "code",
    "ref",
    "reference",
    "vol",
    "volume",
    "issue",
    "motion",
    "directive",
    "regulation",
    "protocol",
    "amendment",
    "annex",
    "clause",
    "rule",
    "form",
    "part",
    "phase",
    "terminal",
    "apartment",
    "apt",
    "floor",
    "bus",
    "train",
    "tram",
    "track",
    "exit",
    "pier",
    "berth",
    "channel",
    "line",
    "zone",
    "sector",
    "level",
    "category",
    "model",
    "version",
    "season",
    "episode",
    "photo",
    "image",
    "figure",
    "table",
    "appendix",
    "cell",
    "ward",
    "precinct",
    "stage",
    "tier",
    "grade",
    "division",
    "district",
    "circuit",
    "local",
}
# Written in lower case too ("case no. 412", "#7"): these always introduce a reference.
_REF_MARKERS = re.compile(r"(?i)(?:\bno\.|\bnos\.|\bnr\.|\bnum\.|#|№)\s*$")
# "Page 3 of 12", "photo 2/9": page furniture.
_OF_TOTAL = re.compile(
    r"(?i)\b(?:page|part|photo|image|slide|episode|item|chapter|picture|step)\s+\d+\s*(?:of|/)\s*$"
)
_FURNITURE_AFTER = re.compile(
    r"(?i)^\s*(?:min(?:ute)?s?\s+read|comments?|shares?|views?|likes?|reposts?|retweets?)\b"
)
_STREET = re.compile(
    r"^\s+(?:(?:[NSEW]|North|South|East|West)\.?\s+)?(?:[A-Z][\w'-]+\s+){1,3}(?:Street|St\.?"
    r"|Avenue|Ave\.?|Road|Rd\.?|Boulevard|Blvd\.?|Square|Lane|Drive|Dr\.?|Way|Court|Ct\.?"
    r"|Place|Pl\.?|Prospekt|Embankment|Highway|Hwy\.?|Quay|Pier|Wharf|Route|Rte\.?|Parkway"
    r"|Pkwy\.?|Terrace|Crescent|Close|Row|Alley)\b"
)
# Telephone numbers: "call the hotline on 117", "the health hotline, 136, took ...", and the
# digit groups of "+62 21 2982 7793" or "0800 644 2931" (a space-grouped amount would have
# been read as one figure).
_PHONE_BEFORE = re.compile(
    r"(?i)\b(?:hotline|helpline|line|number|phone|telephone|call|dial\w*|text|sms|whatsapp)"
    r"(?:\s+(?:on|at|is))?\s*,?\s*$"
)
_PHONE_GROUP_BEFORE = re.compile(r"(?:\+\d{1,3}|\b\d{2,5})[ ]$|\+$")
_PHONE_GROUP_AFTER = re.compile(r"^[ ]\d{2,5}\b")
# "County Road 600S", "Route 41", "Highway 9": the number is part of a road's name.
_ROAD_BEFORE = re.compile(r"\b(?:Road|Route|Highway|Hwy\.?|Interstate|Exit|Suite|Unit)\s+$")
_WEEKDAYS_MONTHS = re.compile(
    r"(?i)^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march"
    r"|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul"
    r"|aug|sep|sept|oct|nov|dec)\.?$"
)
_TIME_AFTER = re.compile(
    r"(?i)^(?::\d\d|\.\d\d\s?(?:a\.m\.|p\.m\.|am\b|pm\b)|\s?(?:a\.m\.|p\.m\.|am\b|pm\b|o'clock"
    r"|gmt|utc|cet|eet|hrs\b|h\b|local time\b))"
)
_AGE = re.compile(
    r"(?i)(?:\baged|\bage of|\bages of|\bages)\s+(?:\d{1,3},\s+)*(?:\d{1,3},?\s+(?:and|or)\s+)?$"
)
_ORDINAL_AFTER = re.compile(r"^(?:st|nd|rd|th|s|'s|’s)\b")  # "3rd", "the 1990s", "in her 40s"
_ORDINAL_FIRST = ("s", "n", "r", "t", "'", "’")  # the characters _ORDINAL_AFTER starts with
_TIME_UNIT = r"(?:seconds?|minutes?|hours?|days?|nights?|weeks?|months?|years?|decades?)"
# A length of time that dates an event rather than counting something: "Two days of talks",
# "for the first time in two weeks", "three weeks later", "within 48 hours".
_DURATION_OF = re.compile(rf"(?i)^[\s-]+{_TIME_UNIT}\s+(?:later|earlier|after|before|on|into)\b")
# "N years of X" counts time spent ("five-and-a-half years of stalled talks", "140 hours of
# recordings"), unless a window word dates it ("within 30 days of", "the first nine months of").
# "gave 20 dollars a month for ten years": the length is the period of the rate before it.
# Otherwise "for N hours" is the fact ("will walk out for 48 hours", "went undetected for 11
# weeks").
_RATE_FOR = re.compile(r"(?i)\b(?:a|an|per|each|every)\s+(?:day|week|month|year|night)\s+for\s+$")
_DURATION_OF_WINDOW = re.compile(rf"(?i)^[\s-]+{_TIME_UNIT}\s+of\b")
_DURATION_UNIT = re.compile(rf"(?i)^[\s-]+{_TIME_UNIT}\b")
_DURATION_PREP = re.compile(
    r"(?i)\b(?:in|in the|after|within|during|over|the past|the last|the next|the first"
    r"|the final)\s+$"
)
_ORDINAL_NOUN = re.compile(
    r"^\s+(?!(?:of|in|on|by|to|from|since|last|this|next|and|or|but|the|a|an|over|for|than|at"
    r"|with|as|per|compared|possibly|more|less|or|year|month|week)\b)[a-z]"
)
_AGE_AFTER = re.compile(r"^,\s+(?:said|says|told|who|a|an|the|was|is|has|had)\b")
_MODIFIER_AFTER = re.compile(
    r"(?i)^-(?:member|nation|country|party|seat|page|point|storey|story|minute|hour|day|week"
    r"|month|year|decade|strong|man|person)\b(?!-old)"
)
_SMALL_WORDS = {"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}
_DEFINITE = re.compile(r"(?i)\b(?:the|these|those|both)\s+$")
_FIRST_HALF = re.compile(r"(?i)\b(?:first|second|latter|former|other)\s+$")
_YEARLIKE = re.compile(r"^(?:1[89]|20)\d\d$")
_PERCENT_WORDS = re.compile(r"(?i)percentage points?")
# Leading words that say something about the count, not what is counted.
_NOT_UNIT = {
    "new",
    "more",
    "fewer",
    "less",
    "additional",
    "other",
    "further",
    "extra",
    "total",
    "reported",
    "confirmed",
    "registered",
    "recorded",
    "estimated",
    "official",
    "own",
    "such",
}
_TEMPORAL = {"last", "next", "this", "each", "every", "per", "past"}
# Adjectives and participles that name people when they follow a figure: "31,400 dead".
_NOMINAL = {
    "dead",
    "wounded",
    "injured",
    "missing",
    "displaced",
    "killed",
    "homeless",
    "unemployed",
    "detained",
    "arrested",
    "evacuated",
    "captured",
}
# Singular subjects that are counts of something ("the population fell by 1.5 million", "the
# death toll rose to 45"); other singular subjects ("Production stood at 1,000") are not units.
_COUNT_NOUNS = {"population", "toll", "workforce", "electorate", "membership", "headcount"}
# "The number of refugees reached 2 million": the unit is what the number is of.
_NUMBER_NOUNS = {"number", "total", "count", "tally", "numbers", "totals"}
_QUOTE_MARKS = {'"', "“", "”", "‘", "’", "'"}
_RATE = re.compile(
    r"(?i)^[^.;]{0,40}?\b(?:(?<!\bin )(?<!\bwithin )(?<!\bfor )(?<!\bafter )"
    r"(?:per|each|every) (?P<u1>day|week|month|year|night|second|hour)\b"
    # "a week earlier", "a day on Monday": "a" may date instead of dividing; "per" never does
    r"|(?<!\bin )(?<!\bwithin )(?<!\bfor )(?<!\bafter )(?<!\bthan )(?<!\bwait )"
    r"an? (?P<u4>day|week|month|year|night"
    r"|second|hour)\b(?! (?:earlier|ago|later|before(?! tax)|after(?! tax)|on (?:the\b|\d"
    r"|(?:mon|tues|wednes|thurs|fri|satur|sun)day)))"
    r"|(?:hours|minutes) (?:a|per|each|every) (?P<u3>day|week)\b"
    r"|(?P<u2>daily|weekly|monthly|annually|yearly)\b"
    r"|(?<!\bin )(?<!\bfor )(?<!\bthan )(?<!\bwait )a year\b(?! (?:earlier|ago|later|before|after))"
    r"|per annum)"
)
# Every _RATE match holds one of these (lower case): the search is skipped without them (most
# figures have no rate after them).
_RATE_UNITS = ("day", "week", "month", "year", "night", "second", "hour", "daily", "annu")
_RATE_WORDS = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "annually": "year",
    "yearly": "year",
    "a year": "year",
    "per annum": "year",
    "night": "day",
}


_SCORE_AFTER = re.compile(
    r"(?i)^\s*(?:victory|win|defeat|draw|loss|lead|scoreline|home win|away win|triumph|thrashing)\b"
)
_SCORE_BEFORE = re.compile(r"(?i)\b(?:beat|beating|defeated|won|lost|drew|draw)\b[^.;]{0,30}$")


# Words that name a stock index before its number ("S&P 500", "Nikkei 225", "FTSE 100").
_INDEX_WORDS = {
    "index",
    "s&p",
    "nikkei",
    "ftse",
    "dax",
    "cac",
    "stoxx",
    "kospi",
    "topix",
    "sensex",
    "nifty",
    "russell",
    "composite",
}
# Emergency numbers used as names ("911 calls", "the 112 emergency line", "dialled 999").
_EMERGENCY = re.compile(
    r"(?i)^\s+(?:emergency\s+)?(?:calls?|callers?|lines?|dispatch\w*|operators?|cent(?:re|er)s?"
    r"|services?|system|number)\b"
)
_EMERGENCY_NUMBERS = {"911", "112", "999", "000", "111", "100", "101", "108"}


def _named_number(before: str, after: str) -> bool:
    """A number right after a capitalised word inside a sentence ("the Index 500", "a Kessler
    4000 tractor", "Channel 4"), with no unit noun of its own after it, names something."""
    words = before.rstrip().split()
    if not words or before[-1:] not in (" ",) or len(words) < 2:
        return False
    word = words[-1].strip("\"'“‘(")
    prev = words[-2]
    if word.lower() in _INDEX_WORDS:
        return True  # "the S&P 500 fell", "the Velmar Index 500 closed": a market index
    if not word[:1].isupper() or _WEEKDAYS_MONTHS.match(word) or prev.endswith((".", ":", "?")):
        return False
    if not _NAME_WORD.fullmatch(word):
        return False
    # "Varnia 300 soldiers" would be odd English; a lower-case noun after means a count.
    return not _LOWER_WORD_AFTER.match(after) or _NAMED_KIND_AFTER.match(after) is not None


_NAME_WORD = re.compile(r"[A-Z][A-Za-z&-]+")
_LOWER_WORD_AFTER = re.compile(r"^\s+[a-z]+")
_NAMED_KIND_AFTER = re.compile(
    r"^\s+(?:model|series|index|tractor|gauge|line|rifle|aircraft|jet|tank|drone|scheme"
    r"|programme|program|initiative|mission|yojana|strategy|plan)s?\b"
)


# The patterns not_a_figure tests, compiled once (it runs for every figure of every article).
_LETTER_HYPHEN_END = re.compile(r"[A-Za-z]-$")
_DIGIT_JOINER_END = re.compile(r"\d[-/.]$")
_JOINER_DIGIT_AFTER = re.compile(r"^[/.]\d")
_OVER_END = re.compile(r"(?i)\bover\s+$")
_WINDOW_WORD_END = re.compile(r"(?i)\b(?:within|in|during|first|last|past|next)\s+$")
_CLAUSE_OPEN_END = re.compile(r"[.;:—(]\s*$")
_NOTHING_AFTER = re.compile(r"^\s*(?:[,.;:)]|or\b|and\b|$)")
_SCORE_TAIL = re.compile(r"^[–-](\d{1,2})\b")
_SCORE_HEAD = re.compile(r"\b(\d{1,2})[–-]$")
_DIGIT_RUN = re.compile(r"\d+")
_MONTH_AFTER = re.compile(rf"^\s+{_MONTH}\b")
_MONTH_END = re.compile(rf"\b{_MONTH}\.?\s+$")
_LETTER_AFTER = re.compile(r"^[A-Za-z]\b")
_DIALLED_END = re.compile(r"(?i)\b(?:dial(?:l?ed|l?ing|s)?|call(?:ed|ing)?)\s+$")
_MODEL_NUMBER = re.compile(r"\d+(?:\.\d)?")
_YEAR_OLD_AFTER = re.compile(r"^-year-old|^ years? old")
_WORD_COMMA_END = re.compile(r"[A-Za-z]{2},\s*$")
_LETTERS_COMMA_END = re.compile(r"[A-Za-z]+,\s*$")
_NAME_COMMA_END = re.compile(r"[A-Z][a-z]+,\s*$")
_FULL_NAME_COMMA_END = re.compile(r"[A-Z][a-z]+ [A-Z][\w'’-]+,\s*$")
_SENTENCE_END_AFTER = re.compile(r"^\s*(?:[.;)]|$)")
_QUOTED_AT_END = re.compile(r"(?:^|[“\"‘'(]\s*)At\s+$")
_OF_DEFINITE_END = re.compile(r"(?i)\bof\s+(?:the|these|those|its|their)\s+$")
_AGO_OLD_AFTER = re.compile(r"^\s+(?:years?|months?|weeks?|days?) (?:ago|old)\b")


def not_a_figure(text: str, q: Quantity, periods: list[tuple[int, int]]) -> str | None:
    """Why the number at ``q`` in ``text`` is not a claimed figure, or None if it is one."""
    before, after = text[max(0, q.start - 30) : q.start], text[q.end : q.end + 40]
    raw = q.text.strip()
    if any(s <= q.start < e for s, e in periods):
        return "period"
    # Most patterns below are tied to the end of ``before``; each search is tried only when
    # the last characters allow a match (a search scans all of ``before``, a suffix test is
    # a single C call). ``rstrip`` strips what ``\s`` matches.
    last = before[-1:]
    tail = before.rstrip()
    ends_space = last.isspace()
    # ``$`` also matches before a newline that ends the string: a pattern that ends in a
    # character other than a space ends at the last character before such a newline.
    core = before[:-1] if last == "\n" else before
    last_core = core[-1:]
    ends_comma = tail.endswith(",")
    # And the patterns tied to the start of ``after``, by its first character.
    first = after[:1]
    if (
        last.isalpha()
        or (last_core == "-" and _LETTER_HYPHEN_END.search(before))
        or before.endswith(("#", ":"))
    ):
        return "code"
    if (last_core in ("-", "/", ".") and _DIGIT_JOINER_END.search(before)) or (
        first in ("/", ".") and _JOINER_DIGIT_AFTER.match(after)
    ):
        return "code"  # "12.03.2026", "CCJ-2025/0931": one piece of a date or file number
    if (tail.endswith((".", "#", "№")) and _REF_MARKERS.search(before)) or (
        (tail.endswith("/") or tail[-2:].lower() == "of") and _OF_TOTAL.search(before)
    ):
        return "reference"
    if _FURNITURE_AFTER.match(after):
        return "furniture"
    low = raw.lower()
    if low in ORDINAL_FRACTIONS and _ORDINAL_NOUN.match(after):
        return "ordinal"  # "a third round", "a fifth exchange"
    if low.endswith("half") and _FIRST_HALF.search(before):
        return "period"  # "in the first half of the year"
    if (
        not q.percent
        and not q.currency
        and q.qualifier == "more_than"
        and _OVER_END.search(before)
        and _DURATION_UNIT.match(after)
        and _RATE.search(after) is None
    ):
        return "duration"  # "over three years": the window a figure covers, like "within"
    if not q.percent and q.qualifier == "exact" and not q.currency:
        if _DURATION_OF.match(after):
            return "duration"
        if _DURATION_OF_WINDOW.match(after) and (
            _WINDOW_WORD_END.search(before) or not before.strip() or _CLAUSE_OPEN_END.search(before)
        ):
            # "within 30 days of", "the first nine months of", and a sentence opening with the
            # length of an event ("Two days of talks ended ...")
            return "duration"
        if (
            _DURATION_UNIT.match(after)
            and not _DURATION_OF_WINDOW.match(after)
            and (_DURATION_PREP.search(before) or _RATE_FOR.search(before))
            and _RATE.search(after) is None
        ):
            return "duration"
    if _TIME_AFTER.match(after):
        return "time"
    if (
        raw.isdecimal()
        and (
            # "the helpline 11 times" counts calls: a number is only dialled when nothing follows
            (_NOTHING_AFTER.match(after) and _PHONE_BEFORE.search(before))
            # _PHONE_GROUP_BEFORE ends in "+", or in a digit and a space
            or (
                (last_core == "+" or (last_core == " " and core[-2:-1].isdecimal()))
                and _PHONE_GROUP_BEFORE.search(before)
            )
            or (raw.startswith("0") and len(raw) >= 3)
            or (_PHONE_GROUP_AFTER.match(after) and not _EMERGENCY.match(after))
        )
    ):
        return "phone"
    if first in _ORDINAL_FIRST and _ORDINAL_AFTER.match(after):
        return "ordinal"
    plain = not (q.percent or q.currency or q.has_scale or "," in raw or "." in raw)
    if plain and (raw.isdecimal() and len(raw) <= 2):
        # "3-1" read as two numbers (the second is smaller, so not a range): a score when a
        # result word follows the pair or a "beat X" precedes it.
        score_tail = _SCORE_TAIL.match(after)
        head = _SCORE_HEAD.search(before) if last_core in ("-", "–") else None
        if score_tail and (
            _SCORE_AFTER.match(after[score_tail.end() :]) or _SCORE_BEFORE.search(before)
        ):
            return "score"
        if head and (_SCORE_AFTER.match(after) or _SCORE_BEFORE.search(before[: head.start()])):
            return "score"
    if plain and q.is_range:
        small = [int(p) for p in _DIGIT_RUN.findall(raw)]
        if (
            len(small) == 2
            and max(small) <= 30
            and (_SCORE_AFTER.match(after) or _SCORE_BEFORE.search(before))
        ):
            return "score"  # "their 3-1 victory", "beat Pelko 2-1": a result, not a range
        if len(small) == 2 and max(small) <= 31 and _MONTH_AFTER.match(after):
            return "date"  # "from 2 to 9 May"
        parts = _DIGIT_RUN.findall(raw)
        if all(_YEARLIKE.match(p) for p in parts):
            return "year"
    if plain and _YEARLIKE.match(raw):
        return "year"
    # "30 Sept", "Sept. 30", "an Oct. 26 letter": the abbreviation may carry a full stop.
    if (
        plain
        and (raw.isdecimal() and len(raw) <= 2)
        and (_MONTH_AFTER.match(after) or (ends_space and _MONTH_END.search(before)))
    ):
        return "date"
    if plain and raw.isdecimal() and _STREET.match(after):
        return "address"
    if (
        plain
        and raw.isdecimal()
        and ((ends_space and _ROAD_BEFORE.search(before)) or _LETTER_AFTER.match(after))
    ):
        return "address"  # "County Road 600S", "Route 41", "Suite 12"
    if (
        plain
        and raw in _EMERGENCY_NUMBERS
        and (_EMERGENCY.match(after) or _DIALLED_END.search(before))
    ):
        return "name"  # "three 911 calls", "the 112 emergency line", "dialled 999"
    if (
        _MODEL_NUMBER.fullmatch(raw)
        and not (q.percent or q.currency or q.has_scale)
        and _named_number(before, after)
    ):
        return "name"  # "the Index 500", "a Kessler 4000", "Channel 4"
    words_before = before.split()
    word_before = words_before[-1].lower() if words_before else ""
    ref_word = word_before.rstrip(".")
    if (
        plain
        and (ref_word in _REF_WORDS or ref_word.removesuffix("s") in _REF_WORDS)
        and words_before[-1][:1].isupper()
    ):
        # "Case 12", "Stage 4", "Lines 1 to 8" (line names, not a range)
        return "reference"
    # Every _AGE match holds "age" (letters without a case twin) and ends in a space.
    if (ends_space and "age" in before.lower() and _AGE.search(before)) or (
        first in ("-", " ") and _YEAR_OLD_AFTER.match(after)
    ):
        return "age"
    if (
        plain
        and ends_comma
        and _WORD_COMMA_END.search(before)
        and (raw.isdecimal() and len(raw) <= 2)
        and _AGE_AFTER.match(after)
    ):
        return "age"  # "The minister, 58, said"
    if (
        plain
        and ends_comma
        and after.startswith(",")
        and _LETTERS_COMMA_END.search(before)
        and ((raw.isdecimal() and len(raw) <= 2) or _NAME_COMMA_END.search(before))
    ):
        return "age"  # "Captain Emil Strand, 29,", "her grandson, 12, carried"
    if (
        plain
        and (raw.isdecimal() and len(raw) <= 3)
        and int(raw) <= 110
        and ends_comma
        and _FULL_NAME_COMMA_END.search(before)
        and _SENTENCE_END_AFTER.match(after)
    ):
        return "age"  # "... and their tenant, Marcus Feld, 31." (a name, then the age)
    if (
        plain
        and (raw.isdecimal() and len(raw) <= 3)
        and after.startswith(",")
        and _QUOTED_AT_END.search(before)
    ):
        return "age"  # "“At 71, I still clean offices”"
    if first == "-" and _MODIFIER_AFTER.match(after):
        return "modifier"  # "the 27-member bloc", "a three-month delay"
    if low in _SMALL_WORDS and _DEFINITE.search(before) and not _OF_DEFINITE_END.search(before):
        return "reference"  # "the two sides", "both three", "the three countries": not a count
    if first.isspace() and _AGO_OLD_AFTER.match(after):
        return "age"
    return None


# Unit symbols written after a figure (case matters: "MW" is a unit, "mw" is not written).
_MEASURE_SYMBOLS = {
    "MW",
    "GW",
    "kW",
    "MWh",
    "GWh",
    "TWh",
    "kWh",
    "km",
    "kg",
    "mm",
    "cm",
    "ha",
    "bpd",
    "mph",
    "km/h",
    "kt",
    "Mt",
}


def _noun_run(tokens: list[Token]) -> list[Token]:
    run: list[Token] = []
    while tokens and tokens[0].text in _QUOTE_MARKS:
        tokens = tokens[1:]  # 'holds "no more than 3,500" Varnian prisoners'
    if (
        tokens
        and tokens[0].lower_ in _NOMINAL
        and (len(tokens) == 1 or tokens[1].pos_ not in ("NOUN", "PROPN"))
    ):
        return tokens[:1]
    if not tokens:
        return run
    # The doc's token list: ``doc[i]`` would build a new Token for each next word.
    doc_toks = doc_tokens(tokens[0].doc)
    n_toks = len(doc_toks)
    for t in tokens:
        # Each attribute read once (every read is a call into spaCy).
        text = t.text
        if not run and text in _MEASURE_SYMBOLS:
            return [t]  # "17 400 MW of capacity": a unit symbol the tagger may take for a name
        ent_type = t.ent_type_
        if ent_type in ("PERSON", "ORG", "GPE", "FAC"):
            if not _names_a_kind(t):
                break  # a name after a figure is not what it counts
            if ent_type == "GPE":
                # A place only says where: "two United States service members" count
                # service members.
                if run:
                    break
                continue
        if run and (ent_type in ("DATE", "TIME") or t.lower_ in _TEMPORAL):
            break  # "24 million tonnes last year": the period is not part of the unit
        i = t.i
        nxt = doc_toks[i + 1] if i + 1 < n_toks else None
        dep = t.dep_
        if (
            t.pos_ in ("ADJ", "NOUN", "PROPN")
            or (text in "-–" and run)
            or (run and dep == "compound")
            or (dep == "amod" and t.tag_ in ("VBN", "VBG"))  # "86 wounded civilians"
            # "212 destroyed armoured vehicles": a participle before the counted noun
            or (
                not run
                and t.tag_ == "VBN"
                and nxt is not None
                and nxt.pos_ in ("ADJ", "NOUN", "PROPN")
            )
            # "14 walk-in clinics": glued to a hyphen
            or (dep == "amod" and nxt is not None and nxt.text in "-–" and not t.whitespace_)
            or (run and run[-1].text in "-–" and not run[-1].whitespace_)  # "walk-in"
        ):
            run.append(t)
            continue
        if (
            run
            and t.lower_ in ("and", "or")
            and t.head in run
            and nxt is not None
            and nxt.pos_ in ("NOUN", "ADJ")
            and any(c.dep_ == "conj" for c in children_of(t.head))
        ):
            # "107 reservoirs and towers", "41 dredging and maintenance contracts": one
            # count of coordinated things.
            run.append(t)
            continue
        break
    while run and run[-1].pos_ not in ("NOUN", "PROPN"):
        run.pop()
    while run and run[0].lower_ in _NOT_UNIT:
        run.pop(0)
    return run


def _names_a_kind(tok: Token) -> bool:
    """Whether the name ``tok`` is in only says which kind of thing follows: "2,500 National
    Guard troops", "40 Airbus planes" (the name modifies the counted noun)."""
    doc = tok.doc
    end = tok.i
    while end + 1 < len(doc) and doc[end + 1].ent_iob_ == "I":
        end += 1
    last = doc[end]
    nxt = doc[end + 1] if end + 1 < len(doc) else None
    between = list(doc[end + 1 : last.head.i]) if last.head.i > end else []
    return (
        nxt is not None
        and nxt.pos_ in ("NOUN", "ADJ")
        and nxt.ent_type_ == ""
        and last.dep_ in ("compound", "amod", "nmod")
        and last.head.i > end
        and last.head.pos_ == "NOUN"
        # "Korvan armoured vehicles": only modifiers between the name and its noun
        and all(b.pos_ in ("ADJ", "NOUN") for b in between)
    )


def _text(tokens: list[Token]) -> str:
    doc = tokens[0].doc
    return doc_text(doc)[tokens[0].idx : tokens[-1].idx + len(tokens[-1])]


def _of_object(tok: Token) -> list[Token]:
    """ "a quarter of all spending" -> spending; "half of those surveyed" -> those surveyed."""
    pobj = next((c for c in children_of(tok) if c.dep_ == "pobj"), None)
    if pobj is None:
        return []
    toks = [t for t in pobj.subtree if t.i <= pobj.i or (t.head == pobj and t.tag_ == "VBN")]
    toks = [
        t
        for t in toks
        if t.dep_ not in ("det", "poss", "predet", "case", "nummod", "quantmod")
        and t.tag_ != "POS"
        and not t.like_num
        and not any(a.dep_ == "poss" for a in t.ancestors if a.i > t.i and a != pobj)
    ]
    return toks


# What follows "N times" when it is a multiple ("three times as fast", "40 times the level").
_MULTIPLE_NEXT = {
    "as",
    "the",
    "that",
    "what",
    "its",
    "their",
    "his",
    "her",
    "our",
    "over",
    "more",
    "less",
    "higher",
    "larger",
    "greater",
}
_CURRENCY_SIGNS = {"€", "$", "£", "¥", "₹", "₽", "₴", "₩", "₺", "zł", "Kč", "kr", "Ft", "lei"}


_FRACTION_WORDS = re.compile(r"(?i)thirds|quarters|fifths|\b(?:in|out of)\b")
_COMPARED = re.compile(
    r"(?i)\b(?:up from|down from|compared with|compared to)\s+"
    r"(?:about |around |nearly |almost |roughly |some |just |over |under )?$"
)


def unit_of(q: Quantity, sent: Span, offset: int) -> str | None:
    """What ``q`` counts, as written: the nouns right after it, the "of" object of a fraction,
    "%", or failing those the subject of the clause ("the population fell by 1.5 million")."""
    if q.percent:
        m = _PERCENT_WORDS.search(q.text)
        return m.group(0) if m else "%"
    if q.currency:
        return q.currency  # "$4.2 billion in aid": the money is what is counted
    following = tokens_in_chars(sent, q.end - offset, sent.end_char)
    # The first word's text and lower case, read once (each read is a call into spaCy).
    first_text = following[0].text if following else ""
    first_low = following[0].lower_ if following else ""
    if following and first_text in _CURRENCY_SIGNS:
        return first_text  # "14,20 €", "5 000 $": the sign written after the figure
    if following and first_low == "times":
        nxt = following[1] if len(following) > 1 else None
        if nxt is not None and (nxt.lower_ in _MULTIPLE_NEXT or nxt.tag_ in ("JJR", "RBR")):
            return None  # "three times the original budget": a multiple, not a count of times
        return first_text  # "the ground shook three times": a count of events
    fraction = q.text.strip().lower() in FRACTIONS or _FRACTION_WORDS.search(q.text)
    if following and following[0].pos_ in ("VERB", "AUX") and first_low in lexicon().currencies:
        return first_text  # "4.2 trillion won": a currency the tagger took for a verb
    if following and first_low == "of" and fraction:
        toks = _of_object(following[0])
        if toks:
            # "one in three of them", "a quarter of that": a pronoun names nothing counted.
            return None if all(t.pos_ == "PRON" for t in toks) else _text(toks)
    if (
        len(following) > 2
        and first_low == "of"
        and following[1].lower_ in ("them", "whom", "those")
        and not fraction
    ):
        # "86 wounded civilians, 23 of them children": the noun after the pronoun
        after_pron = _noun_run(following[2:])
        if after_pron and following[2].pos_ in ("NOUN", "PROPN"):
            return _text(after_pron)
    if len(following) > 2 and first_low == "of":
        # "212 of the 400 seats": the unit is the whole's.
        rest = following[1:]
        while rest and rest[0].dep_ in ("det", "poss"):
            rest = rest[1:]
        if rest and rest[0].like_num:
            of_run = _noun_run(rest[1:])
            if of_run:
                return _text(of_run)
    if len(following) > 1 and first_low == "of" and not fraction:
        # "three of those companies", "four of the vessel's 23 crew": a part of a whole counts
        # what the whole counts.
        rest = following[1:]
        while rest and (
            rest[0].dep_ in ("det", "poss", "predet")
            or rest[0].tag_ == "POS"
            or (len(rest) > 1 and rest[1].tag_ == "POS")
        ):
            rest = rest[1:]
        if rest and rest[0].like_num:
            rest = rest[1:]
        part_of = _noun_run(rest)
        if part_of:
            return _text(part_of)
    run = _noun_run(following)
    if run:
        return _text(run)
    # The clause subject: walk up from the number to its verb.
    before = doc_text(sent.doc)[max(0, q.start - offset - 40) : q.start - offset]
    # _COMPARED ends in whitespace after "from" or "compared" (letters without a case twin).
    low_before = before.lower()
    if (
        before[-1:].isspace()
        and ("from" in low_before or "compared" in low_before)
        and _COMPARED.search(before)
    ):
        return None  # "complaints were pending, up from 2,910": the earlier level, no noun
    inside = tokens_in_chars(sent, q.start - offset, q.end - offset)
    tok: Token | None = inside[-1] if inside else None
    if tok is not None:
        # Up the heads by index: ``Token.head`` builds a new Token at every step.
        heads, doc_toks = doc_heads(sent.doc), doc_tokens(sent.doc)
        i = tok.i
        while tok.pos_ not in ("VERB", "AUX") and heads[i] != i:
            i = heads[i]
            tok = doc_toks[i]
    if tok is None:
        return None
    named = _named_before(inside[-1]) if inside else None
    if named is not None:
        return named or None  # "" for "an average of 300": the unit is left out
    if tok.lower_ in CUE_FORMS:
        return None  # the subject of "said" is the speaker, not what is counted
    subj = next((c for c in children_of(tok) if c.dep_ in ("nsubj", "nsubjpass")), None)
    if subj is not None and subj.lower_ in lexicon().currencies and subj.i < inside[0].i:
        return subj.text  # "The yen strengthened to 146.20 per dollar": a price in yen
    if subj is None or subj.pos_ != "NOUN":
        return None
    if subj.lower_ in _NUMBER_NOUNS:
        of = next((c for c in children_of(subj) if c.dep_ == "prep" and c.lower_ == "of"), None)
        obj = _of_object(of) if of is not None else []
        return _text(obj) if obj else None
    # A share ("cut by a third") is of whatever the subject is, count noun or not.
    if subj.tag_ != "NNS" and subj.lower_ not in _COUNT_NOUNS and not fraction:
        return None
    toks = [c for c in subj.lefts if c.dep_ in ("compound", "amod")] + [subj]
    toks = [t for t in toks if t.lower_ not in _NOT_UNIT]
    return _text(toks) if toks else None


# Nouns that say how a figure is measured, not what it counts: "an average of 40", "put the
# figure at 210".
_NOT_NAMED = _NUMBER_NOUNS | {
    "average",
    "figure",
    "figures",
    "mean",
    "median",
    "maximum",
    "minimum",
    "sum",
    "peak",
    "record",
    "estimate",
}


def _named_before(fig: Token) -> str | None:
    """A unit named before the figure by a preposition: "A crowd of 31,400" (the noun that "of"
    hangs on), "put the crowd at 20,000" (the object of the verb that "at" hangs on); "" when
    that noun only says how the figure is measured ("an average of 40"): no unit is written."""
    if fig.dep_ != "pobj":
        return None
    prep, owner = fig.head, fig.head.head
    noun: Token | None = None
    if prep.lower_ == "of" and owner.pos_ == "NOUN" and owner.lower_ not in _NUMBER_NOUNS:
        noun = owner
    elif prep.lower_ == "at" and owner.pos_ == "VERB":
        noun = next((c for c in children_of(owner) if c.dep_ == "dobj"), None)
    if noun is None or noun.i > fig.i:
        return None
    if noun.pos_ != "NOUN" and not (noun.pos_ == "ADJ" and noun.dep_ == "dobj"):
        return None  # "put the army's dead at more than 90": a nominal adjective counts too
    if noun.lower_ in _NOT_NAMED:
        return ""
    toks = [c for c in noun.lefts if c.dep_ in ("compound", "amod")] + [noun]
    toks = [t for t in toks if t.lower_ not in _NOT_UNIT]
    return _text(toks) if toks else None


# "the annual survey found that 2,000": the adjective is on a noun of another clause.
_CLAUSE_BREAK = re.compile(r"\b(?:that|found|finds|show|shows|showed|said|says)\b")


_EACH_LEAD = re.compile(
    r"(?i)(?:^|[;:—]\s*|,\s+(?:and|but)\s+|\bthat\s+)\W?(?:each|every)\s+(day|week|month|year|night)\b[^,;:.]*$"
)


# A comma or conjunction: what follows belongs to another clause.
_ANOTHER_CLAUSE = re.compile(r",|\b(?:and|that|but|while|which|who)\b")
_RATE_ADJECTIVE_END = re.compile(r"\b(daily|weekly|monthly|annual|yearly)\b[\w\s]*$")


def rate_of(text: str, q: Quantity, next_start: int | None) -> str | None:
    """The rate written just after the figure ("a day", "each month", "monthly"), if any."""
    window = text[q.end : next_start if next_start is not None else len(text)]
    m = _RATE.search(window) if may_hold(window, _RATE_UNITS, _RATE) else None
    if m and m.group("u2") and _ANOTHER_CLAUSE.search(window[: m.start("u2")]):
        # "$11.42 a bushel on the news, their biggest daily gain", "Rs 84 lakh ... and that
        # his monthly instalment": an adjective on a noun of another clause
        m = None
    if m:
        word = (
            m.group("u1") or m.group("u4") or m.group("u3") or m.group("u2") or "per annum"
        ).lower()
        return _RATE_WORDS.get(word, word)
    head = text[: q.start]
    # _EACH_LEAD needs "each" or "every" (letters without a case twin: a lower-case test holds).
    low_head = head.lower()
    lead = _EACH_LEAD.search(head) if "each" in low_head or "every" in low_head else None
    if lead and not q.percent:
        # "Each month the operator loses about 92 billion won", "each day of Stage 4 costs the
        # economy R1.2 billion": a rate that opens the clause covers its figures.
        return lead.group(1).lower().replace("night", "day")
    before = text[max(0, q.start - 25) : q.start].lower()
    m2 = _RATE_ADJECTIVE_END.search(before) if "ly" in before or "annual" in before else None
    # "Annual inflation reached 61 percent": a share compares with a year before, it is not
    # counted per year.
    if (
        m2
        and "report" not in before
        and not q.percent
        and not _CLAUSE_BREAK.search(before[m2.end(1) :])
    ):
        return {"annual": "year"}.get(m2.group(1), _RATE_WORDS.get(m2.group(1)))
    return None


_RATE_ADJECTIVES = {
    "hourly": "hour",
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "annual": "year",
    "yearly": "year",
}
_FINDING_VERBS = {"show", "shows", "showed", "shown", "found", "finds", "published"}


def measured_rate(q: Quantity, sent: Span, offset: int) -> str | None:
    """A rate written on the thing measured rather than after the figure: "the yearly allowance
    would rise to 2,400 kroner", "raise its annual purchases to 12 million tonnes". The noun
    must be the subject or object of the figure's own verb; never for a share ("annual
    inflation reached 6%") nor for a cue ("the annual survey found ...")."""
    if q.percent:
        return None
    # The answer is a rate adjective of the sentence (a parse tree stays inside its sentence):
    # most sentences have none, and the test is far cheaper than the walk below.
    low = doc_text(sent.doc)[sent.start_char : sent.end_char].lower()
    for adj in _RATE_ADJECTIVES:  # a plain loop: a third faster than any() over a generator
        if adj in low:
            break
    else:
        return None
    inside = tokens_in_chars(sent, q.start - offset, q.end - offset)
    if not inside:
        return None
    verb = inside[-1]
    for _ in range(8):
        if verb.pos_ in ("VERB", "AUX") or verb.head.i == verb.i:
            break
        verb = verb.head
    if verb.pos_ not in ("VERB", "AUX") or verb.lower_ in CUE_FORMS:
        return None
    if verb.lower_ in _FINDING_VERBS:
        return None
    for arg in children_of(verb):
        # The measured thing is named before its level; a noun after the figure restates it
        # ("17,000 left in October, the highest monthly total").
        if arg.dep_ in ("nsubj", "nsubjpass", "dobj") and arg.i < inside[0].i:
            for mod in children_of(arg):
                if mod.dep_ == "amod" and mod.lower_ in _RATE_ADJECTIVES:
                    return _RATE_ADJECTIVES[mod.lower_]
    return None


# What may stand between two figures that count the same thing: "241 votes to 180", "4.6
# million people, of whom nearly 1.5 million ...". A comparison or a part that leaves its noun
# out ("1,200 tonnes, up from 900", "3,400 firefighters, including 600 from abroad") has no
# unit of its own: the figure is compared, not counted again (tests/gold/ANNOTATION.md).
_LINK = re.compile(
    r"(?i)^\s*,?\s*(?:to|and|or|against|versus|vs\.?|from|compared with"
    r"|compared to|than|out of|of which|of whom|among them|while|but)\s*$"
)
_OF_THE_WHOLE = re.compile(r"(?i)(?:^|[.;:]\s+)of\s+(?:the|its|their|our)\s+$")
_OF_WHICH = re.compile(r"(?i)\b(?:of which|of whom|of them|among them)\s*,?\s*$")


def carried_unit(text: str, prev: Quantity, prev_unit: str | None, q: Quantity) -> str | None:
    """The unit of ``q`` when it is written once for two linked figures ("by 241 votes to 180",
    "of whom nearly 1.5 million"): the previous figure's, else None."""
    if prev_unit is None or prev.percent != q.percent:
        return None
    _, start = qualifier_before(text, q.start)
    between = text[prev.end : start]
    if _OF_WHICH.search(between):
        return prev_unit
    if (
        _OF_THE_WHOLE.search(text[: prev.start])
        and re.fullmatch(r"[^,;.\d]*,\s*", between)
        and q.low >= 1
        and not re.match(r"\s+of\b", text[q.end :])
    ):
        return prev_unit  # "Of the 2,140 drivers who cast ballots, 1,870 voted for the strike"
    rest = between.lstrip()
    if rest.lower().startswith(prev_unit.lower()):
        rest = rest[len(prev_unit) :]
    return prev_unit if _LINK.match(rest) else None
