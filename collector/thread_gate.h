/* thread_gate: a thread's creator waits until the thread has set itself up (built its Lua
 * state, ...) and learns whether that worked, with the thread's error message. */
#ifndef ZFLOW_THREAD_GATE_H
#define ZFLOW_THREAD_GATE_H

#include <pthread.h>
#include <stdio.h>

typedef struct thread_gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int state;               /* 0 = setting up, 1 = ready, -1 = failed */
    char err[256];
} thread_gate_t;

static inline void thread_gate_init(thread_gate_t *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->state = 0;
    g->err[0] = '\0';
}

static inline void thread_gate_destroy(thread_gate_t *g)
{
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
}

/* The thread: its set-up returned rc (0 = ready) with message err. */
static inline void thread_gate_open(thread_gate_t *g, int rc, const char *err)
{
    pthread_mutex_lock(&g->lock);
    g->state = rc == 0 ? 1 : -1;
    snprintf(g->err, sizeof g->err, "%s", err ? err : "");
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* The creator: waits for thread_gate_open(); 0, or -1 with the thread's message in err. */
static inline int thread_gate_wait(thread_gate_t *g, char *err, size_t errlen)
{
    pthread_mutex_lock(&g->lock);
    while (!g->state)
        pthread_cond_wait(&g->cond, &g->lock);
    int state = g->state;
    pthread_mutex_unlock(&g->lock);
    if (state < 0) {
        snprintf(err, errlen, "%s", g->err);
        return -1;
    }
    return 0;
}

#endif
