/* A block malloc'd by the main thread is freed by a thread that keeps it
   for reuse (borrowed: no other thread can see the list it is on), then
   freed again, while that thread still holds it, by
     owner     the main thread, which owns the block's page;
     borrower  the same thread;
     third     a third thread. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile block;
static sem_t freed, done;

static void *borrower(void *arg)
{
    free(malloc(16)); /* the thread's heap exists: it can borrow */
    free(block);
    if (arg != NULL)
        free(block);
    sem_post(&freed);
    sem_wait(&done); /* hold the borrowed block until the end */
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
    sem_init(&freed, 0, 0);
    sem_init(&done, 0, 0);
    block = malloc(48);
    pthread_t t, u;
    pthread_create(&t, NULL, borrower, strcmp(who, "borrower") == 0 ? (void *)1 : NULL);
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
    printf("double_free_borrowed %s: not caught\n", who);
    return 0;
}
