/*
 * threads.c: the engine's thread pool.  See nn.h ("Threads").
 */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "nn_impl.h"

/*
 * Thread pool.  The caller is thread 0; workers 1..n-1 wait for a job.
 */
typedef void (*job_fn)(void *arg, int tid, int nthreads);

static struct {
	int		 n;
	pthread_t	 tid[XF_NN_PARTS];
	pthread_mutex_t	 mu;
	pthread_cond_t	 go, done;
	job_fn		 fn;
	void		*arg;
	unsigned	 gen;
	unsigned	 start_gen;	/* gen when the workers were made */
	int		 pending;
	int		 quit;
} pool = {
	.n = 1, .mu = PTHREAD_MUTEX_INITIALIZER,
	.go = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER,
};

static void *
worker(void *p)
{
	int id = (int)(intptr_t)p;
	unsigned seen = pool.start_gen;

	for (;;) {
		job_fn fn;
		void *arg;

		pthread_mutex_lock(&pool.mu);
		while (pool.gen == seen && !pool.quit)
			pthread_cond_wait(&pool.go, &pool.mu);
		if (pool.quit) {
			pthread_mutex_unlock(&pool.mu);
			return NULL;
		}
		seen = pool.gen;
		fn = pool.fn;
		arg = pool.arg;
		pthread_mutex_unlock(&pool.mu);
		fn(arg, id, pool.n);
		pthread_mutex_lock(&pool.mu);
		if (--pool.pending == 0)
			pthread_cond_signal(&pool.done);
		pthread_mutex_unlock(&pool.mu);
	}
}

static void
pool_stop(void)
{
	pthread_mutex_lock(&pool.mu);
	pool.quit = 1;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	for (int i = 1; i < pool.n; i++)
		pthread_join(pool.tid[i], NULL);
	pool.quit = 0;
	pool.n = 1;
}

int
xf_nn_set_threads(int n)
{
	if (n <= 0)
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > XF_NN_PARTS)
		n = XF_NN_PARTS;
	pool_stop();
	pool.n = n;
	/* A new worker must not take the last job for a new one. */
	pool.start_gen = pool.gen;
	for (int i = 1; i < n; i++)
		if (pthread_create(&pool.tid[i], NULL, worker,
		    (void *)(intptr_t)i) != 0) {
			/* Workers read pool.n only when a job starts. */
			pool.n = i;
			break;
		}
	return pool.n;
}

int
xf_nn_threads(void)
{
	return pool.n;
}

static void
pool_run(job_fn fn, void *arg)
{
	if (pool.n == 1) {
		fn(arg, 0, 1);
		return;
	}
	pthread_mutex_lock(&pool.mu);
	pool.fn = fn;
	pool.arg = arg;
	pool.pending = pool.n - 1;
	pool.gen++;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	fn(arg, 0, pool.n);
	pthread_mutex_lock(&pool.mu);
	while (pool.pending > 0)
		pthread_cond_wait(&pool.done, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
}

void
xf_nn_run(void (*fn)(void *arg, int tid, int nthreads), void *arg)
{
	pool_run(fn, arg);
}

void
xf_nn_split(size_t count, int tid, int nt, size_t *i0, size_t *i1)
{
	size_t blocks = (count + 15) / 16;

	*i0 = blocks * tid / nt * 16;
	*i1 = blocks * (tid + 1) / nt * 16;
	if (*i1 > count)
		*i1 = count;
	if (*i0 > *i1)
		*i0 = *i1;
}
