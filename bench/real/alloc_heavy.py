"""alloc_heavy.py [-q] -- an allocation-heavy Python 3 workload for the suite.

Builds and tears down the structures Python programs are made of: dicts of
lists of strings, a JSON round trip, string building and slicing, sorting
tuples.  Deterministic; prints one `checksum <hex>` line.
"""
import json
import sys
import zlib


def main():
    scale = 1 if "-q" in sys.argv[1:] else 10
    crc = 0
    for rnd in range(scale):
        table = {}
        for i in range(20000):
            key = "k%d_%d" % (rnd, i)
            table[key] = [i, str(i) * (1 + i % 7), {"v": i * 3, "t": (i, key)}]
        text = json.dumps(table)
        back = json.loads(text)
        crc = zlib.crc32(text.encode(), crc)
        rows = sorted((v[0] % 97, k) for k, v in back.items())
        crc = zlib.crc32(repr(rows[:50]).encode(), crc)
        parts = []
        for i in range(50000):
            parts.append("x" * (i % 33) + str(i))
        joined = "".join(parts)
        crc = zlib.crc32(joined[::7].encode(), crc)
        words = joined.split("1")
        crc = zlib.crc32(str(len(words)).encode(), crc)
        del table, back, rows, parts, words
    print("checksum %08x" % crc)


if __name__ == "__main__":
    main()
