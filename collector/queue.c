/* queue: a bounded multi-producer, single-consumer queue of pointers between threads. */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    void **items;
    size_t cap, head, count;
};

queue_t *queue_new(size_t cap)
{
    queue_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->items = calloc(cap ? cap : 1, sizeof *self->items);
    if (!self->items) {
        free(self);
        return NULL;
    }
    self->cap = cap ? cap : 1;
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&self->nonempty, &ca);
    pthread_condattr_destroy(&ca);
    return self;
}

void queue_destroy(queue_t **self)
{
    if (!self || !*self)
        return;
    pthread_mutex_destroy(&(*self)->lock);
    pthread_cond_destroy(&(*self)->nonempty);
    free((*self)->items);
    free(*self);
    *self = NULL;
}

int queue_push(queue_t *self, void *item)
{
    pthread_mutex_lock(&self->lock);
    if (self->count == self->cap) {
        pthread_mutex_unlock(&self->lock);
        return -1;
    }
    self->items[(self->head + self->count) % self->cap] = item;
    self->count++;
    pthread_cond_signal(&self->nonempty);
    pthread_mutex_unlock(&self->lock);
    return 0;
}

size_t queue_room(queue_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t room = self->cap - self->count;
    pthread_mutex_unlock(&self->lock);
    return room;
}

size_t queue_depth(queue_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->count;
    pthread_mutex_unlock(&self->lock);
    return n;
}

void *queue_pop(queue_t *self, int timeout_ms)
{
    pthread_mutex_lock(&self->lock);
    if (self->count == 0 && timeout_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (self->count == 0) {
            if (pthread_cond_timedwait(&self->nonempty, &self->lock, &ts) == ETIMEDOUT)
                break;
        }
    }
    void *item = NULL;
    if (self->count) {
        item = self->items[self->head];
        self->head = (self->head + 1) % self->cap;
        self->count--;
    }
    pthread_mutex_unlock(&self->lock);
    return item;
}
