/* The baseline for sigctl's verify phase: libclamav load + compile of a
 * directory with clamd's default options, nothing else. Prints seconds. */
#include <clamav.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 64;
    }
    double start = now();
    if (cl_init(CL_INIT_DEFAULT) != CL_SUCCESS) return 1;
    struct cl_engine *engine = cl_engine_new();
    unsigned int sigs = 0;
    if (cl_load(argv[1], engine, &sigs, CL_DB_STDOPT) != CL_SUCCESS) return 2;
    if (cl_engine_compile(engine) != CL_SUCCESS) return 3;
    double elapsed = now() - start;
    cl_engine_free(engine);
    printf("%.6f %u\n", elapsed, sigs);
    return 0;
}
