--
-- cpu_load: the collector's host is overloaded: its 1-minute load average per CPU core, in
-- percent (100 = as many runnable tasks as cores), crosses a threshold, 95 by default.
-- Engaged while above; released by the first round below it.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 200 (twice as many tasks as cores):
--   {"system": {"cpu_load": {"value": "cpu_load;gt;200"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"

local script = {
   category = user_scripts.script_categories.system,
   default_enabled = true,
   default_value = "cpu_load;gt;95",
   gui = {
      i18n_title = "CPU Load",
      i18n_description = "The 1-minute load average per core of the collector's host crosses "
         .. "a threshold",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 0,
      field_operator = "gt",
      i18n_field_unit = user_scripts.field_units.percentage,
   },
   hooks = {},
}

function script.hooks.min(params)
   local info = params.entity_info
   local cpu = info.cpu
   if not cpu.load_pct then return end -- /proc/loadavg unreadable
   local conf = params.user_script_config
   alerts_api.checkThresholdAlert(params, "cpu_load", cpu.load_pct, {
      score = 50,
      message = string.format("Load of %s: %.2f on %d cores (%.0f %% per core; threshold %s "
                              .. "%s %%); the collector used %.0f %% of a core",
                              info.hostname, cpu.load_1, cpu.cores, cpu.load_pct,
                              conf.operator or "gt", tostring(conf.threshold),
                              cpu.collector_pct),
      json = { load_1 = cpu.load_1, load_5 = cpu.load_5, load_15 = cpu.load_15,
               cores = cpu.cores, collector_pct = cpu.collector_pct },
   })
end

return script
