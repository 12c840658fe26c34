#!/usr/bin/env python3
"""Writes N synthetic contacts as kith import JSON (no ids: new ones are given),
or with --vcard as one vCard 3.0 file such as an address book exports: UID, N, FN,
ORG, TITLE, typed EMAIL and TEL, CATEGORIES (the JSON's fields, as cards); with
--rich also an ADR and a NOTE per card (a second record: the note). Lines CRLF.

usage: gen.py N [--tagged K] [--vcard [--rich]]  -- K contacts carry the tag
"needle" (default 20). Deterministic (seeded), so runs compare.
"""
import json, random, sys

n = int(sys.argv[1])
tagged = int(sys.argv[sys.argv.index("--tagged") + 1]) if "--tagged" in sys.argv else 20
rng = random.Random(42)
first = ["Ada", "Zoë", "Bob", "Chidi", "Mei", "Olu", "Ana", "Ravi", "Lena", "Tomás", "Yuki", "Sam"]
last = ["Lovelace", "Keller", "Li", "Okafor", "Chen", "Adeyemi", "Silva", "Patel", "Novak", "García"]
orgs = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell"]
tags = ["climate", "design", "fintech", "founder", "investor", "hiring", "mentor", "friend"]
out = sys.stdout
if "--vcard" in sys.argv:
    w = out.write
    rich = "--rich" in sys.argv
    for i in range(n):
        f, l = rng.choice(first), rng.choice(last)
        w("BEGIN:VCARD\r\nVERSION:3.0\r\n")
        w(f"UID:bench-{i:08d}\r\nN:{l};{f};;;\r\nFN:{f} {l} {i}\r\n")
        w(f"ORG:{rng.choice(orgs)}\r\nTITLE:Engineer\r\n")
        w(f"EMAIL;TYPE=INTERNET,WORK:{f.lower()}.{l.lower()}{i}@example.com\r\n")
        w(f"TEL;TYPE=CELL:+1 555 {i:07d}\r\n")
        if rich:
            w(f"ADR;TYPE=WORK:;;{i} Main Street;Springfield;;{10000 + i % 90000};USA\r\n")
        w(f"CATEGORIES:{rng.choice(tags)}\r\n")
        if rich:
            w(f"NOTE:Met at the meetup\\, talked about {rng.choice(tags)}.\r\n")
        w("END:VCARD\r\n")
    sys.exit(0)
out.write('{"contacts":[\n')
pick = set(rng.sample(range(n), min(tagged, n)))
for i in range(n):
    f, l = rng.choice(first), rng.choice(last)
    c = {
        "name": f"{f} {l} {i}",
        "emails": [f"{f.lower()}.{l.lower()}{i}@example.com"],
        "phones": [f"+1 555 {i:07d}"],
        "org": rng.choice(orgs),
        "title": "Engineer",
        "tags": [rng.choice(tags)] + (["needle"] if i in pick else []),
    }
    out.write(("," if i else "") + json.dumps(c, ensure_ascii=False) + "\n")
out.write("]}\n")
