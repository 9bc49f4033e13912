/*
 * replay_main.c - runs a fuzz harness without libFuzzer: calls LLVMFuzzerTestOneInput once
 * for every file named on the command line and for every regular file in the directories
 * named there (not recursive; sorted by name, so runs are repeatable).
 *
 * Build it with one harness and every .c file of src/ and src/kernels/ (.ci/fuzz.sh does):
 *   gcc -std=c99 -Iinclude LIBRARY_SOURCES tests/fuzz/fuzz_kernels.c tests/fuzz/replay_main.c
 *       -lm -o replay && ./replay tests/fuzz/corpus/fuzz_kernels
 *
 * Exits 0 after replaying everything (a violated invariant traps inside the harness), 2 if a
 * path cannot be read or nothing was replayed.
 */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#  undef _POSIX_C_SOURCE
#  define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t size = 0, cap = 0, got;

    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    for (;;) {
        if (size == cap) {
            uint8_t *grown;
            cap = cap ? 2 * cap : 4096;
            grown = (uint8_t *)realloc(buf, cap);
            if (!grown) {
                fprintf(stderr, "replay: out of memory reading %s\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = grown;
        }
        got = fread(buf + size, 1, cap - size, f);
        size += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* An exact-size copy, as libFuzzer passes it: reads past the end are caught by ASan. */
    {
        uint8_t *exact = (uint8_t *)malloc(size ? size : 1);
        if (!exact) {
            free(buf);
            return -1;
        }
        if (size)
            memcpy(exact, buf, size);
        free(buf);
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
        LLVMFuzzerTestOneInput(exact, size);
        free(exact);
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int replay_dir(const char *dir, long *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int rc = 0;

    if (!d) {
        fprintf(stderr, "replay: cannot open directory %s\n", dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char *path;
        struct stat st;
        size_t len;
        if (e->d_name[0] == '.')
            continue;
        len = strlen(dir) + strlen(e->d_name) + 2;
        path = (char *)malloc(len);
        if (!path) {
            rc = -1;
            break;
        }
        snprintf(path, len, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            char **grown;
            cap = cap ? 2 * cap : 64;
            grown = (char **)realloc(names, cap * sizeof *names);
            if (!grown) {
                free(path);
                rc = -1;
                break;
            }
            names = grown;
        }
        names[n++] = path;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (i = 0; i < n; i++) {
        if (rc == 0 && replay_file(names[i]) != 0)
            rc = -1;
        else if (rc == 0)
            (*count)++;
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    long count = 0;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
            return 2;
        }
        if (S_ISDIR(st.st_mode)) {
            if (replay_dir(argv[i], &count) != 0)
                return 2;
        } else {
            if (replay_file(argv[i]) != 0)
                return 2;
            count++;
        }
    }
    printf("replayed %ld input%s\n", count, count == 1 ? "" : "s");
    return count > 0 ? 0 : 2;
}
