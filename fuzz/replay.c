/*
 * fuzz/replay: runs inputs through a target without any fuzzer, so every
 * seed and every crash ever found stays a test (meson test runs it over
 * corpus/ and fuzz/regressions/).
 *   replay [--target NAME] FILE_OR_DIRECTORY...
 * Directories are read one level deep; readable programs (*.txt) and other
 * notes beside the inputs are skipped. Exit 0 when every input ran clean;
 * an invariant violation aborts, after naming the input on stderr.
 */

#define _DEFAULT_SOURCE /* dirent d_type, strdup */

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_io.h"

static char g_current[4096];

static void name_the_input(int sig)
{
    (void)sig;
    static const char head[] = "replay: the input that failed: ";
    (void)!write(2, head, sizeof head - 1u);
    (void)!write(2, g_current, strlen(g_current));
    (void)!write(2, "\n", 1);
    signal(SIGABRT, SIG_DFL);
    raise(SIGABRT);
}

static bool is_input(const char *name)
{
    size_t n = strlen(name);
    static const char *const notes[] = {".txt", ".md", ".dict", ".options"};
    if (name[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) {
        size_t k = strlen(notes[i]);
        if (n >= k && strcmp(name + n - k, notes[i]) == 0) {
            return false;
        }
    }
    return true;
}

static int run_file(const char *target_name, const char *path)
{
    const fuzz_target_t *t = tool_target_for(target_name, path);
    size_t size;
    uint8_t *data = t != NULL ? tool_read_file(path, &size) : NULL;
    if (data == NULL) {
        return 1;
    }
    snprintf(g_current, sizeof g_current, "%s", path);
    fuzz_run(t, data, size, NULL);
    free(data);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *target_name, const char *dir, unsigned *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: %s: cannot open the directory\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (is_input(e->d_name)) {
            char **more = realloc(names, (n + 1u) * sizeof *names);
            if (more == NULL || (more[n] = strdup(e->d_name)) == NULL) {
                fprintf(stderr, "replay: out of memory\n");
                exit(1);
            }
            names = more;
            n++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int status = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            status |= run_file(target_name, path);
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return status;
}

int main(int argc, char **argv)
{
    const char *target_name = NULL;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--target") == 0) {
        target_name = argv[2];
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: replay [--target NAME] FILE_OR_DIRECTORY...\n");
        return 2;
    }
    signal(SIGABRT, name_the_input);
    int status = 0;
    unsigned count = 0;
    for (int i = first; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
            status = 1;
        } else if (S_ISDIR(st.st_mode)) {
            status |= run_dir(target_name, argv[i], &count);
        } else {
            status |= run_file(target_name, argv[i]);
            count++;
        }
    }
    if (count == 0u && status == 0) {
        fprintf(stderr, "replay: no input found\n");
        return 1;
    }
    printf("replay: %u inputs, %s\n", count, status == 0 ? "all clean" : "some could not be read");
    return status;
}
