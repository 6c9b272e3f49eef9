--
-- probe_down: the probe of an interface sent no stats message for more than N of its stats
-- intervals (the interval it announced in its hello; 3 by default). Engaged while the probe
-- stays silent; released by the first round after it is heard from again. Probe interfaces
-- only (a local packet interface has no probe).
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 5 intervals:
--   {"interface": {"probe_down": {"value": "probe_down;gt;5"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.internals,
   default_enabled = true,
   default_value = "probe_down;gt;3",
   gui = {
      i18n_title = "Probe Down",
      i18n_description = "A probe sent no stats for a number of its stats intervals",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 1,
      field_operator = "gt",
   },
   hooks = {},
}

function script.hooks.min(params)
   local info = params.entity_info
   local probe = info.probe
   if info.is_packet_interface or not probe then return end
   local conf = params.user_script_config
   local intervals = probe.stats_age / math.max(probe.stats_interval, 1)
   alerts_api.checkThresholdAlert(params, "probe_down", intervals, {
      score = 100,
      message = string.format("Probe %s (%s) of interface %s: no stats for %s (%.1f of its "
                              .. "%d s intervals, threshold %s)", probe.id, probe.hostname,
                              info.name, secondsToTime(probe.stats_age), intervals,
                              probe.stats_interval, tostring(conf.threshold)),
      json = { probe_id = probe.id, hostname = probe.hostname, version = probe.version,
               stats_age = probe.stats_age, stats_interval = probe.stats_interval,
               last_seen = probe.last_seen, interface = info.name },
   })
end

return script
