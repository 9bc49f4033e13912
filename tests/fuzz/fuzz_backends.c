/*
 * fuzz_backends.c - the same fuzzed calls through every backend this build and CPU have
 * (fpq_backend_at / fpq_backend_available / fpq_set_backend): every status and every byte of
 * every buffer after the call must be identical to the scalar backend's. Each call also runs
 * in a fuzzed floating-point environment (rounding mode, FTZ / DAZ), which must change no bit
 * and must be restored. And the backend names: arbitrary strings through
 * fpq_backend_available / fpq_set_backend, which must answer as include/fpq.h says.
 *
 * Input layout: one byte floating-point environment, one byte name length (low 4 bits) and
 * that many name bytes, then a kernel case as fuzz_case.h describes.
 *
 * The single-call invariants of fuzz_kernels.c (statuses, guards, nothing written on error)
 * hold here too: every call goes through fz_run.
 */
#include "fuzz_case.h"

#define MAX_BACKENDS 16

static int num_backends;
static const char *backend_names[MAX_BACKENDS];
static int backend_ok[MAX_BACKENDS];

static void list_backends(void)
{
    int i, j;
    if (num_backends)
        return;
    for (i = 0; fpq_backend_at(i); i++) {
        FZ_CHECK(i < MAX_BACKENDS);
        backend_names[i] = fpq_backend_at(i);
        backend_ok[i] = fpq_backend_available(backend_names[i]);
        FZ_CHECK(backend_ok[i] == 0 || backend_ok[i] == 1);
        for (j = 0; j < i; j++)
            FZ_CHECK(strcmp(backend_names[i], backend_names[j]) != 0);
    }
    num_backends = i;
    FZ_CHECK(num_backends >= 1);
    FZ_CHECK(fpq_backend_at(-1) == NULL);
    FZ_CHECK(!strcmp(backend_names[num_backends - 1], "scalar") &&
             backend_ok[num_backends - 1]);
    FZ_CHECK(fpq_backend_available(NULL) == 0);
    FZ_CHECK(fpq_set_backend(NULL) == FPQ_ERR_NULL);
}

static const char *best_backend(void)
{
    int i;
    for (i = 0; i < num_backends; i++)
        if (backend_ok[i])
            return backend_names[i];
    return "scalar";
}

static void use_backend(const char *name)
{
    FZ_CHECK(fpq_set_backend(name) == FPQ_OK);
    FZ_CHECK(!strcmp(fpq_backend_name(), name));
}

/* An arbitrary string as a backend name. */
static void check_name(const char *name)
{
    int i, known = -1, avail, st;
    const char *before;

    for (i = 0; i < num_backends; i++)
        if (!strcmp(name, backend_names[i]))
            known = i;
    avail = fpq_backend_available(name);
    FZ_CHECKF(avail == (known >= 0 && backend_ok[known]), "fpq_backend_available(\"%s\") = %d\n",
              name, avail);
    before = fpq_backend_name();
    st = fpq_set_backend(name);
    if (!strcmp(name, "auto")) {
        FZ_CHECK(st == FPQ_OK && !strcmp(fpq_backend_name(), best_backend()));
    } else if (known < 0) {
        FZ_CHECKF(st == FPQ_ERR_NAME, "fpq_set_backend(\"%s\") = %d\n", name, st);
        FZ_CHECK(fpq_backend_name() == before);
    } else if (!backend_ok[known]) {
        FZ_CHECK(st == FPQ_ERR_UNSUPPORTED);
        FZ_CHECK(fpq_backend_name() == before);
    } else {
        FZ_CHECK(st == FPQ_OK && !strcmp(fpq_backend_name(), name));
    }
}

/* The calls of one case under the backend in use; results[] get the arenas. */
enum { CALLS = 5 };

static void run_all(const fz_case *c, const fz_env *env, fz_result *res)
{
    fz_run(c, FZ_Q, c->x, c->pmode[FZ_Q], c->pparam[FZ_Q], env, &res[0]);
    fz_run(c, FZ_FQ, c->x, c->pmode[FZ_FQ], c->pparam[FZ_FQ], env, &res[1]);
    fz_run(c, FZ_DQ, c->codes, c->pmode[FZ_DQ], c->pparam[FZ_DQ], env, &res[2]);
    fz_run(c, FZ_FQ, c->x, FZ_PM_IN_PLACE, 0, env, &res[3]);
    /* the codes quantize gave, back (when it succeeded), else arbitrary codes packed */
    if (res[0].status == FPQ_OK) {
        uint8_t *codes = (uint8_t *)calloc(c->nalloc, 1);
        FZ_CHECK(codes != NULL);
        memcpy(codes, res[0].out, res[0].out_len);
        fz_run(c, FZ_DQ, codes, 0, 0, env, &res[4]);
        free(codes);
    } else {
        fz_run(c, FZ_DQ, c->codes, 0, 0, env, &res[4]);
    }
}

static void free_all(fz_result *res)
{
    int i;
    for (i = 0; i < CALLS; i++)
        fz_arena_free(&res[i].arena);
}

static void expect_same(const fz_result *want, const fz_result *got, const char *backend,
                        const char *what)
{
    int i;
    size_t k;
    for (i = 0; i < CALLS; i++) {
        FZ_CHECKF(want[i].status == got[i].status, "%s (%s), call %d: status %d, scalar %d\n",
                  backend, what, i, got[i].status, want[i].status);
        FZ_CHECK(want[i].arena.size == got[i].arena.size);
        for (k = 0; k < want[i].arena.size; k++)
            FZ_CHECKF(want[i].arena.base[k] == got[i].arena.base[k],
                      "%s (%s), call %d: byte %zu of the buffers is %#x, scalar %#x\n", backend,
                      what, i, k, got[i].arena.base[k], want[i].arena.base[k]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    fz_case c;
    fz_env env;
    fz_result ref[CALLS], got[CALLS];
    char name[16];
    size_t len, i;
    int b;

    fz_env_default();
    list_backends();
    r.p = data;
    r.n = size;
    env = fz_env_pick(fz_u8(&r));
    len = fz_u8(&r) % 16;
    for (i = 0; i < len; i++)
        name[i] = (char)fz_u8(&r);
    name[len] = '\0';
    check_name(name);
    if (!fz_case_parse(&c, &r, fz_hash(data, size)))
        return 0;

    use_backend("scalar");
    run_all(&c, NULL, ref);
    /* the scalar backend in the fuzzed environment */
    run_all(&c, &env, got);
    expect_same(ref, got, "scalar", "FP environment");
    free_all(got);

    for (b = 0; b < num_backends; b++) {
        if (!strcmp(backend_names[b], "scalar"))
            continue;
        if (!backend_ok[b]) {
            FZ_CHECK(fpq_set_backend(backend_names[b]) == FPQ_ERR_UNSUPPORTED);
            continue;
        }
        use_backend(backend_names[b]);
        run_all(&c, NULL, got);
        expect_same(ref, got, backend_names[b], "default environment");
        free_all(got);
        run_all(&c, &env, got);
        expect_same(ref, got, backend_names[b], "FP environment");
        free_all(got);
    }
    FZ_CHECK(fpq_set_backend("auto") == FPQ_OK);
    FZ_CHECK(!strcmp(fpq_backend_name(), best_backend()));
    free_all(ref);
    fz_case_free(&c);
    return 0;
}
