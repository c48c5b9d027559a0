"""Writes the SQL script of `bench/trace/record --preset sqlite` to stdout.

usage: sqlite_gen.py [ROWS]   (default 100000)

Deterministic (a linear congruential generator): a table of ROWS people
inserted one statement each in a transaction, a second table, indexes,
grouping and ordering queries, a join, an update and a delete: the sqlite3
shell parses every statement, and the in-memory database's pages, the
sorter and the query plans are all heap memory.
"""

import sys

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
state = 12345


def rnd(n):
    global state
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n


cities = ["Lyon", "Porto", "Tartu", "Oulu", "Graz", "Bergen", "Gdansk", "Ghent", "Bari", "Cork"]
syll = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "du", "an", "or"]
out = sys.stdout
out.write("PRAGMA journal_mode = OFF;\n")
out.write("CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, city TEXT, age INTEGER, "
          "score REAL, note TEXT);\n")
out.write("CREATE TABLE visits(person INTEGER, day INTEGER, amount REAL);\n")
out.write("BEGIN;\n")
for i in range(1, rows + 1):
    name = "".join(syll[rnd(len(syll))] for _ in range(2 + rnd(3))).title()
    note = " ".join(syll[rnd(len(syll))] * (1 + rnd(3)) for _ in range(rnd(12)))
    out.write("INSERT INTO people VALUES(%d,'%s','%s',%d,%d.%02d,'%s');\n" % (
        i, name, cities[rnd(len(cities))], 18 + rnd(70), rnd(1000), rnd(100), note))
    if i % 2 == 0:
        out.write("INSERT INTO visits VALUES(%d,%d,%d.%d);\n" % (rnd(i) + 1, rnd(365), rnd(500), rnd(10)))
out.write("COMMIT;\n")
out.write("CREATE INDEX people_city ON people(city, age);\n")
out.write("CREATE INDEX visits_person ON visits(person);\n")
out.write("SELECT city, count(*), avg(age), max(score) FROM people GROUP BY city ORDER BY 2 DESC;\n")
out.write("SELECT name, score FROM people ORDER BY score DESC, name LIMIT 10;\n")
out.write("SELECT p.city, count(v.day), round(sum(v.amount), 2) FROM people p JOIN visits v "
          "ON v.person = p.id GROUP BY p.city ORDER BY 3 DESC;\n")
out.write("SELECT length(group_concat(name, ',')) FROM (SELECT name FROM people WHERE age < 30 "
          "ORDER BY name);\n")
out.write("UPDATE people SET score = score * 1.1, note = note || ' updated' WHERE age > 60;\n")
out.write("DELETE FROM people WHERE id % 7 = 0;\n")
out.write("SELECT count(*), sum(length(note)) FROM people;\n")
out.write("SELECT count(DISTINCT name) FROM people;\n")
