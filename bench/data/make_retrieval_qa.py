"""Builds `retrieval_qa.json`, the labelled query set of `bench/retrieval.py` (run once; output shipped).

Eight invented handbooks (so no model has seen the answers). Each holds five facts placed at seeded
random positions among topic-flavoured filler paragraphs, plus near-miss distractor sentences (same
entity, other attribute) in other places. Each query is labelled with the `answer` string: a chunk is
relevant when its text contains it. Half of the queries paraphrase the fact (few shared words: the
dense side should find them), half name identifiers, codes or rare words (the keyword side's strength).

    python bench/data/make_retrieval_qa.py
"""

# ruff: noqa: E501  (data: one fact per line reads better than wrapped strings)
import json
import random
from pathlib import Path

TOPICS = {
    "harbor_water_utility": {
        "title": "Harbor City Water Utility - Operations Handbook",
        "filler": [
            "Crews inspect hydrants, valves and meters on a rotating schedule across the service districts.",
            "Customer service representatives log every complaint in the ticketing system within one hour.",
            "Water quality samples are collected from reservoirs and distribution mains and sent to the lab.",
            "Pipe replacement projects are coordinated with the city roads department to limit traffic disruption.",
            "The utility publishes an annual consumer confidence report describing sources and treatment steps.",
            "Field technicians carry tablets with maps of the distribution network and asset records.",
            "Emergency repairs take priority over planned maintenance when pressure drops below normal levels.",
            "Training sessions on confined space entry are mandatory for all maintenance staff every year.",
        ],
        "facts": [
            (
                "The main treatment plant at Kellerman Point disinfects water with ozone before chlorination.",
                "How is drinking water disinfected at the primary treatment facility?",
                "ozone before chlorination",
            ),
            (
                "Leak detection uses acoustic loggers model HX-440 installed on every third hydrant.",
                "HX-440 acoustic loggers",
                "HX-440",
            ),
            (
                "Residential customers who report a leak within 48 hours receive a billing credit of 60 percent of the lost water.",
                "Do households get money back on their bill when they report a broken pipe quickly?",
                "credit of 60 percent",
            ),
            (
                "The Saltmarsh reservoir holds 2.8 billion liters and supplies the eastern districts.",
                "Saltmarsh reservoir capacity",
                "2.8 billion liters",
            ),
            (
                "Boil-water notices are sent by SMS through the AlertBridge service and posted on the city website.",
                "How are residents told to boil their water?",
                "AlertBridge",
            ),
        ],
        "distractors": [
            "The Kellerman Point plant also runs a visitor center open on weekends.",
            "The Northgate reservoir holds 900 million liters and supplies the western districts.",
        ],
    },
    "orion7_mission": {
        "title": "Orion-7 Earth Observation Mission - Technical Summary",
        "filler": [
            "The spacecraft bus provides power, attitude control, thermal regulation and communications for the payloads.",
            "Ground stations schedule contacts several times per day to download science data and upload commands.",
            "Mission operations follow procedures reviewed by the flight dynamics and payload teams.",
            "Calibration campaigns compare instrument readings against well-characterised desert and ocean sites.",
            "Data products are processed into several levels, from raw telemetry to geophysical variables.",
            "The flight software is updated only after extensive testing on the ground reference model.",
            "Anomaly review boards meet whenever the spacecraft enters safe mode unexpectedly.",
            "Orbit maintenance manoeuvres keep the ground track within a narrow band around the reference path.",
        ],
        "facts": [
            (
                "Orion-7 flies in a sun-synchronous orbit at an altitude of 693 kilometers.",
                "How high above the Earth does the satellite circle?",
                "693 kilometers",
            ),
            (
                "The hyperspectral imager SPECTRA-2 records 214 spectral bands between 400 and 2500 nanometers.",
                "SPECTRA-2 spectral bands",
                "214 spectral bands",
            ),
            (
                "The spacecraft was launched on 14 March 2031 from the Andoya spaceport aboard a Vega-E rocket.",
                "When and where did the mission lift off?",
                "14 March 2031",
            ),
            (
                "Downlink to the Svalbard ground station runs in X-band at 520 megabits per second.",
                "Svalbard X-band downlink rate",
                "520 megabits per second",
            ),
            (
                "Deorbiting at end of life uses the remaining hydrazine to lower perigee to 250 kilometers.",
                "How will the satellite be disposed of when the mission ends?",
                "lower perigee to 250 kilometers",
            ),
        ],
        "distractors": [
            "The predecessor Orion-6 flew at an altitude of 705 kilometers.",
            "The thermal camera records 12 spectral bands in the infrared.",
        ],
    },
    "maple_bakery": {
        "title": "Maple Street Bakery - Staff Guide",
        "filler": [
            "Bakers start early in the morning so that bread is cooling on the racks before the shop opens.",
            "All staff wash their hands and wear hair nets when working in the production area.",
            "The front counter team arranges pastries in the display case and labels allergens clearly.",
            "Deliveries of flour, butter and eggs arrive twice a week and are checked against the order.",
            "Unsold bread is donated to the neighbourhood food bank at the end of each day.",
            "The mixers and ovens are cleaned according to the checklist posted in the kitchen.",
            "Seasonal specials are planned one month ahead with the head baker.",
            "Customers can order celebration cakes at least three days in advance.",
        ],
        "facts": [
            (
                "The sourdough starter, named Gertrude, is fed with rye flour every 12 hours.",
                "How often is the sourdough culture refreshed and with what?",
                "every 12 hours",
            ),
            (
                "Croissant dough is laminated with 27 layers of Normandy butter.",
                "croissant lamination layers Normandy butter",
                "27 layers",
            ),
            (
                "Employees receive a 35 percent discount on all products and one free loaf per shift.",
                "What perks do workers get when buying from the shop?",
                "35 percent discount",
            ),
            (
                "The deck oven from Bongard is set to 245 degrees Celsius for baguettes.",
                "Bongard deck oven baguette temperature",
                "245 degrees Celsius",
            ),
            (
                "Walk-in cooler temperatures are recorded at 6 am and 2 pm on form MB-12.",
                "When do staff write down the fridge temperature?",
                "6 am and 2 pm",
            ),
        ],
        "distractors": [
            "The rye starter for the pumpernickel is fed once a day with whole wheat flour.",
            "Pain au chocolat uses the same butter but only 18 layers.",
        ],
    },
    "kestrel_language": {
        "title": "The Kestrel Programming Language - Reference Notes",
        "filler": [
            "Kestrel programs are organised in modules that declare their exported names explicitly.",
            "The compiler reports errors with the source location and a suggestion where possible.",
            "Standard library collections include vectors, maps, sets and persistent lists.",
            "Tests live next to the code they exercise and run with the built-in test runner.",
            "Formatting is enforced by the official formatter so that code review focuses on behaviour.",
            "The package registry hosts community libraries with semantic version numbers.",
            "Documentation comments are rendered into HTML by the documentation generator.",
            "Pattern matching works on tuples, records and tagged unions.",
        ],
        "facts": [
            (
                "Kestrel manages memory with region-based allocation and no garbage collector.",
                "How does the language free memory without a collector running in the background?",
                "region-based allocation",
            ),
            (
                "The keyword `spawnlet` starts a green thread that shares the parent's region.",
                "spawnlet keyword",
                "spawnlet",
            ),
            (
                "Integer overflow traps in debug builds and wraps in release builds compiled with --fast.",
                "What happens when a whole-number computation exceeds its range?",
                "wraps in release builds",
            ),
            (
                "The build tool is called nestor and reads its configuration from nest.toml.",
                "nestor build configuration file",
                "nest.toml",
            ),
            (
                "Kestrel 3.0 removed implicit string-to-number conversions to prevent silent bugs.",
                "Which automatic type coercion was dropped in the major release?",
                "implicit string-to-number",
            ),
        ],
        "distractors": [
            "The keyword `spawn` starts an operating system thread with its own region.",
            "Kestrel 2.0 added implicit conversions between integer widths.",
        ],
    },
    "northwind_hospital": {
        "title": "Northwind General Hospital - Policies and Procedures",
        "filler": [
            "Patient identity is confirmed with two identifiers before any procedure or medication.",
            "Nurses document vital signs in the electronic health record at every scheduled round.",
            "Visitors sign in at the reception desk and wear a visitor badge at all times.",
            "Hand hygiene audits are carried out monthly on every ward.",
            "Shift handovers follow a structured format covering situation, background, assessment and recommendation.",
            "Medical equipment is checked by biomedical engineering according to the maintenance plan.",
            "Fire drills are held each quarter and evacuation routes are posted in every corridor.",
            "Patients receive written discharge instructions and a follow-up appointment.",
        ],
        "facts": [
            (
                "Visiting hours on the maternity ward are from 2 pm to 8 pm, with partners allowed at any time.",
                "When can family come to see new mothers?",
                "2 pm to 8 pm",
            ),
            (
                "Code Amber is the alert for a missing infant or child.",
                "Code Amber meaning",
                "missing infant",
            ),
            (
                "The pharmacy dispenses controlled drugs only against a double signature on form RX-9.",
                "What is required to release narcotics from the drug dispensary?",
                "double signature",
            ),
            (
                "Sterile instruments are processed in autoclaves at 134 degrees Celsius for 3 minutes.",
                "autoclave temperature sterile instruments",
                "134 degrees Celsius",
            ),
            (
                "Night staff may park free of charge in the Linden Street garage after 7 pm.",
                "Where can employees working overnight leave their cars without paying?",
                "Linden Street garage",
            ),
        ],
        "distractors": [
            "Visiting hours on the surgical ward are from 11 am to 1 pm.",
            "Code Blue is the alert for a cardiac arrest.",
        ],
    },
    "vela_wind_farm": {
        "title": "Vela Offshore Wind Farm - Project Fact Sheet",
        "filler": [
            "Turbines are monitored remotely from the control room and visited by crew transfer vessels.",
            "Environmental surveys track seabirds, marine mammals and fish populations around the site.",
            "The foundations were installed before the towers, nacelles and blades were lifted into place.",
            "Maintenance windows depend on wave height and wind speed forecasts.",
            "Export cables bring the electricity ashore to the onshore substation.",
            "The project employs local technicians trained at the regional maritime college.",
            "Safety briefings are held before every vessel departure.",
            "The operator publishes monthly production figures to the grid operator.",
        ],
        "facts": [
            (
                "Vela has 84 turbines of 15 megawatts each on monopile foundations.",
                "How many generators does the offshore project have and how big are they?",
                "84 turbines",
            ),
            (
                "The site lies 46 kilometers off the coast in water 30 to 38 meters deep.",
                "How far from shore is the farm located?",
                "46 kilometers",
            ),
            (
                "Blades are inspected by drones from the company SkyTern every six months.",
                "SkyTern drone inspections",
                "SkyTern",
            ),
            (
                "Piling was paused from January to April to protect harbour porpoise calving.",
                "Why was construction noise stopped in early months of the year?",
                "harbour porpoise",
            ),
            (
                "The onshore substation at Dunmore converts power to 400 kilovolts.",
                "Dunmore substation voltage",
                "400 kilovolts",
            ),
        ],
        "distractors": [
            "The neighbouring Lyra farm has 60 turbines of 8 megawatts each.",
            "The Dunmore visitor center explains how turbines work.",
        ],
    },
    "ashford_library": {
        "title": "Ashford Public Library - Member Handbook",
        "filler": [
            "Library members can borrow books, audiobooks, films and magazines with their card.",
            "Quiet study rooms can be reserved online for groups of up to six people.",
            "Librarians offer help with research, job applications and using the catalogue.",
            "Children's story time takes place in the reading corner with songs and picture books.",
            "The library hosts author talks, book clubs and exhibitions throughout the year.",
            "Public computers and printers are available on the first floor.",
            "Donated books are sorted by volunteers and sold at the annual book sale.",
            "Members are asked to keep their contact details up to date.",
        ],
        "facts": [
            (
                "Overdue fines were abolished in 2024; items overdue by 42 days are billed as lost.",
                "Do borrowers still pay late fees for returning books late?",
                "fines were abolished",
            ),
            (
                "Members may borrow up to 25 items at once, including 5 DVDs.",
                "What is the maximum number of things I can take out at one time?",
                "up to 25 items",
            ),
            (
                "The seed library lends heirloom tomato and bean seeds every spring.",
                "seed library heirloom seeds",
                "heirloom tomato",
            ),
            (
                "The makerspace has a Prusa MK5 3D printer that members can book for 2 hours per week.",
                "Prusa MK5 booking",
                "Prusa MK5",
            ),
            (
                "The local history room keeps parish records dating back to 1632.",
                "How old are the oldest church registers in the archive?",
                "1632",
            ),
        ],
        "distractors": [
            "E-books can be borrowed for 21 days and return themselves automatically.",
            "The makerspace also has a laser cutter that requires a safety course.",
        ],
    },
    "quill_cms": {
        "title": "Quill CMS - Administrator Guide",
        "filler": [
            "Editors create pages, attach media and submit them for review before publishing.",
            "Themes control the layout and typography of the public site.",
            "Plugins extend the system with forms, search, analytics and newsletters.",
            "User roles determine who may edit, review, publish or administer content.",
            "Backups of the database and uploaded files should be tested regularly.",
            "The admin dashboard shows recent activity, pending reviews and system health.",
            "Content can be translated into several languages with linked versions of each page.",
            "Upgrades are announced in the release notes with migration instructions.",
        ],
        "facts": [
            (
                "Quill stores drafts in a Git repository under the directory .quill/drafts.",
                "Where are unpublished page versions kept?",
                ".quill/drafts",
            ),
            (
                "The environment variable QUILL_MAX_UPLOAD_MB limits uploads and defaults to 64.",
                "QUILL_MAX_UPLOAD_MB default",
                "QUILL_MAX_UPLOAD_MB",
            ),
            (
                "Sessions expire after 30 minutes of inactivity unless remember-me is ticked.",
                "How long before an idle administrator is logged out?",
                "30 minutes of inactivity",
            ),
            (
                "Scheduled publishing is handled by the cron worker quill-tick running every minute.",
                "quill-tick cron worker",
                "quill-tick",
            ),
            (
                "Deleted pages stay in the trash for 90 days before they are purged.",
                "Can removed content be recovered, and for how long?",
                "90 days",
            ),
        ],
        "distractors": [
            "Media files are stored in the directory .quill/media.",
            "Password reset links expire after 24 hours.",
        ],
    },
}


