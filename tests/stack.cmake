# tests of the stack API (test_stack.c, test_stack_misuse.c)
