--
-- alerts_api: raise alerts from user scripts. Alerts go to the collector's alert store.
--
--   local alerts_api = require "alerts_api"
--
--   -- who the alert is about
--   local entity = alerts_api.interfaceAlertEntity(interface.getName())
--   -- what it is
--   local alert = {
--      alert_type = "too_many_flows",          -- the alert's key
--      severity = alerts_api.alert_severities.warning,  -- or "warning"; default from score
--      score = 50,                             -- optional
--      message = "12000 flows > 10000",        -- one line
--      json = { flows = 12000, threshold = 10000 }, -- optional details (table or JSON text)
--   }
--
--   alerts_api.store(entity, alert)    -- one-shot: stored once
--   alerts_api.trigger(entity, alert)  -- engaged: stored once, refreshed while re-triggered
--   alerts_api.release(entity, alert)  -- the engaged alert ends
--   alerts_api.isEngaged(entity, alert)
--
-- entity_info is { entity = "interface"|"network"|"system"|"snmp_interface"|"host"|
-- "syslog"|..., entity_value = "..." }; ntopng's spelling { alert_entity = { entity_type =
-- ... } or "...", entity_val = "..." } is accepted too. type_info also accepts ntopng's
-- alert_severity / alert_type_params. The running script's key, the interface and the
-- probe are added by the engine. Every function returns true when the collector took it.
--
local c = require "zflow_alerts"
local alert_severities = require "alert_severities"

local alerts_api = {}

alerts_api.alert_severities = alert_severities

-- (zflow_alerts reads entity_info and type_info as described above, in C: these run for
-- every alert a script raises.)

-- One-shot alert, stored once.
alerts_api.store = c.api_store

-- Engaged alert: stored when first triggered, refreshed while triggered again.
alerts_api.trigger = c.api_trigger

-- Ends an engaged alert (no-op when it is not engaged).
alerts_api.release = c.api_release

-- alerts_api.isEngaged(entity_info, type_info)
alerts_api.isEngaged = c.api_isEngaged

-- The JSON text of a value, as stored in an alert's details.
alerts_api.toJSON = c.toJSON

-- Threshold alerts of periodic scripts (interface, network, system, snmp): compares `value`
-- with the script's configured threshold (params.user_script_config: operator "gt", "lt", ...
-- and threshold, from its default_value or scripts_config.json) and triggers the engaged alert
-- `alert_type` on params.alert_entity when it crosses, or releases it when it does not. (The
-- scheduler also releases an engaged alert that a round of its granularity did not trigger
-- again.) info (optional): { message = "...", json = {...}, score = 50, severity = ...,
-- entity = {entity = ..., entity_value = ...} }; json gets value, threshold and operator.
-- Returns true when the threshold is crossed.
--
--   function script.hooks.min(params)
--      alerts_api.checkThresholdAlert(params, "interface_throughput",
--                                     params.entity_info.throughput_bps)
--   end
function alerts_api.checkThresholdAlert(params, alert_type, value, info)
   local user_scripts = require "user_scripts"
   info = info or {}
   local conf = params.user_script_config or {}
   local entity = info.entity or params.alert_entity or params.entity_info
   local op = conf.operator or "gt"
   local threshold = tonumber(conf.threshold)
   local json = {}
   for k, v in pairs(info.json or {}) do json[k] = v end
   json.value, json.threshold, json.operator = value, threshold, op
   local alert = {
      alert_type = alert_type,
      score = info.score or 50,
      severity = info.severity,
      json = json,
      message = info.message or string.format("%s: %s %s %s", alert_type, tostring(value), op,
                                              tostring(threshold)),
   }
   if user_scripts.threshold_cross(conf, value) then
      alerts_api.trigger(entity, alert)
      return true
   end
   alerts_api.release(entity, alert)
   return false
end

-- Entity helpers.
function alerts_api.interfaceAlertEntity(name)
   return { entity = "interface", entity_value = tostring(name) }
end

function alerts_api.networkAlertEntity(cidr)
   return { entity = "network", entity_value = tostring(cidr) }
end

function alerts_api.systemAlertEntity(name)
   return { entity = "system", entity_value = tostring(name or "system") }
end

function alerts_api.hostAlertEntity(ip, vlan)
   local v = tostring(ip)
   if vlan and vlan ~= 0 then v = v .. "@" .. tostring(vlan) end
   return { entity = "host", entity_value = v }
end

function alerts_api.snmpInterfaceEntity(device, ifindex)
   return { entity = "snmp_interface", entity_value = tostring(device) .. "_ifidx" .. tostring(ifindex) }
end

function alerts_api.syslogAlertEntity(source)
   return { entity = "syslog", entity_value = tostring(source) }
end

return alerts_api
