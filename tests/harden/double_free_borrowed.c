/* A block malloc'd by the main thread is freed by a thread that holds it
   (no other thread can see the list it is on), then freed again, while
   that thread still holds it, by
     owner     the main thread, which owns the block's page;
     freer     the same thread;
     third     a third thread.
   Where the freeing thread holds it (src/heap/page.c), the second argument:
     borrowed  a list kept for its own reuse (the default);
     outbox    its outbox: the block is of another page than the one its
               borrowed list holds, and waits there to be pushed to its page
               with others. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SPAN = 4000 }; /* 48-byte blocks: 187 KiB, more than a page holds */

static void *volatile first, *volatile block;
static sem_t freed, done;

static void *freer(void *arg)
{
    free(malloc(16)); /* the thread's heap exists: it can borrow */
    if (first != NULL)
        free(first); /* borrowed: its list holds blocks of first's page now */
    free(block);
    if (arg != NULL)
        free(block);
    sem_post(&freed);
    sem_wait(&done); /* hold the block until the end */
    return NULL;
}

static void *third(void *arg)
{
    (void)arg;
    free(block);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *who = argc > 1 ? argv[1] : "owner";
    int outbox = argc > 2 && strcmp(argv[2], "outbox") == 0;
    sem_init(&freed, 0, 0);
    sem_init(&done, 0, 0);
    static void *keep[SPAN];
    for (int i = 0; i < SPAN; i++)
        keep[i] = malloc(48);
    first = outbox ? keep[0] : NULL;
    block = keep[SPAN - 1];
    pthread_t t, u;
    pthread_create(&t, NULL, freer, strcmp(who, "freer") == 0 ? (void *)1 : NULL);
    sem_wait(&freed);
    if (strcmp(who, "owner") == 0) {
        free(block);
    } else if (strcmp(who, "third") == 0) {
        pthread_create(&u, NULL, third, NULL);
        pthread_join(u, NULL);
    }
    sem_post(&done);
    pthread_join(t, NULL);
    void *a = malloc(48);
    void *b = malloc(48);
    if (a == b)
        printf("BUG: malloc returned the live block %p twice\n", a);
    printf("double_free_borrowed %s %s: not caught\n", who, outbox ? "outbox" : "borrowed");
    return 0;
}
