/*
 * replay: runs a fuzz target's LLVMFuzzerTestOneInput once on each file
 * named, or on each file in each directory named, with no fuzzer runtime.
 * Linked with fuzz_stream.c or fuzz_ckpt.c and the ordinary libxf; make
 * fuzz-replay and tests/tool/fuzz-replay.sh use it to replay the corpus and
 * the regression inputs.  A crash is the test failing: the target aborts,
 * or the sanitizers stop it under make SAN=1.
 *
 *	replay_stream.bin tests/fuzz/corpus/stream tests/fuzz/regress/stream
 */
#include <dirent.h>
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int verbose;

static void
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		err(1, "%s", path);
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 1 << 16;
			if ((buf = realloc(buf, cap)) == NULL)
				err(1, "%s", path);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f))
		err(1, "%s", path);
	fclose(f);
	if (verbose)
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	/* An exact-size copy, so a sanitizer sees a read one byte past it. */
	unsigned char *exact = malloc(len ? len : 1);
	if (exact == NULL)
		err(1, "%s", path);
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns the number of files replayed. */
static int
replay(const char *path)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int count = 0;
	DIR *d;

	if (stat(path, &st) < 0)
		err(1, "%s", path);
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return 1;
	}
	if ((d = opendir(path)) == NULL)
		err(1, "%s", path);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((names = realloc(names, (n + 1) * sizeof *names)) == NULL ||
		    asprintf(&names[n], "%s/%s", path, de->d_name) < 0)
			err(1, "%s", path);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		count += replay(names[i]);
		free(names[i]);
	}
	free(names);
	return count;
}

int
main(int argc, char **argv)
{
	int n = 0;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		argc--, argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: replay [-v] file|dir ...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		n += replay(argv[i]);
	printf("replayed %d inputs\n", n);
	return 0;
}
