/*
 * wl_lifo.c -- workload 2: a recursive-descent parser.  Allocation and
 * release in strict LIFO order.
 *
 * Parsing a statement is a recursion: each level (a grammar rule) allocates
 * 1..4 nodes of 16..512 B (tokens, node records, scratch), descends into
 * 0..2 sub-rules (a critical branching process: most statements are small,
 * a few are deep, none deeper than MAX_DEPTH), and on return checks and frees
 * its own nodes in the reverse order of their allocation.  So the live set
 * is a stack a few dozen blocks high, and every free is of the most recently
 * allocated block still live: the pattern a stack allocator serves best and
 * the one a general heap sees from any deeply recursive program.
 *
 * Statements are parsed until NODES nodes have been allocated; quick (-q):
 * a tenth.
 */
#define _GNU_SOURCE
#include "wl.h"

enum {
    NODES = 70000000, /* nodes allocated in a full run */
    MAX_DEPTH = 40,   /* deepest recursion */
    PER_LEVEL = 4     /* most nodes a level allocates */
};

struct parser {
    wl_rng rng;
    uint64_t budget;    /* nodes still to allocate */
    uint64_t next_tag;  /* tag of the next node */
    uint64_t allocated; /* sum of the stamps written */
    uint64_t freed;     /* sum of the stamps checked */
};

static void __attribute__((noinline)) parse_rule(struct parser *ps, unsigned depth)
{
    void *node[PER_LEVEL];
    size_t size[PER_LEVEL];
    uint64_t tag[PER_LEVEL];
    size_t n = wl_between(&ps->rng, 1, PER_LEVEL);

    for (size_t i = 0; i < n; i++) {
        size[i] = wl_between(&ps->rng, 16, 512);
        tag[i] = ps->next_tag++;
        node[i] = wl_malloc(size[i]);
        wl_stamp(node[i], size[i], tag[i]);
        ps->allocated += wl_mix(tag[i] ^ size[i]);
    }
    ps->budget = ps->budget > n ? ps->budget - n : 0;

    size_t children = depth < MAX_DEPTH ? wl_between(&ps->rng, 0, 2) : 0;
    for (size_t c = 0; c < children && ps->budget > 0; c++)
        parse_rule(ps, depth + 1);

    for (size_t i = n; i-- > 0;) {
        ps->freed += wl_check(node[i], size[i], tag[i]);
        free(node[i]);
    }
}

int main(int argc, char **argv)
{
    int quick = wl_args(argc, argv, "wl_lifo");
    struct parser ps = {wl_seed(2), quick ? NODES / 10 : NODES, 0, 0, 0};
    uint64_t statements = 0;

    while (ps.budget > 0) {
        parse_rule(&ps, 0);
        statements++;
    }
    if (ps.freed != ps.allocated)
        wl_die("freed nodes sum to %016" PRIx64 ", allocated ones to %016" PRIx64, ps.freed,
               ps.allocated);
    wl_print_checksum(ps.freed ^ wl_mix(statements) ^ ps.next_tag);
    return 0;
}
