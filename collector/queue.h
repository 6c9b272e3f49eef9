/* queue: a bounded multi-producer, single-consumer queue of pointers between threads. */
#ifndef ZFLOW_QUEUE_H
#define ZFLOW_QUEUE_H

#include <stddef.h>

typedef struct queue queue_t;

/* Creates a queue holding at most `cap` items. NULL on failure. */
queue_t *queue_new(size_t cap);
/* Frees the queue (not the items). */
void queue_destroy(queue_t **self);

/* Appends without blocking; returns 0, or -1 when full. */
int queue_push(queue_t *self, void *item);
/* Free slots right now (only grows until the next push when one thread produces). */
size_t queue_room(queue_t *self);
/* Takes the oldest item, waiting up to timeout_ms (0 = do not wait). NULL on timeout. */
void *queue_pop(queue_t *self, int timeout_ms);
/* Items queued right now. */
size_t queue_depth(queue_t *self);

#endif
