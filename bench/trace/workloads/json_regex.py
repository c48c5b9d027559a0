"""Interpreter workload for `bench/trace/record --preset python`: JSON and regexes.

Deterministic (a fixed seed): builds 20,000 nested records, dumps them to
JSON and loads them back, tokenizes their text with regular expressions,
counts words, rewrites addresses with re.sub and pretty-prints a slice.
About a second on a desktop core. Python 3 standard library only.
"""

import json
import random
import re

rng = random.Random(12345)
LETTERS = "abcdefghijklmnopqrstuvwxyz"
words = ["".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 12))) for _ in range(5000)]


def record(i):
    text = " ".join(rng.choice(words) for _ in range(rng.randint(5, 40)))
    if i % 7 == 0:
        text += " contact %s@%s.example" % (rng.choice(words), rng.choice(words))
    return {
        "id": i,
        "name": rng.choice(words).title(),
        "tags": rng.sample(words, rng.randint(0, 6)),
        "score": round(rng.random() * 100, 3),
        "nested": {"a": [rng.randint(0, 1000) for _ in range(rng.randint(0, 10))],
                   "b": None if i % 3 else True},
        "text": text,
    }


docs = [record(i) for i in range(20000)]
blob = json.dumps(docs)
back = json.loads(blob)
assert back == docs

word_re = re.compile(r"\b([a-z]{3,})\b")
mail_re = re.compile(r"(\w+)@(\w+)\.example")
counts = {}
mails = 0
for d in back:
    for w in word_re.findall(d["text"]):
        counts[w] = counts.get(w, 0) + 1
    d["text"], n = mail_re.subn(lambda m: "<%s at %s>" % (m.group(1).upper(), m.group(2)), d["text"])
    mails += n
    d["words"] = len(d["text"].split())

pretty = json.dumps(back[:2000], indent=2, sort_keys=True)
top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
print("json: %d bytes, pretty slice %d bytes; %d distinct words, %d addresses; top %s" % (
    len(blob), len(pretty), len(counts), mails, top))
