--
-- throughput: an interface whose throughput over the round (bits per second of the traffic of
-- its flows, both directions, as the collector received it) crosses a threshold, 100 Mbit/s
-- by default. Engaged while above; released by the first round below it.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 1 Gbit/s:
--   {"interface": {"throughput": {"value": "throughput;gt;1000000000"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.network,
   default_enabled = true,
   default_value = "throughput;gt;100000000",
   gui = {
      i18n_title = "Interface Throughput",
      i18n_description = "Throughput of an interface (bit/s over the last minute) crosses a "
         .. "threshold",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 1,
      field_operator = "gt",
      i18n_field_unit = user_scripts.field_units.mbits,
   },
   hooks = {},
}

function script.hooks.min(params)
   local info = params.entity_info
   local conf = params.user_script_config
   local bps = info.throughput_bps
   alerts_api.checkThresholdAlert(params, "interface_throughput", bps, {
      score = 50,
      message = string.format("Throughput of interface %s is %s (%s %s over %s)",
                              info.entity_value, bitsToSize(bps), conf.operator or "gt",
                              bitsToSize(conf.threshold), secondsToTime(info.interval)),
      json = { bytes = info.delta.bytes, interval = info.interval, probe_id = info.probe_id,
               interface = info.name },
   })
end

return script
