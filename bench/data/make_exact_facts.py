"""Builds the exact-fact set of `bench/retrieval.py`: facts asked for by a rare name or code, each
written once, in one sentence, in the middle of a long document of unrelated text.

The second, independent evaluation beside `retrieval_qa.json` (made before any ranking choice was
tried on it, and not to be tuned against). Every fact follows one of eight templates (a per-diem
figure, a wifi password, a part number, what an error code means, an on-call name, a rare word, a
tonnage, a date), each filled in for many invented keys (cities, offices, pumps, codes...), so a
query's ordinary words ("per diem", "password") are in a dozen documents and only its rare key
singles one out. Beside them: near misses that name the same key with another attribute, and short
overview documents on each template's subject that share the query's wording but hold no fact (what
the dense side alone ranks first). Documents come in every format `retrieval.parse` reads (text,
Markdown, HTML, PDF, DOCX, JSON, CSV, source code); `bench/retrieval_facts.py` writes them out.
A query is answered when the top hit is a chunk of the fact's document holding the answer string.

Two independent builds: `DEVELOPMENT_SEED`, the set the ranking was studied and chosen on (with the
labelled set), and `HELD_OUT_SEED`, other keys, values, fillers and positions from the same
templates, which no choice looked at: its figure is the result.

    from bench.data.make_exact_facts import build
    data = build(seed)  # {"documents": [{name, title, paragraphs}], "queries": [{query, answer, document}]}
"""

# ruff: noqa: E501  (data: one template per line reads better than wrapped strings)
import random

from bench.data.make_retrieval_qa import TOPICS

FORMATS = ("txt", "md", "html", "pdf", "docx", "json", "csv", "py")
DEVELOPMENT_SEED, HELD_OUT_SEED = 11, 4049

# (fact sentence, question, keyword-style query, answer, near miss): {key} the rare key, {value} its value
TEMPLATES = {
    "per_diem": (
        "The daily per diem for staff travelling to {key} is {value} euros.",
        "What is the per diem for {key}?",
        "{key} per diem rate",
        "{value} euros",
        "Travel to {key} must be booked through the central travel desk two weeks ahead.",
    ),
    "wifi": (
        "The guest wifi password at the {key} office is {value}.",
        "What is the guest wifi password at the {key} office?",
        "{key} office wifi password",
        "{value}",
        "The {key} office closes its reception desk at six in the evening.",
    ),
    "part": (
        "The replacement impeller for the {key} pump is part number {value}.",
        "Which part number is the replacement impeller for the {key} pump?",
        "{key} pump impeller part number",
        "{value}",
        "The {key} pump is inspected by the maintenance crew every spring.",
    ),
    "error_code": (
        "Error code {key} means that the {value} sensor has lost its calibration.",
        "What does error code {key} mean?",
        "error code {key} meaning",
        "{value} sensor",
        "Error code {key} was added to the firmware in the last release.",
    ),
    "on_call": (
        "The on-call engineer for the {key} cluster this quarter is {value}.",
        "Who is the on-call engineer for the {key} cluster?",
        "{key} cluster on-call engineer",
        "{value}",
        "The {key} cluster was migrated to the new data center last year.",
    ),
    "rare_word": (
        "The {key} laboratory stores its frozen samples in {value} canisters.",
        "What kind of canisters does the {key} laboratory store its samples in?",
        "{key} laboratory sample canisters",
        "{value} canisters",
        "The {key} laboratory hosts an open day for students each autumn.",
    ),
    "tonnage": (
        "The {key} tanker may carry at most {value} tonnes of ballast water.",
        "How much ballast water can the {key} tanker carry?",
        "{key} tanker ballast limit",
        "{value} tonnes",
        "The {key} tanker was repainted in dry dock during the winter.",
    ),
    "deadline": (
        "The safety audit of the {key} project is due on {value}.",
        "When is the safety audit of the {key} project due?",
        "{key} project safety audit deadline",
        "{value}",
        "The {key} project hired two new engineers for its testing team.",
    ),
}

# Short documents on each template's subject: the query's wording without any fact.
OVERVIEWS = {
    "per_diem": "Per diem rates cover meals and incidental costs for staff travelling on business. The daily per diem differs from city to city and is reviewed every year. Staff claim the per diem for each full day away through the expense system.",
    "wifi": "Every office runs a guest wifi network separate from the staff network. Guest wifi passwords are changed every quarter and are posted at each office's reception. Visitors ask the reception desk for the current guest wifi password.",
    "part": "Replacement parts for pumps are ordered by part number from the central store. Impellers wear out faster than other pump parts and are replaced during planned maintenance. Check the pump's manual for the right impeller part number.",
    "error_code": "Error codes are shown on the controller display when a sensor fails. Each error code names the sensor that lost its calibration or its signal. Look the error code up in the maintenance manual before resetting the controller.",
    "on_call": "Each cluster has an on-call engineer who answers alerts outside office hours. The on-call rota changes every quarter and is published by the operations team. Page the on-call engineer of the affected cluster when an alert fires.",
    "rare_word": "Laboratories store frozen samples in canisters kept in liquid nitrogen dewars. The kind of canister depends on the sample volume and the storage temperature. Each laboratory records which canisters hold its samples.",
    "tonnage": "Tankers take on ballast water to stay stable when they sail without cargo. Each tanker has a ballast limit in tonnes set by its class society. The ballast water carried is logged on every voyage.",
    "deadline": "Every project goes through a safety audit before its next phase starts. The audit deadline is agreed with the safety office and recorded in the project plan. Projects that miss the audit deadline are paused until it is done.",
}

