/* fuzz_replay: runs LLVMFuzzerTestOneInput over files and directories (no libFuzzer needed),
 * so a corpus replays under the plain ASan/UBSan build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The fuzz target being replayed (fuzz_decode.c); returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (1u << 20)

/* Feeds one file as an exact-size heap buffer; 0 or -1 when it cannot be read. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;
    int rc = -1;

    if (!f) goto fail;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > REPLAY_MAX_INPUT ||
        fseek(f, 0, SEEK_SET) != 0)
        goto fail;
    buf = malloc(len ? (size_t)len : 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) goto fail;
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    rc = 0;
fail:
    if (rc != 0) fprintf(stderr, "fuzz_replay: cannot read %s\n", path);
    free(buf);
    if (f) fclose(f);
    return rc;
}

/* Replays a file, or every regular file of a directory (not recursive). Returns inputs run. */
static long replay_path(const char *path, int *errors)
{
    struct stat st;
    struct dirent *e;
    DIR *d;
    long n = 0;
    char sub[4096];

    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz_replay: %s: not found\n", path);
        (*errors)++;
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (replay_file(path) != 0) (*errors)++;
        return 1;
    }
    d = opendir(path);
    if (!d) {
        (*errors)++;
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= sizeof sub) continue;
        if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(sub) != 0) (*errors)++;
            n++;
        }
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    long total = 0;
    int errors = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        total += replay_path(argv[i], &errors);
    printf("fuzz_replay: %ld inputs, %d unreadable\n", total, errors);
    return errors || total == 0 ? 1 : 0;
}
