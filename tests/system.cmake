# tests of the build, install, threads, options and tools