SYLLABLES = "bar ven tor lis qua mor del kin sar vol pex rin dor zul fen gal hob jut kex lum nov ost pry quin rud sef tav ulm wex yor zan".split()
FIRST = "Amara Bertil Cosmina Dagny Eero Folake Gwilym Halvard Ingrid Jovana Kalani Lorcan Mireille Nnamdi Oksana Pilar Quilla Radomir Sigrun Tamsin".split()
LAST = "Achterberg Brannigan Czerwinski Dunleavy Ekwueme Fairweather Grzelak Hollingworth Iwasaki Jankowski Kowalczyk Lindqvist Mbeki Nakashima Oyelaran Pettersen".split()
SENSORS = "humidity torque vibration pressure coolant airflow voltage salinity turbidity radon".split()
MONTHS = "January February March April May June July August September October November December".split()


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts))


def _key(rng: random.Random, template: str) -> str:
    """An invented name or code no model has seen, of the kind the template asks for."""
    if template == "error_code":
        return f"{rng.choice('EFKQ')}-{rng.randint(1000, 9999)}"
    return _word(rng, rng.randint(2, 3)).capitalize()


def _value(rng: random.Random, template: str) -> str:
    if template == "per_diem":
        return str(rng.randint(41, 389))
    if template == "wifi":
        return f"{_word(rng, 2)}-{_word(rng, 1).capitalize()}-{rng.randint(1000, 9999)}"
    if template == "part":
        return f"{rng.choice('ABCDHJKMPRTX')}{rng.choice('ABCDHJKMPRTX')}-{rng.randint(10000, 99999)}"
    if template == "error_code":
        return rng.choice(SENSORS)
    if template == "on_call":
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if template == "rare_word":
        return _word(rng, 3)
    if template == "tonnage":
        return f"{rng.randint(2, 95)},{rng.randint(100, 999)}"
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.randint(2031, 2039)}"


def _filler(rng: random.Random, words: int) -> list[str]:
    """Paragraphs of unrelated text (the labelled set's handbook sentences, every topic mixed)."""
    pool = [s for topic in TOPICS.values() for s in topic["filler"]]
    paragraphs, count = [], 0
    while count < words:
        paragraph = " ".join(rng.sample(pool, k=rng.randint(4, 7)))
        paragraphs.append(paragraph)
        count += len(paragraph.split())
    return paragraphs


def _insert(rng: random.Random, paragraphs: list[str], sentence: str, low: float, high: float) -> None:
    """Put `sentence` inside a paragraph between `low` and `high` of the way through the document."""
    slot = rng.randint(int(low * len(paragraphs)), int(high * len(paragraphs)))
    sentences = paragraphs[slot].split(". ")
    sentences.insert(rng.randint(1, len(sentences) - 1) if len(sentences) > 1 else 1, sentence.rstrip("."))
    paragraphs[slot] = ". ".join(s.rstrip(".") for s in sentences) + "."


def build(seed: int = DEVELOPMENT_SEED, per_format: int = 12, words: int = 3000) -> dict:
    """`per_format` long documents of each format, each holding two facts (at a third and at two
    thirds of the way) and one near miss about another document's key; plus one overview document
    per template. Every template is used equally often; keys are unique."""
    rng = random.Random(seed)
    names = list(TEMPLATES)
    slots = [names[i % len(names)] for i in range(2 * per_format * len(FORMATS))]
    rng.shuffle(slots)
    facts, used = [], set()
    for template in slots:
        key = _key(rng, template)
        while key.lower() in used:
            key = _key(rng, template)
        used.add(key.lower())
        facts.append({"template": template, "key": key, "value": _value(rng, template)})
    documents, queries = [], []
    for n in range(per_format * len(FORMATS)):
        fmt = FORMATS[n % len(FORMATS)]
        name = f"record-{n:03d}.{fmt}"
        paragraphs = _filler(rng, words)
        pair = facts[2 * n : 2 * n + 2]
        for fact, (low, high) in zip(pair, ((0.25, 0.45), (0.55, 0.75)), strict=True):
            sentence, question, keywords, answer, _ = TEMPLATES[fact["template"]]
            _insert(rng, paragraphs, sentence.format(**fact), low, high)
            query = (question if rng.random() < 0.6 else keywords).format(**fact)
            queries.append(
                {"query": query, "answer": answer.format(**fact), "document": name, "kind": fact["template"]}
            )
        other = rng.choice([f for f in facts if f not in pair])
        _insert(rng, paragraphs, TEMPLATES[other["template"]][4].format(**other), 0.05, 0.95)
        documents.append({"name": name, "title": f"Record {n:03d}", "paragraphs": paragraphs})
    for n, (template, text) in enumerate(OVERVIEWS.items()):
        fmt = FORMATS[n % len(FORMATS)]
        title = template.replace("_", " ").capitalize() + " overview"
        documents.append({"name": f"overview-{template}.{fmt}", "title": title, "paragraphs": [text]})
    return {"documents": documents, "queries": queries}
