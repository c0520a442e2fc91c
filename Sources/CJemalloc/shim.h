#ifndef ESTUARY_CJEMALLOC_SHIM_H
#define ESTUARY_CJEMALLOC_SHIM_H
// jemalloc as the daemon's malloc: linking it replaces malloc, calloc and free for the whole
// process, libnetsnmp's per-binding allocations included (Docs/performance.md, section 5).
// Only mallctl is declared here: jemalloc/jemalloc.h would redeclare the C library's malloc.
#include <stddef.h>

int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

/// jemalloc's version string, or NULL when mallctl cannot read it.
static inline const char *estuary_jemalloc_version(void) {
    const char *version = NULL;
    size_t length = sizeof(version);
    if (mallctl("version", &version, &length, NULL, 0) != 0) return NULL;
    return version;
}

#endif
