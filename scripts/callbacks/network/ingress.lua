--
-- ingress: a local network (--local-networks) whose ingress traffic in the round (bytes of flows
-- entering the network, aggregated over every probe) crosses a threshold, 1 GiB per minute by
-- default. Engaged while above; released by the first round below it.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 100 MiB per minute:
--   {"network": {"ingress": {"value": "ingress;gt;104857600"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.network,
   default_enabled = true,
   default_value = "ingress;gt;1073741824",
   gui = {
      i18n_title = "Network Ingress",
      i18n_description = "Bytes entering a local network in a minute cross a threshold",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 1,
      field_operator = "gt",
      i18n_field_unit = user_scripts.field_units.bytes,
   },
   hooks = {},
}

function script.hooks.min(params)
   local info = params.entity_info
   local conf = params.user_script_config
   local bytes = info.delta.ingress_bytes
   alerts_api.checkThresholdAlert(params, "network_ingress", bytes, {
      score = 50,
      message = string.format("Network %s: %s ingress in %s (%s, %s %s)", info.network,
                              bytesToSize(bytes), secondsToTime(info.interval),
                              bitsToSize(info.ingress_bps), conf.operator or "gt",
                              bytesToSize(conf.threshold)),
      json = { packets = info.delta.ingress_packets, bps = info.ingress_bps,
               interval = info.interval },
   })
end

return script
