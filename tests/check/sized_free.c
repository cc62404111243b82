/* free_sized and C++ sized delete with sizes that release mode cannot tell
   from the right ones (the same size class): check mode knows each block's
   exact size and reports both.  The operator is looked up by its mangled
   name (this program is C), as a C++ program's `delete` would call it. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    void (*free_sized_fn)(void *, size_t) =
        (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
    void (*sized_delete)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "_ZdlPvm");
    if (free_sized_fn == NULL || sized_delete == NULL) {
        printf("sized_free: free_sized or _ZdlPvm is not exported\n");
        return 1;
    }
    void *volatile a = malloc(10);
    free_sized_fn(a, 12);          /* allocated with 10 */
    void *volatile b = malloc(20); /* what operator new(20) does */
    sized_delete(b, 24);
    void *volatile c = malloc(40);
    free_sized_fn(c, 40); /* right */
    printf("sized_free: done\n");
    return 0;
}
