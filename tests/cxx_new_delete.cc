// C++'s operator new and delete under LD_PRELOAD=libstackheap.so: every form
// reaches stackheap (dladdr), a failed new throws std::bad_alloc after the
// new-handler ran, nothrow new returns nullptr, and the sized and aligned
// deletes C++ emits for ordinary code are accepted.  Prints one line per
// finding; the test (tests/cxx.cmake) matches them.
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <new>
#include <string>
#include <vector>

struct alignas(64) Wide {
    char bytes[100];
};

static bool from_stackheap(const char *symbol)
{
    Dl_info where;
    void *f = dlsym(RTLD_DEFAULT, symbol);
    return f != nullptr && dladdr(f, &where) != 0 && std::string(where.dli_fname).find("libstackheap") != std::string::npos;
}

static bool handler_ran = false;

int main()
{
    const char *symbols[] = {"_Znwm", "_ZdlPv", "_ZdlPvm", "_ZnwmSt11align_val_t",
                             "_ZdlPvmSt11align_val_t", "_ZnamRKSt9nothrow_t"};
    for (const char *s : symbols)
        std::printf("%s: %s\n", s, from_stackheap(s) ? "stackheap" : "NOT stackheap");

    std::vector<std::string> words;
    for (int i = 0; i < 100000; i++)
        words.push_back(std::string(20 + i % 100, 'x'));
    Wide *one = new Wide;
    Wide *many = new Wide[10];
    std::printf("aligned new: %s\n",
                reinterpret_cast<uintptr_t>(one) % 64 == 0 &&
                        reinterpret_cast<uintptr_t>(many) % 64 == 0
                    ? "64-aligned"
                    : "MISALIGNED");
    delete one;
    delete[] many;
    int *ints = new (std::nothrow) int[5];
    delete[] ints;

    void *none = ::operator new(std::size_t(1) << 62, std::nothrow);
    std::printf("nothrow new of 4 EiB: %s\n", none == nullptr ? "nullptr" : "a pointer");
    std::set_new_handler([] {
        handler_ran = true;
        std::set_new_handler(nullptr);
    });
    try {
        void *p = ::operator new(std::size_t(1) << 62);
        std::printf("new of 4 EiB: returned %p\n", p);
    } catch (std::bad_alloc &) {
        std::printf("new of 4 EiB: std::bad_alloc, handler %s\n", handler_ran ? "ran" : "did not run");
    }
    std::printf("cxx_new_delete: done, %zu strings\n", words.size());
    return 0;
}
