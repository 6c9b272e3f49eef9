/* local_msg: a packed envelope from a local packet interface thread to ingest. */
#ifndef ZFLOW_LOCAL_MSG_H
#define ZFLOW_LOCAL_MSG_H

#include <stddef.h>
#include <stdint.h>

typedef struct local_msg {
    uint8_t *buf;                /* packed zflow Envelope (malloc'd); NULL = source finished */
    size_t len;
} local_msg_t;

#endif
