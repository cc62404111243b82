/* Lost structures: a linked list of 10 nodes whose head pointer is gone
   (its head definitely lost, the 9 nodes after it indirectly lost); with
   "cycle", two blocks pointing at each other and at nothing else (one of
   them counts as the root); with "tail", such a cycle that a third block
   points into (that block is the root and the cycle indirectly lost,
   whichever of the three comes first in memory); with "owner", a list held
   by an owner block allocated elsewhere (the owner definitely lost, all 10
   nodes indirectly); with "kept", a list kept reachable from a global,
   whose nodes are then not lost at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *next;
    long value;
};

struct node *kept;

__attribute__((noinline)) static struct node *new_node(struct node *next, long value)
{
    struct node *n = malloc(sizeof *n);
    n->next = next;
    n->value = value;
    return n;
}

__attribute__((noinline)) static void build_list(int count)
{
    struct node *head = NULL;
    for (int i = 0; i < count; i++)
        head = new_node(head, i);
    printf("leak_indirect: list of %d at %p\n", count, (void *)head);
}

struct owner {
    struct node *first;
    long count;
};

__attribute__((noinline)) static struct owner *new_owner(void)
{
    struct owner *o = malloc(sizeof *o);
    o->first = NULL;
    o->count = 0;
    return o;
}

__attribute__((noinline)) static void build_owned_list(int count)
{
    struct owner *o = new_owner();
    for (int i = 0; i < count; i++, o->count++)
        o->first = new_node(o->first, i);
}

__attribute__((noinline)) static void build_cycle(void)
{
    struct node *a = malloc(32);
    struct node *b = malloc(32);
    memset(a, 0, 32);
    memset(b, 0, 32);
    a->next = b;
    b->next = a;
}

__attribute__((noinline)) static void build_tailed_cycle(void)
{
    struct node *a = malloc(32);
    struct node *b = malloc(32);
    struct node *c = malloc(48);
    memset(a, 0, 32);
    memset(b, 0, 32);
    memset(c, 0, 48);
    a->next = b;
    b->next = a;
    c->next = b; /* not a: a block of the cycle that is not its lowest */
}

/* Overwrite the stack below main's frame, where the builders kept their
   pointers, so that no stale copy there reaches a lost block. */
__attribute__((noinline)) static void clear_stack(void)
{
    volatile char junk[16384];
    memset((char *)junk, 0, sizeof junk);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "list";
    if (strcmp(mode, "cycle") == 0) {
        build_cycle();
    } else if (strcmp(mode, "tail") == 0) {
        build_tailed_cycle();
    } else if (strcmp(mode, "owner") == 0) {
        build_owned_list(10);
    } else if (strcmp(mode, "kept") == 0) {
        for (int i = 0; i < 10; i++)
            kept = new_node(kept, i);
    } else {
        build_list(10);
    }
    clear_stack();
    printf("leak_indirect: done\n");
    return 0;
}
