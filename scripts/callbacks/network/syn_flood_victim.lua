--
-- syn_flood_victim: a local network receiving SYN-only TCP flows (a SYN, no handshake
-- completed, nothing but RST back) faster than a threshold, 50 per second over the round by
-- default, aggregated over every probe. The alert names the local host that received the most
-- of them in the current minute. Engaged while above; released by the first round below it.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 10 per second:
--   {"network": {"syn_flood_victim": {"value": "syn_flood_victim;gt;10"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.security,
   default_enabled = true,
   default_value = "syn_flood_victim;gt;50",
   gui = {
      i18n_title = "SYN Flood Victim",
      i18n_description = "A local network receives SYN-only flows at a rate above a threshold",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 1,
      field_operator = "gt",
      i18n_field_unit = user_scripts.field_units.syn_sec,
   },
   hooks = {},
}

function script.hooks.min(params)
   local info = params.entity_info
   local conf = params.user_script_config
   local victim = info.syn_victim
   local rate = victim and info.syn_only_flows_per_s or 0
   alerts_api.checkThresholdAlert(params, "syn_flood_victim", rate, {
      score = 100,
      message = victim and string.format("SYN flood against %s in %s: %.1f SYN-only flows/s "
                                         .. "(%s in %s; %s to the victim this minute; "
                                         .. "threshold %s/s)", victim.ip, info.network, rate,
                                         formatValue(info.delta.syn_only_flows),
                                         secondsToTime(info.interval),
                                         formatValue(victim.flows),
                                         tostring(conf.threshold)) or nil,
      json = { victim = victim and victim.ip, victim_flows = victim and victim.flows,
               victim_ports = victim and victim.ports,
               syn_only_flows = info.delta.syn_only_flows, interval = info.interval },
   })
end

return script
