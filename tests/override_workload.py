# override_workload.py -- a Python 3 program that allocates a lot: large dicts,
# lists and strings built and discarded, many times.  Its output depends only
# on the work done, so the system allocator and stackheap (LD_PRELOAD) must
# print the same thing (tests/override_preload.sh compares them).
import sys

def dicts(rounds):
    total = 0
    for r in range(rounds):
        d = {("key%d" % i): [i] * (i % 7) for i in range(100000)}
        total += sum(len(v) for v in d.values()) + len(d)
        for i in range(0, 100000, 3):
            del d["key%d" % i]
        total += len(d)
        del d
    return total

def lists(rounds):
    total = 0
    for r in range(rounds):
        lst = [list(range(i % 50)) for i in range(50000)]
        lst.sort(key=len, reverse=True)
        total += len(lst[0]) + sum(map(len, lst))
        lst = None
    return total

def strings(rounds):
    total = 0
    for r in range(rounds):
        parts = [("x%d" % i) * (i % 40) for i in range(40000)]
        big = "".join(parts)
        total += len(big) + big.count("x1")
        chunks = [big[i:i + 1000] for i in range(0, len(big), 1000)]
        total += len(chunks) + len(set(chunks))
        big = parts = chunks = None
    return total

def big_buffers():
    total = 0
    for size in (1 << 20, 10 << 20, 100 << 20, 3 << 20):
        b = bytearray(size)
        b[-1] = 7
        total += len(b) + b[-1]
        del b
    return total

print("dicts", dicts(5))
print("lists", lists(5))
print("strings", strings(5))
print("buffers", big_buffers())
print("sum", sum(range(10**6)))
sys.stdout.flush()
