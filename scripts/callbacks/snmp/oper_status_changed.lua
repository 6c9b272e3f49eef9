--
-- oper_status_changed: the operational status (ifOperStatus) of a polled SNMP interface
-- changed since the previous round (up -> down, down -> up, ...). One alert per change,
-- stored once; its severity is higher when the interface went down while administratively up.
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"

local script = {
   category = user_scripts.script_categories.network,
   default_enabled = true,
   gui = {
      i18n_title = "SNMP Interface Status Change",
      i18n_description = "The operational status of an SNMP interface changed",
   },
   hooks = {},
}

function script.hooks.min(params)
   local info = params.entity_info
   -- only a new poll with an earlier one of the same interface tells a change
   if not info.reachable or not info.fresh or not info.prev_oper_status then return end
   if info.prev_oper_status == info.oper_status then return end
   local down = info.oper_status ~= 1 and info.admin_status == 1
   alerts_api.store(params.alert_entity, {
      alert_type = "snmp_oper_status_changed",
      score = down and 100 or 20,
      severity = down and "error" or "notice",
      message = string.format("SNMP interface %s (%s, ifIndex %d) of %s: operational status "
                              .. "%s -> %s", info.name, info.descr, info.ifindex, info.device,
                              info.prev_oper_status_name ~= "" and info.prev_oper_status_name
                                 or tostring(info.prev_oper_status),
                              info.oper_status_name ~= "" and info.oper_status_name
                                 or tostring(info.oper_status)),
      json = { device = info.device, ifindex = info.ifindex, name = info.name,
               from = info.prev_oper_status, to = info.oper_status,
               admin_status = info.admin_status },
   })
end

return script
