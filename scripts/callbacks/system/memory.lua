--
-- memory: the collector's host is short of memory: used memory (MemTotal - MemAvailable) in
-- percent of MemTotal crosses a threshold, 90 by default. Engaged while above; released by the
-- first round below it.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 80 %:
--   {"system": {"memory": {"value": "memory;gt;80"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.system,
   default_enabled = true,
   default_value = "memory;gt;90",
   gui = {
      i18n_title = "Memory",
      i18n_description = "Used memory of the collector's host crosses a threshold",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 0,
      field_max = 100,
      field_operator = "gt",
      i18n_field_unit = user_scripts.field_units.percentage,
   },
   hooks = {},
}

function script.hooks.min(params)
   local info = params.entity_info
   local mem = info.memory
   if not mem.used_pct then return end -- /proc/meminfo unreadable
   local conf = params.user_script_config
   alerts_api.checkThresholdAlert(params, "memory", mem.used_pct, {
      score = 50,
      message = string.format("Memory of %s: %.1f %% used (%s of %s; threshold %s %s %%); "
                              .. "the collector uses %s", info.hostname, mem.used_pct,
                              bytesToSize(mem.used), bytesToSize(mem.total),
                              conf.operator or "gt", tostring(conf.threshold),
                              bytesToSize(mem.collector_rss)),
      json = { used = mem.used, total = mem.total, available = mem.available,
               collector_rss = mem.collector_rss },
   })
end

return script
