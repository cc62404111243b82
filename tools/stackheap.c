#include "stackheap.h"
#include <stdio.h>
int main(void)
{
    sh_stack *s = sh_stack_new(1 << 20);
    void *p = sh_stack_alloc(s, 100);
    printf("%p\n", p);
    sh_stack_delete(s);
    return 0;
}
