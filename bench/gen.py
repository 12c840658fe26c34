#!/usr/bin/env python3
"""Writes N synthetic contacts as kith import JSON (no ids: new ones are given).

usage: gen.py N [--tagged K]   -- K contacts carry the tag "needle" (default 20)
Deterministic (seeded), so runs compare.
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
