#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xf.h"

/*
 * Every output file goes through here: the stream writer, the checkpoint
 * writer and the tools' text outputs.  The inputs the readers opened are
 * remembered by device and inode, so that an output onto one of them is
 * refused before anything is created; a regular file is written as a
 * temporary beside it and renamed over it only when whole.
 */

#define MAX_INPUTS 256
#define MAX_OPEN   64

/* An input is its device, inode, size and change and modification times: a
 * file made after an input was deleted can reuse its inode, and must not
 * count as that input.  The times alone do not tell them apart: the kernel
 * stamps files from a clock that ticks every few milliseconds, and a unit
 * test that read a checkpoint, deleted it and made a temporary in the same
 * tick had its temporary refused as an input (test_ckpt, now and then);
 * that temporary is empty, the input was not. */
static struct {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec ctim, mtim;
} inputs[MAX_INPUTS];
static int n_inputs;
/* Temporaries not yet committed, for xf_out_abort_all.  A plain array of
 * pointers, so that a signal handler can walk it. */
static char *volatile open_tmp[MAX_OPEN];

static int
is_input(const struct stat *st)
{
	for (int i = 0; i < n_inputs; i++)
		if (inputs[i].dev == st->st_dev && inputs[i].ino == st->st_ino &&
		    inputs[i].size == st->st_size &&
		    inputs[i].ctim.tv_sec == st->st_ctim.tv_sec &&
		    inputs[i].ctim.tv_nsec == st->st_ctim.tv_nsec &&
		    inputs[i].mtim.tv_sec == st->st_mtim.tv_sec &&
		    inputs[i].mtim.tv_nsec == st->st_mtim.tv_nsec)
			return 1;
	return 0;
}

static void
note(const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return;
	if (is_input(st))
		return;
	if (n_inputs < MAX_INPUTS) {
		inputs[n_inputs].dev = st->st_dev;
		inputs[n_inputs].ino = st->st_ino;
		inputs[n_inputs].size = st->st_size;
		inputs[n_inputs].ctim = st->st_ctim;
		inputs[n_inputs].mtim = st->st_mtim;
		n_inputs++;
	}
}

void
xf_input_note(int fd)
{
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0)
		note(&st);
}

void
xf_input_note_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0)
		note(&st);
}


/* This host's name with dots made '_', so a temporary's name splits on dots. */
static void
host_name(char *buf, size_t size)
{
	if (gethostname(buf, size) < 0 || buf[0] == 0)
		snprintf(buf, size, "host");
	buf[size - 1] = 0;
	for (char *p = buf; *p; p++)
		if (*p == '.' || *p == '/')
			*p = '_';
}

/*
 * Removes BASE.tmp.HOST.PID.XXXXXX in dir for this host's processes that no
 * longer run: what a run killed by SIGKILL left of this same output.
 */
static void
remove_stale(const char *dir, const char *base, const char *host)
{
	char prefix[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	size_t np;

	snprintf(prefix, sizeof prefix, "%s.tmp.%s.", base, host);
	np = strlen(prefix);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid;

		if (strncmp(de->d_name, prefix, np) != 0)
			continue;
		errno = 0;
		pid = strtol(de->d_name + np, &end, 10);
		if (errno || pid <= 0 || pid == (long)getpid() || *end != '.' ||
		    strlen(end + 1) != 6 || strchr(end + 1, '.') != NULL)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

int
xf_out_open(struct xf_out *o, const char *path, struct xf_err *err)
{
	char host[65], *dir, *slash;
	struct stat st;
	mode_t mask;
	int slot, exists;

	memset(o, 0, sizeof *o);
	o->fd = -1;
	if (path == NULL || strcmp(path, "-") == 0) {
		if (fstat(1, &st) == 0 && S_ISREG(st.st_mode) && is_input(&st))
			return xf_errf(err, "is also an input: refusing to "
			    "write onto it");
		o->fd = 1;
		return 0;
	}
	if ((exists = stat(path, &st) == 0)) {
		if (is_input(&st))
			return xf_errf(err, "is also an input: refusing to write "
			    "onto it");
		/*
		 * A device or a pipe (/dev/null, /dev/stdout, a FIFO) is
		 * written in place: a rename would replace the device node.
		 */
		if (!S_ISREG(st.st_mode)) {
			if ((o->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
				return xf_errf(err, "%s", strerror(errno));
			o->own = 1;
			return 0;
		}
	}
	for (slot = 0; slot < MAX_OPEN && open_tmp[slot] != NULL; slot++)
		;
	if (slot == MAX_OPEN)
		return xf_errf(err, "more than %d outputs open", MAX_OPEN);
	host_name(host, sizeof host);
	if ((o->path = strdup(path)) == NULL ||
	    asprintf(&o->tmp, "%s.tmp.%s.%ld.XXXXXX", path, host,
	    (long)getpid()) < 0) {
		free(o->path);
		o->path = o->tmp = NULL;
		return xf_errf(err, "out of memory");
	}
	if ((dir = strdup(path)) != NULL) {
		slash = strrchr(dir, '/');
		if (slash == NULL)
			remove_stale(".", dir, host);
		else {
			*slash = 0;
			remove_stale(slash == dir ? "/" : dir, slash + 1, host);
		}
		free(dir);
	}
	if ((o->fd = mkostemp(o->tmp, O_CLOEXEC)) < 0) {
		xf_errf(err, "%s: %s", o->tmp, strerror(errno));
		free(o->tmp);
		free(o->path);
		o->tmp = o->path = NULL;
		return -1;
	}
	open_tmp[slot] = o->tmp;
	o->slot = slot;
	o->own = 1;
	/* The file replaced keeps its mode; a new one gets 0666 less umask. */
	mask = umask(0);
	umask(mask);
	fchmod(o->fd, exists ? st.st_mode & 07777 : 0666 & ~mask);
	return 0;
}

static void
forget(struct xf_out *o)
{
	if (o->tmp != NULL)
		open_tmp[o->slot] = NULL;
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	o->fd = -1;
	o->own = 0;
}

void
xf_out_abort(struct xf_out *o)
{
	if (o->own && o->fd >= 0)
		close(o->fd);
	if (o->tmp != NULL)
		unlink(o->tmp);
	forget(o);
}

int
xf_out_commit(struct xf_out *o, struct xf_err *err)
{
	char *dir;
	int r = 0, dfd;

	if (o->tmp == NULL) {
		if (o->own && close(o->fd) < 0)
			r = xf_errf(err, "close: %s", strerror(errno));
		forget(o);
		return r;
	}
	if (fsync(o->fd) < 0)
		r = xf_errf(err, "fsync: %s", strerror(errno));
	if (close(o->fd) < 0 && r == 0)
		r = xf_errf(err, "close: %s", strerror(errno));
	o->fd = -1;
	if (r == 0 && rename(o->tmp, o->path) < 0)
		r = xf_errf(err, "rename: %s", strerror(errno));
	if (r < 0) {
		xf_out_abort(o);
		return r;
	}
	/* The rename is durable only once the directory is synced. */
	if ((dir = strdup(o->path)) != NULL) {
		char *slash = strrchr(dir, '/');

		if (slash == NULL)
			strcpy(dir, ".");
		else if (slash == dir)
			slash[1] = 0;
		else
			*slash = 0;
		if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(dir);
	}
	forget(o);
	return 0;
}

void
xf_out_abort_all(void)
{
	for (int i = 0; i < MAX_OPEN; i++)
		if (open_tmp[i] != NULL) {
			unlink(open_tmp[i]);
			open_tmp[i] = NULL;
		}
}