def build(seed: int = 7, paragraphs: int = 36) -> dict:
    rng = random.Random(seed)
    documents, queries = [], []
    for name, topic in TOPICS.items():
        body = []
        for _ in range(paragraphs):
            body.append(" ".join(rng.sample(topic["filler"], k=rng.randint(4, 7))))
        specials = [f[0] for f in topic["facts"]] + topic["distractors"]
        slots = rng.sample(range(1, paragraphs), k=len(specials))
        for sentence, slot in zip(specials, slots, strict=True):
            sentences = body[slot].split(". ")
            at = rng.randint(0, len(sentences))
            sentences.insert(at, sentence.rstrip("."))
            body[slot] = ". ".join(s.rstrip(".") for s in sentences) + "."
        documents.append({"name": f"{name}.md", "text": f"# {topic['title']}\n\n" + "\n\n".join(body)})
        for _sentence, query, answer in topic["facts"]:
            queries.append(
                {
                    "query": query,
                    "answer": answer,
                    "document": f"{name}.md",
                    "kind": "paraphrase" if query.endswith("?") else "keyword",
                }
            )
    return {"documents": documents, "queries": queries}


if __name__ == "__main__":
    out = Path(__file__).with_name("retrieval_qa.json")
    data = build()
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}: {len(data['documents'])} documents, {len(data['queries'])} queries")
