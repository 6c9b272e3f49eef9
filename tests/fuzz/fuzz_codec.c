/* fuzz_codec: libFuzzer target for codec_unpack(), the collector's and the probe's reader of
 * envelopes from the network. A message it accepts must hold what the validation promises,
 * render as JSON, and pack and unpack again to an accepted message. */
#include "codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer entry point: aborts on a broken invariant. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless an accepted flow renders as one bounded JSON line. */
static void check_flow(const Zflow__Flow *f)
{
    static char json[CODEC_MAX_FLOW_JSON];
    if (codec_check_flow(f) != CODEC_OK) abort();
    int n = codec_flow_to_json_buf(f, json, sizeof json);
    if (n <= 0 || (size_t)n >= sizeof json || json[n - 1] != '\n') abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    codec_msg_t *msg = NULL;
    codec_error_t err = codec_unpack(data, size, &msg);
    if (err != CODEC_OK) {
        if (msg || err <= CODEC_OK || err >= CODEC_ERR_COUNT) abort();
        return 0;
    }
    const Zflow__Envelope *env = codec_msg_env(msg);
    if (!env || env->schema_version != CODEC_SCHEMA_VERSION || !env->probe_id ||
        !env->probe_id[0])
        abort();
    if (env->payload_case == ZFLOW__ENVELOPE__PAYLOAD_FLOWS) {
        if (env->flows->n_flows > CODEC_MAX_FLOWS_PER_BATCH) abort();
        for (size_t i = 0; i < env->flows->n_flows; i++)
            check_flow(env->flows->flows[i]);
    }
    /* what was accepted packs again, and the copy is accepted too */
    size_t len = 0;
    uint8_t *again = codec_pack(env, &len);
    if (!again) abort();
    codec_msg_t *copy = NULL;
    if (codec_unpack(again, len, &copy) != CODEC_OK) abort();
    if (codec_msg_env(copy)->seq != env->seq || codec_msg_env(copy)->run_id != env->run_id ||
        codec_msg_env(copy)->payload_case != env->payload_case)
        abort();
    codec_msg_destroy(&copy);
    free(again);
    codec_msg_destroy(&msg);
    return 0;
}
