/* script_engine: loads and runs ntopng-style Lua user scripts (one Lua state per engine; each
 * worker thread owns its own engine). The contract is DESIGN.md's "user-script contract". */
#ifndef ZFLOW_SCRIPT_ENGINE_H
#define ZFLOW_SCRIPT_ENGINE_H

#include "alert.h"
#include "cflow.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum script_subdir {
    SUBDIR_FLOW = 0,
    SUBDIR_INTERFACE,
    SUBDIR_NETWORK,
    SUBDIR_SYSTEM,
    SUBDIR_SNMP,
    SUBDIR_SYSLOG,
    SUBDIR_COUNT
} script_subdir_t;

/* Flow hooks; `all` is not a hook of its own: a script's `all` function runs for every one. */
typedef enum flow_hook {
    FLOW_HOOK_PROTOCOL_DETECTED = 0,
    FLOW_HOOK_STATUS_CHANGED,
    FLOW_HOOK_PERIODIC_UPDATE,
    FLOW_HOOK_FLOW_END,
    FLOW_HOOK_COUNT
} flow_hook_t;

typedef struct script_engine script_engine_t;

/* Calls from Lua back into the collector. Every callback gets `ctx`. All may be NULL. */
typedef struct engine_host {
    void *ctx;
    /* Stores an alert (one-shot or engaged); returns 0 or -1. */
    int (*store_alert)(void *ctx, const alert_t *alert);
    /* Releases an engaged alert; returns 0 or -1. */
    int (*release_alert)(void *ctx, const char *entity, const char *entity_value,
                         const char *alert_type, const char *script_key);
    /* 1 when the alert is engaged. */
    int (*is_engaged)(void *ctx, const char *entity, const char *entity_value,
                      const char *alert_type, const char *script_key);
    /* Interns a string for cflow_t fields (status keys); returns a pointer that lives as long
     * as the engine. */
    const char *(*intern)(void *ctx, const char *s);
    /* Pushes interface.getStats() of the current interface as a Lua table. */
    void (*push_interface_stats)(void *ctx, void *lua_state, const struct iface *iface);
    /* Name, id, probe id and packet-interface flag of an interface. */
    const char *(*iface_name)(const struct iface *iface);
    int (*iface_id)(const struct iface *iface);
    const char *(*iface_probe_id)(const struct iface *iface);
    int (*iface_is_packet)(const struct iface *iface);
} engine_host_t;

typedef struct engine_config {
    const char *installdir;      /* contains scripts/lua/modules and scripts/callbacks */
    const char *const *user_dirs;/* --scripts-dir DIRs, same layout (DIR/callbacks/<subdir>) */
    int n_user_dirs;
    const char *config_path;     /* per-script configuration JSON (may not exist) */
    const char *data_dir;
    size_t mem_limit;            /* Lua heap cap in bytes (default 64 MiB) */
    uint64_t instr_budget;       /* VM instructions per hook call (default 10,000,000) */
    uint32_t max_errors;         /* consecutive errors before a script is disabled (default 50) */
    uint32_t subdir_mask;        /* 1 << script_subdir_t of what to load (0 = all) */
    const char *local_networks;  /* comma separated CIDRs, for flow locality getters */
    engine_host_t host;
} engine_config_t;

/* Per script, as --list-scripts shows it. */
typedef struct script_info {
    char subdir[16];
    char key[128];
    char path[512];
    char hooks[256];             /* comma separated */
    int enabled;                 /* after configuration */
    int loaded;                  /* 0 = load error (see why) */
    int packet_interface_only;
    int nedge_only;
    int nedge_exclude;
    char why_not[256];           /* "" or why it does not run (disabled, load error: ..., ...) */
    char config_json[512];       /* effective configuration as JSON */
    uint64_t calls;
    uint64_t errors;
    double seconds;              /* time spent in the script's hooks */
} script_info_t;

/* Creates the Lua state, installs the sandbox (capped allocator, instruction hook, only the
 * base, table, string, math, utf8, os.time/clock/date and package/require libraries), the C
 * modules (flow, interface, ntop, ...) and loads every script of the subdirs in
 * cfg->subdir_mask, stock first then user dirs (same key replaces), running setup().
 * Load problems are logged (file, key, problem) and the script skipped; they are not fatal.
 * Returns NULL only when the engine itself cannot be built (err gets one line). */
script_engine_t *script_engine_new(const engine_config_t *cfg, char *err, size_t errlen);

/* Runs teardown() of every loaded script and closes the state. */
void script_engine_destroy(script_engine_t **self);

/* Runs `hook` of every enabled flow script that has it (or `all`) for `flow`, honouring
 * packet_interface_only (is_packet_iface), nedge_only, the l4_proto/l7_proto filters and, for
 * periodicUpdate, periodic_update_seconds against flow->last_update_s and now_s. Each call
 * gets (now, config). A triggerStatus() from a script records a flow alert through the host
 * and then runs statusChanged on the flow's other scripts. Returns the number of script calls. */
int script_engine_run_flow_hook(script_engine_t *self, flow_hook_t hook, cflow_t *flow,
                                int is_packet_iface, int64_t now_s);

/* 1 when at least one enabled script of the subdir has that hook (callers skip work if not). */
int script_engine_has_flow_hook(const script_engine_t *self, flow_hook_t hook);

/* Number of scripts and their info (for --list-scripts). Returns the count; fills at most max. */
int script_engine_list(const script_engine_t *self, script_info_t *out, int max);

/* Total hook calls and errors so far. */
void script_engine_totals(const script_engine_t *self, uint64_t *calls, uint64_t *errors);

#endif
