--
-- packets: an interface whose packets in the round (packets of its flows, both directions)
-- cross a threshold, 1,000,000 per minute by default. Engaged while above; released by the
-- first round below it.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 100,000 per minute:
--   {"interface": {"packets": {"value": "packets;gt;100000"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.network,
   default_enabled = true,
   default_value = "packets;gt;1000000",
   gui = {
      i18n_title = "Interface Packets",
      i18n_description = "Packets of an interface in a minute cross a threshold",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 1,
      field_operator = "gt",
      i18n_field_unit = user_scripts.field_units.packets,
   },
   hooks = {},
}

function script.hooks.min(params)
   local info = params.entity_info
   local conf = params.user_script_config
   local packets = info.delta.packets
   alerts_api.checkThresholdAlert(params, "interface_packets", packets, {
      score = 50,
      message = string.format("Interface %s: %s in %s (%s %s)", info.entity_value,
                              formatPackets(packets), secondsToTime(info.interval),
                              conf.operator or "gt", formatPackets(conf.threshold)),
      json = { interval = info.interval, probe_id = info.probe_id, interface = info.name },
   })
end

return script
