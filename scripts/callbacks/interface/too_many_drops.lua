--
-- too_many_drops: an interface losing traffic before it reaches the scripts: capture drops of
-- its probe (pcap drop + ifdrop) as a share of the packets captured, or messages of its probe
-- lost on the way to the collector (sequence gaps) as a share of the messages, whichever is
-- higher, over the round. 5 % by default. Engaged while above; released by the first round
-- below it.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 1 %:
--   {"interface": {"too_many_drops": {"value": "too_many_drops;gt;1"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.internals,
   default_enabled = true,
   default_value = "too_many_drops;gt;5",
   gui = {
      i18n_title = "Too Many Drops",
      i18n_description = "Capture drops or lost probe messages exceed a share of the traffic",
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
   local conf = params.user_script_config
   local d = info.delta
   local value = math.max(info.drop_pct, info.lost_pct)
   alerts_api.checkThresholdAlert(params, "too_many_drops", value, {
      score = 60,
      message = string.format("Interface %s: %.1f %% of the packets dropped by the capture "
                              .. "(%s of %s), %.1f %% of the probe messages lost (%s of %s) "
                              .. "in %s", info.entity_value, info.drop_pct,
                              formatValue(d.drops), formatValue(d.capture_packets + d.drops),
                              info.lost_pct, formatValue(d.lost_messages),
                              formatValue(d.messages + d.lost_messages),
                              secondsToTime(info.interval)),
      json = { drop_pct = info.drop_pct, lost_pct = info.lost_pct, drops = d.drops,
               capture_packets = d.capture_packets, lost_messages = d.lost_messages,
               messages = d.messages, probe_id = info.probe_id, interface = info.name },
   })
end

return script
