--
-- bytes: an interface whose traffic in the round (bytes of its flows, both directions) crosses
-- a threshold, 1 GiB per minute by default. Engaged while above; released by the first round
-- below it.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 100 MiB per minute:
--   {"interface": {"bytes": {"value": "bytes;gt;104857600"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.network,
   default_enabled = true,
   default_value = "bytes;gt;1073741824",
   gui = {
      i18n_title = "Interface Traffic",
      i18n_description = "Bytes of an interface in a minute cross a threshold",
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
   local bytes = info.delta.bytes
   alerts_api.checkThresholdAlert(params, "interface_bytes", bytes, {
      score = 50,
      message = string.format("Interface %s: %s in %s (%s %s)", info.entity_value,
                              bytesToSize(bytes), secondsToTime(info.interval),
                              conf.operator or "gt", bytesToSize(conf.threshold)),
      json = { interval = info.interval, probe_id = info.probe_id, interface = info.name },
   })
end

return script
