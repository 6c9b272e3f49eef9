--
-- syn_scan_victim: a local host of a local network probed on many TCP ports: SYN-only flows
-- (a SYN, no handshake completed) to more distinct destination ports in the current minute
-- than a threshold, 50 by default, aggregated over every probe; checked while SYN-only flows
-- keep arriving. Engaged while above; released by the first round below it.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 20 ports:
--   {"network": {"syn_scan_victim": {"value": "syn_scan_victim;gt;20"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.security,
   default_enabled = true,
   default_value = "syn_scan_victim;gt;50",
   gui = {
      i18n_title = "SYN Scan Victim",
      i18n_description = "A local host receives SYN-only flows to many distinct ports",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 1,
      field_operator = "gt",
      i18n_field_unit = user_scripts.field_units.syn_min,
   },
   hooks = {},
}

function script.hooks.min(params)
   local info = params.entity_info
   local conf = params.user_script_config
   local victim = info.syn_victim
   local ports = 0
   if victim and info.delta.syn_only_flows > 0 then ports = victim.ports end
   alerts_api.checkThresholdAlert(params, "syn_scan_victim", ports, {
      score = 100,
      message = victim and string.format("SYN scan of %s in %s: SYN-only flows to %d distinct "
                                         .. "ports this minute (%s flows; threshold %s)",
                                         victim.ip, info.network, ports,
                                         formatValue(victim.flows), tostring(conf.threshold))
         or nil,
      json = { victim = victim and victim.ip, victim_flows = victim and victim.flows,
               victim_ports = ports, syn_only_flows = info.delta.syn_only_flows },
   })
end

return script
