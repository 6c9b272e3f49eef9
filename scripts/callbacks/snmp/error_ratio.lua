--
-- error_ratio: a polled SNMP interface whose errors (ifInErrors + ifOutErrors) since the
-- previous round exceed a share of its packets (errors + unicast, multicast and broadcast
-- packets, both directions), 5 % by default. Engaged while above; released by the first round
-- below it. Kept while the device is unreachable.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 1 %:
--   {"snmp": {"error_ratio": {"value": "error_ratio;gt;1"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.network,
   default_enabled = true,
   default_value = "error_ratio;gt;5",
   gui = {
      i18n_title = "SNMP Interface Errors",
      i18n_description = "Errors of an SNMP interface exceed a share of its packets",
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
   if not info.reachable or not info.delta then return end
   local conf = params.user_script_config
   local d = info.delta
   local errors = d.in_errors + d.out_errors
   alerts_api.checkThresholdAlert(params, "snmp_error_ratio", info.error_pct, {
      score = 50,
      message = string.format("SNMP interface %s (ifIndex %d) of %s: %.1f %% errors (%s "
                              .. "errors, %s packets in %s; threshold %s %s %%)", info.name,
                              info.ifindex, info.device, info.error_pct, formatValue(errors),
                              formatValue(d.in_packets + d.out_packets),
                              secondsToTime(info.interval), conf.operator or "gt",
                              tostring(conf.threshold)),
      json = { device = info.device, ifindex = info.ifindex, in_errors = d.in_errors,
               out_errors = d.out_errors, in_packets = d.in_packets,
               out_packets = d.out_packets },
   })
end

return script
