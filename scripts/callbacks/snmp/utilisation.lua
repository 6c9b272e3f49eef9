--
-- utilisation: a polled SNMP interface whose traffic since the previous round (the higher of
-- ifHCInOctets and ifHCOutOctets rates) uses more of its link speed (ifSpeed / ifHighSpeed)
-- than a threshold, 90 % by default. Interfaces without a speed are skipped. Engaged while
-- above; released by the first round below it. Kept while the device is unreachable.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 75 %:
--   {"snmp": {"utilisation": {"value": "utilisation;gt;75"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.network,
   default_enabled = true,
   default_value = "utilisation;gt;90",
   gui = {
      i18n_title = "SNMP Interface Utilisation",
      i18n_description = "Traffic of an SNMP interface uses more than a share of its speed",
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
   if not info.reachable or not info.utilisation_pct then return end
   local conf = params.user_script_config
   alerts_api.checkThresholdAlert(params, "snmp_utilisation", info.utilisation_pct, {
      score = 50,
      message = string.format("SNMP interface %s (ifIndex %d) of %s: %.1f %% of %s used (in "
                              .. "%s, out %s; threshold %s %s %%)", info.name, info.ifindex,
                              info.device, info.utilisation_pct, bitsToSize(info.speed),
                              bitsToSize(info.in_bps), bitsToSize(info.out_bps),
                              conf.operator or "gt", tostring(conf.threshold)),
      json = { device = info.device, ifindex = info.ifindex, speed = info.speed,
               in_bps = info.in_bps, out_bps = info.out_bps },
   })
end

return script
