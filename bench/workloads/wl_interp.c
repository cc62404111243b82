/*
 * wl_interp.c -- workload 1: an interpreter or compiler.  One thread, many
 * small objects of random sizes and short, random lifetimes.
 *
 * A table of LIVE slots stands for the objects a running interpreter holds
 * (values, strings, frames).  Each step replaces a random slot: the old
 * object is checked and freed, a new one of a random size is allocated and
 * stamped.  Sizes follow what interpreters allocate: mostly 8..128 B, one in
 * ten 129 B..1 KiB, one in a hundred up to 8 KiB.  So every object lives a
 * random (geometric) number of steps and memory is freed in no useful order.
 *
 * Every TREE_EVERY steps the program also builds a small syntax tree (a
 * binary search tree of 16..256 nodes of 32..72 B, keys at random), walks it
 * in order (the keys must come out sorted), and frees it bottom-up: the
 * allocate-many, free-all-at-once pattern of a compiler pass.
 *
 * Full run: STEPS steps; quick (-q): a tenth.
 */
#define _GNU_SOURCE
#include "wl.h"

enum {
    LIVE = 4096,      /* objects held at any time */
    STEPS = 12000000, /* replacements in a full run */
    TREE_EVERY = 128, /* steps between two trees */
    TREE_MIN = 16,
    TREE_MAX = 256
};

struct slot {
    void *p;
    size_t size;
    uint64_t tag;
};

struct node {
    struct node *left, *right;
    uint64_t key;
    unsigned char payload[]; /* 0..40 bytes, never read: the node's variable part */
};

static struct slot slots[LIVE];

/* An object size as an interpreter would ask for it. */
static size_t object_size(wl_rng *r)
{
    uint64_t d = wl_next(r) % 100;
    if (d < 89)
        return wl_between(r, 8, 128);
    if (d < 99)
        return wl_between(r, 129, 1024);
    return wl_between(r, 1025, 8192);
}

static struct node *tree_insert(struct node *root, struct node *n)
{
    struct node **link = &root;
    while (*link != NULL)
        link = n->key < (*link)->key ? &(*link)->left : &(*link)->right;
    *link = n;
    return root;
}

/* In-order walk: checks the keys come out sorted, returns a position-weighted
   sum of them.  *last is the previous key seen, *pos its position. */
static uint64_t tree_walk(const struct node *n, uint64_t *last, uint64_t *pos)
{
    uint64_t sum = 0;
    while (n != NULL) {
        sum += tree_walk(n->left, last, pos);
        if (n->key < *last)
            wl_die("tree walk: key %016" PRIx64 " after %016" PRIx64 ": tree corrupted", n->key,
                   *last);
        *last = n->key;
        sum += wl_mix(n->key + ++*pos);
        n = n->right;
    }
    return sum;
}

static void tree_free(struct node *n)
{
    while (n != NULL) {
        struct node *right = n->right;
        tree_free(n->left);
        free(n);
        n = right;
    }
}

static uint64_t build_tree(wl_rng *r)
{
    size_t count = wl_between(r, TREE_MIN, TREE_MAX);
    struct node *root = NULL;
    for (size_t i = 0; i < count; i++) {
        struct node *n = wl_malloc(sizeof *n + wl_between(r, 0, 40));
        n->left = n->right = NULL;
        n->key = wl_next(r) >> 8;
        root = tree_insert(root, n);
    }
    uint64_t last = 0, pos = 0;
    uint64_t sum = tree_walk(root, &last, &pos);
    if (pos != count)
        wl_die("tree walk: %" PRIu64 " nodes, built %zu", pos, count);
    tree_free(root);
    return sum;
}

int main(int argc, char **argv)
{
    int quick = wl_args(argc, argv, "wl_interp");
    size_t steps = quick ? STEPS / 10 : STEPS;
    wl_rng r = wl_seed(1);
    uint64_t allocated = 0, freed = 0, trees = 0;

    for (size_t step = 0; step < steps; step++) {
        struct slot *s = &slots[wl_next(&r) % LIVE];
        if (s->p != NULL) {
            freed += wl_check(s->p, s->size, s->tag);
            free(s->p);
        }
        s->size = object_size(&r);
        s->tag = wl_mix(step);
        s->p = wl_malloc(s->size);
        wl_stamp(s->p, s->size, s->tag);
        allocated += wl_mix(s->tag ^ s->size);
        if (step % TREE_EVERY == 0)
            trees += build_tree(&r);
    }
    for (size_t i = 0; i < LIVE; i++) {
        if (slots[i].p != NULL) {
            freed += wl_check(slots[i].p, slots[i].size, slots[i].tag);
            free(slots[i].p);
        }
    }
    if (freed != allocated)
        wl_die("freed objects sum to %016" PRIx64 ", allocated ones to %016" PRIx64, freed,
               allocated);
    wl_print_checksum(freed ^ trees);
    return 0;
}
